# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_stats for MongoDB: listDatabases and collStats for sizes, listIndexes and $indexStats
for indexes, the profiler's system.profile for slow operations, serverStatus for the rest.
What a server does not support becomes a note, not a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import (
    QUERY_CHARS, human, mib, plain)
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.indexes import find_duplicates

SYSTEM_DATABASES = ('admin', 'local', 'config')
# Collections looked at per run; beyond this the sizes are partial (and say so).
MAX_COLLECTIONS = 1000


def _list_indexes(collection):
    return list(collection.list_indexes())


def _index_stats(collection):
    return list(collection.aggregate([{'$indexStats': {}}]))


def _profiled(database, min_ms, top):
    return list(database['system.profile'].find({'millis': {'$gte': min_ms}}).sort('millis', -1).limit(top))


def found_nowhere(silent, off, databases):
    """True when some databases exist and none of them has a profiler to read."""
    return bool(databases) and len(silent) + len(off) == len(databases)


def _databases(engine, c):
    if 'databases' not in c.memo:
        listed = engine.command('listDatabases').get('databases') or []
        c.memo['databases'] = sorted(
            ({'name': row['name'], 'size_bytes': int(row.get('sizeOnDisk') or 0)}
             for row in listed if row.get('name') not in SYSTEM_DATABASES),
            key=lambda row: (-row['size_bytes'], row['name']))
    return c.memo['databases']


def _collections(engine, c):
    """(database, collection name, collStats) of every user collection, up to MAX_COLLECTIONS."""
    if 'collections' not in c.memo:
        found = []
        for database in _databases(engine, c):
            names = engine.run('listCollections failed', engine.client[database['name']].list_collection_names)
            for name in sorted(names):
                if name.startswith('system.'):
                    continue
                if len(found) == MAX_COLLECTIONS:
                    c.note('sizes', 'more than %d collections: only the first %d are measured'
                           % (MAX_COLLECTIONS, MAX_COLLECTIONS))
                    c.memo['collections'] = found
                    return found
                stats = engine.command('collStats', database['name'], value=name)
                found.append((database['name'], name, stats))
        c.memo['collections'] = found
    return c.memo['collections']


def sizes(engine, c):
    databases = _databases(engine, c)
    tables = []
    for database, name, stats in _collections(engine, c):
        storage, index = int(stats.get('storageSize') or 0), int(stats.get('totalIndexSize') or 0)
        tables.append({'name': '%s.%s' % (database, name), 'size_bytes': storage + index, 'table_bytes': storage,
                       'index_bytes': index, 'data_bytes': int(stats.get('size') or 0),
                       'rows': int(stats.get('count') or 0)})
    tables.sort(key=lambda row: (-row['size_bytes'], row['name']))
    c.sizes = {'unit': 'bytes', 'databases': dict((row['name'], row['size_bytes']) for row in databases),
               'tables': dict((row['name'], row['size_bytes']) for row in tables)}
    c.stats['sizes'] = {'databases': databases[:c.top], 'tables': tables[:c.top], 'tables_total': len(tables),
                        'tables_of': 'all user databases'}
    size = sum(c.sizes['databases'].values())
    detail = '%d user databases hold %s' % (len(databases), human(size))
    if tables:
        detail += '; largest collection %s %s' % (tables[0]['name'], human(tables[0]['size_bytes']))
    c.measure('database_size', mib(size), 'MiB', detail, bytes=size)


def _index_list(engine, c):
    indexes = []
    for database, name, stats in _collections(engine, c):
        sizes = stats.get('indexSizes') or {}
        listed = engine.run('listIndexes failed', _list_indexes, engine.client[database][name])
        for spec in listed:
            keys = tuple((field, '%s' % (direction,)) for field, direction in spec['key'].items())
            ordered = all(direction in ('1', '-1', '1.0', '-1.0') for field, direction in keys)
            options = dict((key, plain(spec[key])) for key in ('partialFilterExpression', 'sparse', 'collation')
                           if key in spec)
            indexes.append({
                'table': '%s.%s' % (database, name), 'name': spec['name'], 'keys': keys, 'includes': (),
                'columns': ['%s: %s' % pair for pair in keys], 'unique': bool(spec.get('unique')),
                'primary': spec['name'] == '_id_', 'method': 'btree' if ordered else 'special',
                'match': json.dumps(options, sort_keys=True), 'size_bytes': sizes.get(spec['name']),
                'definition': json.dumps(plain(dict(spec['key']))),
            })
    return indexes


