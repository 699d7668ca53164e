# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL: check and restore pg_dump artifacts with pg_restore (custom format) or
psql (plain SQL). The password reaches the programs through a 0600 PGPASSFILE."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    Restorer, RestoreError, feed_process, find_tool, with_database, write_private_file, write_stream)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, scrub
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.postgresql import PostgreSQLEngine

try:
    from psycopg2 import sql
except ImportError:
    sql = None  # PostgreSQLEngine.require_driver() reports the missing psycopg2

TRAILERS = {
    'sql': b'-- PostgreSQL database dump complete',
    'pgglobals.sql': b'-- PostgreSQL database cluster dump complete',
}
_TAIL = 4096
_PACKAGE = 'the PostgreSQL client programs (Debian: postgresql-client)'


def _conninfo_quote(value):
    return "'%s'" % value.replace('\\', '\\\\').replace("'", "\\'")


def _passfile_escape(value):
    return value.replace('\\', '\\\\').replace(':', '\\:')


def tail_check(chunks, trailer):
    """(ok, detail): the decoded text ends with the dump tool's completion line."""
    tail = b''
    size = 0
    for chunk in chunks:
        size += len(chunk)
        tail = (tail + chunk)[-_TAIL:]
    if trailer in tail:
        return True, '%d bytes of SQL ending with "%s"' % (size, trailer.decode('ascii'))
    return False, 'the SQL does not end with "%s" (%d bytes): the dump did not finish' % (trailer.decode('ascii'), size)


def _table_key(key):
    schema, dot, table = key.partition('.')
    return (schema, table) if dot else ('public', key)


