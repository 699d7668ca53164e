# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""data_retention on PostgreSQL.

One batch is one transaction, so a killed run leaves every batch either wholly done or not
done at all. Its rows are a range: everything matching up to the timestamp (or key) of the
batch_size-th row, read from the index first. Archive copies the range with INSERT ... SELECT
and deletes it, both in one REPEATABLE READ snapshot (per row about what one big INSERT and
DELETE cost); delete and anonymize are one DELETE or UPDATE. A range that meets a row another
session holds or changes is rolled back and redone as ``WITH batch AS (SELECT key ... FOR UPDATE
SKIP LOCKED), acted AS (DELETE ... RETURNING *) INSERT INTO archive SELECT ... FROM acted``,
which never waits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._retention import sql
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.sql import rollback
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError

try:
    from psycopg2.extensions import quote_ident
except ImportError:  # the engine reports the missing driver before this is used
    quote_ident = None

TIME_TYPES = ('timestamp with time zone', 'timestamp without time zone', 'date')
# Longest wait of a range batch for a row another session holds, before it is redone with SKIP LOCKED.
RANGE_LOCK_WAIT = 0.2
LOCK_NOT_AVAILABLE = '55P03'
SERIALIZATION_FAILURE = '40001'


class PostgreSQLRetention(object):
    def __init__(self, engine, lock_timeout, statement_timeout):
        self.engine = engine
        self.client = engine.client
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout

    def close(self):
        pass  # the engine's own connection; the engine closes it

    def quote(self, name):
        return quote_ident(name, self.client)

    def _fetch(self, action, statement, params=None):
        def _run():
            with self.client.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        return self.engine.run(action, _run)

    def setup(self):
        # Naive timestamps are compared in UTC; the batches must not wait long on locks.
        self._fetch('cannot set session options',
                    "SELECT set_config('TimeZone', 'UTC', false), set_config('lock_timeout', %s, false),"
                    " set_config('statement_timeout', %s, false)",
                    ('%dms' % (self.lock_timeout * 1000), '%dms' % (self.statement_timeout * 1000)))

    # --- catalog ------------------------------------------------------------------------------

    def _relation(self, rule, schema, table, option):
        rows = self._fetch('cannot read the catalog',
                           'SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace'
                           ' WHERE n.nspname = %s AND c.relname = %s', (schema, table))
        if rows and rows[0][1] not in ('r', 'p'):
            raise RuleError('%s: %s %s.%s is not a table; nothing was changed' % (rule.where, option, schema, table))
        return rows[0][0] if rows else None

    def _columns(self, oid):
        """[(name, type, generated, identity)] in table order."""
        return self._fetch('cannot read the catalog',
                           'SELECT attname, atttypid::regtype::text, attgenerated, attidentity FROM pg_attribute'
                           ' WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum', (oid,))

    def _key(self, oid):
        rows = self._fetch('cannot read the catalog',
                           'SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid'
                           ' AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary'
                           ' ORDER BY array_position(i.indkey::int2[], a.attnum)', (oid,))
        return [row[0] for row in rows]

    def _leading_index(self, oid, column):
        rows = self._fetch('cannot read the catalog',
                           'SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam'
                           ' JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]'
                           " WHERE i.indrelid = %s AND a.attname = %s AND am.amname = 'btree' AND i.indpred IS NULL",
                           (oid, column))
        return bool(rows)

    def resolve(self, rule):
        schema = rule.schema or self._fetch('cannot read the catalog', 'SELECT current_schema()')[0][0]
        oid = self._relation(rule, schema, rule.table, 'table')
        label = '%s.%s' % (schema, rule.table)
        if oid is None:
            raise RuleError('%s: no table %s in database %s; nothing was changed'
                            % (rule.where, label, self.engine.conn.database or 'postgres'))
        columns = self._columns(oid)
        types = dict((row[0], row[1]) for row in columns)
        key = self._key(oid)
        order = sql.ORDER_TIMESTAMP if self._leading_index(oid, rule.timestamp_column) else sql.ORDER_KEY
        target = sql.Target(rule, '%s.%s' % (self.quote(schema), self.quote(rule.table)), [row[0] for row in columns],
                            key, order, self.quote)
        target.label = label
        sql.check_columns(rule, target, target.columns, label)
        check_types(rule, types, key, label)
        if rule.action == 'archive':
            self._resolve_archive(target, schema, columns)
        return target

    def _resolve_archive(self, target, schema, columns):
        rule = target.rule
        archive_schema = rule.archive_schema or schema
        target.archive_schema = self.quote(archive_schema)
        target.archive = '%s.%s' % (target.archive_schema, self.quote(rule.archive_table))
        target.archive_label = '%s.%s' % (archive_schema, rule.archive_table)
        oid = self._relation(rule, archive_schema, rule.archive_table, 'archive_table')
        target.archive_exists = oid is not None
        if oid is None:
            if not self._fetch('cannot read the catalog', 'SELECT 1 FROM pg_namespace WHERE nspname = %s', (archive_schema,)):
                raise RuleError('%s: archive_table %s cannot be created: there is no schema %s (CREATE SCHEMA it first); '
                                'nothing was changed' % (rule.where, target.archive_label, archive_schema))
            target.insert_columns = [row[0] for row in columns]
            return
        archive = dict((row[0], row) for row in self._columns(oid))
        missing = [row[0] for row in columns if row[0] not in archive]
        if missing:
            raise RuleError('%s: archive table %s lacks the columns %s of %s: add them, or archive into a new table '
                            '(it is created like the source); nothing was changed'
                            % (rule.where, target.archive_label, ', '.join(missing), target.label))
        # Generated columns of an existing archive compute themselves; identity ALWAYS columns take our values.
        target.insert_columns = [row[0] for row in columns if not archive[row[0]][2]]
        if any(archive[name][3] == 'a' for name in target.insert_columns):
            target.insert_prefix = 'OVERRIDING SYSTEM VALUE '

    # --- counting and acting ------------------------------------------------------------------

    def count(self, target, cutoff, also=None):
        where, params = sql.where_clause(target, cutoff, '%s IS NOT DISTINCT FROM %%s', also=also)
        return int(self._fetch('cannot count rows', 'SELECT count(*) FROM %s WHERE %s' % (target.table, where), params)[0][0])

    def create_archive(self, target):
        """Create the archive like the source, in one transaction: same columns, NOT NULL and CHECK
        constraints, indexes and primary key; no defaults, identity or generation (the archive stores
        values, and a default would tie it to the source's sequence); unique and exclusion constraints
        other than the primary key become plain indexes, since values may repeat over the years."""
        def _run():
            with self.client.cursor() as cur:
                cur.execute('BEGIN')
                try:
                    cur.execute('CREATE TABLE %s (LIKE %s INCLUDING ALL EXCLUDING DEFAULTS EXCLUDING IDENTITY'
                                ' EXCLUDING GENERATED)' % (target.archive, target.table))
                    cur.execute("SELECT con.conname, i.indisunique, pg_get_indexdef(i.indexrelid), ic.relname"
                                " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
                                " LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
                                " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary"
                                " AND (i.indisunique OR con.contype = 'x')", (target.archive,))
                    for constraint, unique, definition, index in cur.fetchall():
                        if constraint:
                            cur.execute('ALTER TABLE %s DROP CONSTRAINT %s' % (target.archive, self.quote(constraint)))
                        else:
                            cur.execute('DROP INDEX %s.%s' % (target.archive_schema, self.quote(index)))
                        if unique and definition.startswith('CREATE UNIQUE INDEX '):
                            cur.execute('CREATE INDEX ' + definition[len('CREATE UNIQUE INDEX '):])
                    cur.execute('COMMIT')
                except BaseException:
                    rollback(cur)
                    raise
        self.engine.run('cannot create archive table %s' % target.archive_label, _run)
        target.archive_exists = True

    def batch(self, target, cutoff, limit, now, lower):
        """Act on one batch; returns (rows affected, keyset bound for the next batch).

        First as a range: the bound of the next ``limit`` rows is read from the index, then the
        batch acts on every matching row up to it, waiting RANGE_LOCK_WAIT at most for a row
        another session holds. A range that meets such a row, or a row changed under it, is
        rolled back and redone with its keys picked by FOR UPDATE SKIP LOCKED, which never waits
        and leaves that row for a later batch.
        """
        where, params = sql.where_clause(target, cutoff, '%s IS NOT DISTINCT FROM %%s', lower)
        order = self._order_columns(target)

        def by_range(cur):
            cur.execute('SELECT %s FROM %s WHERE %s ORDER BY %s OFFSET %%s LIMIT 1'
                        % (', '.join(order), target.table, where, sql.order_by(target)), params + [limit - 1])
            bound = cur.fetchone()
            # Up to and including the bound; when fewer rows than a batch are left, all of them.
            within = where if bound is None else '%s AND (%s) <= (%s)' % (
                where, ', '.join(order), ', '.join(['%s'] * len(order)))
            within_params = params + list(bound or [])
            if target.rule.action != 'archive':
                acted, values = self._acted(target, now, 'WHERE %s' % within)
                return self._run_acted(cur, target, '', acted, values + within_params)
            # Copy, then delete, the same rows: the transaction is REPEATABLE READ, so both statements
            # see one snapshot, and a row changed by another session in between fails the DELETE
            # (serialization failure) instead of being deleted uncopied. Cheaper than DELETE RETURNING *.
            names = ', '.join(self.quote(name) for name in target.insert_columns)
            cur.execute('INSERT INTO %s (%s) %sSELECT %s FROM %s WHERE %s' % (
                target.archive, names, target.insert_prefix, names, target.table, within), within_params)
            copied = cur.rowcount
            cur.execute('DELETE FROM %s WHERE %s' % (target.table, within), within_params)
            return cur.rowcount, copied, list(bound) if bound else None

        def by_locked_keys(cur):
            keys = [target.q(name) for name in target.key]
            head = ('batch AS (SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %%s FOR UPDATE SKIP LOCKED), '
                    % (', '.join(keys), target.table, where, sql.order_by(target)))
            join = ' AND '.join('s.%s = b.%s' % (key, key) for key in keys)
            acted, values = self._acted(target, now, 'WHERE %s' % join, using='batch b')
            return self._run_acted(cur, target, head, acted, params + [limit] + values)

        done = self._in_transaction(target, by_range, RANGE_LOCK_WAIT, repeatable=target.rule.action == 'archive')
        if done is None:
            done = self._in_transaction(target, by_locked_keys, None)
        return done

    def _order_columns(self, target):
        return [target.ts] if target.order == sql.ORDER_TIMESTAMP else [target.q(name) for name in target.key]

    def _acted(self, target, now, condition, using=None):
        """The DELETE or UPDATE of a batch, aliased s, and the parameters of its SET list."""
        rule = target.rule
        returning = ', '.join('s.%s' % name for name in dict.fromkeys([target.ts] + self._order_columns(target)))
        if rule.action == 'anonymize':
            assignments, values = sql.set_clause(target, now)
            return ('UPDATE %s s SET %s%s %s RETURNING %s' % (
                target.table, assignments, ' FROM %s' % using if using else '', condition, returning), values)
        return ('DELETE FROM %s s%s %s RETURNING %s' % (
            target.table, ' USING %s' % using if using else '', condition,
            's.*' if rule.action == 'archive' else returning), [])

    def _run_acted(self, cur, target, head, acted, params):
        """One statement: the DELETE or UPDATE, the archive INSERT of what it returned, the counts.
        Returns (rows acted on, rows copied, keyset bound of the next batch)."""
        order = self._order_columns(target)
        statement = 'WITH %sacted AS (%s)' % (head, acted)
        copied = '0'
        if target.rule.action == 'archive':
            names = ', '.join(self.quote(name) for name in target.insert_columns)
            statement += ', copied AS (INSERT INTO %s (%s) %sSELECT %s FROM acted RETURNING 1)' % (
                target.archive, names, target.insert_prefix, names)
            copied = '(SELECT count(*) FROM copied)'
        if len(order) == 1:
            statement += ' SELECT count(*), %s, max(%s) FROM acted HAVING count(*) > 0' % (copied, order[0])
        else:
            statement += (' SELECT (SELECT count(*) FROM acted), %s, %s FROM acted ORDER BY %s DESC LIMIT 1'
                          % (copied, ', '.join(order), ' DESC, '.join(order)))
        cur.execute(statement, params)
        row = cur.fetchone()
        return (int(row[0]), int(row[1]), list(row[2:])) if row else (0, 0, None)

    def _in_transaction(self, target, work, lock_wait, repeatable=False):
        """Run one batch in its own transaction; None when a range batch gave up on a row
        another session holds or changed."""
        rule = target.rule

        def _run():
            with self.client.cursor() as cur:
                # One round trip. A batch is a few thousand keys: look each up in the primary key index
                # (left to itself the planner may hash the whole table for every batch). A batch lost in
                # a server crash is lost whole, copy and delete alike: its rows are still in the source
                # and the next run moves them, so the commit need not wait for the disk.
                cur.execute('BEGIN%s; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;'
                            " SET LOCAL synchronous_commit = off; SELECT set_config('lock_timeout', %%s, true)"
                            % (' ISOLATION LEVEL REPEATABLE READ' if repeatable else ''),
                            ('%dms' % ((lock_wait or self.lock_timeout) * 1000),))
                try:
                    affected, copied, lower = work(cur)
                    if rule.action == 'archive' and affected != copied:
                        raise RuleError('%s: a batch deleted %d rows but copied %d into %s; rolled back'
                                        % (rule.where, affected, copied, target.archive_label))
                    cur.execute('COMMIT')
                except BaseException as exc:
                    rollback(cur)
                    if lock_wait and getattr(exc, 'pgcode', None) in (LOCK_NOT_AVAILABLE, SERIALIZATION_FAILURE):
                        return None
                    raise
            return affected, lower
        return self.engine.run('%s failed on %s' % (rule.action, target.label), _run)

    def time_param(self, moment):
        return moment


def check_types(rule, types, key, label):
    """The timestamp and mark columns must hold times; key columns cannot be anonymised; a key is needed."""
    if not key:
        raise RuleError('%s: %s has no primary key; batches are picked and acted on by it: add one; nothing was changed'
                        % (rule.where, label))
    for option, column in (('timestamp_column', rule.timestamp_column), ('mark_column', rule.mark_column)):
        if column and types[column] not in TIME_TYPES:
            raise RuleError('%s: %s %s of %s is %s; it must be one of %s; nothing was changed'
                            % (rule.where, option, column, label, types[column], ', '.join(TIME_TYPES)))
    keyed = [column for column in rule.columns if column in key]
    if keyed:
        raise RuleError('%s: columns must not change the primary key (%s); nothing was changed' % (rule.where, ', '.join(keyed)))
