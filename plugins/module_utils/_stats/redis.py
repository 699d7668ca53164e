# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_stats for Redis, from one INFO: keyspace per database, memory, evictions, hit ratio, clients."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import human, ratio


def _info(engine, c):
    # Every section reads the same INFO; ask the server once per run.
    if 'info' not in c.memo:
        c.memo['info'] = engine.info()
    return c.memo['info']


def sizes(engine, c):
    info = _info(engine, c)
    databases = []
    for name, value in info.items():
        if not (name[:2] == 'db' and name[2:].isdigit() and isinstance(value, dict)):
            continue
        databases.append({'name': name, 'keys': int(value.get('keys', 0)), 'expires': int(value.get('expires', 0)),
                          'avg_ttl_ms': int(value.get('avg_ttl', 0))})
    databases.sort(key=lambda row: (-row['keys'], int(row['name'][2:])))
    c.sizes = {'unit': 'keys', 'databases': dict((row['name'], row['keys']) for row in databases), 'tables': {}}
    c.stats['sizes'] = {'databases': databases[:c.top], 'keys_total': sum(row['keys'] for row in databases),
                        'used_memory_bytes': int(info.get('used_memory', 0))}


def memory(engine, c):
    info = _info(engine, c)
    used, maxmemory = int(info.get('used_memory', 0)), int(info.get('maxmemory', 0))
    evicted = int(info.get('evicted_keys', 0))
    c.stats['memory'] = {
        'used_bytes': used, 'peak_bytes': int(info.get('used_memory_peak', 0)), 'maxmemory_bytes': maxmemory,
        'maxmemory_policy': info.get('maxmemory_policy'), 'fragmentation_ratio': info.get('mem_fragmentation_ratio'),
        'evicted_keys': evicted, 'expired_keys': int(info.get('expired_keys', 0)),
    }
    if maxmemory:
        c.measure('memory', ratio(used, maxmemory), 'percent', 'used_memory %s of maxmemory %s'
                  % (human(used), human(maxmemory)), used=used, maximum=maxmemory)
    else:
        c.fact('memory', None, 'percent', 'used_memory %s; maxmemory is not set, so no limit to compare with'
               % human(used), used=used)
    c.measure('evicted_keys', evicted, 'keys', '%d keys evicted since the server started (maxmemory-policy %s)'
              % (evicted, info.get('maxmemory_policy')))


def cache(engine, c):
    info = _info(engine, c)
    hits, misses = int(info.get('keyspace_hits', 0)), int(info.get('keyspace_misses', 0))
    value = ratio(hits, hits + misses)
    c.stats['cache'] = {'hit_ratio': value, 'hits': hits, 'misses': misses, 'source': 'INFO stats keyspace'}
    if value is None:
        c.fact('hit_ratio', None, 'percent', 'no key lookups since the server started')
    else:
        c.measure('hit_ratio', value, 'percent', 'keyspace hits %d, misses %d' % (hits, misses), hits=hits,
                  misses=misses)


def connections(engine, c):
    info = _info(engine, c)
    c.connections(int(info.get('connected_clients', 0)), int(info.get('maxclients', 0)), 'maxclients')


SECTIONS = {
    'sizes': sizes,
    'memory': memory,
    'cache': cache,
    'connections': connections,
}
