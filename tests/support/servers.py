"""Throwaway PostgreSQL, MariaDB, Redis and MongoDB-wire servers on 127.0.0.1.

Standard library only: pytest fixtures and the demo both use it, and the servers'
readiness is checked with their own client binaries or raw sockets, not drivers.

base_dir is scratch space: each start_* wipes and recreates base_dir/<engine>/.
Secrets never reach a command line; they travel through 0600 files, stdin or
environment variables, and state.json (which holds them for the tests) is 0600.

    python -m tests.support.servers start DIR [--ports pg=25432,mysql=23306,...]
    python -m tests.support.servers status DIR
    python -m tests.support.servers stop DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
READY_TIMEOUT = 30
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ENGINES = ("postgresql", "mysql", "redis", "mongodb")
# Login user and database each engine is set up with.
DEFAULTS = {
    "postgresql": ("postgres", "appdb"),
    "mysql": ("root", "appdb"),
    "redis": (None, "0"),
    "mongodb": (None, "appdb"),
}
# A pid read back from state.json may have been reused by an unrelated process;
# only signal it when its /proc/<pid>/comm is what we started. (comm, not exe:
# Debian's redis-server is a symlink to redis-check-rdb, and nx-27017 is a
# python script, whose comm is the script's name.)
_COMM = {
    "postgresql": "postgres",
    "mysql": "mariadbd",
    "redis": "redis-server",
    "mongodb": "nx-27017",
}
# SIGTERM makes PostgreSQL wait for every client to disconnect ("smart" mode);
# SIGINT is its "fast" shutdown, which is what a test teardown wants.
_STOP_SIGNAL = {"postgresql": signal.SIGINT}
# Popen objects of servers started by this process, kept so they can be reaped
# and are not garbage-collected while running (ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass
class Server:
    engine: str
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)  # keep it out of tracebacks
    database: str | None
    socket: str | None  # PostgreSQL: the socket directory, as libpq wants it
    pid: int
    datadir: str
    scratch: str | None = None  # directory outside base_dir that stop() removes

    def target(self) -> dict:
        """Connection options as our modules take them."""
        opts = {
            "engine": self.engine,
            "login_host": self.host,
            "login_port": self.port,
            "login_user": self.user,
            "login_password": self.password,
            "database": self.database,
        }
        return {key: value for key, value in opts.items() if value is not None}

    def alive(self) -> bool:
        return _is_ours(self.pid, self.engine)

    def stop(self, timeout: float = 30) -> None:
        """Stop the server and wait for it; SIGKILL its group after timeout."""
        if self.alive():
            _signal(self.pid, _STOP_SIGNAL.get(self.engine, signal.SIGTERM))
            if not _wait_gone(self.pid, timeout):
                # The group also holds the server's children (PostgreSQL backends).
                _signal_group(self.pid, signal.SIGKILL)
                _wait_gone(self.pid, 5)
        _wait_reaped(self.pid, 10)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


# --- processes ---------------------------------------------------------------


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _alive(pid: int) -> bool:
    # A zombie still answers kill(pid, 0); PID 1 here may never reap orphans.
    return pid > 0 and _proc_state(pid) not in (None, "Z", "X")


def _is_ours(pid: int, engine: str) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == _COMM[engine] and _alive(pid)


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        if pid > 0:
            os.waitpid(pid, os.WNOHANG)


def _wait_reaped(pid: int, timeout: float) -> None:
    """Reap a server this process started, waiting for it: a main thread that has exited shows
    as a zombie while the server's other threads still finish (Redis's background threads on a
    busy machine), and waitpid reaps it only after them. Another process's child is its
    parent's to reap: one try."""
    deadline = time.monotonic() + timeout
    _reap(pid)
    while pid in _CHILDREN and time.monotonic() < deadline:
        time.sleep(0.05)
        _reap(pid)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not _alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _spawn(argv: list, log_path: Path, **kwargs) -> subprocess.Popen:
    """Start a server in its own session with output appended to log_path."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def _run(argv: list, *, secret: str | None = None, timeout: float = 120, **kwargs) -> str:
    """Run a helper to completion; raise with its output (secret redacted)."""
    result = subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        if secret:
            output = output.replace(secret, "***")
        raise RuntimeError(f"{Path(argv[0]).name} failed ({result.returncode}): {output[-2000:]}")
    return result.stdout


def _succeeds(argv: list, expect: str | None = None, **kwargs) -> bool:
    """Readiness probe: True when the command exits 0 (and prints expect).

    The short timeout only costs a retry; it matters when something else holds
    the port and accepts the connection but never answers.
    """
    try:
        result = subprocess.run(
            [str(arg) for arg in argv],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
            **kwargs,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and (expect is None or expect in result.stdout)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_ready(server: Server, log_path: Path, check=None, timeout: float = READY_TIMEOUT) -> None:
    """Poll until the port accepts connections and check() passes."""
    proc = _CHILDREN.get(server.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            reason = f"exited with status {proc.returncode}"
            break
        if _port_open(server.port) and (check is None or check()):
            return
        time.sleep(0.1)
    else:
        reason = f"not ready after {timeout}s"
    raise RuntimeError(
        f"{server.engine} on {server.host}:{server.port} {reason}; "
        f"log {log_path}:\n{_tail(log_path)}"
    )


@contextlib.contextmanager
def _stop_on_error(server: Server):
    try:
        yield
    except BaseException:
        server.stop(timeout=10)
        raise


# --- files and names ---------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _new_password() -> str:
    return secrets.token_urlsafe(18)


def _fresh_dir(path: Path) -> Path:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)
    return path


def _write_secret(path: Path, text: str, owner: tuple[int, int] | None = None) -> Path:
    """Write a file that only its owner can read, whatever it held before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(fd, 0o600)
        if owner:
            os.fchown(fd, *owner)
        handle.write(text)
    return path


