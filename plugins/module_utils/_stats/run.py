# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_stats: options, one pass over the chosen sections, growth and the snapshot file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats import (
    mongodb, mysql, postgresql, redis, snapshot)
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import (
    DEFAULT_THRESHOLDS, ENGINE_SECTIONS, SECTIONS, Collector, StatsError, human)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    CRITICAL, UNKNOWN, WARNING, check_item, parse_thresholds, resolve_thresholds, summarize)

COLLECTORS = {
    'postgresql': postgresql.SECTIONS,
    'mysql': mysql.SECTIONS,
    'mongodb': mongodb.SECTIONS,
    'redis': redis.SECTIONS,
}


def check_options(params):
    """The options that are not connection options, checked; raises StatsError naming the option."""
    if params['top'] < 1:
        raise StatsError('top must be 1 or more, got %d' % params['top'])
    if params['slow_query_min_ms'] < 0:
        raise StatsError('slow_query_min_ms must be 0 or more milliseconds, got %s' % params['slow_query_min_ms'])
    include = params['include']
    if include is not None and not include:
        raise StatsError('include is empty: leave it unset for every section, or name some of %s' % ', '.join(SECTIONS))
    try:
        thresholds = parse_thresholds(DEFAULT_THRESHOLDS, params['thresholds'])
    except ValueError as exc:
        raise StatsError('%s' % exc)
    return {'include': include, 'top': params['top'], 'slow_query_min_ms': params['slow_query_min_ms'],
            'thresholds': thresholds, 'snapshot_file': params['snapshot_file'] or None}


def _sections(engine_name, include, c):
    supported = ENGINE_SECTIONS[engine_name]
    for name in include or ():
        if name not in supported:
            c.note(name, 'not available for %s; skipped' % engine_name)
    return [name for name in SECTIONS if name in supported and (include is None or name in include)]


def _collect(engine, c, sections):
    functions = COLLECTORS[engine.name]
    wanted = [name for name in sections if name in functions]
    if 'growth' in sections and 'sizes' not in wanted:
        wanted.insert(0, 'sizes')  # growth compares sizes, so measure them even if not shown
    for name in wanted:
        try:
            functions[name](engine, c)
        except EngineError as exc:
            c.items.append(check_item('%s %s' % (c.label, name), UNKNOWN, detail=getattr(exc, 'reason', '%s' % exc),
                                      target=c.label, signal=name))
    if 'sizes' not in sections:
        c.items = [item for item in c.items if item['signal'] != 'database_size']
        c.stats.pop('sizes', None)


def _amount(unit, change):
    return '%s%s' % ('+' if change >= 0 else '', human(change) if unit == 'bytes' else '%d keys' % change)


def _growth_item(c, grown):
    detail = '%s since %s (%.1f hours ago)' % (_amount(grown['unit'], grown['change']), grown['previous_at'],
                                               grown['elapsed_seconds'] / 3600.0)
    fastest = (grown['tables'] or grown['databases'] or [None])[0]
    if fastest and fastest['change'] > 0:
        detail += '; most growth: %s %s' % (fastest['name'], _amount(grown['unit'], fastest['change']))
    if grown['percent'] is None:
        c.fact('growth', None, 'percent', detail + '; nothing to compare with, the previous total was 0',
               change=grown['change'])
    else:
        c.measure('growth', grown['percent'], 'percent', detail, change=grown['change'])


def _snapshot(c, path, check_mode, now):
    """Growth since the stored entry, and this run's entry stored; returns the snapshot summary."""
    summary = {'path': path, 'written': False, 'previous_at': None}
    if not path:
        c.note('growth', 'snapshot_file is empty, so growth since the last run is not tracked')
        return summary
    if c.sizes is None:
        return summary  # sizes failed: their item says why; keep the last good entry
    try:
        previous = snapshot.load(path).get(c.label)
    except snapshot.SnapshotProblem as exc:
        c.items.append(check_item('%s snapshot' % c.label, WARNING, detail='%s' % exc, target=c.label,
                                  signal='snapshot'))
        return summary
    if previous is None:
        c.note('growth', 'no earlier snapshot of %s in %s: %s' % (
            c.label, path, 'nothing to compare with yet' if check_mode else 'this run is the baseline'))
    else:
        summary['previous_at'] = snapshot.iso(float(previous['taken_at']))
        grown = snapshot.growth(previous, c.sizes, now, c.top)
        if grown is None:
            c.note('growth', 'the earlier snapshot measured %s, this run %s: growth starts over'
                   % (previous.get('unit'), c.sizes['unit']))
        else:
            c.stats['growth'] = grown
            _growth_item(c, grown)
    if check_mode:
        c.note('growth', 'check mode: snapshot_file %s was not written' % path)
        return summary
    try:
        snapshot.save(path, c.label, snapshot.entry(c.sizes, now), now)
        summary['written'] = True
    except (IOError, OSError, snapshot.SnapshotProblem) as exc:
        c.items.append(check_item('%s snapshot' % c.label, WARNING, target=c.label, signal='snapshot',
                                  detail='snapshot_file %s cannot be written (%s): choose a writable path'
                                  % (path, getattr(exc, 'strerror', None) or exc)))
    return summary


def run_stats(conn, options, check_mode=False, now=None):
    """The db_stats result for one target. Never raises for a server problem."""
    engine = get_engine(conn)
    c = Collector(engine.label, resolve_thresholds(DEFAULT_THRESHOLDS, options['thresholds']), options['top'],
                  options['slow_query_min_ms'])
    sections = _sections(conn.engine, options['include'], c)
    summary = {'path': options['snapshot_file'], 'written': False, 'previous_at': None}
    try:
        with engine:
            _collect(engine, c, sections)
    except EngineError as exc:
        c.items.append(check_item('%s reachable' % c.label, CRITICAL, detail=getattr(exc, 'reason', '%s' % exc),
                                  target=c.label, signal='reachable'))
        c.sizes = None
    if 'growth' in sections and c.sizes is not None:
        summary = _snapshot(c, options['snapshot_file'], check_mode, time.time() if now is None else now)
    result = summarize(c.items, what='database stats')
    result.update(target=c.label, engine=conn.engine, sections=sections, stats=c.stats, notes=c.notes,
                  snapshot=summary)
    return result
