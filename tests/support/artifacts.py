"""Backup artifacts made the way docs/backups.md describes, by the standard tools.

pg_dump -Fc | zstd | age -r KEY, mariadb-dump | gzip, a mongodump-layout tar built with
bson + tarfile, and a Redis RDB from BGSAVE of a throwaway server, each with a manifest
written by _backup/manifest.write. Until db_backup exists, these are what backup_verify
and db_restore are tested against; they also seed and read back the test databases.

Dump passwords travel in PGPASSWORD or a 0600 defaults file, never on a command line.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests

UTC = datetime.timezone.utc
STAMP = datetime.datetime(2026, 11, 23, 2, 0, 0, tzinfo=UTC)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
EXTENSIONS = {"zstd": ".zst", "gzip": ".gz", "none": ""}


@dataclass
class AgeKey:
    identity_file: Path
    recipient: str


@dataclass
class Artifact:
    path: Path
    manifest: dict

    @property
    def manifest_path(self) -> Path:
        return Path(manifests.manifest_path(str(self.path)))

    def read_manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def rewrite_manifest(self, **changes) -> dict:
        data = self.read_manifest()
        data.update(changes)
        self.manifest = manifests.write(str(self.path), data)
        return self.manifest


def age_keygen(directory, name="identity.txt") -> AgeKey:
    path = Path(directory) / name
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    os.chmod(path, 0o600)
    for line in path.read_text().splitlines():
        if line.startswith("# public key: "):
            return AgeKey(path, line.split(": ", 1)[1].strip())
    raise RuntimeError("age-keygen wrote no public key")


def _stages(compression, recipient):
    stages = []
    if compression == "zstd":
        stages.append(["zstd", "-q", "-c", "-3"])
    elif compression == "gzip":
        stages.append(["gzip", "-c"])
    if recipient:
        stages.append(["age", "-r", recipient])
    return stages


def run_pipeline(source, stages, out_path, env=None):
    """source | stage | stage > out_path. ``source`` is an argv (a dump command) or a
    file path fed to the first stage. Raises with every failing stage's stderr."""
    feeding_file = isinstance(source, (str, Path))
    argvs = (stages or [["cat"]]) if feeding_file else [list(map(str, source))] + stages
    procs, errors = [], []
    with open(out_path, "wb") as out:
        upstream_file = open(source, "rb") if feeding_file else None
        upstream = upstream_file or subprocess.DEVNULL
        try:
            for index, argv in enumerate(argvs):
                last = index == len(argvs) - 1
                err = tempfile.TemporaryFile()
                proc = subprocess.Popen(argv, stdin=upstream, stdout=out if last else subprocess.PIPE, stderr=err, env=env)
                if procs:
                    procs[-1][0].stdout.close()  # the reader owns it now (SIGPIPE reaches the writer)
                procs.append((proc, err, argv))
                upstream = proc.stdout
            for proc, err, argv in procs:
                proc.wait()
                err.seek(0)
                if proc.returncode:
                    errors.append("%s: %s" % (argv[0], err.read().decode(errors="replace")[-1000:]))
                err.close()
        finally:
            if feeding_file:
                upstream_file.close()
    if errors:
        raise RuntimeError("pipeline failed: " + " | ".join(errors))