def _unused(engine, c, indexes):
    by_collection = {}
    for index in indexes:
        by_collection.setdefault(index['table'], []).append(index)
    unused, since = [], None
    for database, name, stats in _collections(engine, c):
        try:
            usage = engine.run('$indexStats failed', _index_stats, engine.client[database][name])
        except EngineError as exc:
            # pymongo appends the whole reply after "full error"; the message before it says enough.
            reason = ('%s' % getattr(exc, 'reason', exc)).split(', full error:', 1)[0]
            c.note('indexes', 'unused indexes are not reported: the server did not answer $indexStats (%s)' % reason)
            return None, None
        ops = dict((row.get('name'), int((row.get('accesses') or {}).get('ops') or 0)) for row in usage)
        for row in usage:
            started = (row.get('accesses') or {}).get('since')
            if started is not None and (since is None or started < since):
                since = started
        for index in by_collection.get('%s.%s' % (database, name), []):
            if not (index['primary'] or index['unique']) and ops.get(index['name'], 1) == 0:
                unused.append({'table': index['table'], 'name': index['name'], 'scans': 0,
                               'size_bytes': index['size_bytes'], 'definition': index['definition']})
    unused.sort(key=lambda row: (-(row['size_bytes'] or 0), row['table'], row['name']))
    return unused, plain(since)


def indexes(engine, c):
    listed = _index_list(engine, c)
    unused, since = _unused(engine, c, listed)
    c.index_items(unused, find_duplicates(listed))
    if unused is not None:
        c.stats['indexes']['unused_since'] = since


def slow_queries(engine, c):
    found, off, silent = [], [], []
    for database in _databases(engine, c):
        level = engine.command('profile', database['name'], value=-1).get('was')
        if level is None:
            silent.append(database['name'])
            continue
        if not level:
            off.append(database['name'])
            continue
        entries = engine.run('reading system.profile failed', _profiled, engine.client[database['name']],
                             c.slow_query_min_ms, c.top)
        for entry in entries:
            command = entry.get('command') or entry.get('query') or {}
            found.append({'database': database['name'], 'namespace': entry.get('ns'), 'op': entry.get('op'),
                          'calls': 1, 'mean_ms': float(entry.get('millis') or 0), 'max_ms': float(entry.get('millis') or 0),
                          'rows': entry.get('nreturned'), 'last_seen': plain(entry.get('ts')), 'user': entry.get('user'),
                          'query': json.dumps(plain(command), sort_keys=True)[:QUERY_CHARS]})
    if silent:
        c.note('slow_queries', 'the server does not report a profiling level (profile: -1 has no "was") for %s:'
               ' slow operations are not reported there' % ', '.join(silent))
    if off:
        c.note('slow_queries', 'the profiler is off in %s: enable it with db.setProfilingLevel(1, {slowms: %s})'
               ' to record slow operations; this module does not change it' % (', '.join(off), c.slow_query_min_ms))
    if found_nowhere(silent, off, _databases(engine, c)):
        return  # nowhere to read from: the notes say why, and there is no item
    found.sort(key=lambda row: -row['mean_ms'])
    c.slow_items(found, 'system.profile (operations, not grouped)')


def cache(engine, c):
    status = engine.command('serverStatus')
    wired = (status.get('wiredTiger') or {}).get('cache') or {}
    requested, read = wired.get('pages requested from the cache'), wired.get('pages read into cache')
    if requested is None or read is None:
        c.note('cache', 'serverStatus has no wiredTiger cache counters (another storage engine, or a server'
               ' that does not report them): no cache hit ratio')
        return
    c.buffer_cache(max(0, int(requested) - int(read)), int(read), 'WiredTiger cache', 'page requests')


def connections(engine, c):
    used, maximum = engine.connections()
    if used is None:
        c.note('connections', 'serverStatus reports no connection counts')
        return
    c.connections(used, maximum, 'current plus available')


SECTIONS = {
    'sizes': sizes,
    'indexes': indexes,
    'slow_queries': slow_queries,
    'cache': cache,
    'connections': connections,
}
