# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MySQL and MariaDB dumps with mysqldump / mariadb-dump.

``--single-transaction`` gives the dump one InnoDB snapshot, but MySQL and MariaDB cannot
share a snapshot between sessions. Row counts therefore come from a second session that
starts its own ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` right after the tool is
launched: the two snapshots are milliseconds apart, so rows committed in between (and any
non-InnoDB table, which no snapshot covers) can make a count differ from the dump.

The login goes in a 0600 option file passed as the FIRST argument
(``--defaults-extra-file`` must be), removed as soon as the tool has started writing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tempfile

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import (
    DumpOptionError, ToolDump, find_tool, tool_version)

PACKAGE = 'the MariaDB or MySQL client programs (Debian: mariadb-client)'
TABLES_SQL = ("SELECT TABLE_NAME AS name FROM information_schema.TABLES"
              " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")
SIZE_SQL = ("SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS size FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = %s")


def quote_ident(name):
    return '`%s`' % name.replace('`', '``')


def option_value(value):
    """A value for a MySQL option file: double-quoted, with the escapes my_load_defaults undoes."""
    text = '%s' % value
    for plain, escaped in (('\\', '\\\\'), ('"', '\\"'), ('\n', '\\n'), ('\r', '\\r'), ('\t', '\\t')):
        text = text.replace(plain, escaped)
    return '"%s"' % text


class MySQLDump(ToolDump):
    error_line = re.compile(r'^(mysqldump|mariadb-dump): (Got error|Error|Couldn\'t)', re.M)

    def __init__(self, engine, format=None):
        super(MySQLDump, self).__init__(engine.label, engine.conn.secrets())
        if format not in (None, 'sql'):
            raise DumpOptionError('format %s is not a MySQL dump format: mysqldump writes SQL, leave format unset '
                                  '(or set it to sql)' % format)
        if not engine.conn.database:
            raise DumpOptionError('database is required to back up MySQL: set database to the database to dump')
        self.engine = engine
        self.dump_format = 'sql'
        self.series_database = engine.conn.database
        # Debian's MariaDB ships mariadb-dump with mysqldump as a link to it; MySQL has mysqldump only.
        self.binary = find_tool(['mariadb-dump', 'mysqldump'], PACKAGE)
        self.tool = os.path.basename(self.binary)
        self.tool_version = tool_version(self.binary)
        self.mariadb = 'mariadb' in self.tool_version.lower()
        self.option_file = None
        self._session = None

    def estimated_size(self):
        rows = self.engine.query(SIZE_SQL, (self.engine.conn.database,), action='reading the database size failed')
        return int(rows[0]['size'])

    def _option_lines(self):
        conn = self.engine.conn
        lines = ['[client]', 'user=%s' % option_value(conn.user or 'root')]
        if conn.password:
            lines.append('password=%s' % option_value(conn.password))
        if conn.unix_socket:
            lines += ['socket=%s' % option_value(conn.unix_socket), 'protocol=socket']
        else:
            lines += ['host=%s' % option_value(conn.host), 'port=%d' % self.engine.port, 'protocol=tcp']
        if conn.tls:
            for key, value in (('ssl-ca', conn.tls_ca), ('ssl-cert', conn.tls_cert), ('ssl-key', conn.tls_key)):
                if value:
                    lines.append('%s=%s' % (key, option_value(value)))
            if self.mariadb:
                lines.append('ssl')
                if conn.tls_verify:
                    lines.append('ssl-verify-server-cert')
            else:
                lines.append('ssl-mode=%s' % ('VERIFY_IDENTITY' if conn.tls_verify else 'REQUIRED'))
        return lines

    def _write_option_file(self):
        fd, path = tempfile.mkstemp(prefix='caretaker-dump-', suffix='.cnf')
        self.option_file = path
        with os.fdopen(fd, 'w') as handle:
            os.fchmod(fd, 0o600)
            handle.write('\n'.join(self._option_lines()) + '\n')
        return path

    def command(self):
        path = self._write_option_file()
        argv = [self.binary, '--defaults-extra-file=%s' % path,
                '--single-transaction', '--routines', '--triggers', '--events',
                # Tablespaces need the PROCESS privilege and only matter for NDB or general tablespaces.
                '--no-tablespaces', '--hex-blob', '--default-character-set=utf8mb4',
                '--', self.engine.conn.database]
        return argv, dict(os.environ)

    def while_dumping(self):
        def snapshot_and_count():
            self._session = self.engine.open_session()
            with self._session.cursor() as cursor:
                cursor.execute('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
                cursor.execute('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
                cursor.execute(TABLES_SQL, (self.engine.conn.database,))
                tables = [row['name'] for row in cursor.fetchall()]
                for table in tables:
                    cursor.execute('SELECT COUNT(*) AS n FROM %s.%s' % (quote_ident(self.engine.conn.database),
                                                                        quote_ident(table)))
                    self.counts[table] = int(cursor.fetchone()['n'])
        self.engine.run('counting rows for the backup failed', snapshot_and_count)

    def on_output(self):
        self._remove_option_file()  # the tool has read it and logged in

    def after_dump(self):
        session, self._session = self._session, None
        if session is not None:
            self.engine.run('closing the count session failed', session.rollback)
            session.close()

    def _remove_option_file(self):
        path, self.option_file = self.option_file, None
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass

    def cleanup(self):
        self._remove_option_file()
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:  # a dead server must not hide the dump's own error
                pass
