# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.keys import Pacer, text
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.queues import finished_at
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.run import _listing, _order, message
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.options import Options
from ansible_collections.caretaker.maintenance.plugins.modules import redis_cleanup


class Clock(object):
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_pacer_pauses_between_batches_only():
    clock = Clock()
    pacer = Pacer(pause=0.5, clock=clock, sleep=clock.sleep)
    for _batch in range(3):
        pacer.wait()
        pacer.done(10)
    assert clock.sleeps == [0.5, 0.5] and pacer.slept == 1.0


def test_pacer_keeps_the_rate_over_the_run():
    clock = Clock()
    pacer = Pacer(max_per_second=100, clock=clock, sleep=clock.sleep)
    pacer.wait()
    pacer.done(50)   # 50 keys: the next batch may start 0.5 s after the first
    clock.now += 0.2  # the batch itself took 0.2 s
    pacer.wait()
    pacer.done(50)
    pacer.wait()
    assert clock.sleeps == [0.3, 0.5]


def test_pacer_without_limits_never_sleeps():
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    for _batch in range(5):
        pacer.wait()
        pacer.done(1000)
    assert clock.sleeps == []


def test_keys_that_are_not_utf8_are_escaped():
    assert text(b'sess:\xff') == 'sess:\\xff' and text(b'plain') == 'plain' and text('str') == 'str'


def test_finished_at_follows_the_libraries():
    assert finished_at('bullmq', None, b'2', b'3') is None  # BullMQ judges by finishedOn only
    assert finished_at('bullmq', b'1', b'2', b'3') == b'1'
    assert finished_at('bull', None, b'2', b'3') == b'2'  # Bull: finishedOn, else processedOn, else timestamp
    assert finished_at('bull', None, None, b'3') == b'3'
    assert finished_at('bull', None, None, None) is None


def test_idletime_rules_run_before_the_ones_that_read_values():
    opts = Options(dict(delete_without_ttl=['a:*'], idle_sessions=[
        {'pattern': 'sess:*', 'idle_for': '1d'}, {'pattern': 'idle:*', 'idle_for': '1d', 'by': 'idletime'}]))
    assert [rule.option for rule in _order(opts.rules)] == ['idle_sessions[1]', 'delete_without_ttl[0]', 'idle_sessions[0]']


def _result(**extra):
    result = dict(delete_without_ttl=[], expire_without_ttl=[], idle_sessions=[], queues=[])
    result.update(extra)
    return result


def test_message_says_what_was_and_would_be_done():
    result = _result(delete_without_ttl=[dict(affected=1), dict(affected=2)], idle_sessions=[dict(affected=1)],
                     queues=[dict(clean=[dict(state='completed', affected=4), dict(state='failed', affected=0)]),
                             dict(clean=[dict(state='completed', affected=1)])])
    assert message(result, False) == ('delete 3 keys without a TTL, delete 1 idle session, remove 5 completed and '
                                      '0 failed jobs from 2 queues')
    assert message(_result(expire_without_ttl=[dict(affected=1)]), True) == 'would set a TTL on 1 key'
    assert message(_result(), False) == 'no cleanup rules'


def test_diff_listing_is_capped():
    assert _listing(['a', 'b'], 5) == 'a\nb\n... and 3 more\n'
    assert _listing(['a'], 1, ' (no TTL)') == 'a (no TTL)\n'
    assert _listing([], 0) == ''


def test_documented_options_match_the_argument_spec():
    spec = redis_cleanup.argument_spec()
    doc = yaml.safe_load(redis_cleanup.DOCUMENTATION)['options']
    own = set(spec) - set(['login_host', 'login_port', 'login_user', 'login_password', 'login_unix_socket', 'database',
                           'tls', 'tls_ca', 'tls_cert', 'tls_key', 'tls_verify', 'connect_timeout',
                           # documented by the caretaker.maintenance.status.fail_on fragment
                           'fail_on'])
    assert own == set(doc)
    assert 'caretaker.maintenance.status.fail_on' in yaml.safe_load(redis_cleanup.DOCUMENTATION)[
        'extends_documentation_fragment']
    for name in ('expire_without_ttl', 'idle_sessions', 'queues'):
        assert set(spec[name]['options']) == set(doc[name]['suboptions']), name
    assert spec['login_password']['no_log'] is True
    assert spec['engine'] == dict(type='str', choices=['redis'], default='redis')


def test_memory_item_against_maxmemory():
    from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.memory import memory_item
    from ansible_collections.caretaker.maintenance.plugins.module_utils._status import Threshold
    threshold = Threshold(80, 90)
    memory, item = memory_item({'used_memory': 850, 'maxmemory': 1000, 'maxmemory_policy': 'allkeys-lru'}, threshold)
    assert memory['percent'] == 85.0 and item['status'] == 'warning' and item['value'] == 85.0
    assert memory_item({'used_memory': 950, 'maxmemory': 1000}, threshold)[1]['status'] == 'critical'
    memory, item = memory_item({'used_memory': 1048576, 'maxmemory': 0}, threshold)
    assert memory['percent'] is None and item['status'] == 'ok' and 'maxmemory is not set' in item['detail']
