# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_optimize on MySQL and MariaDB: CHECK, REPAIR, OPTIMIZE and ANALYZE TABLE.

Every name is looked up in information_schema.TABLES first; only names found there are
written into a statement, in backticks. The statements run on a session of their own
without the engine's read timeout (an OPTIMIZE TABLE takes as long as the table is big),
waiting at most ``lock_timeout`` for a table's metadata lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    MIB, Decision, OptimizeError, Optimizer, Outcome, Step, Target, human_bytes, need, num, percent, split_name,
    unknown_names)

SYSTEM_SCHEMAS = ('mysql', 'information_schema', 'performance_schema', 'sys')
TABLE_TYPES = ('BASE TABLE', 'SYSTEM VERSIONED')
# Engines whose tables REPAIR TABLE can mend; InnoDB recovers on its own and has no repair.
REPAIRABLE = ('MyISAM', 'ARCHIVE', 'CSV', 'Aria')
# Engines known to refuse an operation (the server answers "doesn't support"); others are tried.
UNSUPPORTED = {
    'analyze': ('CSV', 'MEMORY', 'ARCHIVE', 'BLACKHOLE'),
    'optimize': ('CSV', 'MEMORY', 'BLACKHOLE'),
    'check': ('MEMORY', 'BLACKHOLE'),
}
STATEMENTS = {'check': 'CHECK TABLE', 'repair': 'REPAIR TABLE', 'optimize': 'OPTIMIZE TABLE', 'analyze': 'ANALYZE TABLE'}
GOOD_STATUS = ('ok', 'table is already up to date')
_PLAIN_NAME = re.compile(r'^[A-Za-z0-9_$]+$')


def quote(name):
    return '`%s`' % name.replace('`', '``')


def classify(operation, rows):
    """Outcome of an admin statement from its result rows (Msg_type, Msg_text): the server reports
    most failures, lock waits included, as rows rather than as errors."""
    messages = ['%s: %s' % (row['Msg_type'], row['Msg_text']) for row in rows]
    errors = [row['Msg_text'] for row in rows if (row['Msg_type'] or '').lower() == 'error']
    status = [row['Msg_text'] for row in rows if (row['Msg_type'] or '').lower() == 'status']
    notes = [row['Msg_text'] for row in rows if (row['Msg_type'] or '').lower() in ('note', 'warning', 'info')]
    if any('lock wait timeout' in text.lower() for text in errors):
        return Outcome('skipped', 'could not get its lock within lock_timeout: another session holds the table; '
                       'the next run tries again', messages)
    if errors:
        return Outcome('failed', '%s reports: %s' % (STATEMENTS[operation], '; '.join(errors)), messages)
    if status and status[-1].lower() in GOOD_STATUS:
        return Outcome('done', 'server: %s' % '; '.join(notes) if notes else None, messages)
    unsupported = [text for text in notes if "doesn't support" in text or 'does not support' in text]
    if unsupported and not status:
        return Outcome('skipped', unsupported[0], messages)
    return Outcome('failed', '%s reports: %s' % (STATEMENTS[operation], '; '.join(status + notes) or 'no status'),
                   messages)


