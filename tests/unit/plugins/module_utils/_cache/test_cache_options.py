# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.options import (
    CleanupOptionError, Options, matches_every_key)


def options(**params):
    return Options(params)


@pytest.mark.parametrize('pattern, every', [('*', True), ('**', True), ('', True), ('a*', False), ('*:cache', False),
                                            ('?', False)])
def test_matches_every_key(pattern, every):
    assert matches_every_key(pattern) is every


def test_defaults_of_an_empty_run():
    opts = options()
    assert opts.rules == [] and opts.queues == []
    assert (opts.batch_size, opts.pause, opts.max_keys_per_second, opts.largest_keys, opts.diff_max_keys) == (
        500, 0, None, 10, 50)


def test_rules_are_normalised_in_order():
    opts = options(delete_without_ttl=['analytics:*'],
                   expire_without_ttl=[{'pattern': 'cache:*', 'seconds': '1h30m'}, {'pattern': 'tmp:*', 'seconds': 0.5}],
                   idle_sessions=[{'pattern': 'sess:*', 'idle_for': '30d'},
                                  {'pattern': 'idle:*', 'idle_for': 3600, 'by': 'idletime'}])
    assert [(rule.option, rule.pattern) for rule in opts.rules] == [
        ('delete_without_ttl[0]', 'analytics:*'), ('expire_without_ttl[0]', 'cache:*'), ('expire_without_ttl[1]', 'tmp:*'),
        ('idle_sessions[0]', 'sess:*'), ('idle_sessions[1]', 'idle:*')]
    assert opts.rules[1].seconds == 5400 and opts.rules[2].seconds == 1  # EXPIRE takes whole seconds, rounded up
    session, idle = opts.rules[3], opts.rules[4]
    assert (session.by, session.field, session.unit, session.seconds) == ('field', 'lastActivity', 'auto', 2592000)
    assert (idle.by, idle.field, idle.seconds) == ('idletime', None, 3600)


def test_queue_defaults_follow_the_runbook():
    [queue] = options(queues=[{'name': 'customer-calls'}]).queues
    assert (queue.flavour, queue.prefix, queue.key_prefix, queue.label) == (
        'bull', 'bull', 'bull:customer-calls:', 'bull:customer-calls')
    assert queue.clean == [('completed', '24h', 86400), ('failed', '7d', 604800)]


def test_queue_clean_states_and_ages():
    [queue] = options(queues=[{'name': 'mail', 'flavour': 'bullmq', 'prefix': 'app', 'clean': ['failed'],
                               'failed_older_than': '30d'}]).queues
    assert queue.clean == [('failed', '30d', 2592000)] and queue.key_prefix == 'app:mail:'
    assert options(queues=[{'name': 'q', 'clean': []}]).queues[0].clean == []


@pytest.mark.parametrize('params, message', [
    (dict(delete_without_ttl=['*']), "delete_without_ttl[0] '*' matches every key, so it would delete the whole "
                                     "database: give a narrower pattern such as analytics:*, or set allow_all_keys: true"),
    (dict(delete_without_ttl=['']), 'delete_without_ttl[0] must be a non-empty key pattern'),
    (dict(expire_without_ttl=[{'pattern': '*', 'seconds': 60}]), "expire_without_ttl[0].pattern '*' matches every key, "
                                                                 "so it would set a TTL on the whole database"),
    (dict(expire_without_ttl=[{'pattern': 'c:*', 'seconds': -1}]), 'expire_without_ttl[0].seconds -1 is negative'),
    (dict(expire_without_ttl=[{'pattern': 'c:*', 'seconds': '-1'}]), 'expire_without_ttl[0].seconds -1 is negative'),
    (dict(expire_without_ttl=[{'pattern': 'c:*', 'seconds': 0}]), 'expire_without_ttl[0].seconds 0 is zero'),
    (dict(expire_without_ttl=[{'pattern': 'c:*', 'seconds': None}]), 'expire_without_ttl[0].seconds is required'),
    (dict(expire_without_ttl=[{'pattern': 'c:*', 'seconds': 'soon'}]), "expire_without_ttl[0].seconds 'soon' is not an interval"),
    (dict(idle_sessions=[{'pattern': 's:*', 'idle_for': '1d', 'by': 'lru'}]), "idle_sessions[0].by 'lru' is not known"),
    (dict(idle_sessions=[{'pattern': 's:*', 'idle_for': '1d', 'field': 'a..b'}]), "idle_sessions[0].field 'a..b' has an empty part"),
    (dict(idle_sessions=[{'pattern': 's:*', 'idle_for': '1d', 'timestamp_unit': 'us'}]),
     "idle_sessions[0].timestamp_unit 'us' is not known: use auto, ms or s"),
    (dict(queues=[{'name': 'q', 'flavour': 'kue'}]), "queues[0].flavour 'kue' is not known: use bull"),
    (dict(queues=[{'name': ''}]), 'queues[0].name is required'),
    (dict(queues=[{'name': 'q', 'clean': ['active']}]), "queues[0].clean 'active' is not a state to clean"),
    (dict(queues=[{'name': 'q', 'completed_older_than': '-2h'}]), "queues[0].completed_older_than '-2h' is not an interval"),
    (dict(queues=[{'name': 'q'}, {'name': 'q'}]), 'queues: bull:q is listed twice'),
    (dict(queues=[{'name': 'q', 'thresholds': {'failed': {'warning': 10, 'critical': 5}}}]),
     'queues[0].thresholds.failed: critical 5.0 must be at or above warning 10.0'),
    (dict(queue_thresholds={'lag': {'warning': 1}}), 'queue_thresholds.lag is not a signal of this check'),
    (dict(memory_thresholds={'warning': 'high'}), "memory_thresholds.warning must be a number, got 'high'"),
    (dict(batch_size=0), 'batch_size must be 1 or more, got 0'),
    (dict(pause=-1), 'pause must be 0 or more, got -1'),
    (dict(max_keys_per_second=0), 'max_keys_per_second must be above zero'),
])
def test_bad_options_name_the_option_and_the_fix(params, message):
    with pytest.raises(CleanupOptionError) as error:
        options(**params)
    assert message in '%s' % error.value


def test_allow_all_keys_permits_star():
    assert options(delete_without_ttl=['*'], allow_all_keys=True).rules[0].pattern == '*'


def test_thresholds_are_parsed():
    opts = options(queue_thresholds={'waiting': {'warning': 5}}, memory_thresholds={'warning': 70, 'critical': 85})
    assert opts.queue_thresholds == {'waiting': {'warning': 5.0}}
    assert opts.memory_thresholds == {'memory': {'warning': 70.0, 'critical': 85.0}}
