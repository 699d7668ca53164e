# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bull (3 and 4) and BullMQ queues: job counts per state, and removal of old finished jobs.

Both keep a queue under ``<prefix>:<name>:``: the lists ``wait``, ``active`` and ``paused``, the sorted
sets ``delayed``, ``completed`` and ``failed`` (BullMQ also ``prioritized`` and ``waiting-children``),
a hash per job at ``<prefix>:<name>:<id>`` with ``timestamp``, ``processedOn`` and ``finishedOn`` in
milliseconds, its log list at ``<id>:logs`` and its lock at ``<id>:lock`` while a worker holds it.
The completed and failed sets are scored by the time the job finished.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache import scripts
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.keys import text
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.options import (
    QUEUE_SIGNALS, QUEUE_THRESHOLDS)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    WARNING, check_item, measured_item, resolve_thresholds)

LISTS = ('wait', 'active', 'paused')
SETS = {
    'bull': ('delayed', 'completed', 'failed'),
    'bullmq': ('delayed', 'completed', 'failed', 'prioritized', 'waiting-children'),
}


class QueueLayoutError(Exception):
    """The keys under a queue's prefix are not the layout its flavour keeps; nothing was removed."""


def _str(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def _number(value):
    """A job timestamp as the scripts read it (Lua tonumber, 0 when it is no number)."""
    try:
        return float(_str(value))
    except (TypeError, ValueError):
        return 0.0


def finished_at(flavour, finished, processed, created):
    """The time a finished job is judged by, as the libraries' cleanJobsInSet do: BullMQ finishedOn;
    Bull finishedOn, else processedOn, else timestamp. None when the job hash has none of them."""
    if flavour == 'bullmq':
        return finished
    for value in (finished, processed, created):
        if value is not None:
            return value
    return None


class QueueRun(object):
    def __init__(self, spec, client, now_ms, check_mode, diff_max_keys):
        self.spec = spec
        self.client = client
        self.now_ms = now_ms
        self.check_mode = check_mode
        self.diff_max_keys = diff_max_keys
        self.jobs = []  # job keys removed (check mode: would be), for the diff
        self.result = dict(name=spec.name, prefix=spec.prefix, flavour=spec.flavour, clean=[])

    def key(self, suffix):
        return self.spec.key_prefix + suffix

    def where(self):
        return 'queues[%d] (%s)' % (self.spec.index, self.spec.label)

    def check_layout(self):
        """Refuse a queue whose keys are another layout, before anything is removed."""
        states = LISTS + SETS[self.spec.flavour]
        pipe = self.client.pipeline(transaction=False)
        for state in states:
            pipe.type(self.key(state))
        pipe.type(self.key('events'))
        pipe.hget(self.key('meta'), 'version')
        replies = pipe.execute()
        kinds, events, version = [_str(kind) for kind in replies[:-2]], _str(replies[-2]), _str(replies[-1])
        for state, kind in zip(states, kinds):
            expected = 'list' if state in LISTS else 'zset'
            if kind not in ('none', expected):
                raise QueueLayoutError(
                    '%s: %s is a %s, not the %s %s keeps: check the queue name, prefix and flavour; nothing was '
                    'removed' % (self.where(), self.key(state), kind, 'list' if expected == 'list' else 'sorted set',
                                 'BullMQ' if self.spec.flavour == 'bullmq' else 'Bull'))
        if self.spec.flavour == 'bull' and (events == 'stream' or (version or '').startswith('bullmq')):
            raise QueueLayoutError('%s: the queue is a BullMQ queue (%s): set flavour: bullmq; nothing was removed'
                                   % (self.where(), 'meta version %s' % version if version else
                                      '%s is a stream' % self.key('events')))

    def counts(self):
        states = LISTS + SETS[self.spec.flavour]
        pipe = self.client.pipeline(transaction=False)
        for state in states:
            (pipe.llen if state in LISTS else pipe.zcard)(self.key(state))
        pipe.exists(self.key('id'), self.key('meta'))
        replies = pipe.execute()
        counts = dict((state.replace('-', '_'), int(value)) for state, value in zip(states, replies))
        counts['waiting'] = counts['wait'] + counts['paused'] + counts.get('prioritized', 0)
        found = bool(replies[-1]) or any(counts.values())
        return counts, found

    def run(self, batch_size, pacer):
        self.result['counts_before'], found = self.counts()
        self.result['found'] = found
        script = self.client.register_script(scripts.CLEAN_JOBS)
        for state, older_than, seconds in self.spec.clean:
            self.result['clean'].append(self._clean(script, state, older_than, seconds, batch_size, pacer))
        if self.check_mode:
            counts = dict(self.result['counts_before'])
            for item in self.result['clean']:
                counts[item['state']] -= item['affected']
            counts['waiting'] = self.result['counts_before']['waiting']
        else:
            counts = self.counts()[0]
        self.result['counts'] = counts
        return self.result

    def _clean(self, script, state, older_than, seconds, batch_size, pacer):
        cutoff = int(self.now_ms - seconds * 1000)
        item = dict(state=state, older_than=older_than, older_than_seconds=seconds, cutoff_ms=cutoff,
                    matched=0, affected=0, kept_active=0, kept_parent=0, kept_recent=0)
        set_key = self.key(state)
        third, fourth = (('events', 'meta') if self.spec.flavour == 'bullmq' else ('priority', 'limiter:index'))
        keys = [set_key, self.key('active'), self.key(third), self.key(fourth)]
        offset = 0
        while True:
            pacer.wait()
            ids = self.client.zrangebyscore(set_key, '-inf', '(%d' % cutoff, start=offset, num=batch_size)
            if not ids:
                break
            matched = self._judge(ids, cutoff, item)
            item['matched'] += len(matched)
            if self.check_mode:
                acted = matched
                offset += len(ids)
            elif matched:
                flags = script(keys=keys, args=[self.spec.key_prefix, self.spec.flavour, cutoff] + matched,
                               client=self.client)
                acted = [job for job, flag in zip(matched, flags) if int(flag) == 1]
                offset += len(ids) - len(acted)
            else:
                acted = []
                offset += len(ids)
            item['affected'] += len(acted)
            room = max(self.diff_max_keys - len(self.jobs), 0)
            self.jobs.extend(text(self.spec.key_prefix.encode() + job) for job in acted[:room])
            pacer.done(len(ids))
        return item

    def _judge(self, ids, cutoff, item):
        """The ids of one batch the script would remove; the others are counted by why they stay."""
        active = set(self.client.lrange(self.key('active'), 0, -1))
        prefix = self.spec.key_prefix.encode()
        pipe = self.client.pipeline(transaction=False)
        for job in ids:
            pipe.hmget(prefix + job, 'finishedOn', 'processedOn', 'timestamp', 'parentKey')
            pipe.exists(prefix + job + b':lock')
        replies = pipe.execute()
        candidates = []
        for index, job in enumerate(ids):
            (finished, processed, created, parent), locked = replies[2 * index], replies[2 * index + 1]
            if job in active or locked:
                item['kept_active'] += 1
                continue
            stamp = finished_at(self.spec.flavour, finished, processed, created)
            if stamp is not None and _number(stamp) >= cutoff:
                item['kept_recent'] += 1
                continue
            candidates.append((job, parent if self.spec.flavour == 'bullmq' else None))
        waiting_parents = [(job, parent) for job, parent in candidates if parent]
        if waiting_parents:
            pipe = self.client.pipeline(transaction=False)
            for job, parent in waiting_parents:
                pipe.sismember(parent + b':dependencies', prefix + job)
            held = set(job for (job, parent), member in zip(waiting_parents, pipe.execute()) if member)
        else:
            held = set()
        item['kept_parent'] += len(held)
        return [job for job, parent in candidates if job not in held]

    def checks(self, task_thresholds):
        thresholds = resolve_thresholds(QUEUE_THRESHOLDS, task_thresholds, self.spec.thresholds)
        counts = self.result['counts']
        parts = ['wait %d' % counts['wait'], 'paused %d' % counts['paused']]
        if 'prioritized' in counts:
            parts.append('prioritized %d' % counts['prioritized'])
        items = []
        for signal in QUEUE_SIGNALS:
            detail = '%d %s jobs' % (counts[signal], signal)
            if signal == 'waiting':
                detail += ' (%s)' % ', '.join(parts)
            items.append(measured_item('%s %s' % (self.spec.label, signal), counts[signal], thresholds[signal],
                                       unit='jobs', detail=detail, queue=self.spec.name, signal=signal))
        if not self.result['found']:
            items.append(check_item('%s found' % self.spec.label, WARNING, detail=(
                'no %s key, no meta and no jobs: check the queue name and prefix' % self.key('id')),
                queue=self.spec.name, signal='found'))
        return items
