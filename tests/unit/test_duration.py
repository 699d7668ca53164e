# -*- coding: utf-8 -*-
"""Durations (pure): restic's syntax plus ``mo`` for months, calendar arithmetic, bad input named."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import retention
from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import Duration, DurationError, parse_seconds

UTC = datetime.timezone.utc


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize('text, fields, written', [
    ('2y', dict(years=2), '2y'),
    ('6mo', dict(months=6), '6mo'),
    ('6m', dict(months=6), '6m'),
    ('30d', dict(days=30), '30d'),
    ('24h', dict(hours=24), '24h'),
    ('2w', dict(weeks=2), '2w'),
    ('1y6mo', dict(years=1, months=6), '1y6mo'),
    ('1y2m3d4h', dict(years=1, months=2, days=3, hours=4), '1y2m3d4h'),
    ('3d1mo', dict(months=1, days=3), '1mo3d'),
    (' 90d ', dict(days=90), '90d'),
])
def test_parses(text, fields, written):
    duration = Duration.parse(text, 'older_than')
    assert duration == Duration(**fields)
    assert str(duration) == written


def test_mo_and_m_are_the_same_months():
    assert Duration.parse('6mo', 'older_than') == Duration.parse('6m', 'keep_within') == Duration(months=6)
    moment = utc(2026, 8, 31, 12)
    assert Duration.parse('6mo', 'older_than').before(moment) == Duration.parse('6m', 'older_than').before(moment)


@pytest.mark.parametrize('text', [
    '', '   ', None, '30', 'd', 'mo', '-1d', '1.5d', '1 d', '1D', '1Mo', '6mon', '6months', '10min', '30s',
    '5x', '1d1d', '1m1mo', '1mo1m', '0d', '0y0mo', '2y;', "1d' OR 1=1",
])
def test_refuses_naming_the_option_and_the_units(text):
    with pytest.raises(DurationError) as caught:
        Duration.parse(text, 'rules[0].older_than')
    message = str(caught.value)
    assert message.startswith('rules[0].older_than ')
    if text not in ('0d', '0y0mo'):
        for unit in ('y (years)', 'mo or m (months)', 'w (weeks)', 'd (days)', 'h (hours)'):
            assert unit in message


def test_zero_says_so():
    with pytest.raises(DurationError) as caught:
        Duration.parse('0mo', 'older_than')
    assert 'zero' in str(caught.value)


@pytest.mark.parametrize('text, moment, expected', [
    ('6mo', utc(2026, 8, 31, 2), utc(2026, 3, 3, 2)),        # February 31st -> March 3rd, as restic
    ('2y', utc(2024, 2, 29), utc(2022, 3, 1)),
    ('30d', utc(2026, 3, 1, 5), utc(2026, 1, 30, 5)),
    ('24h', utc(2026, 1, 1, 0), utc(2025, 12, 31, 0)),
    ('1y6mo', utc(2026, 11, 23), utc(2025, 5, 23)),
    ('13mo', utc(2026, 1, 15), utc(2024, 12, 15)),
    ('9999y', utc(2026, 1, 1), datetime.datetime.min.replace(tzinfo=UTC)),
])
def test_before_by_the_calendar(text, moment, expected):
    assert Duration.parse(text, 'older_than').before(moment) == expected


def test_backup_retention_uses_the_same_class_and_error():
    # backup_prune catches PolicyError for keep_within and max_age: a bad duration must be one.
    assert retention.Duration is Duration
    assert issubclass(DurationError, retention.PolicyError)
    with pytest.raises(retention.PolicyError):
        retention.Policy.from_options({'keep_within': '3 weeks'})
    policy = retention.Policy.from_options({'keep_within': '1mo'})
    assert policy.describe() == 'keep_within 1mo'


# --- clock intervals -----------------------------------------------------------------


@pytest.mark.parametrize('text, seconds', [
    (600, 600.0), ('600', 600.0), ('90s', 90.0), ('30m', 1800.0), ('1h30m', 5400.0), ('2d', 172800.0),
    ('1w', 604800.0), ('1.5h', 5400.0),
])
def test_clock_intervals_take_m_as_minutes(text, seconds):
    assert parse_seconds(text, 'max_duration') == seconds


@pytest.mark.parametrize('text, message', [
    ('6mo', 'is not an interval'), ('1h1h', 'gives a unit twice'), ('0m', 'is not above zero'),
    ('', 'is not an interval'), (True, 'is not an interval'),
])
def test_bad_clock_intervals_name_the_option_and_the_units(text, message):
    with pytest.raises(DurationError, match=message) as error:
        parse_seconds(text, 'max_duration')
    assert str(error.value).startswith('max_duration ')


def test_a_bare_number_is_refused_where_a_unit_is_required():
    with pytest.raises(DurationError, match='with the units s'):
        parse_seconds('2024', 'since', require_unit=True)
    assert parse_seconds('24h', 'since', require_unit=True) == 86400.0