def write_artifact(dest, engine, host, port, database, dump_format, source, compression="zstd", recipient=None,
                   passphrase=None, counts=None, moment=STAMP, env=None, dump_tool="test", server_version="test") -> Artifact:
    """Encode a dump (argv or file) into <dest>/<series>/<artifact> and write its manifest."""
    series = layout.series_name(engine, host, port, database)
    series_dir = Path(dest) / series
    series_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    extension = dump_format + EXTENSIONS[compression] + (".age" if recipient or passphrase else "")
    path = series_dir / layout.artifact_name(series, moment, extension)
    started = time.time()
    if passphrase:
        # The age CLI asks for passphrases on a terminal only; pyrage takes it in memory (small test files).
        import pyrage
        plain = path.with_name(path.name + ".plain")
        run_pipeline(source, _stages(compression, None), plain, env=env)
        path.write_bytes(pyrage.passphrase.encrypt(plain.read_bytes(), passphrase))
        plain.unlink()
        encryption = {"type": "age-scrypt"}
    else:
        run_pipeline(source, _stages(compression, recipient), path, env=env)
        encryption = {"type": "age-x25519", "recipients": [recipient]} if recipient else None
    os.chmod(path, 0o600)
    data = path.read_bytes()
    manifest = {
        "artifact": path.name, "series": series, "engine": engine, "host": host, "port": port, "database": database,
        "dump_format": dump_format, "dump_tool": dump_tool, "server_version": server_version,
        "started_at": manifests.utc_stamp(moment), "finished_at": manifests.utc_stamp(moment),
        "duration_seconds": round(time.time() - started, 1), "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "compression": compression, "compression_level": 3 if compression != "none" else None,
        "encryption": encryption, "counts": counts or {}, "verifications": [],
    }
    return Artifact(path, manifests.write(str(path), manifest))


def mark_verified(artifact: Artifact, outcome="ok", method="checksum+decode+format") -> None:
    manifests.add_verification(str(artifact.path), method, outcome, "marked by the test")
    artifact.manifest = artifact.read_manifest()


def flip_byte(path, offset=None) -> int:
    data = bytearray(Path(path).read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    return offset


def truncate(path, drop=100) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:-drop])


# --- PostgreSQL ----------------------------------------------------------------------


def pg_connect(server, database):
    import psycopg2
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password, dbname=database)
    conn.autocommit = True
    return conn


