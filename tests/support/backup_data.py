"""Realistic data for backup tests, restores with the real client tools, and row-by-row comparison.

PostgreSQL goes through psycopg2 and pg_restore/psql, MariaDB through PyMySQL and the
mariadb client. Passwords travel in PGPASSWORD or 0600 option files, never on argv.
"""

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pymysql

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.pipeline import open_artifact

# Values a dump has to carry exactly: quotes, backslashes, tabs and newlines (COPY and
# INSERT escaping), non-ASCII and 4-byte UTF-8, NULLs, binary bytes including NUL.
AWKWARD_TEXT = [
    "O'Reilly", 'say "hi"', 'back\\slash', 'tab\there', 'new\nline', 'crlf\r\nend', 'ünïcödé',
    '日本語', 'emoji 🐘🐬', '', ' leading and trailing ', '\\N', 'semi;colon -- comment', '$1 $$x$$',
]
AWKWARD_BYTES = [b'\x00\x01\x02\xff', b'', b"'\\\"", bytes(range(256))]


# --- PostgreSQL --------------------------------------------------------------------------

def pg_connect(server, database, user=None, password=None):
    conn = psycopg2.connect(host=server.host, port=server.port, user=user or server.user,
                            password=password if password is not None else server.password,
                            dbname=database, connect_timeout=5)
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def pg_session(server, database, **kwargs):
    conn = pg_connect(server, database, **kwargs)
    try:
        yield conn.cursor()
    finally:
        conn.close()


def pg_create_database(server, name):
    with pg_session(server, 'postgres') as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        cur.execute('CREATE DATABASE "%s"' % name)


def pg_drop_database(server, name):
    with pg_session(server, 'postgres') as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def pg_fill(server, database, rows=2000):
    """Two schemas, varied types, a foreign key, a view, a sequence, a function, a partitioned table.
    Returns the expected row counts per schema.table."""
    with pg_session(server, database) as cur:
        cur.execute("""
            CREATE SCHEMA billing;
            CREATE TABLE public.customers (
                id serial PRIMARY KEY, name text NOT NULL, note text, photo bytea, balance numeric(12,2),
                born date, seen timestamptz, active boolean, tags text[], profile jsonb);
            CREATE TABLE billing.invoices (
                id bigserial PRIMARY KEY, customer_id int REFERENCES public.customers(id),
                amount numeric(14,4), issued timestamp, memo text);
            CREATE TABLE public."Odd Name" ("Weird ""col"" name" text, n int);
            CREATE TABLE public.events (id int, at date NOT NULL, what text) PARTITION BY RANGE (at);
            CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE TABLE public.empty_table (id int);
            CREATE VIEW public.big_spenders AS SELECT customer_id, sum(amount) FROM billing.invoices GROUP BY 1;
            CREATE FUNCTION public.add_one(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1';
        """)
        for index in range(rows):
            cur.execute(
                'INSERT INTO public.customers (name, note, photo, balance, born, seen, active, tags, profile)'
                " VALUES (%s, %s, %s, %s, %s, now() - make_interval(mins => %s), %s, %s, %s)",
                ('customer %d' % index, AWKWARD_TEXT[index % len(AWKWARD_TEXT)] if index % 7 else None,
                 psycopg2.Binary(AWKWARD_BYTES[index % len(AWKWARD_BYTES)]) if index % 5 else None,
                 '%d.%02d' % (index * 13 % 100000, index % 100), '2000-01-01' if index % 3 else None,
                 index, index % 2 == 0, ['a', AWKWARD_TEXT[index % len(AWKWARD_TEXT)]],
                 '{"k": %d, "s": "x\\"y"}' % index))
        cur.execute("""
            INSERT INTO billing.invoices (customer_id, amount, issued, memo)
            SELECT (g %% %d) + 1, g * 1.2345, timestamp '2026-01-01' + g * interval '1 hour', 'memo ' || g
            FROM generate_series(1, %d) g""" % (rows, rows * 3))
        cur.execute("""INSERT INTO public."Odd Name" VALUES ('a''b', 1), (NULL, 2)""")
        cur.execute("""INSERT INTO public.events SELECT g, date '2025-06-01' + (g %% 400), 'e' || g
                       FROM generate_series(1, %d) g""" % rows)
    return pg_counts(server, database)


