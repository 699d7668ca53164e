# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MySQL and MariaDB backend, through PyMySQL."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_mysql import MySQLDump
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import (
    Engine, MissingDriver, Signal, percent)

try:
    import pymysql
    import pymysql.cursors
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError:
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

# Threads that are not client work and may legitimately run for days.
_BACKGROUND_COMMANDS = ('Sleep', 'Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Slave_IO', 'Slave_SQL')


class MySQLEngine(Engine):
    name = 'mysql'
    default_port = 3306
    library = 'PyMySQL'

    def require_driver(self):
        if not HAS_PYMYSQL:
            raise MissingDriver(self.library, self.name, PYMYSQL_IMPORT_ERROR)

    def _connect(self):
        return pymysql.connect(**self._connect_params())

    def _connect_params(self):
        conn = self.conn
        params = {
            'user': conn.user or 'root',
            'password': conn.password or '',
            'connect_timeout': conn.connect_timeout,
            'read_timeout': conn.connect_timeout * 6,
            'cursorclass': pymysql.cursors.DictCursor,
            'autocommit': True,
            'charset': 'utf8mb4',
        }
        if conn.unix_socket:
            params['unix_socket'] = conn.unix_socket
        else:
            params['host'] = conn.host
            params['port'] = self.port
        if conn.database:
            params['database'] = conn.database
        if conn.tls:
            ssl = {'check_hostname': conn.tls_verify}
            if conn.tls_ca:
                ssl['ca'] = conn.tls_ca
            if conn.tls_cert:
                ssl['cert'] = conn.tls_cert
            if conn.tls_key:
                ssl['key'] = conn.tls_key
            params['ssl'] = ssl
            params['ssl_verify_cert'] = conn.tls_verify
        return params

    def _close(self):
        self.client.close()

    def query(self, sql, args=None, action='query failed'):
        def _run():
            with self.client.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        return self.run(action, _run)

    def variable(self, statement, name):
        """A value of SHOW GLOBAL STATUS or SHOW GLOBAL VARIABLES by exact name."""
        rows = self.query('SHOW GLOBAL %s LIKE %%s' % statement, (name,))
        return rows[0]['Value'] if rows else None

    def _ping(self):
        self.client.ping(reconnect=False)

    def version(self):
        return self.query('SELECT VERSION() AS v')[0]['v']

    def connections(self):
        used = int(self.variable('STATUS', 'Threads_connected'))
        maximum = int(self.variable('VARIABLES', 'max_connections'))
        return used, maximum

    def long_queries(self, seconds):
        placeholders = ', '.join(['%s'] * len(_BACKGROUND_COMMANDS))
        return self.query(
            'SELECT ID AS id, USER AS user, HOST AS host, DB AS `database`, COMMAND AS command,'
            ' TIME AS seconds, STATE AS state, LEFT(INFO, 200) AS query'
            ' FROM information_schema.PROCESSLIST'
            ' WHERE COMMAND NOT IN (%s) AND TIME >= %%s AND ID <> CONNECTION_ID()'
            ' ORDER BY TIME DESC' % placeholders,
            _BACKGROUND_COMMANDS + (int(seconds),))

    def uptime(self):
        return int(self.variable('STATUS', 'Uptime'))

    def health(self, long_query_seconds):
        used, maximum = self.connections()
        slow = self.long_queries(long_query_seconds)
        uptime = self.uptime()
        return [
            self.version_signal(),
            Signal('connections', percent(used, maximum), 'percent',
                   'Threads_connected %d of max_connections %d' % (used, maximum), used=used, maximum=maximum),
            Signal('long_queries', len(slow), 'queries',
                   '%d statements running longer than %ss' % (len(slow), long_query_seconds), queries=slow),
            Signal('uptime', uptime, 'seconds', 'up %.1f hours' % (uptime / 3600.0)),
        ]

    def dump_source(self, **options):
        """A DumpSource for db_backup (mysqldump / mariadb-dump, SQL). Use while connected."""
        return MySQLDump(self, **options)

    def open_session(self):
        """A second connection without a read timeout, for the backup's snapshot session:
        counting rows takes as long as the tables are big."""
        params = self._connect_params()
        params['read_timeout'] = None
        return self.run('cannot connect', pymysql.connect, **params)
