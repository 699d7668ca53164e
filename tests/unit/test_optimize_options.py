# -*- coding: utf-8 -*-
"""db_optimize's pure parts: options, durations, names, reply reading and the budget."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from pymongo.errors import OperationFailure

from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize import mongodb, mysql, planner
from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    THRESHOLDS, Decision, OptimizeError, Optimizer, Outcome, Step, Target, check_options, check_table_names,
    parse_duration)


def params(**overrides):
    base = dict(engine='postgresql', operations=None, tables=None, schema=None, only_if_needed=False, thresholds=None,
                max_duration=None, lock_timeout=5.0, concurrently=True, maxmemory_policy=None, config_rewrite=False)
    base.update(overrides)
    return base


# --- max_duration -----------------------------------------------------------------------


@pytest.mark.parametrize('value, seconds', [
    (600, 600.0), (0.5, 0.5), ('600', 600.0), ('0.5', 0.5), ('90s', 90.0), ('30m', 1800.0), ('1h30m', 5400.0),
    ('1d', 86400.0), (' 2H ', 7200.0), ('1h0m30s', 3630.0),
])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize('value, words', [
    ('soon', "max_duration 'soon' is not an interval: give seconds (600) or a number with the units s (seconds), m (minutes)"),
    ('', 'is not an interval'),
    ('30x', 'is not an interval'),
    ('1 h', 'is not an interval'),
    ('1h1h', 'gives a unit twice'),
    ('0', 'is not above zero: give a positive interval, or leave max_duration unset'),
    (-5, 'is not above zero'),
    (True, 'is not an interval'),
])
def test_bad_durations_name_the_option_and_the_fix(value, words):
    with pytest.raises(OptimizeError) as error:
        parse_duration(value)
    assert words in '%s' % error.value


# --- table names ---------------------------------------------------------------------------


@pytest.mark.parametrize('name', ["orders'", 'orders"', 'orders`', 'orders; DROP TABLE users', 'a\\b', 'a\nb', 'a\x00'])
def test_names_with_quotes_semicolons_or_control_characters_are_refused(name):
    with pytest.raises(OptimizeError) as error:
        check_table_names(['fine', name])
    text = '%s' % error.value
    assert text.startswith('tables[1] ') and 'nothing was run' in text


def test_plain_names_pass():
    check_table_names(['orders', 'public.orders', 'My Table', 'fs.files', 'ünïcode'])
    with pytest.raises(OptimizeError, match=r'tables\[0\] is empty'):
        check_table_names(['  '])


# --- options ---------------------------------------------------------------------------------


def test_defaults_follow_the_runbooks_and_operations_run_in_engine_order():
    assert check_options(params()).operations == ['vacuum', 'analyze']
    assert check_options(params(engine='mysql')).operations == ['optimize', 'analyze']
    assert check_options(params(engine='mongodb')).operations == ['validate']
    assert check_options(params(engine='redis')).operations == ['memory_purge']
    assert check_options(params(operations=['reindex', 'analyze', 'vacuum_full'])).operations == [
        'vacuum_full', 'analyze', 'reindex']
    assert check_options(params(engine='mysql', operations=['analyze', 'repair', 'check'])).operations == [
        'check', 'repair', 'analyze']


def test_thresholds_keep_defaults_for_unset_keys():
    options = check_options(params(thresholds={'dead_percent': 5.0, 'dead_rows': None}))
    assert options.thresholds == dict(THRESHOLDS, dead_percent=5.0)


@pytest.mark.parametrize('overrides, message', [
    (dict(operations=['optimize']), 'operations: optimize is not for engine postgresql: use vacuum_full, vacuum, analyze, reindex'),
    (dict(engine='mysql', operations=['vacuum', 'compact']), 'operations: vacuum, compact are not for engine mysql: use check'),
    (dict(operations=[]), 'operations is empty, so there is nothing to do: name some of vacuum_full'),
    (dict(engine='redis', operations=[]), 'operations is empty'),
    (dict(engine='redis', tables=['x']), 'tables does not apply to Redis'),
    (dict(engine='mysql', schema='public'), 'schema applies to PostgreSQL only'),
    (dict(maxmemory_policy='allkeys-lru'), 'maxmemory_policy applies to Redis only'),
    (dict(engine='redis', config_rewrite=True), 'config_rewrite saves maxmemory_policy to the config file: set maxmemory_policy too'),
    (dict(thresholds={'free_mib': -1.0}), 'thresholds.free_mib must be 0 or more, got -1.0'),
    (dict(lock_timeout=0.0), 'lock_timeout must be above 0 seconds, got 0.0'),
    (dict(max_duration='later'), "max_duration 'later' is not an interval"),
    (dict(tables=['ok', 'bad"name']), 'tables[1] \'bad"name\' holds a quote'),
])
def test_bad_options_name_the_option(overrides, message):
    with pytest.raises(OptimizeError) as error:
        check_options(params(**overrides))
    assert message in '%s' % error.value


def test_redis_may_only_set_the_policy():
    options = check_options(params(engine='redis', operations=[], maxmemory_policy='allkeys-lru', config_rewrite=True))
    assert options.operations == [] and options.maxmemory_policy == 'allkeys-lru' and options.config_rewrite


# --- what the servers answer ---------------------------------------------------------------------


def rows(*pairs):
    return [{'Msg_type': kind, 'Msg_text': text} for kind, text in pairs]


def test_mysql_replies():
    done = mysql.classify('optimize', rows(('note', 'Table does not support optimize, doing recreate + analyze instead'),
                                           ('status', 'OK')))
    assert done.status == 'done' and 'recreate + analyze' in done.reason and len(done.messages) == 2
    assert mysql.classify('analyze', rows(('status', 'Table is already up to date'))).status == 'done'
    locked = mysql.classify('optimize', rows(('Error', 'Lock wait timeout exceeded; try restarting transaction'),
                                             ('status', 'Operation failed')))
    assert locked.status == 'skipped' and 'lock_timeout' in locked.reason
    unsupported = mysql.classify('repair', rows(('note', "The storage engine for the table doesn't support repair")))
    assert unsupported.status == 'skipped' and "doesn't support repair" in unsupported.reason
    corrupt = mysql.classify('check', rows(('warning', 'Size of datafile is: 10 Should be: 20'),
                                           ('error', 'Corrupt')))
    assert corrupt.status == 'failed' and corrupt.reason == 'CHECK TABLE reports: Corrupt'
    odd = mysql.classify('check', rows(('status', 'Table is marked as crashed')))
    assert odd.status == 'failed' and 'marked as crashed' in odd.reason


def test_mongodb_replies():
    # nx-27017 answers any command it does not know with ok and an empty result.
    empty = mongodb.classify('compact', {'ok': 1, 'result': []})
    assert empty.status == 'skipped' and 'without bytesFreed' in empty.reason and 'not supported' in empty.reason
    assert mongodb.classify('compact', {'ok': 1, 'bytesFreed': 4096}).details == {'bytes_freed': 4096}
    assert mongodb.classify('reindex', {'ok': 1, 'nIndexesWas': 2, 'nIndexes': 2}).status == 'done'
    invalid = mongodb.classify('validate', {'ok': 1, 'valid': False, 'errors': ['bad BSON at 12'], 'warnings': []})
    assert invalid.status == 'failed' and 'bad BSON at 12' in invalid.reason
    assert mongodb.classify('validate', {'ok': 1, 'valid': True, 'errors': []}).status == 'done'


@pytest.mark.parametrize('code, text, skipped', [
    (59, 'no such command: reIndex', True),
    (20, 'reIndex is only allowed on a standalone mongod instance', True),
    (8000, 'CMD_NOT_ALLOWED: compact', True),
    (13, 'not authorized on appdb to execute command', False),
    (26, 'ns does not exist', False),
])
def test_mongodb_refusals(code, text, skipped):
    outcome = mongodb.refusal('reindex', OperationFailure(text, code, {'ok': 0, 'errmsg': text, 'code': code}))
    assert (outcome is not None and outcome.status == 'skipped') is skipped
    if skipped:
        assert outcome.reason == 'the server does not support reIndex here: %s' % text


# --- the budget ------------------------------------------------------------------------------------


class Scripted(Optimizer):
    """An optimiser whose tables and needs are given; each step advances a fake clock."""

    def __init__(self, tables, clock):
        super(Scripted, self).__init__(None, None)
        self.tables = tables
        self.clock = clock
        self.ran = []

    def resolve(self, names):
        return [Target(name, name, size=100) for name in self.tables]

    def judge(self, target, operation):
        return Decision(self.tables[target.name], 'scripted')

    def steps(self, target, operations):
        return [Step(operations, 'RUN %s' % target.name)]

    def execute(self, target, step):
        self.ran.append(target.name)
        self.clock.now += 10
        return Outcome('done')

    def size(self, target):
        return 60


class Clock(object):
    now = 1000.0

    def __call__(self):
        return self.now


def test_budget_starts_the_first_table_and_no_new_one_once_spent():
    clock = Clock()
    tables = {'a': True, 'b': False, 'c': True, 'd': True}
    backend = Scripted(tables, clock)
    options = check_options(params(operations=['vacuum'], only_if_needed=True, max_duration='5s'))
    entries = planner.plan(backend, options)
    left = planner.execute(backend, entries, options, clock=clock)
    assert backend.ran == ['a'] and left == ['c', 'd']
    statuses = [(item['table'], item['status']) for entry in entries for item in entry.items.values()]
    assert statuses == [('a', 'done'), ('b', 'skipped'), ('c', 'left'), ('d', 'left')]
    totals = planner.totals(entries, check_mode=False)
    assert totals['reclaimed_bytes'] == 40 and totals['left'] == 2 and totals['tables_acted_on'] == 1


def test_check_mode_leaves_nothing_and_runs_nothing():
    clock = Clock()
    backend = Scripted({'a': True, 'b': True}, clock)
    options = check_options(params(operations=['vacuum'], only_if_needed=True, max_duration=1))
    entries = planner.plan(backend, options)
    assert planner.execute(backend, entries, options, check_mode=True, clock=clock) == []
    assert backend.ran == [] and [item['status'] for entry in entries for item in entry.items.values()] == ['would_run'] * 2