def pg_counts(server, database):
    with pg_session(server, database) as cur:
        cur.execute("""SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                       AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1, 2""")
        tables = cur.fetchall()
        counts = {}
        for schema, name in tables:
            cur.execute('SELECT count(*) FROM "%s"."%s"' % (schema, name.replace('"', '""')))
            counts['%s.%s' % (schema, name)] = cur.fetchone()[0]
    return counts


def _plain(value):
    return bytes(value) if isinstance(value, memoryview) else value


def pg_rows(server, database, **kwargs):
    """Every row of every table, ordered by all columns: {schema.table: [tuple, ...]}."""
    result = {}
    with pg_session(server, database, **kwargs) as cur:
        for key in pg_counts(server, database):
            schema, name = key.split('.', 1)
            cur.execute('SELECT * FROM "%s"."%s"' % (schema, name.replace('"', '""')))
            width = len(cur.description)
            cur.execute('SELECT * FROM "%s"."%s" ORDER BY %s' % (
                schema, name.replace('"', '""'), ', '.join(str(i + 1) for i in range(width))))
            result[key] = [tuple(_plain(v) for v in row) for row in cur.fetchall()]
    return result


def pg_big_table(server, database, name, megabytes):
    """About ``megabytes`` MB of random bytes (poorly compressible) in 1 KiB rows."""
    with pg_session(server, database) as cur:
        cur.execute('CREATE EXTENSION IF NOT EXISTS pgcrypto')
        cur.execute('CREATE TABLE %s (id int PRIMARY KEY, payload bytea)' % name)
        rows = megabytes * 1000
        step = 20000
        for start in range(0, rows, step):
            cur.execute('INSERT INTO %s SELECT g, gen_random_bytes(1024) FROM generate_series(%d, %d) g'
                        % (name, start + 1, min(rows, start + step)))


def pg_env(server, user=None, password=None):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PG'))
    env.update(PGHOST=server.host, PGPORT=str(server.port), PGUSER=user or server.user,
               PGPASSWORD=password if password is not None else server.password)
    return env


