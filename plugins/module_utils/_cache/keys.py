# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key rules: SCAN in batches, read each batch in one pipeline, act on the matches with one script.

Check mode runs the same SCAN and the same reads and stops before the script, so its counts are the
real run's on unchanged data. The scripts check again before they act (see scripts.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache import scripts
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.stamps import (
    field_value, hash_field_value, to_epoch_seconds)


class Pacer(object):
    """The rate limit of a run: ``pause`` seconds between batches, and at most ``max_per_second`` keys
    (or jobs) per second over the whole run."""

    def __init__(self, pause=0, max_per_second=None, clock=time.monotonic, sleep=time.sleep):
        self.pause = pause
        self.rate = max_per_second
        self.clock = clock
        self.sleep = sleep
        self.start = None
        self.count = 0
        self.batches = 0
        self.slept = 0.0

    def wait(self):
        """Call before each batch; sleeps as the limits require."""
        if self.start is None:
            self.start = self.clock()
        delay = self.pause if self.batches else 0
        if self.rate:
            delay = max(delay, self.start + self.count / float(self.rate) - self.clock())
        if delay > 0:
            self.sleep(delay)
            self.slept += delay

    def done(self, count):
        self.count += count
        self.batches += 1


def text(key):
    """A key as text for results and diffs; bytes that are not UTF-8 are escaped."""
    return key.decode('utf-8', 'backslashreplace') if isinstance(key, bytes) else key


def scan_batches(client, pattern, batch_size):
    """Lists of at most ``batch_size`` keys matching ``pattern``, by SCAN (never KEYS). SCAN may return a
    key twice (while the server resizes its table); RuleRun counts each match once."""
    pending = []
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor, match=pattern, count=batch_size)
        pending.extend(keys)
        while len(pending) >= batch_size:
            yield pending[:batch_size]
            pending = pending[batch_size:]
        if int(cursor) == 0:
            break
    if pending:
        yield pending


def _flags(reply):
    return [int(flag) == 1 for flag in reply]


class RuleRun(object):
    """One key rule over its pattern. ``result`` holds its counts; ``keys`` the first keys it acted on
    (in check mode, would act on), for the diff."""

    def __init__(self, rule, client, now, check_mode, diff_max_keys):
        self.rule = rule
        self.client = client
        self.now = now
        self.check_mode = check_mode
        self.diff_max_keys = diff_max_keys
        self.keys = []
        # Check mode remembers its matches, so a key SCAN returns twice counts once. The real run needs
        # not: a key it deleted or gave a TTL no longer matches.
        self.seen = set()
        self.result = dict(pattern=rule.pattern, matched=0, affected=0, scanned=0)
        if rule.kind == 'expire_without_ttl':
            self.result['seconds'] = rule.seconds
        if rule.kind == 'idle_sessions':
            self.result.update(by=rule.by, idle_for=rule.idle_for, idle_seconds=rule.seconds)
            if rule.by == 'field':
                self.result.update(field=rule.field, without_field=0, other_types=0)

    def run(self, batch_size, pacer):
        script = self.client.register_script(self._script())
        for batch in scan_batches(self.client, self.rule.pattern, batch_size):
            pacer.wait()
            matched, args = self._read(batch)
            if self.check_mode:
                matched = [key for key in matched if key not in self.seen]
                self.seen.update(matched)
            self.result['scanned'] += len(batch)
            self.result['matched'] += len(matched)
            if self.check_mode:
                acted = matched
            elif matched:
                flags = _flags(script(keys=matched, args=args, client=self.client))
                acted = [key for key, flag in zip(matched, flags) if flag]
            else:
                acted = []
            self.result['affected'] += len(acted)
            room = self.diff_max_keys - len(self.keys)
            self.keys.extend(text(key) for key in acted[:max(room, 0)])
            pacer.done(len(batch))
        return self.result

    def _script(self):
        if self.rule.kind in ('delete_without_ttl', 'expire_without_ttl'):
            return scripts.WITHOUT_TTL
        return scripts.DELETE_IDLE if self.rule.by == 'idletime' else scripts.DELETE_IF_UNCHANGED

    def _pipeline(self, batch, command, *args):
        pipe = self.client.pipeline(transaction=False)
        for key in batch:
            getattr(pipe, command)(*(args + (key,)))
        return pipe.execute()

    def _read(self, batch):
        """(matched keys, script arguments) of one batch."""
        rule = self.rule
        if rule.kind in ('delete_without_ttl', 'expire_without_ttl'):
            ttls = self._pipeline(batch, 'ttl')
            matched = [key for key, ttl in zip(batch, ttls) if ttl == -1]
            return matched, [rule.seconds if rule.kind == 'expire_without_ttl' else '']
        if rule.by == 'idletime':
            idles = self._pipeline(batch, 'object', 'idletime')
            return [key for key, idle in zip(batch, idles) if idle is not None and idle >= rule.seconds], [rule.seconds]
        return self._read_fields(batch)

    def _read_fields(self, batch):
        rule = self.rule
        path = rule.field.split('.')
        kinds = [kind.decode() if isinstance(kind, bytes) else kind for kind in self._pipeline(batch, 'type')]
        pipe = self.client.pipeline(transaction=False)
        readable = []
        for key, kind in zip(batch, kinds):
            if kind == 'string':
                pipe.get(key)
            elif kind == 'hash':
                pipe.hget(key, path[0])
            elif kind != 'none':  # gone since the SCAN: nothing to count
                self.result['other_types'] += 1
                continue
            else:
                continue
            readable.append((key, kind))
        matched, args = [], []
        cutoff = self.now - rule.seconds
        for (key, kind), raw in zip(readable, pipe.execute() if readable else []):
            if raw is None:  # a hash without the field (or a key gone since the SCAN)
                self.result['without_field'] += int(kind == 'hash')
                continue
            value = field_value(raw, path) if kind == 'string' else hash_field_value(raw, path[1:])
            stamp = to_epoch_seconds(value, rule.unit)
            if stamp is None:
                self.result['without_field'] += 1
            elif stamp <= cutoff:
                matched.append(key)
                args.extend([kind, path[0] if kind == 'hash' else '', hashlib.sha1(raw).hexdigest()])
        return matched, args
