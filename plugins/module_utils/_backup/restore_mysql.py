# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MySQL and MariaDB: check and restore mysqldump artifacts through the mysql client,
which reads the password from a 0600 defaults-extra-file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    Restorer, RestoreError, feed_process, find_tool, strip_prefix, with_database, write_private_file)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_postgresql import tail_check
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, scrub
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mysql import MySQLEngine

TRAILER = b'-- Dump completed on'
# Lines of a dump that would leave the target database: a dump taken with --databases
# names its database, and restoring it elsewhere must not write into the original.
_ELSEWHERE = re.compile(br'^(USE |CREATE DATABASE |/\*!40000 DROP DATABASE |DROP DATABASE |/\*!\d+ DROP DATABASE )', re.M)


def quote_ident(name):
    return '`%s`' % name.replace('`', '``')


def _option_value(value):
    return '"%s"' % ('%s' % value).replace('\\', '\\\\').replace('"', '\\"')


class DatabaseStatementFilter(object):
    """Drops USE / CREATE DATABASE / DROP DATABASE lines from a dump stream.

    mysqldump writes every statement of those kinds on a line of its own and escapes
    newlines inside values, so whole lines are safe to drop."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.dropped = 0

    def __iter__(self):
        carry = bytearray()  # a line still being read; extended INSERT lines run to megabytes
        for chunk in self.chunks:
            cut = chunk.rfind(b'\n') + 1
            if not cut:
                carry += chunk
                continue
            data = bytes(carry) + chunk[:cut] if carry else chunk[:cut]
            carry = bytearray(chunk[cut:])
            yield self._filter(data)
        if carry:
            yield self._filter(bytes(carry))

    def _filter(self, data):
        if not _ELSEWHERE.search(data):
            return data
        kept = []
        for line in data.splitlines(True):
            if _ELSEWHERE.match(line):
                self.dropped += 1
            else:
                kept.append(line)
        return b''.join(kept)


class MySQLRestorer(Restorer):
    engine = 'mysql'
    what = 'rows'
    system_databases = ('mysql', 'information_schema', 'performance_schema', 'sys')

    def __init__(self, conn, workdir):
        super(MySQLRestorer, self).__init__(conn, workdir)
        self.admin = None
        self._defaults_file = None

    def open(self):
        self.admin = MySQLEngine(with_database(self.conn, None))
        self.admin.connect()
        # Counting or dropping a large database outlasts a health probe's read timeout.
        self.admin.client._read_timeout = None

    def close(self):
        if self.admin is not None:
            self.admin.close()
            self.admin = None

    def _run(self, statement, args=None, action='query failed'):
        return self.admin.query(statement, args, action=action)

    def database_info(self, database):
        rows = self._run('SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation'
                         ' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s', (database,))
        return rows[0] if rows else None

    def inspect(self, database):
        if self.database_info(database) is None:
            return dict(exists=False, objects=0, detail='database %s does not exist' % database)
        rows = self._run('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s', (database,))
        tables = int(rows[0]['n'])
        detail = 'database %s holds %d tables and views' % (database, tables) if tables else 'database %s has no tables' % database
        return dict(exists=True, objects=tables, detail=detail)

    def create(self, database, like=None):
        statement = 'CREATE DATABASE %s' % quote_ident(database)
        if like:
            statement += ' CHARACTER SET %s COLLATE %s' % (quote_ident(like['charset']), quote_ident(like['collation']))
        self._run(statement, action='cannot create database %s' % database)

    def drop(self, database):
        self._run('DROP DATABASE IF EXISTS %s' % quote_ident(database), action='cannot drop database %s' % database)
        return self.database_info(database) is None

    def clean(self, database):
        info = self.database_info(database)
        if info is not None:
            self.drop(database)
        self.create(database, like=info)

    def _defaults(self):
        """The [client] option file; the only place the password is written."""
        if self._defaults_file is None:
            conn = self.conn
            lines = ['[client]', 'user=%s' % _option_value(conn.user or 'root')]
            if conn.password:
                lines.append('password=%s' % _option_value(conn.password))
            if conn.unix_socket:
                lines.append('socket=%s' % _option_value(conn.unix_socket))
            else:
                lines += ['host=%s' % _option_value(conn.host), 'port=%d' % (conn.port or 3306), 'protocol=TCP']
            lines.append('connect-timeout=%d' % max(2, int(conn.connect_timeout)))
            if conn.tls:
                lines.append('ssl')
                for key, value in (('ssl-ca', conn.tls_ca), ('ssl-cert', conn.tls_cert), ('ssl-key', conn.tls_key)):
                    if value:
                        lines.append('%s=%s' % (key, _option_value(value)))
                if conn.tls_verify:
                    lines.append('ssl-verify-server-cert')
            self._defaults_file = write_private_file(self.workdir, 'client.cnf', '\n'.join(lines) + '\n')
        return self._defaults_file

    def check_plan(self, database, manifest, jobs):
        if manifest.get('dump_format') != 'sql':
            raise RestoreError('dump_format %s is not a mysqldump artifact: expected sql' % manifest.get('dump_format'))

    def load(self, stream, database, manifest, jobs=1, privileges=False):
        self.check_plan(database, manifest, jobs)
        client = find_tool(('mariadb', 'mysql'), 'the MySQL or MariaDB client (Debian: mariadb-client)')
        # --defaults-extra-file must come first; the database name is no secret.
        argv = [client, '--defaults-extra-file=%s' % self._defaults(), '--binary-mode', '--database=%s' % database]
        statements = DatabaseStatementFilter(stream)
        result = feed_process(argv, statements, cwd=self.workdir)
        if result.returncode != 0 or result.closed_early:
            raise RestoreError('%s failed: %s' % (os.path.basename(client), scrub(result.error_text(), self.conn.secrets())))
        how = '%s client, streamed' % os.path.basename(client)
        if statements.dropped:
            how += '; %d USE/CREATE DATABASE lines left out so nothing lands outside %s' % (statements.dropped, database)
        return how

    def count(self, database, manifest):
        restored = {}
        for key in sorted(manifest.get('counts') or {}):
            table = strip_prefix(key, manifest.get('database'))
            try:
                rows = self._run('SELECT COUNT(*) AS n FROM %s.%s' % (quote_ident(database), quote_ident(table)))
                restored[key] = int(rows[0]['n'])
            except EngineError:
                restored[key] = None
        return restored

    def check_format(self, stream, manifest):
        if manifest.get('dump_format') != 'sql':
            return False, 'dump_format %r is not a MySQL format: expected sql' % manifest.get('dump_format')
        return tail_check(stream, TRAILER)