def _feed(argv, artifact, env, identity_file=None, passphrase_file=None):
    """Stream an artifact through open_artifact into a client tool's stdin; (stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
        try:
            for chunk in open_artifact(str(artifact), identity_file=identity_file, passphrase_file=passphrase_file):
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            proc.wait(timeout=600)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors='replace'), err.read().decode(errors='replace')
    if proc.returncode != 0:
        raise AssertionError('%s failed (%d): %s' % (argv[0], proc.returncode, stderr[-3000:]))
    return stdout, stderr


def pg_restore(server, artifact, database, **keys):
    """Restore a custom-format artifact with pg_restore, or a plain one with psql, into ``database``."""
    pg_create_database(server, database)
    if '.pgdump' in str(artifact):
        argv = ['pg_restore', '--exit-on-error', '--no-password', '-d', database]
    else:
        argv = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-d', database]
    return _feed(argv, artifact, pg_env(server), **keys)


# --- MariaDB -----------------------------------------------------------------------------

def my_connect(server, database=None, user=None, password=None):
    return pymysql.connect(host=server.host, port=server.port, user=user or server.user,
                           password=password if password is not None else server.password,
                           database=database, autocommit=True, charset='utf8mb4', connect_timeout=5)


@contextlib.contextmanager
def my_session(server, database=None, **kwargs):
    conn = my_connect(server, database, **kwargs)
    try:
        yield conn.cursor()
    finally:
        conn.close()


def my_create_database(server, name):
    with my_session(server) as cur:
        cur.execute('DROP DATABASE IF EXISTS `%s`' % name)
        cur.execute('CREATE DATABASE `%s` CHARACTER SET utf8mb4' % name)


def my_drop_database(server, name):
    with my_session(server) as cur:
        cur.execute('DROP DATABASE IF EXISTS `%s`' % name)


def my_fill(server, database, rows=2000):
    """Varied types, a foreign key, a view, a trigger, a procedure and an event."""
    with my_session(server, database) as cur:
        cur.execute("""CREATE TABLE customers (
            id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, note TEXT, photo BLOB,
            balance DECIMAL(12,2), born DATE, seen DATETIME(6), active BOOLEAN, profile JSON,
            touched INT NOT NULL DEFAULT 0) ENGINE=InnoDB""")
        cur.execute("""CREATE TABLE invoices (
            id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT, amount DECIMAL(14,4), memo VARCHAR(200),
            FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB""")
        cur.execute('CREATE TABLE `odd ``name` (`we ird` TEXT, n INT) ENGINE=InnoDB')
        cur.execute('CREATE TABLE empty_table (id INT) ENGINE=InnoDB')
        cur.execute('CREATE VIEW big_spenders AS SELECT customer_id, SUM(amount) AS total FROM invoices GROUP BY 1')
        cur.execute('CREATE TRIGGER touch BEFORE UPDATE ON customers FOR EACH ROW SET NEW.touched = OLD.touched + 1')
        cur.execute('CREATE PROCEDURE add_one(IN x INT) SELECT x + 1')
        cur.execute('CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM empty_table')
        for index in range(rows):
            cur.execute(
                'INSERT INTO customers (name, note, photo, balance, born, seen, active, profile)'
                ' VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
                ('customer %d' % index, AWKWARD_TEXT[index % len(AWKWARD_TEXT)] if index % 7 else None,
                 AWKWARD_BYTES[index % len(AWKWARD_BYTES)] if index % 5 else None,
                 '%d.%02d' % (index * 13 % 100000, index % 100), '2000-01-01' if index % 3 else None,
                 '2026-01-01 00:00:%02d.%06d' % (index % 60, index), index % 2 == 0,
                 '{"k": %d, "s": "x\\"y"}' % index))
        cur.execute('UPDATE customers SET name = name WHERE id % 10 = 0')
        cur.execute("""INSERT INTO invoices (customer_id, amount, memo)
                       SELECT c.id, c.id * 1.2345, CONCAT('memo ', c.id) FROM customers c""")
        cur.execute("INSERT INTO `odd ``name` VALUES ('a''b', 1), (NULL, 2)")
    return my_counts(server, database)


def my_counts(server, database):
    with my_session(server, database) as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
                    " AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", (database,))
        counts = {}
        for (name,) in cur.fetchall():
            cur.execute('SELECT COUNT(*) FROM `%s`' % name.replace('`', '``'))
            counts[name] = cur.fetchone()[0]
    return counts


def my_rows(server, database, **kwargs):
    result = {}
    with my_session(server, database, **kwargs) as cur:
        for name in my_counts(server, database):
            quoted = '`%s`' % name.replace('`', '``')
            cur.execute('SELECT * FROM %s LIMIT 0' % quoted)
            width = len(cur.description)
            cur.execute('SELECT * FROM %s ORDER BY %s' % (quoted, ', '.join(str(i + 1) for i in range(width))))
            result[name] = list(cur.fetchall())
    return result


def my_routines(server, database):
    """Names of the triggers, procedures and events of a database."""
    with my_session(server, database) as cur:
        cur.execute('SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s', (database,))
        triggers = sorted(row[0] for row in cur.fetchall())
        cur.execute('SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s', (database,))
        routines = sorted(row[0] for row in cur.fetchall())
        cur.execute('SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s', (database,))
        events = sorted(row[0] for row in cur.fetchall())
    return {'triggers': triggers, 'routines': routines, 'events': events}


def my_big_table(server, database, name, megabytes):
    """About ``megabytes`` MB of random bytes (poorly compressible) in 1 KiB rows."""
    with my_session(server, database) as cur:
        cur.execute('CREATE TABLE `%s` (id INT PRIMARY KEY, payload BLOB) ENGINE=InnoDB' % name)
        rows = megabytes * 1000
        batch = 500
        for start in range(0, rows, batch):
            values = [(start + i + 1, os.urandom(1024)) for i in range(min(batch, rows - start))]
            cur.executemany('INSERT INTO `%s` VALUES (%%s, %%s)' % name, values)


@contextlib.contextmanager
def my_option_file(server, user=None, password=None):
    """A 0600 [client] option file for the mariadb client."""
    fd, path = tempfile.mkstemp(suffix='.cnf')
    password = password if password is not None else server.password
    escaped = password.replace('\\', '\\\\').replace('"', '\\"')
    with os.fdopen(fd, 'w') as handle:
        handle.write('[client]\nuser=%s\npassword="%s"\nhost=%s\nport=%d\nprotocol=tcp\n'
                     % (user or server.user, escaped, server.host, server.port))
    try:
        yield path
    finally:
        Path(path).unlink(missing_ok=True)


def my_restore(server, artifact, database, **keys):
    my_create_database(server, database)
    with my_option_file(server) as cnf:
        return _feed(['mariadb', '--defaults-extra-file=%s' % cnf, database], artifact, dict(os.environ), **keys)
