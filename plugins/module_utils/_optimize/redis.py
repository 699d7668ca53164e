# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_optimize on Redis: MEMORY PURGE, and maxmemory-policy with CONFIG SET / CONFIG REWRITE.

Redis has no tables: its one target is the server's memory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    MIB, Decision, OptimizeError, Optimizer, Outcome, Step, Target, human_bytes, num)

TARGET = 'server'
# INFO's memory figures are sampled by the server's cron (10 times a second by default);
# wait a little after a purge so the size after is the new one.
SETTLE_SECONDS = 0.25


class RedisOptimizer(Optimizer):
    def __init__(self, engine, options):
        super(RedisOptimizer, self).__init__(engine, options)
        self.client = engine.client

    def _memory(self):
        info = self.engine.run('INFO failed', self.client.info, 'memory')
        used, rss = int(info.get('used_memory') or 0), int(info.get('used_memory_rss') or 0)
        return dict(used_memory=used, used_memory_rss=rss,
                    fragmentation_ratio=float(info.get('mem_fragmentation_ratio') or 0),
                    fragmentation_bytes=int(info.get('mem_fragmentation_bytes', rss - used)),
                    allocator=info.get('mem_allocator') or 'unknown')

    # --- maxmemory-policy ------------------------------------------------------------------

    def settings(self, check_mode):
        policy = self.options.maxmemory_policy
        if not policy:
            return None
        if self.options.config_rewrite:
            config_file = self.engine.run('INFO failed', self.client.info, 'server').get('config_file')
            if not config_file:
                raise OptimizeError(
                    'config_rewrite: the server was started without a config file, so CONFIG REWRITE cannot save '
                    'maxmemory-policy: set config_rewrite to false (the policy then lasts until the server restarts), '
                    'or start Redis with a config file; nothing was changed')
        current = self._config_get()
        result = dict(before=current, after=policy, changed=current != policy, rewritten=False)
        if result['changed'] and not check_mode:
            self._config('CONFIG SET failed', self.client.config_set, 'maxmemory-policy', policy)
            if self.options.config_rewrite:
                try:
                    self._config('CONFIG REWRITE failed', self.client.config_rewrite)
                except Exception as exc:
                    error = OptimizeError('config_rewrite: %s; maxmemory-policy is %s on the running server but not saved '
                                          'in its config file' % (getattr(exc, 'reason', exc), policy))
                    error.partial = dict(changed=True, maxmemory_policy=result)
                    raise error
                result['rewritten'] = True
        return result

    def _config_get(self):
        value = self._config('CONFIG GET failed', self.client.config_get, 'maxmemory-policy')
        if 'maxmemory-policy' not in value:
            raise OptimizeError('maxmemory_policy: the server does not report maxmemory-policy (CONFIG GET answered %r); '
                                'is CONFIG renamed or restricted on this server?' % (value,))
        return value['maxmemory-policy']

    def _config(self, action, func, *args):
        try:
            return self.engine.run(action, func, *args)
        except Exception as exc:
            text = '%s' % exc
            if 'unknown command' in text.lower() or 'noperm' in text.lower():
                raise OptimizeError('maxmemory_policy: %s: CONFIG is renamed or not allowed for this user; allow it '
                                    '(ACL +config) or change maxmemory-policy in the config file' % text)
            raise

    # --- memory_purge ------------------------------------------------------------------------

    def resolve(self, names):
        memory = self._memory()
        skip = {}
        if not memory['allocator'].startswith('jemalloc'):
            skip['memory_purge'] = 'MEMORY PURGE works with the jemalloc allocator only; this server uses %s' % memory['allocator']
        return [Target(TARGET, None, size=memory['used_memory_rss'], metrics=memory, skip=skip)]

    def judge(self, target, operation):
        m, t = target.metrics, self.options.thresholds
        what = 'fragmentation ratio %s (resident %s for %s used, %s more)' % (
            num(m['fragmentation_ratio']), human_bytes(m['used_memory_rss']), human_bytes(m['used_memory']),
            human_bytes(m['fragmentation_bytes']))
        limits = '%s and %s MiB' % (num(t['fragmentation_ratio']), num(t['fragmentation_mib']))
        if m['fragmentation_ratio'] >= t['fragmentation_ratio'] and m['fragmentation_bytes'] >= t['fragmentation_mib'] * MIB:
            return Decision(True, '%s: at or above %s' % (what, limits))
        return Decision(False, '%s: below %s, so not needed' % (what, limits))

    def steps(self, target, operations):
        return [Step(['memory_purge'], 'MEMORY PURGE', 'memory_purge')] if 'memory_purge' in operations else []

    def execute(self, target, step):
        self.engine.run('MEMORY PURGE failed', self.client.memory_purge)
        time.sleep(SETTLE_SECONDS)
        return Outcome('done')

    def size(self, target):
        return self._memory()['used_memory_rss']
