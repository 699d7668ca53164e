# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_optimize: operations per engine, need thresholds, option checks (pure, no I/O)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import DurationError, parse_seconds

# Per engine, in the order they run on one table: a check before a repair, a rebuild
# before the statistics it would refresh anyway.
OPERATIONS = {
    'postgresql': ('vacuum_full', 'vacuum', 'analyze', 'reindex'),
    'mysql': ('check', 'repair', 'optimize', 'analyze'),
    'mongodb': ('validate', 'compact', 'reindex'),
    'redis': ('memory_purge',),
}
# What the weekly runbooks do; the db_maintenance role uses the same.
DEFAULT_OPERATIONS = {
    'postgresql': ['vacuum', 'analyze'],
    'mysql': ['analyze', 'optimize'],
    'mongodb': ['validate'],
    'redis': ['memory_purge'],
}
ALL_OPERATIONS = sorted(set(op for ops in OPERATIONS.values() for op in ops))

# Operations only_if_needed never skips: checks, and a repair asked for by name.
ALWAYS = ('check', 'repair', 'validate')
# Operations that only read: running them is not a change (a weekly validate alone stays idempotent).
READ_ONLY = ('check', 'validate')

# Defaults of the only_if_needed thresholds (see the module documentation for the reasons).
THRESHOLDS = {
    'dead_percent': 10.0,
    'dead_rows': 1000,
    'modified_percent': 10.0,
    'modified_rows': 1000,
    'free_percent': 10.0,
    'free_mib': 10.0,
    'fragmentation_ratio': 1.5,
    'fragmentation_mib': 100.0,
}

MAXMEMORY_POLICIES = ['allkeys-lfu', 'allkeys-lru', 'allkeys-random', 'noeviction',
                      'volatile-lfu', 'volatile-lru', 'volatile-random', 'volatile-ttl']

MIB = 1048576.0

# Characters no table name of ours may hold: quotes, the statement separator, the escape
# character and control characters. Names are matched against the catalog anyway; these
# only ever mean a mistake or an injection attempt.
_BAD_NAME = re.compile(r'[\'"`;\\\x00-\x1f\x7f]')


class OptimizeError(Exception):
    """Options that cannot work, or names the catalog does not know; the text names the fix.
    Raised before anything runs."""


class Options(object):
    """The checked options of one run."""

    def __init__(self, engine, operations, tables, schema, only_if_needed, thresholds, max_duration,
                 lock_timeout, concurrently, maxmemory_policy, config_rewrite):
        self.engine = engine
        self.operations = operations
        self.tables = tables
        self.schema = schema
        self.only_if_needed = only_if_needed
        self.thresholds = thresholds
        self.max_duration = max_duration
        self.lock_timeout = lock_timeout
        self.concurrently = concurrently
        self.maxmemory_policy = maxmemory_policy
        self.config_rewrite = config_rewrite


def parse_duration(value, option='max_duration'):
    """Seconds (float) of a time budget such as 600, 90s, 30m, 1h30m or 1d (``m`` is minutes)."""
    try:
        return parse_seconds(value, option)
    except DurationError as exc:
        raise OptimizeError('%s' % exc)


def check_table_names(tables):
    """Refuse names that could only be a mistake or an injection, before anything connects."""
    for index, name in enumerate(tables or []):
        if not isinstance(name, str) or not name.strip():
            raise OptimizeError('tables[%d] is empty: give a table name, or leave tables unset for every table' % index)
        if _BAD_NAME.search(name):
            raise OptimizeError(
                'tables[%d] %r holds a quote, semicolon, backslash or control character: give the plain name '
                '(table, or schema.table / database.table) as the catalog spells it; nothing was run' % (index, name))