class MySQLOptimizer(Optimizer):
    def __init__(self, engine, options):
        super(MySQLOptimizer, self).__init__(engine, options)
        self.session = None

    def setup(self):
        self.session = self.engine.open_session()
        wait = max(1, int(math.ceil(self.options.lock_timeout)))
        self._query('cannot set session options',
                    'SET SESSION lock_wait_timeout = %s, SESSION innodb_lock_wait_timeout = %s', (wait, wait))
        try:
            # MySQL 8 caches table sizes for a day; the sizes before and after must be fresh.
            self._query('no stats cache', 'SET SESSION information_schema_stats_expiry = 0')
        except Exception:  # MariaDB has no such cache, nor the variable
            pass

    def close(self):
        if self.session is not None:
            try:
                self.session.close()
            except Exception:  # closing a broken session must not hide the real error
                pass
            self.session = None

    def alive(self):
        return self.session is not None and self.session.open

    def _query(self, action, statement, params=None):
        def _run():
            with self.session.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall()) if cur.description else []
        return self.engine.run(action, _run)

    # --- names ------------------------------------------------------------------------

    def resolve(self, names):
        database = self.engine.conn.database
        if names and not database:
            bare = [name for name in names if '.' not in name]
            if bare:
                raise OptimizeError('tables: %s name%s no database: write database.table, or set database; nothing was run'
                                    % (', '.join(bare), 's' if len(bare) == 1 else ''))
        where, params = 'TABLE_SCHEMA NOT IN (%s)' % ', '.join(['%s'] * len(SYSTEM_SCHEMAS)), list(SYSTEM_SCHEMAS)
        if database and not names:
            where, params = 'TABLE_SCHEMA = %s', [database]
        rows = self._query('cannot read information_schema',
                           'SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine,'
                           ' DATA_LENGTH AS data_length, INDEX_LENGTH AS index_length, DATA_FREE AS data_free,'
                           ' TABLE_ROWS AS table_rows FROM information_schema.TABLES WHERE %s'
                           ' ORDER BY TABLE_SCHEMA, TABLE_NAME' % where, params)
        if not names:
            found = [row for row in rows if row['type'] in TABLE_TYPES]
        else:
            by_name = dict(((row['db'], row['name']), row) for row in rows)
            found, missing, wrong = [], [], []
            for name in names:
                row = by_name.get(split_name(name, database))
                if row is None:
                    missing.append(name)
                elif row['type'] not in TABLE_TYPES:
                    wrong.append('%s is a %s' % (name, row['type'].lower()))
                elif row not in found:
                    found.append(row)
            if missing:
                raise unknown_names(missing, 'database %s' % database if database else 'any user database',
                                    'check the spelling (database.table, or a table of database %s)' % database)
            if wrong:
                raise unknown_names(wrong, 'the base tables', 'list base tables only')
        counters = self._counters(found) if 'analyze' in self.options.operations else {}
        return [self._target(row, counters.get((row['db'], row['name']))) for row in found]

    def _counters(self, rows):
        """{(db, table): (rows, modified)} from InnoDB's statistics; {} when it cannot be read."""
        plain = [(row['db'], row['name']) for row in rows
                 if row['engine'] == 'InnoDB' and _PLAIN_NAME.match(row['db']) and _PLAIN_NAME.match(row['name'])]
        if not plain:
            return {}
        for view in ('INNODB_SYS_TABLESTATS', 'INNODB_TABLESTATS'):  # MariaDB, then MySQL 8
            try:
                found = self._query('no counters', 'SELECT NAME AS name, NUM_ROWS AS num_rows, MODIFIED_COUNTER AS modified'
                                    ' FROM information_schema.%s' % view)
            except Exception:  # needs the PROCESS privilege; the other name on the other server
                continue
            by_name = dict((row['name'], (int(row['num_rows']), int(row['modified']))) for row in found)
            return dict((key, by_name['%s/%s' % key]) for key in plain if '%s/%s' % key in by_name)
        return {}

    def _target(self, row, counter):
        data, index, free = (int(row[key] or 0) for key in ('data_length', 'index_length', 'data_free'))
        engine = row['engine'] or 'unknown'
        metrics = dict(engine=engine, data_length=data, index_length=index, data_free=free,
                       free_percent=percent(free, data + index + free), rows=int(row['table_rows'] or 0))
        if counter is not None:
            metrics.update(stats_rows=counter[0], modified_rows=counter[1])
        skip = {}
        if engine not in REPAIRABLE:
            skip['repair'] = 'REPAIR TABLE applies to MyISAM, ARCHIVE, CSV and Aria tables, not to %s ones%s' % (
                engine, ' (InnoDB recovers by itself; restore a corrupt InnoDB table from a backup)' if engine == 'InnoDB' else '')
        for operation, engines in UNSUPPORTED.items():
            if engine in engines:
                skip[operation] = 'the %s engine does not support %s' % (engine, STATEMENTS[operation])
        name = '%s.%s' % (row['db'], row['name'])
        return Target(name, (row['db'], row['name']), size=data + index + free, metrics=metrics, skip=skip)

    # --- plan ---------------------------------------------------------------------------

    def judge(self, target, operation):
        m, t = target.metrics, self.options.thresholds
        if operation == 'optimize':
            return need('%s free of %s (%s %%)' % (human_bytes(m['data_free']), human_bytes(target.size), num(m['free_percent'])),
                        m['free_percent'], t['free_percent'], m['data_free'], t['free_mib'] * MIB,
                        '%s MiB free' % num(t['free_mib']))
        if 'modified_rows' not in m:
            if m['engine'] == 'InnoDB':
                return Decision(True, "InnoDB's change counter cannot be read (it needs the PROCESS privilege): analyzed "
                                      'anyway, ANALYZE TABLE reads a sample only')
            return Decision(True, 'the %s engine keeps no change counter: analyzed anyway (the server answers "Table is '
                                  'already up to date" when nothing changed)' % m['engine'])
        share = percent(m['modified_rows'], m['stats_rows']) if m['stats_rows'] else (100.0 if m['modified_rows'] else 0.0)
        return need('%d rows changed since the statistics were computed, %s %% of %d' % (m['modified_rows'], num(share),
                                                                                         m['stats_rows']),
                    share, t['modified_percent'], m['modified_rows'], t['modified_rows'],
                    '%s changed rows' % num(t['modified_rows']))

    def steps(self, target, operations):
        name = '%s.%s' % (quote(target.key[0]), quote(target.key[1]))
        steps = []
        for operation in ('check', 'repair', 'optimize'):
            if operation in operations:
                carried = [operation]
                if operation == 'optimize' and 'analyze' in operations:
                    carried.append('analyze')  # OPTIMIZE TABLE refreshes the index statistics too
                steps.append(Step(carried, '%s %s' % (STATEMENTS[operation], name), operation))
        if 'analyze' in operations and 'optimize' not in operations:
            steps.append(Step(['analyze'], 'ANALYZE TABLE %s' % name, 'analyze'))
        return steps

    # --- run ----------------------------------------------------------------------------

    def execute(self, target, step):
        rows = self._query('%s failed' % STATEMENTS[step.payload], step.command)
        return classify(step.payload, rows)

    def size(self, target):
        rows = self._query('cannot read the size',
                           'SELECT DATA_LENGTH + INDEX_LENGTH + DATA_FREE AS size FROM information_schema.TABLES'
                           ' WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s', target.key)
        return int(rows[0]['size']) if rows and rows[0]['size'] is not None else None
