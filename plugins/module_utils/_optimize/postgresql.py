# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_optimize on PostgreSQL: VACUUM, VACUUM FULL, ANALYZE and REINDEX.

Names are resolved against pg_class and written with psycopg2.sql.Identifier. The engine's
connection is in autocommit mode, which VACUUM and REINDEX CONCURRENTLY need (neither runs
inside a transaction block). The session waits at most ``lock_timeout`` for a table's lock,
so a busy table is skipped instead of queueing the application's queries behind it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    Decision, Optimizer, Outcome, Step, Target, need, num, percent, split_name, unknown_names)

try:
    from psycopg2 import sql
except ImportError:  # the engine reports the missing driver before this is used
    sql = None

LOCK_NOT_AVAILABLE = '55P03'
KINDS = {'r': 'table', 'm': 'materialized view', 'p': 'partitioned table', 'v': 'view', 'S': 'sequence',
         'f': 'foreign table', 'i': 'index', 'I': 'partitioned index', 'c': 'composite type', 't': 'TOAST table'}

_RELATIONS = (
    "SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,"
    " pg_total_relation_size(c.oid) AS size, pg_get_userbyid(c.relowner) AS owner,"
    " coalesce(s.n_live_tup, 0) AS live_rows, coalesce(s.n_dead_tup, 0) AS dead_rows,"
    " coalesce(s.n_mod_since_analyze, 0) AS modified_rows,"
    " (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL) AS analyzed,"
    " (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS indexes,"
    " (r.rolsuper OR pg_has_role(c.relowner, 'USAGE') %s) AS may_reindex,"
    " (r.rolsuper OR pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE') %s) AS may_vacuum"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
    " JOIN pg_roles r ON r.rolname = current_user"
    " JOIN pg_database d ON d.datname = current_database()"
    " WHERE c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'")


