# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_optimize's run: resolve every name, plan every table, then run table after table.

The plan is made from one reading of the catalog and statistics before the first command, so
check mode shows exactly what the real run does, and an unknown name stops the run with
nothing done. ``max_duration`` is checked before each table: a table once started finishes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    ALWAYS, READ_ONLY, Decision, Outcome, human_bytes, human_seconds)

STATUSES = ('done', 'would_run', 'skipped', 'failed', 'left')
# Names listed in the message, per operation, before "and N more".
LISTED = 5


def backend_for(engine, options):
    """The optimiser of a connected engine (imported here: a host without one driver runs the others)."""
    if engine.name == 'postgresql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.postgresql import PostgreSQLOptimizer
        return PostgreSQLOptimizer(engine, options)
    if engine.name == 'mysql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.mysql import MySQLOptimizer
        return MySQLOptimizer(engine, options)
    if engine.name == 'mongodb':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.mongodb import MongoDBOptimizer
        return MongoDBOptimizer(engine, options)
    from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.redis import RedisOptimizer
    return RedisOptimizer(engine, options)


class Entry(object):
    def __init__(self, target, items, steps):
        self.target = target
        self.items = items
        self.steps = steps


def _decide(backend, target, operation, options):
    if operation in target.skip:
        return Decision(False, target.skip[operation])
    if operation in ALWAYS:
        kind = 'a check' if operation != 'repair' else 'asked for by name'
        return Decision(True, '%s: only_if_needed does not apply' % kind)
    if not options.only_if_needed:
        return Decision(True, 'only_if_needed is off')
    return backend.judge(target, operation)


def plan(backend, options):
    """Entries (target, items, steps) for every table, from one reading of the catalog."""
    entries = []
    for target in backend.resolve(options.tables):
        items = {}
        for operation in options.operations:
            decision = _decide(backend, target, operation, options)
            items[operation] = dict(
                table=target.name, operation=operation, status='planned' if decision.run else 'skipped',
                reason=decision.reason, command=None, done_by=None, seconds=None,
                size_before=target.size, size_after=None, metrics=target.metrics, messages=[])
        wanted = [op for op in options.operations if items[op]['status'] == 'planned']
        steps = backend.steps(target, wanted) if wanted else []
        for step in steps:
            for operation in step.operations:
                items[operation]['command'] = step.command
                if operation != step.operations[0]:
                    items[operation]['done_by'] = step.operations[0]
        entries.append(Entry(target, items, steps))
    return entries


def _run_step(backend, target, step):
    start = time.monotonic()
    try:
        outcome = backend.execute(target, step)
    except EngineError as exc:
        outcome = Outcome('failed', getattr(exc, 'reason', None) or '%s' % exc)
    return outcome, time.monotonic() - start


def _size(backend, target, fallback):
    try:
        size = backend.size(target)
    except EngineError:
        return fallback
    return fallback if size is None else size


def _apply(items, step, outcome, seconds, size_before, size_after):
    for operation in step.operations:
        item = items[operation]
        item['status'] = outcome.status
        if outcome.status == 'done':
            item['reason'] = item['reason'] + ('; %s' % outcome.reason if outcome.reason else '')
        else:
            item['reason'] = outcome.reason
        item['seconds'] = round(seconds, 3)
        item['size_before'] = size_before
        item['size_after'] = size_after
        item['messages'] = outcome.messages
        item.update(outcome.details)


def execute(backend, entries, options, check_mode=False, clock=time.monotonic):
    """Run the planned steps; returns the names of the tables left when the budget was spent."""
    left = []
    started = None
    for entry in entries:
        planned = [item for item in entry.items.values() if item['status'] == 'planned']
        if not planned:
            continue
        if check_mode:
            for item in planned:
                item['status'] = 'would_run'
            continue
        now = clock()
        if started is None:
            started = now
        elif options.max_duration is not None and now - started >= options.max_duration:
            reason = ('max_duration %s spent (%s since the first table started): no new table is started; '
                      'the next run takes it' % (human_seconds(options.max_duration), human_seconds(now - started)))
            _leave(planned, reason)
            left.append(entry.target.name)
            continue
        size = entry.target.size
        for step in entry.steps:
            if not backend.alive():
                _leave([entry.items[op] for op in step.operations], 'the connection was lost earlier in this run')
                continue
            outcome, seconds = _run_step(backend, entry.target, step)
            after = _size(backend, entry.target, size) if outcome.status == 'done' else size
            _apply(entry.items, step, outcome, seconds, size, after)
            size = after
    return left


