# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory: the largest keys of a SCAN sample by MEMORY USAGE, and used memory against maxmemory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.keys import text
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import OK, check_item, measured_item

MIB = 1048576.0
# MEMORY USAGE samples this many elements of a collection, Redis's own default.
USAGE_SAMPLES = 5


def largest_keys(client, top, sample, batch_size, pacer):
    """(the ``top`` largest keys as dicts of key, type and bytes, keys sampled). Looks at the first
    ``sample`` keys SCAN returns; MEMORY USAGE estimates collections from USAGE_SAMPLES elements."""
    sizes = {}
    sampled = 0
    cursor = 0
    while sampled < sample:
        pacer.wait()
        cursor, keys = client.scan(cursor, count=min(batch_size, sample))
        keys = [key for key in keys if key not in sizes][:sample - sampled]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key, samples=USAGE_SAMPLES)
            pipe.type(key)
        replies = pipe.execute() if keys else []
        for index, key in enumerate(keys):
            size, kind = replies[2 * index], replies[2 * index + 1]
            if size is not None:  # None: gone since the SCAN
                sizes[key] = (int(size), kind.decode() if isinstance(kind, bytes) else kind)
        sampled += len(keys)
        pacer.done(len(keys))
        if len(sizes) > 4 * max(top, 1):
            sizes = dict(sorted(sizes.items(), key=lambda entry: (-entry[1][0], entry[0]))[:max(top, 1)])
        if int(cursor) == 0:
            break
    ranked = sorted(sizes.items(), key=lambda entry: (-entry[1][0], entry[0]))[:top]
    return [dict(key=text(key), type=kind, bytes=size) for key, (size, kind) in ranked], sampled


def memory_item(info, threshold):
    """The memory check: used_memory against maxmemory, with the thresholds in percent."""
    used, maxmemory = int(info.get('used_memory', 0)), int(info.get('maxmemory', 0))
    memory = dict(used_bytes=used, maxmemory_bytes=maxmemory, peak_bytes=int(info.get('used_memory_peak', 0)),
                  maxmemory_policy=info.get('maxmemory_policy'), percent=None)
    if not maxmemory:
        return memory, check_item('memory', OK, unit='percent', threshold=threshold, detail=(
            'used_memory %.1f MiB; maxmemory is not set, so no limit to compare with' % (used / MIB)))
    memory['percent'] = round(100.0 * used / maxmemory, 1)
    return memory, measured_item('memory', memory['percent'], threshold, unit='percent', detail=(
        'used_memory %.1f MiB of maxmemory %.1f MiB (%s %%)' % (used / MIB, maxmemory / MIB, memory['percent'])))