class PostgreSQLRestorer(Restorer):
    engine = 'postgresql'
    what = 'rows'
    system_databases = ('template0', 'template1')

    def __init__(self, conn, workdir):
        super(PostgreSQLRestorer, self).__init__(conn, workdir)
        self.admin = None
        self._passfile = None

    # -- connections
    def _connect(self, database):
        engine = PostgreSQLEngine(with_database(self.conn, database))
        engine.connect()
        # Counting a large table or dropping a busy database may outlast a probe's timeout.
        engine.query('SET statement_timeout = 0')
        return engine

    def open(self):
        # Administrative statements run from the maintenance database, never from the target.
        self.admin = self._connect('postgres')
        self.server_version = int(self.admin.scalar('SHOW server_version_num'))

    def close(self):
        if self.admin is not None:
            self.admin.close()
            self.admin = None

    def _ident(self, name):
        return sql.Identifier(name).as_string(self.admin.client)

    def _run(self, statement, args=None, action='query failed'):
        return self.admin.query(statement, args, action=action)

    # -- the target
    def database_info(self, database):
        rows = self._run('SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding,'
                         ' datcollate, datctype FROM pg_database WHERE datname = %s', (database,))
        return rows[0] if rows else None

    def inspect(self, database):
        if self.database_info(database) is None:
            return dict(exists=False, objects=0, detail='database %s does not exist' % database)
        target = self._connect(database)
        try:
            rows = target.query(
                "SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p')) AS tables, count(*) AS relations"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'")
        finally:
            target.close()
        tables, relations = int(rows[0]['tables']), int(rows[0]['relations'])
        detail = ('database %s holds %d tables (%d relations with views and sequences) outside the system schemas'
                  % (database, tables, relations)) if relations else 'database %s has no tables' % database
        return dict(exists=True, objects=relations, detail=detail)

    def create(self, database, like=None):
        statement = 'CREATE DATABASE %s TEMPLATE template0' % self._ident(database)
        args = []
        if like:
            # Recreate as it was: owner, encoding and locale.
            statement += ' OWNER %s ENCODING %%s LC_COLLATE %%s LC_CTYPE %%s' % self._ident(like['owner'])
            args = [like['encoding'], like['datcollate'], like['datctype']]
        self._run(statement, args or None, action='cannot create database %s' % database)

    def drop(self, database):
        force = ' WITH (FORCE)' if self.server_version >= 130000 else ''
        self._run('DROP DATABASE IF EXISTS %s%s' % (self._ident(database), force), action='cannot drop database %s' % database)
        return self.database_info(database) is None

    def clean(self, database):
        info = self.database_info(database)
        if info is None:
            self.create(database)
            return
        self.drop(database)
        self.create(database, like=info)

    # -- client programs
    def _env(self, database):
        conn = self.conn
        env = dict(os.environ)
        env.pop('PGPASSWORD', None)
        env.update(PGHOST=conn.unix_socket or conn.host, PGPORT='%d' % (conn.port or 5432),
                   PGUSER=conn.user or 'postgres', PGDATABASE=database, PGAPPNAME='caretaker.maintenance',
                   PGCONNECT_TIMEOUT='%d' % max(2, int(conn.connect_timeout)))
        if conn.password:
            if self._passfile is None:
                self._passfile = write_private_file(self.workdir, 'pgpass', '*:*:*:*:%s\n' % _passfile_escape(conn.password))
            env['PGPASSFILE'] = self._passfile
        if conn.tls:
            env['PGSSLMODE'] = 'verify-full' if conn.tls_verify else 'require'
            for name, value in (('PGSSLROOTCERT', conn.tls_ca), ('PGSSLCERT', conn.tls_cert), ('PGSSLKEY', conn.tls_key)):
                if value:
                    env[name] = value
        return env

    def check_plan(self, database, manifest, jobs):
        if manifest.get('dump_format') not in ('pgdump', 'sql'):
            raise RestoreError('dump_format %s cannot be restored into a database: restore roles and settings '
                               '(pg_dumpall --globals-only) with psql as a superuser' % manifest.get('dump_format'))

    def spooled(self, manifest, jobs):
        return jobs > 1 and manifest.get('dump_format') == 'pgdump'

    def load(self, stream, database, manifest, jobs=1, privileges=False):
        self.check_plan(database, manifest, jobs)
        dump_format = manifest.get('dump_format')
        env = self._env(database)
        if dump_format == 'sql':
            psql = find_tool('psql', _PACKAGE)
            argv = [psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', 'dbname=%s' % _conninfo_quote(database)]
            result = feed_process(argv, stream, env=env, cwd=self.workdir)
            how = 'psql, streamed, one transaction'
        else:
            argv = [find_tool('pg_restore', _PACKAGE), '--exit-on-error', '--dbname=dbname=%s' % _conninfo_quote(database)]
            if not privileges:
                argv += ['--no-owner', '--no-privileges']
            if jobs > 1:
                # pg_restore -j reads the archive out of order: it needs a seekable file.
                dump = write_stream(stream, self.workdir, 'restore.pgdump')
                result = feed_process(argv + ['--jobs=%d' % jobs, dump], [], env=env, cwd=self.workdir)
                how = 'pg_restore --jobs=%d from a 0600 temp file' % jobs
            else:
                result = feed_process(argv + ['--single-transaction'], stream, env=env, cwd=self.workdir)
                how = 'pg_restore, streamed, one transaction'
        if result.returncode != 0 or result.closed_early:
            raise RestoreError('%s failed: %s' % (os.path.basename(argv[0]), scrub(result.error_text(), self.conn.secrets())))
        return how

    def count(self, database, manifest):
        keys = list(manifest.get('counts') or {})
        restored = {}
        target = self._connect(database)
        try:
            for key in keys:
                schema, table = _table_key(key)
                statement = sql.SQL('SELECT count(*) AS n FROM {}.{}').format(sql.Identifier(schema), sql.Identifier(table))
                try:
                    restored[key] = int(target.query(statement.as_string(target.client))[0]['n'])
                except EngineError:
                    restored[key] = None
        finally:
            target.close()
        return restored

    def check_format(self, stream, manifest):
        dump_format = manifest.get('dump_format')
        if dump_format in TRAILERS:
            return tail_check(stream, TRAILERS[dump_format])
        if dump_format != 'pgdump':
            return False, 'dump_format %r is not a PostgreSQL format: expected pgdump, sql or pgglobals.sql' % dump_format
        argv = [find_tool('pg_restore', _PACKAGE), '--list']
        # pg_restore stops reading after the table of contents; the rest is still decoded.
        result = feed_process(argv, stream, env=dict(os.environ, LC_ALL='C'), cwd=self.workdir, keep_stdout=True, drain=True)
        if result.returncode != 0:
            return False, 'pg_restore --list: %s' % result.error_text()
        listing = result.stdout.decode('utf-8', 'replace').splitlines()
        entries = [line for line in listing if line and not line.startswith(';')]
        missing = []
        for key in sorted(manifest.get('counts') or {}):
            schema, table = _table_key(key)
            if not any(' TABLE DATA %s %s ' % (schema, table) in line for line in entries):
                missing.append(key)
        if missing:
            return False, ('pg_restore --list: %d entries, but no TABLE DATA for %s of the manifest\'s counts'
                           % (len(entries), ', '.join(missing)))
        data = sum(1 for line in entries if ' TABLE DATA ' in line)
        return True, 'pg_restore --list: custom-format archive with %d entries, %d of them TABLE DATA' % (len(entries), data)
