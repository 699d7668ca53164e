# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""data_retention on MySQL and MariaDB.

One transaction per batch, in READ COMMITTED (no gap locks on the ranges the application
inserts into): SELECT the keys ORDER BY the timestamp LIMIT n FOR UPDATE SKIP LOCKED, then
INSERT INTO archive SELECT ... and DELETE (or UPDATE) by exactly those keys, then COMMIT.
The server rolls back an open transaction when the client dies, so a killed run loses and
duplicates nothing. Identifiers come from information_schema and are quoted with backticks
(PyMySQL has no identifier quoting; names holding a backtick were refused before).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._retention import sql
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.sql import rollback
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError

try:
    import pymysql
except ImportError:  # the engine reports the missing driver before this is used
    pymysql = None

TIME_TYPES = ('datetime', 'timestamp', 'date')
NULL_SAFE_EQUAL = '%s <=> %%s'


def quote(name):
    return '`%s`' % name.replace('`', '``')


class MySQLRetention(object):
    def __init__(self, engine, lock_timeout, statement_timeout):
        self.engine = engine
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout
        self.session = None
        self.skip_locked = True

    def _fetch(self, action, statement, params=None):
        def _run():
            with self.session.cursor(pymysql.cursors.Cursor) as cur:
                cur.execute(statement, params)
                return list(cur.fetchall()) if cur.description else []
        return self.engine.run(action, _run)

    def setup(self):
        # The engine's own connection has a read timeout made for health checks; a count or a
        # batch on a big table may need longer, bounded by statement_timeout instead.
        self.session = self.engine.open_session()
        version = self._fetch('cannot read the version', 'SELECT VERSION()')[0][0]
        mariadb = 'mariadb' in version.lower()
        numbers = [int(part) for part in re.findall(r'\d+', version)[:2]] + [0, 0]
        self.skip_locked = tuple(numbers[:2]) >= ((10, 6) if mariadb else (8, 0))
        wait = max(1, int(math.ceil(self.lock_timeout)))
        self._fetch('cannot set session options', 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
        self._fetch('cannot set session options',
                    "SET SESSION time_zone = '+00:00', SESSION innodb_lock_wait_timeout = %s, SESSION lock_wait_timeout = %s",
                    (wait, wait))
        if mariadb:
            self._fetch('cannot set max_statement_time', 'SET SESSION max_statement_time = %s', (float(self.statement_timeout),))
        else:
            self._fetch('cannot set max_execution_time', 'SET SESSION max_execution_time = %s', (int(self.statement_timeout * 1000),))

    def close(self):
        if self.session is not None:
            try:
                self.session.close()
            except Exception:  # closing a broken session must not hide the real error
                pass
            self.session = None

    # --- catalog ------------------------------------------------------------------------------

    def _table(self, rule, name, option):
        """(catalog spelling, engine) of a base table of the current database, or None."""
        rows = self._fetch('cannot read the catalog',
                           "SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES"
                           " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (name,))
        exact = [row for row in rows if row[0] == name] or rows
        if len(exact) > 1:
            raise RuleError('%s: %s %s matches several tables differing in case; nothing was changed' % (rule.where, option, name))
        if exact and exact[0][1] != 'BASE TABLE':
            raise RuleError('%s: %s %s is not a table (%s); nothing was changed' % (rule.where, option, name, exact[0][1]))
        return (exact[0][0], exact[0][2]) if exact else None

    def _columns(self, table):
        """[(name, data type, generated)] in table order."""
        rows = self._fetch('cannot read the catalog',
                           'SELECT COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS'
                           ' WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION', (table,))
        return [(row[0], row[1].lower(), 'GENERATED' in (row[2] or '').upper()) for row in rows]

    def _indexes(self, table):
        """{index name: (unique, [(column, prefix length)])}."""
        rows = self._fetch('cannot read the catalog',
                           'SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS'
                           ' WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX', (table,))
        indexes = {}
        for name, non_unique, column, prefix in rows:
            indexes.setdefault(name, (not int(non_unique), []))[1].append((column, prefix))
        return indexes

    def resolve(self, rule):
        database = self.engine.conn.database
        found = self._table(rule, rule.table, 'table')
        if found is None:
            raise RuleError('%s: no table %s in database %s; nothing was changed' % (rule.where, rule.table, database))
        table, storage = found
        columns = self._columns(table)
        indexes = self._indexes(table)
        key = [column for column, _prefix in indexes.get('PRIMARY', (True, []))[1]]
        target = sql.Target(rule, quote(table), [row[0] for row in columns], key, sql.ORDER_KEY, quote)
        target.spelling = dict((name.lower(), name) for name in target.columns)
        target.label = table
        sql.check_columns(rule, target, target.columns, table)
        types = dict((row[0], row[1]) for row in columns)
        check_types(rule, target, types, key, table)
        ts = target.spelling[rule.timestamp_column.lower()]
        if any(parts[0][0] == ts for _unique, parts in indexes.values()):
            target.order = sql.ORDER_TIMESTAMP
        if rule.action == 'archive':
            self._resolve_archive(target, storage, columns)
        return target

    def _resolve_archive(self, target, storage, columns):
        rule = target.rule
        if (storage or '').lower() != 'innodb':
            raise RuleError('%s: archive needs a transactional table and %s uses %s: convert it to InnoDB, or use '
                            'action delete; nothing was changed' % (rule.where, target.label, storage))
        found = self._table(rule, rule.archive_table, 'archive_table')
        name = found[0] if found else rule.archive_table
        target.archive, target.archive_label = quote(name), name
        target.archive_exists = found is not None
        if found is None:
            target.insert_columns = [row[0] for row in columns if not row[2]]
            return
        if (found[1] or '').lower() != 'innodb':
            raise RuleError('%s: archive table %s uses %s: archive needs InnoDB on both sides; nothing was changed'
                            % (rule.where, name, found[1]))
        archive = dict((row[0].lower(), row) for row in self._columns(name))
        missing = [row[0] for row in columns if row[0].lower() not in archive]
        if missing:
            raise RuleError('%s: archive table %s lacks the columns %s of %s: add them, or archive into a new table '
                            '(it is created like the source); nothing was changed'
                            % (rule.where, name, ', '.join(missing), target.label))
        target.insert_columns = [row[0] for row in columns if not archive[row[0].lower()][2]]

    # --- counting and acting ------------------------------------------------------------------

    def count(self, target, cutoff, also=None):
        where, params = sql.where_clause(target, cutoff, NULL_SAFE_EQUAL, also=also)
        return int(self._fetch('cannot count rows', 'SELECT COUNT(*) FROM %s WHERE %s' % (target.table, where), params)[0][0])

    def create_archive(self, target):
        """CREATE TABLE ... LIKE (columns, indexes, primary key; no foreign keys), then unique keys
        other than the primary key become plain indexes, since archived values may repeat."""
        self._fetch('cannot create archive table %s' % target.archive_label,
                    'CREATE TABLE %s LIKE %s' % (target.archive, target.table))
        target.archive_exists = True
        changes = []
        for name, (unique, parts) in sorted(self._indexes(target.archive_label).items()):
            if unique and name != 'PRIMARY':
                columns = ', '.join(quote(column) + ('(%d)' % int(prefix) if prefix else '') for column, prefix in parts)
                changes.append('DROP INDEX %s, ADD INDEX %s (%s)' % (quote(name), quote(name), columns))
        if changes:
            self._fetch('cannot relax unique keys of %s' % target.archive_label,
                        'ALTER TABLE %s %s' % (target.archive, ', '.join(changes)))

    def batch(self, target, cutoff, limit, now, lower):
        """Act on one batch in one transaction; returns (rows affected, keyset bound for the next batch)."""
        rule = target.rule
        where, params = sql.where_clause(target, cutoff, NULL_SAFE_EQUAL, lower)
        keys = [target.q(name) for name in target.key]
        select = 'SELECT %s, %s FROM %s WHERE %s ORDER BY %s LIMIT %%s FOR UPDATE%s' % (
            ', '.join(keys), target.ts, target.table, where, sql.order_by(target), ' SKIP LOCKED' if self.skip_locked else '')
        params.append(limit)

        def _run():
            with self.session.cursor(pymysql.cursors.Cursor) as cur:
                cur.execute('START TRANSACTION')
                try:
                    cur.execute(select, params)
                    rows = list(cur.fetchall())
                    if rows:
                        self._act(cur, target, rows, now)
                    cur.execute('COMMIT')
                except BaseException:
                    rollback(cur)
                    raise
            if not rows:
                return 0, None
            last = rows[-1]
            return len(rows), [last[len(keys)]] if target.order == sql.ORDER_TIMESTAMP else list(last[:len(keys)])
        return self.engine.run('%s failed on %s' % (rule.action, target.label), _run)

    def _act(self, cur, target, rows, now):
        rule = target.rule
        width = len(target.key)
        keys = [row[:width] for row in rows]
        tuple_sql = '(%s)' % ', '.join(['%s'] * width)
        match = '(%s) IN (%s)' % (', '.join(target.q(name) for name in target.key), ', '.join([tuple_sql] * len(keys)))
        key_params = [value for row in keys for value in row]
        if rule.action == 'anonymize':
            assignments, values = sql.set_clause(target, now)
            cur.execute('UPDATE %s SET %s WHERE %s' % (target.table, assignments, match), values + key_params)
            return
        if rule.action == 'archive':
            names = ', '.join(quote(name) for name in target.insert_columns)
            copied = cur.execute('INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s'
                                 % (target.archive, names, names, target.table, match), key_params)
        deleted = cur.execute('DELETE FROM %s WHERE %s' % (target.table, match), key_params)
        if deleted != len(rows) or (rule.action == 'archive' and copied != deleted):
            raise RuleError('%s: a batch of %d locked rows deleted %d%s; rolled back'
                            % (rule.where, len(rows), deleted, ' and copied %d' % copied if rule.action == 'archive' else ''))

    def time_param(self, moment):
        # The session is in UTC; DATETIME takes no zone.
        return moment.replace(tzinfo=None)


def check_types(rule, target, types, key, label):
    if not key:
        raise RuleError('%s: %s has no primary key; batches are picked and acted on by it: add one; nothing was changed'
                        % (rule.where, label))
    for option, column in (('timestamp_column', rule.timestamp_column), ('mark_column', rule.mark_column)):
        if column and types[target.spelling[column.lower()]] not in TIME_TYPES:
            raise RuleError('%s: %s %s of %s is %s; it must be one of %s; nothing was changed'
                            % (rule.where, option, column, label, types[target.spelling[column.lower()]],
                               ', '.join(TIME_TYPES)))
    keyed = [column for column in rule.columns if target.spelling[column.lower()] in key]
    if keyed:
        raise RuleError('%s: columns must not change the primary key (%s); nothing was changed' % (rule.where, ', '.join(keyed)))
