# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils import _status as st


def test_rank_order_puts_unknown_above_critical():
    assert [st.rank(s) for s in ('ok', 'warning', 'critical', 'unknown')] == [0, 1, 2, 3]


def test_rank_rejects_unknown_names():
    with pytest.raises(ValueError, match='expected one of'):
        st.rank('fine')


@pytest.mark.parametrize('statuses, expected', [
    ([], 'ok'),
    (['ok', 'ok'], 'ok'),
    (['ok', 'warning', 'ok'], 'warning'),
    (['critical', 'warning'], 'critical'),
    (['critical', 'unknown', 'ok'], 'unknown'),
])
def test_worst(statuses, expected):
    assert st.worst(statuses) == expected


@pytest.mark.parametrize('value, expected', [
    (0, 'ok'), (79.9, 'ok'), (80, 'warning'), (94.99, 'warning'), (95, 'critical'), (120, 'critical'), (None, 'unknown'),
])
def test_threshold_above(value, expected):
    assert st.Threshold(80, 95).evaluate(value) == expected


@pytest.mark.parametrize('value, expected', [
    (99, 'ok'), (80.1, 'ok'), (80, 'warning'), (50.5, 'warning'), (50, 'critical'), (0, 'critical'),
])
def test_threshold_below(value, expected):
    assert st.Threshold(80, 50, st.BELOW).evaluate(value) == expected


def test_threshold_with_only_one_limit():
    assert st.Threshold(None, 10).evaluate(9) == 'ok'
    assert st.Threshold(None, 10).evaluate(10) == 'critical'
    assert st.Threshold(1, None).evaluate(1) == 'warning'
    assert st.Threshold(None, None).evaluate(1e9) == 'ok'


def test_threshold_rejects_inverted_limits():
    with pytest.raises(ValueError, match='critical 70 must be at or above warning 80'):
        st.Threshold(80, 70)
    with pytest.raises(ValueError, match='at or below'):
        st.Threshold(50, 80, st.BELOW)
    with pytest.raises(ValueError, match='direction'):
        st.Threshold(1, 2, 'sideways')


def test_merged_keeps_unset_limits_and_direction():
    merged = st.Threshold(80, 50, st.BELOW).merged({'warning': 90})
    assert (merged.warning, merged.critical, merged.direction) == (90, 50, st.BELOW)


def test_summarize_ok_and_not_ok():
    ok = st.summarize([st.check_item('a', 'ok'), st.check_item('b', 'ok')])
    assert ok['status'] == 'ok' and ok['msg'] == 'all 2 checks ok' and ok['changed'] is False
    items = [
        st.check_item('a', 'ok'),
        st.measured_item('b', 83.0, st.Threshold(80, 95), 'percent', 'connections used'),
        st.check_item('c', 'critical', detail='cannot connect'),
    ]
    result = st.summarize(items)
    assert result['status'] == 'critical'
    assert result['counts'] == {'ok': 1, 'warning': 1, 'critical': 1, 'unknown': 0}
    assert result['msg'] == '1 critical, 1 warning of 3 checks; c: cannot connect'
    assert result['checks'][1]['threshold'] == {'warning': 80, 'critical': 95, 'direction': 'above'}


def test_summarize_names_at_most_three_items():
    items = [st.check_item('i%d' % n, 'warning', value=n, unit='ms') for n in range(5)]
    msg = st.summarize(items)['msg']
    assert msg.startswith('5 warning of 5 checks; i0: 0 ms; i1: 1 ms; i2: 2 ms')
    assert msg.endswith('and 2 more')


@pytest.mark.parametrize('status, fail_on, expected', [
    ('ok', 'critical', False), ('warning', 'critical', False), ('critical', 'critical', True),
    ('unknown', 'critical', True), ('warning', 'warning', True), ('ok', 'warning', False),
    ('unknown', 'never', False),
])
def test_should_fail(status, fail_on, expected):
    assert st.should_fail(status, fail_on) is expected


def test_should_fail_rejects_bad_level():
    with pytest.raises(ValueError, match='fail_on must be one of'):
        st.should_fail('ok', 'sometimes')


DEFAULTS = {'connections': st.Threshold(80, 95), 'hit_ratio': st.Threshold(None, None, st.BELOW)}


def test_parse_thresholds_accepts_known_signals():
    assert st.parse_thresholds(DEFAULTS, {'connections': {'warning': '70'}}) == {'connections': {'warning': 70.0}}
    assert st.parse_thresholds(DEFAULTS, None) == {}


@pytest.mark.parametrize('value, message', [
    ({'conections': {'warning': 1}}, r'thresholds\.conections is not a signal of this check: use one of connections, hit_ratio'),
    ({'connections': 80}, r'thresholds\.connections takes a dict with warning and/or critical'),
    ({'connections': {'warn': 80}}, r'takes a dict with warning and/or critical'),
    ({'connections': {'warning': 'lots'}}, r'thresholds\.connections\.warning must be a number'),
    ({'connections': {'warning': 99}}, r'thresholds\.connections: critical 95 must be at or above warning 99'),
    ([1], 'must be a dict'),
])
def test_parse_thresholds_errors_name_the_option(value, message):
    with pytest.raises(ValueError, match=message):
        st.parse_thresholds(DEFAULTS, value)


def test_resolve_thresholds_applies_overrides_in_order():
    resolved = st.resolve_thresholds(DEFAULTS, {'connections': {'warning': 70.0}}, {'connections': {'critical': 90.0}})
    assert (resolved['connections'].warning, resolved['connections'].critical) == (70.0, 90.0)
    assert DEFAULTS['connections'].warning == 80  # defaults are not modified