def _binary(name: str) -> str:
    # mariadbd lives in /usr/sbin, which is not on a normal user's PATH.
    path = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/usr/local/sbin"
    found = shutil.which(name, path=path)
    if not found:
        raise RuntimeError(f"{name} not found; install the server packages (make deps)")
    return found


def _quote(value: str, quote: str = "'") -> str:
    """Quote for SQL, my.cnf and redis.conf: backslash and the quote escaped."""
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _dquote(value: str) -> str:
    return _quote(value, '"')


# --- PostgreSQL --------------------------------------------------------------


def _pg_identity() -> dict:
    """Popen arguments that run initdb/postgres, which both refuse root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def start_postgresql(base_dir, port=None, password=None, settings=None) -> Server:
    """settings: extra server settings, e.g. {"shared_preload_libraries": "pg_stat_statements"}."""
    port = port or free_port()
    password = password or _new_password()
    home = _fresh_dir(Path(base_dir).resolve() / "postgresql")
    identity = _pg_identity()
    scratch = None
    if identity:
        # As root the server runs as `postgres`, which must traverse every
        # ancestor of its data directory. pytest's /tmp/pytest-of-root is 0700
        # and re-tightened by pytest each session, and loosening someone else's
        # directories is worse, so the data lives in a private directory of its
        # own under /tmp (1777); Server.stop() removes it. Logs stay in home.
        scratch = tempfile.mkdtemp(prefix="caretaker-pg-", dir="/tmp")
        entry = pwd.getpwnam("postgres")
        os.chown(scratch, entry.pw_uid, entry.pw_gid)
    try:
        return _start_postgresql(Path(scratch or home), home, port, password, identity, scratch, settings)
    except BaseException:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise


def _start_postgresql(run_dir, home, port, password, identity, scratch, settings=None) -> Server:
    datadir = run_dir / "data"
    _initdb(datadir, password, identity)
    log_path = home / "server.log"
    proc = _spawn(
        [
            PG_BIN / "postgres", "-D", datadir, "-p", port, "-k", run_dir,
            "-c", f"listen_addresses={HOST}",
            "-c", "max_connections=20",
            "-c", "fsync=off",  # throwaway data: durability only costs time
            *[arg for name, value in (settings or {}).items() for arg in ("-c", f"{name}={value}")],
        ],
        log_path,
        cwd=run_dir,
        **identity,
    )
    user, database = DEFAULTS["postgresql"]
    server = Server("postgresql", HOST, port, user, password, database, str(run_dir),
                    proc.pid, str(datadir), scratch)
    with _stop_on_error(server):
        probe = [PG_BIN / "pg_isready", "-q", "-h", HOST, "-p", port]
        _wait_ready(server, log_path, lambda: _succeeds(probe))
        _psql(server, f"CREATE DATABASE {database};")
    return server


def _initdb(datadir: Path, password: str, identity: dict) -> None:
    owner = None
    if identity:
        entry = pwd.getpwnam(identity["user"])
        owner = (entry.pw_uid, entry.pw_gid)
    pwfile = _write_secret(datadir.parent / "pwfile", password + "\n", owner)
    try:
        _run(
            [
                PG_BIN / "initdb", "-D", datadir, "-U", "postgres",
                "-A", "scram-sha-256", f"--pwfile={pwfile}",
                "-E", "UTF8", "--locale=C", "--no-sync",
            ],
            cwd=datadir.parent,  # as `postgres` it may not be able to enter our cwd
            **identity,
        )
    finally:
        pwfile.unlink(missing_ok=True)


def _psql(server: Server, sql: str) -> str:
    env = dict(os.environ, PGPASSWORD=server.password, PGCONNECT_TIMEOUT="5")
    return _run(
        [PG_BIN / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", server.host,
         "-p", server.port, "-U", server.user, "-d", "postgres"],
        input=sql, env=env, secret=server.password,
    )


# --- MariaDB -----------------------------------------------------------------


def start_mariadb(base_dir, port=None, password=None, settings=None) -> Server:
    """settings: extra server options, e.g. {"performance_schema": "ON"}."""
    port = port or free_port()
    password = password or _new_password()
    home = _fresh_dir(Path(base_dir).resolve() / "mysql")
    datadir, sock, log_path = home / "data", home / "mysqld.sock", home / "error.log"
    is_root = os.geteuid() == 0
    run_as = pwd.getpwuid(os.geteuid()).pw_name
    _run(
        [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}",
         "--auth-root-authentication-method=normal", "--skip-test-db",
         f"--user={run_as}"],
        cwd=home,
    )
    proc = _spawn(
        [
            _binary("mariadbd"), "--no-defaults", f"--datadir={datadir}",
            f"--socket={sock}", f"--port={port}", f"--bind-address={HOST}",
            f"--pid-file={home / 'mariadbd.pid'}", f"--log-error={log_path}",
            "--skip-name-resolve",  # 127.0.0.1 matches 'root'@'127.0.0.1' as written
            "--max-connections=20", "--innodb-buffer-pool-size=32M",
            *([f"--user={run_as}"] if is_root else []),
            *[f"--{name}={value}" for name, value in (settings or {}).items()],
        ],
        log_path,
        cwd=home,
    )
    user, database = DEFAULTS["mysql"]
    server = Server("mysql", HOST, port, user, password, database, str(sock),
                    proc.pid, str(datadir))
    with _stop_on_error(server):
        # Right after install-db root@localhost has an empty password (socket only).
        probe = [_binary("mariadb-admin"), "--no-defaults", f"--socket={sock}",
                 "--user=root", "--connect-timeout=2", "ping"]
        _wait_ready(server, log_path, lambda: _succeeds(probe))
        _mariadb_setup(server)
        _mariadb_check_tcp(server, home)
    return server


def _mariadb_setup(server: Server) -> None:
    pw, db = _quote(server.password), server.database
    # install-db's "normal" root accounts other than localhost have no password;
    # they are unreachable with this bind address and skip-name-resolve, but go.
    sql = f"""
        DROP USER IF EXISTS ''@'localhost', 'root'@'::1', 'root'@{_quote(socket.gethostname())};
        ALTER USER 'root'@'localhost' IDENTIFIED BY {pw};
        CREATE OR REPLACE USER 'root'@'{HOST}' IDENTIFIED BY {pw};
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'{HOST}' WITH GRANT OPTION;
        CREATE DATABASE {db};
    """
    _run([_binary("mariadb"), "--no-defaults", f"--socket={server.socket}", "--user=root"],
         input=sql, secret=server.password)


def _mariadb_check_tcp(server: Server, home: Path) -> None:
    """Prove the password works over TCP, as the modules will log in."""
    cnf = home / "client-check.cnf"
    _write_secret(cnf, "[client]\n"
                       f"user={server.user}\n"
                       f"password={_dquote(server.password)}\n"
                       f"host={server.host}\nport={server.port}\nprotocol=tcp\n")
    try:
        _run([_binary("mariadb"), f"--defaults-file={cnf}", "-e", "SELECT 1"],
             secret=server.password)
    finally:
        cnf.unlink(missing_ok=True)


# --- Redis -------------------------------------------------------------------


def start_redis(base_dir, port=None, password=None) -> Server:
    port = port or free_port()
    password = password or _new_password()
    home = _fresh_dir(Path(base_dir).resolve() / "redis")
    log_path = home / "redis.log"
    # requirepass would be visible in /proc/<pid>/cmdline, so all of it goes here.
    conf = _write_secret(home / "redis.conf", "\n".join([
        f"port {port}",
        f"bind {HOST}",
        f"dir {_dquote(str(home))}",
        "daemonize no",
        'save ""',
        "appendonly no",
        f"requirepass {_dquote(password)}",
        "",
    ]))
    proc = _spawn([_binary("redis-server"), conf], log_path, cwd=home)
    user, database = DEFAULTS["redis"]
    server = Server("redis", HOST, port, user, password, database, None, proc.pid, str(home))
    with _stop_on_error(server):
        # redis-cli reads the password from REDISCLI_AUTH, not from argv.
        env = dict(os.environ, REDISCLI_AUTH=password)
        probe = [_binary("redis-cli"), "-h", HOST, "-p", port, "ping"]
        _wait_ready(server, log_path, lambda: _succeeds(probe, expect="PONG", env=env))
    return server


# --- MongoDB wire protocol (nx-27017) ------------------------------------------


def _nx_executable() -> str:
    beside = Path(sys.executable).parent / "nx-27017"
    if beside.exists():
        return str(beside)
    found = shutil.which("nx-27017")
    if not found:
        raise RuntimeError("nx-27017 not found; pip install -r requirements-dev.txt")
    return found


def start_mongodb(base_dir, port=None) -> Server:
    port = port or free_port()
    home = _fresh_dir(Path(base_dir).resolve() / "mongodb")
    datadir = home / "data"
    datadir.mkdir()
    log_path = home / "server.log"
    # nx-27017 logs to stderr and to --log-file alike; stderr goes to its own file
    # so the server log is not doubled. Its --pid-file default is shared /tmp.
    proc = _spawn(
        [_nx_executable(), "--host", HOST, "--port", port, "--data-dir", datadir,
         "--log-file", log_path, "--pid-file", home / "nx-27017.pid"],
        home / "console.log",
        cwd=home,
    )
    user, database = DEFAULTS["mongodb"]
    server = Server("mongodb", HOST, port, user, None, database, None, proc.pid, str(datadir))
    with _stop_on_error(server):
        _wait_ready(server, home / "console.log", lambda: _mongo_hello(port))
    return server


def _mongo_hello(port: int) -> bool:
    """Send {hello: 1} as an OP_MSG and check for ok: 1 (no driver needed)."""
    body = (b"\x10hello\x00" + struct.pack("<i", 1)
            + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00")
    doc = struct.pack("<i", len(body) + 5) + body + b"\x00"
    # header: length, requestID, responseTo, opCode 2013 (OP_MSG); flags; section 0
    message = struct.pack("<iiiiI", 21 + len(doc), 1, 0, 2013, 0) + b"\x00" + doc
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(message)
            header = _recv_exact(sock, 16)
            length, _request_id, _response_to, opcode = struct.unpack("<iiii", header)
            reply = _recv_exact(sock, length - 16)
    except (OSError, struct.error):
        return False
    ok_values = (b"\x01ok\x00" + struct.pack("<d", 1.0), b"\x10ok\x00" + struct.pack("<i", 1))
    return opcode == 2013 and any(value in reply for value in ok_values)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


# --- all four, and the state file --------------------------------------------


def unused_target(engine: str) -> dict:
    """Target for `engine` at a free port where nothing listens."""
    if engine not in DEFAULTS:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    user, database = DEFAULTS[engine]
    password = None if engine == "mongodb" else _new_password()
    return Server(engine, HOST, free_port(), user, password, database, None, 0, "").target()


def _assign_ports(ports: dict) -> dict:
    assigned = dict(ports)
    for engine in ENGINES:
        while not assigned.get(engine):
            port = free_port()
            if port not in assigned.values():
                assigned[engine] = port
    return assigned


def start_all(base_dir, ports=None, password=None) -> dict:
    """Start the four servers in parallel; on any failure stop the others."""
    ports = _assign_ports(ports or {})
    starters = {
        "postgresql": lambda: start_postgresql(base_dir, ports["postgresql"], password),
        "mysql": lambda: start_mariadb(base_dir, ports["mysql"], password),
        "redis": lambda: start_redis(base_dir, ports["redis"], password),
        "mongodb": lambda: start_mongodb(base_dir, ports["mongodb"]),
    }
    with ThreadPoolExecutor(max_workers=len(starters)) as pool:
        futures = {engine: pool.submit(start) for engine, start in starters.items()}
        try:
            started, errors = _outcomes(futures)
        except BaseException:  # Ctrl-C while waiting: the threads still finish
            for server in _outcomes(futures)[0].values():
                server.stop()
            raise
    if errors:
        for server in started.values():
            server.stop()
        raise errors[0]
    return started


def _outcomes(futures: dict) -> tuple[dict, list]:
    """Wait for every start; split into servers that came up and exceptions."""
    started, errors = {}, []
    for engine, future in futures.items():
        try:
            started[engine] = future.result()
        except Exception as exc:  # noqa: BLE001 - the caller re-raises
            errors.append(exc)
    return started, errors


def _state_path(base_dir) -> Path:
    return Path(base_dir) / "state.json"


def save_state(base_dir, servers: dict) -> Path:
    """Write base_dir/state.json (0600: it holds the passwords)."""
    path = _state_path(base_dir)
    tmp = path.with_name(path.name + ".tmp")
    data = {engine: asdict(server) for engine, server in servers.items()}
    _write_secret(tmp, json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def load_state(base_dir) -> dict:
    """Servers recorded in base_dir/state.json; {} when there is none."""
    try:
        data = json.loads(_state_path(base_dir).read_text())
    except FileNotFoundError:
        return {}
    return {engine: Server(**fields) for engine, fields in data.items()}


def stop_all(base_dir) -> None:
    """Stop every server in state.json by pid, then forget them."""
    for server in reversed(list(load_state(base_dir).values())):
        server.stop()
    _state_path(base_dir).unlink(missing_ok=True)


# --- command line ------------------------------------------------------------

_PORT_ALIASES = {
    "pg": "postgresql", "postgres": "postgresql", "mariadb": "mysql", "mongo": "mongodb",
}


def _parse_ports(text: str) -> dict:
    ports = {}
    for item in filter(None, text.split(",")):
        name, _sep, value = item.partition("=")
        engine = _PORT_ALIASES.get(name.strip(), name.strip())
        if engine not in ENGINES or not value.strip().isdigit():
            raise argparse.ArgumentTypeError(f"bad port spec {item!r}; e.g. pg=25432,mysql=23306")
        ports[engine] = int(value)
    return ports


def _print_table(servers: dict, with_state: bool = False) -> None:
    print(f"{'engine':<11} {'address':<17} {'pid':>7}" + ("  state" if with_state else ""))
    for engine, server in servers.items():
        line = f"{engine:<11} {server.host + ':' + str(server.port):<17} {server.pid:>7}"
        if with_state:
            line += "  running" if server.alive() else "  stopped"
        print(line)


def _cmd_start(base_dir: Path, args) -> int:
    running = {e: s for e, s in load_state(base_dir).items() if s.alive()}
    if running:
        print(f"already running ({len(running)} of {len(ENGINES)} servers alive) in {base_dir}")
        return 0
    base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    servers = start_all(base_dir, ports=args.ports)
    save_state(base_dir, servers)
    _print_table(servers)
    print(f"credentials: {_state_path(base_dir)} (mode 0600)")
    return 0


def _cmd_stop(base_dir: Path, args) -> int:
    stop_all(base_dir)
    print(f"stopped servers in {base_dir}")
    return 0


def _cmd_status(base_dir: Path, args) -> int:
    servers = load_state(base_dir)
    if not servers:
        print(f"no servers recorded in {base_dir}")
        return 1
    _print_table(servers, with_state=True)
    return 0 if all(server.alive() for server in servers.values()) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.servers",
                                     description="Throwaway database servers on 127.0.0.1.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start all four servers and save state.json")
    start.add_argument("dir", type=Path)
    start.add_argument("--ports", type=_parse_ports, default={},
                       help="e.g. pg=25432,mysql=23306,redis=26379,mongodb=27117")
    for name, text in (("stop", "stop the servers in state.json"),
                       ("status", "show which servers are alive")):
        commands.add_parser(name, help=text).add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    handler = {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status}[args.command]
    try:
        return handler(args.dir.resolve(), args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