class PostgreSQLOptimizer(Optimizer):
    def __init__(self, engine, options):
        super(PostgreSQLOptimizer, self).__init__(engine, options)
        self.client = engine.client
        self.version = 0

    def setup(self):
        self.client.autocommit = True  # VACUUM cannot run inside a transaction block
        self.version = self.client.server_version
        # The engine's statement_timeout suits health checks; a VACUUM FULL may rightly take hours.
        self._query('cannot set session options',
                    "SELECT set_config('statement_timeout', '0', false), set_config('lock_timeout', %s, false)",
                    ('%dms' % int(self.options.lock_timeout * 1000),))

    def alive(self):
        return not self.client.closed

    def _query(self, action, statement, params=None):
        def _run():
            with self.client.cursor() as cur:
                cur.execute(statement, params)
                if not cur.description:
                    return []
                names = [column[0] for column in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        return self.engine.run(action, _run)

    # --- names ------------------------------------------------------------------------

    def _relations(self):
        # Since PostgreSQL 17 the MAINTAIN privilege also allows VACUUM, ANALYZE and REINDEX.
        maintain = " OR has_table_privilege(c.oid, 'MAINTAIN')" if self.version >= 170000 else ''
        return self._query('cannot read the catalog', _RELATIONS % (maintain, maintain) + ' ORDER BY 2, 3')

    def resolve(self, names):
        rows = self._relations()
        database = self.engine.conn.database or 'postgres'
        if not names:
            wanted = [row for row in rows if row['kind'] in ('r', 'm')
                      and (not self.options.schema or row['schema'] == self.options.schema)]
            return [self._target(row) for row in wanted]
        by_name = dict(((row['schema'], row['name']), row) for row in rows)
        default = self.options.schema or 'public'
        targets, missing, wrong = [], [], []
        for name in names:
            row = by_name.get(split_name(name, default))
            if row is None:
                missing.append(name)
            elif row['kind'] not in ('r', 'm', 'p'):
                wrong.append('%s is a %s' % (name, KINDS.get(row['kind'], 'relation of kind %s' % row['kind'])))
            elif row not in [target.key for target in targets]:
                targets.append(self._target(row))
        if missing:
            raise unknown_names(missing, 'database %s' % database,
                                'check the spelling (case matters; schema.table, or a name in schema %s)' % default)
        if wrong:
            raise unknown_names(wrong, 'the tables of database %s' % database, 'list tables or materialized views only')
        return targets

    def _target(self, row):
        live, dead = int(row['live_rows']), int(row['dead_rows'])
        metrics = dict(live_rows=live, dead_rows=dead, dead_percent=percent(dead, live + dead),
                       modified_rows=int(row['modified_rows']), analyzed=bool(row['analyzed']),
                       indexes=int(row['indexes']), owner=row['owner'])
        skip = {}
        if row['kind'] == 'p':
            for op in ('vacuum', 'vacuum_full', 'analyze', 'reindex'):
                skip[op] = 'a partitioned table: its partitions are tables of their own; list them instead'
        if not row['may_vacuum']:
            for op in ('vacuum', 'vacuum_full', 'analyze'):
                skip[op] = ('only the owner (%s), the database owner or a superuser may %s it: log in as one of them'
                            % (row['owner'], op.replace('_', ' ')))
        if not row['may_reindex']:
            skip.setdefault('reindex', 'only the owner (%s) or a superuser may reindex it: log in as one of them' % row['owner'])
        if not int(row['indexes']):
            skip.setdefault('reindex', 'the table has no indexes')
        name = '%s.%s' % (row['schema'], row['name'])
        return Target(name, row, size=int(row['size']), metrics=metrics, skip=skip)

    # --- plan ---------------------------------------------------------------------------

    def judge(self, target, operation):
        m, t = target.metrics, self.options.thresholds
        rows = m['live_rows'] + m['dead_rows']
        if operation in ('vacuum', 'vacuum_full', 'reindex'):
            what = '%d dead rows, %s %% of %d' % (m['dead_rows'], num(m['dead_percent']), rows)
            if operation == 'reindex':
                what = 'indexes grow with dead rows (%s)' % what
            return need(what, m['dead_percent'], t['dead_percent'], m['dead_rows'], t['dead_rows'],
                        '%s dead rows' % num(t['dead_rows']))
        if not m['analyzed']:
            if m['live_rows'] or m['modified_rows']:
                return Decision(True, 'never analyzed, %d rows' % max(m['live_rows'], m['modified_rows']))
            return Decision(False, 'never analyzed but empty, so not needed')
        share = percent(m['modified_rows'], m['live_rows']) if m['live_rows'] else (100.0 if m['modified_rows'] else 0.0)
        return need('%d rows changed since the last analyze, %s %% of %d' % (m['modified_rows'], num(share), m['live_rows']),
                    share, t['modified_percent'], m['modified_rows'], t['modified_rows'], '%s changed rows' % num(t['modified_rows']))

    def steps(self, target, operations):
        ident = sql.Identifier(target.key['schema'], target.key['name'])
        wanted = set(operations)
        steps = []
        carried = [op for op in ('vacuum_full', 'vacuum') if op in wanted]
        if carried:
            options = ['FULL'] if 'vacuum_full' in wanted else []
            if 'analyze' in wanted:
                options.append('ANALYZE')
                carried.append('analyze')
            if 'vacuum_full' in wanted and 'reindex' in wanted:
                carried.append('reindex')  # VACUUM FULL writes every index anew
            statement = sql.SQL('VACUUM ({}) {}').format(sql.SQL(', '.join(options)), ident) if options \
                else sql.SQL('VACUUM {}').format(ident)
            steps.append(Step(carried, statement.as_string(self.client), statement))
        elif 'analyze' in wanted:
            statement = sql.SQL('ANALYZE {}').format(ident)
            steps.append(Step(['analyze'], statement.as_string(self.client), statement))
        if 'reindex' in wanted and 'reindex' not in carried:
            # CONCURRENTLY (PostgreSQL 12+) keeps the table writable while the indexes are rebuilt.
            concurrently = self.options.concurrently and self.version >= 120000
            statement = sql.SQL('REINDEX TABLE {}{}').format(sql.SQL('CONCURRENTLY ' if concurrently else ''), ident)
            steps.append(Step(['reindex'], statement.as_string(self.client), statement))
        return steps

    # --- run ----------------------------------------------------------------------------

    def execute(self, target, step):
        self.client.notices = []
        try:
            with self.client.cursor() as cur:
                cur.execute(step.payload)
        except Exception as exc:  # psycopg2 raises many types; the code says which
            if getattr(exc, 'pgcode', None) == LOCK_NOT_AVAILABLE:
                return Outcome('skipped', 'could not get its lock within lock_timeout %ss: another session holds the '
                               'table; the next run tries again' % num(self.options.lock_timeout))
            raise self.engine.error(step.command.split(' ')[0] + ' failed', exc)
        notices = [' '.join(notice.split()) for notice in self.client.notices]
        # VACUUM and ANALYZE skip what the login may not maintain with a WARNING, not an error.
        refused = [text for text in notices if text.startswith('WARNING: skipping')]
        if refused:
            return Outcome('skipped', refused[0].replace('WARNING: ', '', 1), notices)
        return Outcome('done', None, notices)

    def size(self, target):
        rows = self._query('cannot read the size', 'SELECT pg_total_relation_size(%s) AS size', (target.key['oid'],))
        return int(rows[0]['size']) if rows and rows[0]['size'] is not None else None