def pg_exists(server, database) -> bool:
    with pg_connect(server, "postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        return cur.fetchone() is not None


def pg_databases(server, prefix) -> list:
    conn = pg_connect(server, "postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))
            return sorted(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def pg_drop(server, database) -> None:
    conn = pg_connect(server, "postgres")
    try:
        with conn.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database)
    finally:
        conn.close()


def seed_postgresql(server, database, users=300, orders=1000) -> dict:
    """A fresh database with two tables, an index and a sequence; returns the counts."""
    pg_drop(server, database)
    conn = pg_connect(server, "postgres")
    with conn.cursor() as cur:
        cur.execute('CREATE DATABASE "%s"' % database)
    conn.close()
    conn = pg_connect(server, database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, note text)")
        cur.execute("INSERT INTO users (name, email, note) SELECT 'user ' || g, 'u' || g || '@example.test',"
                    " CASE WHEN mod(g, 7) = 0 THEN E'multi\\nline ''quoted''' END FROM generate_series(1, %s) g", (users,))
        cur.execute("CREATE SCHEMA shop")
        cur.execute("CREATE TABLE shop.orders (id bigserial PRIMARY KEY, user_id int REFERENCES users(id),"
                    " total numeric(10,2), payload jsonb)")
        cur.execute("INSERT INTO shop.orders (user_id, total, payload) SELECT 1 + mod(g, %s), g * 1.25,"
                    " jsonb_build_object('n', g) FROM generate_series(1, %s) g", (users, orders))
        cur.execute("CREATE INDEX orders_user ON shop.orders (user_id)")
    conn.close()
    return {"public.users": users, "shop.orders": orders}


def pg_rows(server, database) -> dict:
    conn = pg_connect(server, database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, name, email, note FROM users ORDER BY id")
            users = cur.fetchall()
            cur.execute("SELECT id, user_id, total, payload FROM shop.orders ORDER BY id")
            orders = cur.fetchall()
        return {"users": users, "orders": orders}
    finally:
        conn.close()


def pg_artifact(server, dest, database, counts, dump_format="pgdump", port=None, **kwargs) -> Artifact:
    argv = [PG_BIN / "pg_dump", "-h", server.host, "-p", server.port, "-U", server.user, "-d", database,
            "-Fc" if dump_format == "pgdump" else "-Fp"]
    env = dict(os.environ, PGPASSWORD=server.password)
    return write_artifact(dest, "postgresql", server.host, port or server.port, database, dump_format, argv, counts=counts,
                          env=env, dump_tool="pg_dump (PostgreSQL) 15", server_version="15", **kwargs)


# --- MariaDB -------------------------------------------------------------------------


def my_connect(server, database=None):
    import pymysql
    return pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                           database=database, autocommit=True, charset="utf8mb4")


def my_query(server, statement, args=None, database=None):
    conn = my_connect(server, database)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()
    finally:
        conn.close()


def my_databases(server, prefix) -> list:
    return sorted(row[0] for row in my_query(server, "SHOW DATABASES") if row[0].startswith(prefix))


def seed_mysql(server, database, users=300, orders=1000) -> dict:
    my_query(server, "DROP DATABASE IF EXISTS `%s`" % database)
    my_query(server, "CREATE DATABASE `%s` CHARACTER SET utf8mb4" % database)
    conn = my_connect(server, database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL,"
                    " email VARCHAR(128) UNIQUE, note TEXT) ENGINE=InnoDB")
        cur.executemany("INSERT INTO users (name, email, note) VALUES (%s, %s, %s)",
                        [("user %d" % n, "u%d@example.test" % n, "multi\nline 'quoted' \\ %d" % n if n % 7 == 0 else None)
                         for n in range(1, users + 1)])
        cur.execute("CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id INT, total DECIMAL(10,2),"
                    " raw BLOB, KEY orders_user (user_id), FOREIGN KEY (user_id) REFERENCES users(id)) ENGINE=InnoDB")
        cur.executemany("INSERT INTO orders (user_id, total, raw) VALUES (%s, %s, %s)",
                        [(1 + n % users, n * 1.25, bytes([n % 256, 0, 10, 13, 39])) for n in range(1, orders + 1)])
    conn.close()
    return {"users": users, "orders": orders}


def my_rows(server, database) -> dict:
    return {"users": my_query(server, "SELECT id, name, email, note FROM users ORDER BY id", database=database),
            "orders": my_query(server, "SELECT id, user_id, total, raw FROM orders ORDER BY id", database=database)}


def mysql_artifact(server, dest, database, counts, workdir, port=None, extra_args=(), **kwargs) -> Artifact:
    Path(workdir).mkdir(parents=True, exist_ok=True)
    cnf = Path(workdir) / ("dump-%s.cnf" % os.getpid())
    fd = os.open(cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write('[client]\nuser=%s\npassword="%s"\nhost=%s\nport=%d\nprotocol=TCP\n'
                     % (server.user, server.password, server.host, server.port))
    try:
        argv = ["mariadb-dump", "--defaults-extra-file=%s" % cnf, "--single-transaction", "--routines",
                "--hex-blob", *extra_args, database]
        kwargs.setdefault("compression", "gzip")
        return write_artifact(dest, "mysql", server.host, port or server.port, database, "sql", argv, counts=counts,
                              dump_tool="mariadb-dump 10.11", server_version="10.11", **kwargs)
    finally:
        cnf.unlink()


# --- MongoDB -------------------------------------------------------------------------


def mongo_documents():
    import bson
    users = [{"_id": n, "name": "user %d" % n, "email": "u%d@example.test" % n, "tags": ["a", "b"][: n % 3],
              "big": bson.Int64(n * 10 ** 10)} for n in range(1, 121)]
    events = [{"_id": bson.ObjectId(), "user": n % 120, "kind": "login", "at": datetime.datetime(2026, 1, 1, 0, 0, n)}
              for n in range(50)]
    return {"users": users, "events": events}


MONGO_INDEXES = {
    "users": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": True}],
    "events": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, {"v": 2, "key": {"user": 1, "kind": -1}, "name": "user_1_kind_-1"}],
}


def mongo_tar(path, database, collections, indexes=None, metadata_first=True, extra_members=()):
    """A tar stream in mongodump's directory layout: <db>/<coll>.bson + <db>/<coll>.metadata.json."""
    import bson
    from bson import json_util
    with tarfile.open(path, "w") as archive:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(STAMP.timestamp())
            archive.addfile(info, io.BytesIO(data))
        for name, docs in collections.items():
            meta = json_util.dumps({"options": {}, "indexes": (indexes or {}).get(name, []),
                                    "collectionName": name}).encode()
            data = b"".join(bson.encode(doc) for doc in docs)
            members = [("%s/%s.metadata.json" % (database, name), meta), ("%s/%s.bson" % (database, name), data)]
            for member in (members if metadata_first else members[::-1]):
                add(*member)
        for name, data in extra_members:
            add(name, data)


def mongo_artifact(dest, database, workdir, collections=None, host="127.0.0.1", port=27017, counts=None, **kwargs):
    collections = collections if collections is not None else mongo_documents()
    tar_path = Path(workdir) / ("mongo-%s.tar" % database)
    mongo_tar(tar_path, database, collections, MONGO_INDEXES)
    counts = counts if counts is not None else {name: len(docs) for name, docs in collections.items()}
    try:
        return write_artifact(dest, "mongodb", host, port, database, "mongo.tar", tar_path, counts=counts,
                              dump_tool="mongodump-layout tar (tests)", **kwargs)
    finally:
        tar_path.unlink()


def mongo_client(server):
    import pymongo
    return pymongo.MongoClient(server.host, server.port, directConnection=True, serverSelectionTimeoutMS=5000)


# --- Redis ---------------------------------------------------------------------------


REDIS_DATA = {
    0: {"session:1": "alice", "session:2": "bob", "counter": "42", "bin": b"\x00\xff\x10"},
    2: {"cache:a": "1", "cache:b": "2", "cache:c": "3"},
}


def redis_rdb(base_dir, data=None) -> Path:
    """An RDB from BGSAVE of a throwaway server holding ``data`` (and a hash, a list, a TTL key in db 0)."""
    import redis
    from tests.support import servers
    server = servers.start_redis(base_dir)
    try:
        for db, values in (data or REDIS_DATA).items():
            client = redis.Redis(host=server.host, port=server.port, password=server.password, db=db)
            for key, value in values.items():
                client.set(key, value)
            if db == 0:
                client.hset("user:1", mapping={"name": "alice", "age": "30"})
                client.rpush("queue", "a", "b", "c")
                client.set("expiring", "soon", ex=86400)
        client = redis.Redis(host=server.host, port=server.port, password=server.password)
        client.bgsave()
        deadline = time.monotonic() + 30
        while True:
            persistence = client.info("persistence")
            if not persistence["rdb_bgsave_in_progress"] and persistence["rdb_changes_since_last_save"] == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("BGSAVE did not finish")
            time.sleep(0.05)
        source = Path(server.datadir) / "dump.rdb"
        target = Path(base_dir) / "source.rdb"
        target.write_bytes(source.read_bytes())
        return target
    finally:
        server.stop()


def redis_counts(data=None) -> dict:
    counts = {}
    for db, values in (data or REDIS_DATA).items():
        counts["db%d" % db] = len(values) + (3 if db == 0 else 0)
    return counts


def redis_artifact(dest, workdir, host="127.0.0.1", port=6379, database="0", **kwargs) -> Artifact:
    rdb = redis_rdb(Path(workdir) / "redis-source")
    kwargs.setdefault("counts", redis_counts())
    return write_artifact(dest, "redis", host, port, database, "rdb", rdb, dump_tool="redis BGSAVE", server_version="7", **kwargs)


# --- secrets on command lines --------------------------------------------------------


class ArgvWatcher(threading.Thread):
    """Reads every process's command line over and over while a test runs and keeps
    those that hold one of the secrets (use as a context manager)."""

    def __init__(self, secrets):
        super().__init__(daemon=True)
        self.secrets = [secret.encode() for secret in secrets if secret]
        self.found = []
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        own = str(os.getpid())
        while not self._done.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                if pid == own:
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as handle:
                        cmdline = handle.read()
                except OSError:
                    continue
                if any(secret in cmdline for secret in self.secrets):
                    self.found.append((pid, cmdline.split(b"\0")[0]))  # the program, never the secret
            self.samples += 1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self.join()
        return False