def check_options(params):
    """Options for one run from the module's parameters; raises OptimizeError naming the option."""
    engine = params['engine']
    known = OPERATIONS.get(engine, ())
    operations = params['operations']
    if operations is None:
        operations = list(DEFAULT_OPERATIONS.get(engine, []))
    wrong = [op for op in operations if op not in known]
    if wrong:
        raise OptimizeError('operations: %s %s not for engine %s: use %s' % (
            ', '.join(wrong), 'is' if len(wrong) == 1 else 'are', engine, ', '.join(known)))
    if not operations and not (engine == 'redis' and params.get('maxmemory_policy')):
        raise OptimizeError('operations is empty, so there is nothing to do: name some of %s, or leave it unset '
                            'for %s' % (', '.join(known), ', '.join(DEFAULT_OPERATIONS.get(engine, []))))
    tables = params['tables'] or []
    check_table_names(tables)
    if engine == 'redis' and tables:
        raise OptimizeError('tables does not apply to Redis (its operations act on the whole server): leave it unset')
    if params.get('schema') and engine != 'postgresql':
        raise OptimizeError('schema applies to PostgreSQL only: for %s, name the database with database' % engine)
    if engine != 'redis':
        for option in ('maxmemory_policy', 'config_rewrite'):
            if params.get(option):
                raise OptimizeError('%s applies to Redis only: leave it unset for engine %s' % (option, engine))
    if params.get('config_rewrite') and not params.get('maxmemory_policy'):
        raise OptimizeError('config_rewrite saves maxmemory_policy to the config file: set maxmemory_policy too')
    thresholds = dict(THRESHOLDS)
    for key, value in (params.get('thresholds') or {}).items():
        if value is None:
            continue
        if value < 0:
            raise OptimizeError('thresholds.%s must be 0 or more, got %s' % (key, value))
        thresholds[key] = value
    max_duration = params.get('max_duration')
    budget = None if max_duration in (None, '') else parse_duration(max_duration)
    lock_timeout = params.get('lock_timeout')
    if lock_timeout is None or lock_timeout <= 0:
        raise OptimizeError('lock_timeout must be above 0 seconds, got %s' % lock_timeout)
    ordered = [op for op in known if op in operations]
    return Options(engine, ordered, list(tables), params.get('schema'), bool(params.get('only_if_needed')), thresholds,
                   budget, float(lock_timeout), params.get('concurrently', True), params.get('maxmemory_policy'),
                   bool(params.get('config_rewrite')))


def human_bytes(size):
    if size is None:
        return 'unknown'
    size = float(size)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(size) < 1024 or unit == 'GiB':
            return ('%d %s' % (size, unit)) if unit == 'B' else ('%.1f %s' % (size, unit))
        size /= 1024.0
    return '%.1f TiB' % size


def human_seconds(seconds):
    if seconds < 60:
        return '%.1fs' % seconds
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return ('%dh%02dm%02ds' % (hours, minutes, secs)) if hours else ('%dm%02ds' % (minutes, secs))


def percent(part, whole):
    return round(100.0 * part / whole, 1) if whole else 0.0


def split_name(name, default):
    """(container, name) of ``schema.table`` / ``database.table``; ``default`` container when unqualified."""
    if '.' in name:
        container, table = name.split('.', 1)
        return container, table
    return default, name


class Decision(object):
    """Whether one operation should run on one table, and why (the reason is always set)."""

    def __init__(self, run, reason):
        self.run = run
        self.reason = reason


def need(what, value, limit, amount, minimum, minimum_text):
    """Decision for a share (percent) and an amount that must both reach their limits."""
    if value >= limit and amount >= minimum:
        return Decision(True, '%s: at or above %s %% and %s' % (what, num(limit), minimum_text))
    return Decision(False, '%s: below %s %% or %s, so not needed' % (what, num(limit), minimum_text))


def num(value):
    return ('%d' % value) if float(value).is_integer() else ('%s' % value)


class Step(object):
    """One command on one table that carries out one or more operations."""

    def __init__(self, operations, command, payload=None):
        self.operations = list(operations)
        self.command = command
        self.payload = payload


class Outcome(object):
    """What one step did: ``status`` done, skipped or failed, a reason and the server's messages."""

    def __init__(self, status, reason=None, messages=None, details=None):
        self.status = status
        self.reason = reason
        self.messages = messages or []
        self.details = details or {}


class Target(object):
    """One table (collection, or the Redis server) with its size and the figures its needs are judged by."""

    def __init__(self, name, key, size=None, metrics=None, skip=None):
        self.name = name
        self.key = key
        self.size = size
        self.metrics = metrics or {}
        # {operation: reason} for operations that cannot run on this table at all.
        self.skip = skip or {}


class Optimizer(object):
    """Base of the engine optimisers: resolve names, judge needs, build and run steps."""

    def __init__(self, engine, options):
        self.engine = engine
        self.options = options

    def setup(self):
        pass

    def close(self):
        pass

    def alive(self):
        return True

    def settings(self, check_mode):
        """Server settings this run changes (Redis's maxmemory-policy); None when there are none."""
        return None

    def resolve(self, names):
        raise NotImplementedError

    def judge(self, target, operation):
        raise NotImplementedError

    def steps(self, target, operations):
        raise NotImplementedError

    def execute(self, target, step):
        raise NotImplementedError

    def size(self, target):
        raise NotImplementedError


def unknown_names(missing, where, hint):
    """The error for names the catalog does not know (all of them at once)."""
    return OptimizeError('tables: %s %s not in %s: %s; nothing was run' % (
        ', '.join(missing), 'is' if len(missing) == 1 else 'are', where, hint))
