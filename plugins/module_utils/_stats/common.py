# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_stats: sections, default thresholds and the collector every engine fills in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import decimal

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    ABOVE, BELOW, OK, Threshold, check_item, measured_item)

SECTIONS = ('sizes', 'growth', 'vacuum', 'indexes', 'slow_queries', 'cache', 'connections', 'memory')

ENGINE_SECTIONS = {
    'postgresql': ('sizes', 'growth', 'vacuum', 'indexes', 'slow_queries', 'cache', 'connections'),
    'mysql': ('sizes', 'growth', 'indexes', 'slow_queries', 'cache', 'connections'),
    'mongodb': ('sizes', 'growth', 'indexes', 'slow_queries', 'cache', 'connections'),
    'redis': ('sizes', 'growth', 'cache', 'connections', 'memory'),
}

# Connections warn at 80 % of the maximum (the runbooks' "< 80% of max connections") and are
# critical at 95 %, as in db_check. A buffer cache that serves under 95 % of reads from memory
# sends too much to disk. More than 20 % dead rows means autovacuum (scale factor 0.2) lags.
# Any statement averaging over slow_query_min_ms, and any duplicate index, deserves a look.
DEFAULT_THRESHOLDS = {
    'connections': Threshold(80, 95, ABOVE),
    'cache_hit_ratio': Threshold(95, None, BELOW),
    'hit_ratio': Threshold(None, None, BELOW),
    'memory': Threshold(80, 95, ABOVE),
    'evicted_keys': Threshold(None, None, ABOVE),
    'dead_tuples': Threshold(20, 50, ABOVE),
    'slow_queries': Threshold(1, None, ABOVE),
    'unused_indexes': Threshold(None, None, ABOVE),
    'duplicate_indexes': Threshold(1, None, ABOVE),
    'database_size': Threshold(None, None, ABOVE),
    'growth': Threshold(None, None, ABOVE),
}

# A buffer cache ratio over fewer block or page reads than this says nothing yet.
MIN_CACHE_SAMPLE = 1000
# Dead rows count only in tables at least this big: a few in a tiny table are noise.
MIN_VACUUM_ROWS = 1000
# Statement texts are cut to this many characters.
QUERY_CHARS = 500

MIB = 1048576.0


class StatsError(Exception):
    """A problem with the options or the snapshot file; the text names the fix."""


def plain(value):
    """Driver values (Decimal, datetime, bytes, ObjectId, nested rows) as JSON-friendly ones."""
    if isinstance(value, dict):
        return dict(('%s' % key, plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return '%s' % (value,)


def mib(size):
    return round(size / MIB, 1)


def human(size):
    size = float(size)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(size) < 1024 or unit == 'GiB':
            return ('%d %s' % (size, unit)) if unit == 'B' else ('%.1f %s' % (size, unit))
        size /= 1024.0
    return '%.1f TiB' % size


def ratio(hits, total):
    return round(100.0 * hits / total, 2) if total else None


class Collector(object):
    """What one run gathers: status items, notes and the per-section data."""

    def __init__(self, label, thresholds, top, slow_query_min_ms):
        self.label = label
        self.thresholds = thresholds
        self.top = top
        self.slow_query_min_ms = slow_query_min_ms
        self.items = []
        self.notes = []
        self.stats = {}
        self.sizes = None  # the snapshot of this run, filled by the sizes section
        self.memo = {}  # answers several sections share, asked once per run

    def measure(self, signal, value, unit, detail, **extra):
        self.items.append(measured_item('%s %s' % (self.label, signal), value, self.thresholds[signal], unit, detail,
                                        target=self.label, signal=signal, **extra))

    def fact(self, signal, value, unit, detail, **extra):
        """An item with nothing to compare to, for example Redis memory without maxmemory."""
        self.items.append(check_item('%s %s' % (self.label, signal), OK, value=value, unit=unit, detail=detail,
                                     target=self.label, signal=signal, **extra))

    def note(self, section, text):
        self.notes.append('%s: %s' % (section, text))

    def connections(self, used, maximum, what):
        percent = ratio(used, maximum)
        self.stats['connections'] = {'used': used, 'maximum': maximum, 'percent': percent}
        self.measure('connections', percent, 'percent', '%d of %s %d in use' % (used, what, maximum),
                     used=used, maximum=maximum)

    def buffer_cache(self, hits, misses, source, what):
        """cache_hit_ratio from a buffer cache's hits and the reads it sent to disk."""
        total = hits + misses
        value = ratio(hits, total)
        self.stats['cache'] = {'hit_ratio': value, 'hits': hits, 'misses': misses, 'source': source}
        if total < MIN_CACHE_SAMPLE:
            self.fact('cache_hit_ratio', value, 'percent',
                      'only %d %s so far, fewer than %d: too few to judge the ratio' % (total, what, MIN_CACHE_SAMPLE),
                      hits=hits, misses=misses)
        else:
            self.measure('cache_hit_ratio', value, 'percent', '%s%% of %d %s served from memory (%s)'
                         % (value, total, what, source), hits=hits, misses=misses)

    def index_items(self, unused, duplicate, unused_known=True):
        """Items and data of the indexes section; ``unused`` is None when it cannot be known."""
        data = {'duplicate': duplicate[:self.top], 'duplicate_total': len(duplicate)}
        self.measure('duplicate_indexes', len(duplicate), 'indexes', _index_detail(
            duplicate, 'duplicate or covered by another index', lambda row: 'covered by %s' % row['covered_by']))
        if unused_known and unused is not None:
            data.update(unused=unused[:self.top], unused_total=len(unused))
            self.measure('unused_indexes', len(unused), 'indexes', _index_detail(
                unused, 'never used for a read since statistics began', lambda row: human(row['size_bytes'] or 0)))
        self.stats['indexes'] = data

    def slow_items(self, queries, source):
        self.stats['slow_queries'] = {'source': source, 'min_ms': self.slow_query_min_ms,
                                      'queries': queries[:self.top], 'total': len(queries)}
        detail = '%d statements averaging %s ms or more (%s)' % (len(queries), _number(self.slow_query_min_ms), source)
        if queries:
            detail += '; slowest %.1f ms: %s' % (queries[0]['mean_ms'], ' '.join(queries[0]['query'].split())[:120])
        self.measure('slow_queries', len(queries), 'statements', detail)


def _number(value):
    return ('%d' % value) if float(value).is_integer() else ('%s' % value)


def _index_detail(rows, what, describe):
    if not rows:
        return 'no index %s' % what
    named = ', '.join('%s (%s)' % (row['name'], describe(row)) for row in rows[:3])
    return '%d indexes %s: %s%s' % (len(rows), what, named, ', ...' if len(rows) > 3 else '')
