# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backend, through psycopg2."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_postgresql import PostgreSQLDump
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import (
    Engine, MissingDriver, Signal, percent)

try:
    import psycopg2
    import psycopg2.extras
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()


class PostgreSQLEngine(Engine):
    name = 'postgresql'
    default_port = 5432
    library = 'psycopg2'

    def require_driver(self):
        if not HAS_PSYCOPG2:
            raise MissingDriver(self.library, self.name, PSYCOPG2_IMPORT_ERROR)

    def _connect(self):
        conn = self.conn
        params = {
            'dbname': conn.database or 'postgres',
            'user': conn.user or 'postgres',
            'connect_timeout': max(1, int(conn.connect_timeout)),
            'application_name': 'caretaker.maintenance',
            # A health probe must not wait on locks or run forever.
            'options': '-c statement_timeout=%d' % (max(1, int(conn.connect_timeout)) * 1000 * 6),
        }
        # unix_socket is the socket directory, as libpq expects it.
        params['host'] = conn.unix_socket or conn.host
        params['port'] = self.port
        if conn.password:
            params['password'] = conn.password
        if conn.tls:
            params['sslmode'] = 'verify-full' if conn.tls_verify else 'require'
            if conn.tls_ca:
                params['sslrootcert'] = conn.tls_ca
            if conn.tls_cert:
                params['sslcert'] = conn.tls_cert
            if conn.tls_key:
                params['sslkey'] = conn.tls_key
        client = psycopg2.connect(**params)
        client.autocommit = True
        return client

    def _close(self):
        self.client.close()

    def query(self, sql, args=None, action='query failed'):
        """Rows of a parameterised query as dicts."""
        def _run():
            with self.client.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(sql, args)
                return [dict(row) for row in cur.fetchall()] if cur.description else []
        return self.run(action, _run)

    def scalar(self, sql, args=None):
        rows = self.query(sql, args)
        return list(rows[0].values())[0] if rows else None

    def _ping(self):
        with self.client.cursor() as cur:
            cur.execute('SELECT 1')
            cur.fetchone()

    def version(self):
        return self.scalar('SHOW server_version')

    def connections(self):
        used = self.scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        maximum = int(self.scalar('SHOW max_connections'))
        return int(used), maximum

    def long_queries(self, seconds):
        return self.query(
            "SELECT pid, usename AS user, datname AS database, state,"
            " round(extract(epoch FROM now() - query_start)::numeric, 1)::float AS seconds,"
            " left(query, 200) AS query"
            " FROM pg_stat_activity"
            " WHERE state <> 'idle' AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()"
            " AND query_start < now() - make_interval(secs => %s)"
            " ORDER BY query_start",
            (float(seconds),))

    def database_size(self):
        return int(self.scalar('SELECT pg_database_size(current_database())'))

    def health(self, long_query_seconds):
        used, maximum = self.connections()
        slow = self.long_queries(long_query_seconds)
        size = self.database_size()
        return [
            self.version_signal(),
            Signal('connections', percent(used, maximum), 'percent',
                   '%d of max_connections %d in use' % (used, maximum), used=used, maximum=maximum),
            Signal('long_queries', len(slow), 'queries',
                   '%d queries running longer than %ss' % (len(slow), long_query_seconds), queries=slow),
            Signal('database_size', round(size / 1048576.0, 1), 'MiB',
                   'database %s is %.1f MiB' % (self.conn.database or 'postgres', size / 1048576.0)),
        ]

    def dump_source(self, **options):
        """A DumpSource for db_backup: ``format`` custom (default), plain or globals.
        Use while connected: the row counts share a snapshot exported by this session."""
        return PostgreSQLDump(self, **options)