def _leave(items, reason):
    for item in items:
        item['status'] = 'left'
        item['reason'] = reason


def totals(entries, check_mode):
    items = [item for entry in entries for item in entry.items.values()]
    counts = dict((status, sum(1 for item in items if item['status'] == status)) for status in STATUSES)
    acted = 'would_run' if check_mode else 'done'
    worked = [entry for entry in entries if any(item['status'] == acted for item in entry.items.values())]
    before = after = 0
    for entry in worked:
        ran = [item for item in entry.items.values() if item['status'] == acted]
        first = ran[0]['size_before'] if ran else None
        last = ran[-1]['size_after'] if ran else None
        before += first or 0
        after += (last if last is not None else first) or 0
    seconds = 0.0
    seen = set()
    for item in items:
        if item['seconds'] is not None and (item['table'], item['command']) not in seen:
            seen.add((item['table'], item['command']))
            seconds += item['seconds']
    result = dict(counts, tables=len(entries), tables_acted_on=len(worked), seconds=round(seconds, 3))
    if not check_mode:
        result.update(size_before=before, size_after=after, reclaimed_bytes=before - after)
    return result


def by_operation(items, status):
    """{operation: [table names]} of the items with ``status``, in plan order."""
    found = {}
    for item in items:
        if item['status'] == status:
            found.setdefault(item['operation'], []).append(item['table'])
    return found


def _names(names):
    shown = ', '.join(names[:LISTED])
    return shown + (' and %d more' % (len(names) - LISTED) if len(names) > LISTED else '')


def message(result, check_mode):
    items = result['results']
    acted = by_operation(items, 'would_run' if check_mode else 'done')
    parts = ['%s %s (%s)' % (op, len(names), _names(names)) for op, names in acted.items()]
    text = ('would run ' if check_mode else 'ran ') + ('; '.join(parts) if parts else 'nothing')
    t = result['totals']
    if t['skipped']:
        text += '; skipped %d (see results[].reason)' % t['skipped']
    if t['left']:
        count = len(result['left'])
        text += '; %d table%s left by max_duration (%s)' % (count, '' if count == 1 else 's', _names(result['left']))
    if t['failed']:
        failed = by_operation(items, 'failed')
        text += '; FAILED ' + '; '.join('%s on %s' % (op, _names(names)) for op, names in failed.items())
    if not check_mode and acted:
        text += '; %s in %s' % ('%s reclaimed' % human_bytes(t['reclaimed_bytes']) if t['reclaimed_bytes'] > 0 else 'done',
                                human_seconds(t['seconds']))
    policy = result.get('maxmemory_policy')
    if policy and policy['changed']:
        text += '; maxmemory-policy %s -> %s%s' % (policy['before'], policy['after'],
                                                   ' (saved with CONFIG REWRITE)' if policy.get('rewritten') else '')
    return text


def run(backend, options, check_mode=False):
    """The module's result (without msg): results, totals, left, and Redis's policy change."""
    backend.setup()
    result = {}
    policy = backend.settings(check_mode)
    entries = plan(backend, options)
    left = execute(backend, entries, options, check_mode)
    items = [item for entry in entries for item in entry.items.values()]
    result.update(results=items, totals=totals(entries, check_mode), left=left,
                  max_duration=options.max_duration, only_if_needed=options.only_if_needed)
    if policy is not None:
        result['maxmemory_policy'] = policy
    status = 'would_run' if check_mode else 'done'
    acted = [item for item in items if item['status'] == status and item['operation'] not in READ_ONLY]
    result['changed'] = bool(acted) or bool(policy and policy['changed'])
    return result
