# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL dumps: pg_dump (custom or plain) and pg_dumpall --globals-only.

Row counts come from the same snapshot as the dump: this session opens a REPEATABLE
READ transaction, exports its snapshot, hands it to ``pg_dump --snapshot`` and counts
every table in that transaction, which stays open until pg_dump has finished.
The password reaches pg_dump through PGPASSWORD in its environment, never argv.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import (
    DumpOptionError, ToolDump, find_tool, tool_version)

# format option -> (artifact dump format, tool)
FORMATS = {
    'custom': ('pgdump', 'pg_dump'),
    'pgdump': ('pgdump', 'pg_dump'),
    'plain': ('sql', 'pg_dump'),
    'sql': ('sql', 'pg_dump'),
    'globals': ('pgglobals.sql', 'pg_dumpall'),
}
# pg_dumpall's globals are per server, not per database: they get a series of their own.
GLOBALS_SERIES_DATABASE = '_globals'
PACKAGE = 'the PostgreSQL client programs (Debian: postgresql-client)'

# Ordinary tables and partitions (the leaves that hold rows) outside the system schemas,
# except tables belonging to an extension, whose rows pg_dump leaves out.
TABLES_SQL = (
    "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
    " AND d.objid = c.oid AND d.deptype = 'e')"
    " ORDER BY 1, 2")


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


class PostgreSQLDump(ToolDump):
    error_line = re.compile(r'^pg_dump(all)?: error:', re.M)

    def __init__(self, engine, format=None):
        super(PostgreSQLDump, self).__init__(engine.label, engine.conn.secrets())
        self.engine = engine
        self.format = format or 'custom'
        if self.format not in FORMATS:
            raise DumpOptionError('format %s is not a PostgreSQL dump format: use custom (pg_dump custom format, '
                                  'the default), plain (SQL script) or globals (roles and tablespaces, '
                                  'pg_dumpall --globals-only)' % self.format)
        self.dump_format, self.tool = FORMATS[self.format]
        self.globals_only = self.tool == 'pg_dumpall'
        if not self.globals_only and not engine.conn.database:
            raise DumpOptionError('database is required to back up PostgreSQL with pg_dump: set database to the '
                                  'database to dump (format globals dumps roles and tablespaces instead)')
        self.series_database = GLOBALS_SERIES_DATABASE if self.globals_only else engine.conn.database
        self.binary = find_tool([self.tool], PACKAGE)
        self.tool_version = tool_version(self.binary)
        self.snapshot = None
        self._in_transaction = False

    def estimated_size(self):
        if self.globals_only:
            return None  # a few KiB of roles: nothing to check space against
        return self.engine.database_size()

    def _env(self):
        conn = self.engine.conn
        # Inherited PG* variables (PGSERVICE, PGPASSFILE, ...) must not change the target.
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith('PG'))
        env.update({
            'PGHOST': conn.unix_socket or conn.host,
            'PGPORT': '%d' % self.engine.port,
            'PGUSER': conn.user or 'postgres',
            'PGCONNECT_TIMEOUT': '%d' % max(1, int(conn.connect_timeout)),
            'PGAPPNAME': 'caretaker.maintenance db_backup',
        })
        if not self.globals_only:
            # An environment variable is never parsed as a connection string, unlike --dbname.
            env['PGDATABASE'] = conn.database
        if conn.password:
            env['PGPASSWORD'] = conn.password
        if conn.tls:
            env['PGSSLMODE'] = 'verify-full' if conn.tls_verify else 'require'
            for key, value in (('PGSSLROOTCERT', conn.tls_ca), ('PGSSLCERT', conn.tls_cert), ('PGSSLKEY', conn.tls_key)):
                if value:
                    env[key] = value
        return env

    def command(self):
        if self.globals_only:
            return [self.binary, '--globals-only', '--no-password'], self._env()
        argv = [self.binary, '--no-password', '--snapshot=%s' % self.snapshot]
        if self.dump_format == 'pgdump':
            # Compression is the pipeline's job (zstd by default); pg_dump would zlib it first.
            argv += ['--format=custom', '--compress=0']
        else:
            argv += ['--format=plain']
        return argv, self._env()

    def _execute(self, sql, fetch=False):
        def run():
            with self.engine.client.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()[0] if fetch else None
        return self.engine.run('backup snapshot failed', run)

    def before_dump(self):
        if self.globals_only:
            return
        self._in_transaction = True
        self._execute('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY')
        self.snapshot = self._execute('SELECT pg_export_snapshot()', fetch=True)
        # The engine's health-check limits must not cut a long count or an idle wait short.
        self._execute('SET LOCAL statement_timeout = 0')
        self._execute('SET LOCAL idle_in_transaction_session_timeout = 0')

    def while_dumping(self):
        if self.globals_only:
            return
        for table in self.engine.query(TABLES_SQL, action='listing tables failed'):
            sql = 'SELECT count(*) FROM %s.%s' % (quote_ident(table['schema']), quote_ident(table['name']))
            self.counts['%s.%s' % (table['schema'], table['name'])] = int(self._execute(sql, fetch=True))

    def after_dump(self):
        if self._in_transaction:
            self._in_transaction = False
            self._execute('COMMIT')

    def cleanup(self):
        if self._in_transaction:
            self._in_transaction = False
            try:
                with self.engine.client.cursor() as cursor:
                    cursor.execute('ROLLBACK')
            except Exception:  # a dead server must not hide the dump's own error
                pass
