# -*- coding: utf-8 -*-
"""The retention policy (pure): restic's forget rules, the verified guards, durations, bad input.

Expected survivors are written out by hand or computed by ``model_survivors`` below, which
works from whole sets (group by period, take the N most recent periods) rather than the
module's newest-first walk.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import tempfile

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import retention
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.retention import Duration, Policy, PolicyError

try:
    from hypothesis import given, settings, strategies
    from hypothesis.configuration import set_hypothesis_home_dir
    HAS_HYPOTHESIS = True
    # Its caches go to the temp dir, not .hypothesis/ in the checkout (which pytest then warns about).
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), 'caretaker-hypothesis'))
except ImportError:
    HAS_HYPOTHESIS = False

UTC = datetime.timezone.utc
MINUTE = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def year_of_dailies():
    """365 daily backups at 02:00 UTC, 2025-11-24 (Monday) to 2026-11-23 (Monday)."""
    first = utc(2025, 11, 24, 2)
    return [first + n * DAY for n in range(365)]


def backups(times, verified=()):
    verified = set(verified)
    return [(moment, 'appdb-%s.sql.zst' % moment.strftime('%Y%m%dT%H%M%SZ'), moment in verified) for moment in times]


def kept(decisions):
    return sorted(decision.time for decision in decisions if decision.keep)


def reasons_at(decisions, moment):
    return [decision.reasons for decision in decisions if decision.time == moment][0]


# --- an independent model of the rules -------------------------------------------------

MODEL_PERIODS = {
    'keep_hourly': lambda t: (t.year, t.month, t.day, t.hour),
    'keep_daily': lambda t: (t.year, t.month, t.day),
    'keep_weekly': lambda t: tuple(t.isocalendar()[:2]),
    'keep_monthly': lambda t: (t.year, t.month),
    'keep_yearly': lambda t: (t.year,),
}


def model_survivors(times, verified=(), require_verified=True, keep_within=None, **counts):
    """Survivors from whole sets: per period rule, the newest time of each of the N most recent periods,
    plus the oldest time when there are fewer than N periods; then the guards."""
    times = sorted(set(times))
    if not times:
        return []
    keep = set(sorted(times)[-counts['keep_last']:]) if counts.get('keep_last') else set()
    for option, period in MODEL_PERIODS.items():
        wanted = counts.get(option) or 0
        if not wanted:
            continue
        newest_per_period = {}
        for moment in times:
            key = period(moment)
            newest_per_period[key] = max(moment, newest_per_period.get(key, moment))
        recent = sorted(newest_per_period)[-wanted:]
        keep.update(newest_per_period[key] for key in recent)
        if len(newest_per_period) < wanted:
            keep.add(times[0])
    if keep_within:
        horizon = keep_within.before(times[-1])
        keep.update(moment for moment in times if moment > horizon)
    verified = sorted(set(verified) & set(times))
    if verified:
        keep.update(moment for moment in times if moment >= verified[-1])
    elif require_verified:
        keep.update(times)
    return sorted(keep)


# --- a year of daily backups ---------------------------------------------------------------

GFS = dict(keep_daily=7, keep_weekly=4, keep_monthly=12, keep_yearly=1)

# Worked out by hand: 7 days back from Monday 2026-11-23; the Sundays closing ISO weeks 47, 46,
# 45 (week 48 is the newest backup itself); the last day of each month back to December 2025
# (November 2026 is the newest backup); 2026 is the newest backup again.
GFS_SURVIVORS = [
    utc(2025, 12, 31, 2), utc(2026, 1, 31, 2), utc(2026, 2, 28, 2), utc(2026, 3, 31, 2), utc(2026, 4, 30, 2),
    utc(2026, 5, 31, 2), utc(2026, 6, 30, 2), utc(2026, 7, 31, 2), utc(2026, 8, 31, 2), utc(2026, 9, 30, 2),
    utc(2026, 10, 31, 2), utc(2026, 11, 8, 2), utc(2026, 11, 15, 2),
    utc(2026, 11, 17, 2), utc(2026, 11, 18, 2), utc(2026, 11, 19, 2), utc(2026, 11, 20, 2), utc(2026, 11, 21, 2),
    utc(2026, 11, 22, 2), utc(2026, 11, 23, 2),
]


def test_year_of_dailies_exact_survivors():
    times = year_of_dailies()
    decisions = retention.apply(Policy(**GFS), backups(times, verified=[times[-1]]))
    assert len(decisions) == 365
    assert kept(decisions) == GFS_SURVIVORS
    assert kept(decisions) == model_survivors(times, verified=[times[-1]], **GFS)


def test_year_of_dailies_records_every_reason():
    times = year_of_dailies()
    decisions = retention.apply(Policy(**GFS), backups(times, verified=[times[-1]]))
    assert reasons_at(decisions, utc(2026, 11, 23, 2)) == [
        'daily 2026-11-23', 'weekly 2026-W48', 'monthly 2026-11', 'yearly 2026', 'newest verified']
    assert reasons_at(decisions, utc(2026, 11, 22, 2)) == ['daily 2026-11-22', 'weekly 2026-W47']
    assert reasons_at(decisions, utc(2026, 11, 15, 2)) == ['weekly 2026-W46']
    assert reasons_at(decisions, utc(2026, 10, 31, 2)) == ['monthly 2026-10']
    assert reasons_at(decisions, utc(2025, 12, 31, 2)) == ['monthly 2025-12']
    assert reasons_at(decisions, utc(2025, 11, 30, 2)) == []


def test_year_of_dailies_other_policies_match_the_model():
    times = year_of_dailies()
    verified = times[::10]
    for policy in (dict(keep_last=3, keep_within=Duration(days=10)),
                   dict(keep_weekly=60),
                   dict(keep_monthly=6, keep_yearly=5),
                   dict(keep_hourly=5, keep_within=Duration(months=1, days=3)),
                   dict(keep_daily=400)):
        decisions = retention.apply(Policy(**policy), backups(times, verified))
        assert kept(decisions) == model_survivors(times, verified, **policy), policy


def test_keep_daily_walks_days_that_have_a_backup():
    """Gaps do not use up the count: the newest backup of each of the last 3 days that have one."""
    times = [utc(2026, 11, 1, 2), utc(2026, 11, 5, 2), utc(2026, 11, 5, 14), utc(2026, 11, 9, 2),
             utc(2026, 11, 20, 2), utc(2026, 11, 20, 3)]
    decisions = retention.apply(Policy(keep_daily=3), backups(times, verified=[times[-1]]))
    assert kept(decisions) == [utc(2026, 11, 5, 14), utc(2026, 11, 9, 2), utc(2026, 11, 20, 3)]


def test_oldest_backup_kept_while_a_count_is_not_used_up():
    """As restic: fewer weeks than keep_weekly asks for keeps the oldest backup too."""
    times = [utc(2026, 11, 20, 2) + n * DAY for n in range(5)]   # Friday 20th to Tuesday 24th: W47, W48
    decisions = retention.apply(Policy(keep_weekly=4), backups(times, verified=[times[-1]]))
    assert kept(decisions) == [utc(2026, 11, 20, 2), utc(2026, 11, 22, 2), utc(2026, 11, 24, 2)]
    assert reasons_at(decisions, utc(2026, 11, 20, 2)) == [
        'weekly 2026-W47 (oldest backup, keep_weekly not used up)']


def test_keep_last_and_hourly():
    times = [utc(2026, 11, 23, 0) + n * 20 * datetime.timedelta(minutes=1) for n in range(12)]  # 4 hours of 20-minute backups
    decisions = retention.apply(Policy(keep_last=2, keep_hourly=3), backups(times, verified=times))
    assert kept(decisions) == [utc(2026, 11, 23, 1, 40), utc(2026, 11, 23, 2, 40), utc(2026, 11, 23, 3, 20),
                               utc(2026, 11, 23, 3, 40)]
    assert reasons_at(decisions, times[-1]) == ['last #1', 'hourly 2026-11-23T03', 'newest verified']
    assert reasons_at(decisions, times[-2]) == ['last #2']


def test_keep_within_counts_from_the_newest_backup_not_from_now():
    times = [utc(2026, 1, 1, 2) + n * DAY for n in range(40)]    # newest 2026-02-09 02:00
    decisions = retention.apply(Policy(keep_within=Duration(days=3)), backups(times, verified=[times[-1]]),
                                now=utc(2030, 1, 1))
    # newer than 2026-02-06 02:00 (exactly three days before is not newer)
    assert kept(decisions) == [utc(2026, 2, 7, 2), utc(2026, 2, 8, 2), utc(2026, 2, 9, 2)]
    assert reasons_at(decisions, utc(2026, 2, 7, 2)) == ['within 3d']


def test_keep_within_ignores_future_backups_as_reference():
    now = utc(2026, 11, 23, 12)
    times = [utc(2026, 11, 10, 2) + n * DAY for n in range(14)] + [utc(2027, 6, 1)]   # one from a skewed clock
    decisions = retention.apply(Policy(keep_within=Duration(days=2)), backups(times, verified=[times[-2]]), now=now)
    assert kept(decisions) == [utc(2026, 11, 22, 2), utc(2026, 11, 23, 2), utc(2027, 6, 1)]
    assert reasons_at(decisions, utc(2027, 6, 1)) == ['within 2d', 'newer than newest verified']


def test_same_timestamp_artifacts_are_one_backup():
    moment = utc(2026, 11, 23, 2)
    older = utc(2026, 11, 22, 2)
    decisions = retention.apply(Policy(keep_last=1), [
        (moment, 'pg-20261123T020000Z.pgdump.zst', True), (moment, 'pg-20261123T020000Z.pgglobals.sql.zst', False),
        (older, 'pg-20261122T020000Z.pgdump.zst', True)])
    assert [(decision.names, decision.keep) for decision in decisions] == [
        (['pg-20261123T020000Z.pgdump.zst', 'pg-20261123T020000Z.pgglobals.sql.zst'], True),
        (['pg-20261122T020000Z.pgdump.zst'], False)]


# --- the guards ------------------------------------------------------------------------------

def test_newest_verified_survives_when_the_policy_would_drop_it():
    times = [utc(2026, 11, 1, 2) + n * DAY for n in range(10)]
    decisions = retention.apply(Policy(keep_last=1), backups(times, verified=[times[2]]))
    assert kept(decisions) == times[2:]
    assert reasons_at(decisions, times[2]) == ['newest verified']
    assert reasons_at(decisions, times[5]) == ['newer than newest verified']
    assert reasons_at(decisions, times[-1]) == ['last #1', 'newer than newest verified']


def test_backup_seconds_newer_than_newest_verified_survives():
    verified = utc(2026, 11, 23, 2)
    times = [verified - DAY, verified, verified + datetime.timedelta(seconds=1), verified + datetime.timedelta(seconds=2)]
    decisions = retention.apply(Policy(keep_last=1), backups(times, verified=[verified]))
    assert kept(decisions) == times[1:]
    assert reasons_at(decisions, times[2]) == ['newer than newest verified']


def test_newest_verified_survives_when_all_are_old():
    """Old backups and a short keep_within: only the newest verified and what is newer stay."""
    times = [utc(2020, 1, 1, 2) + n * DAY for n in range(30)]
    decisions = retention.apply(Policy(keep_within=Duration(hours=1)), backups(times, verified=times[:20]),
                                now=utc(2026, 11, 23))
    assert kept(decisions) == times[19:]


def test_no_verified_backup_keeps_everything_unless_require_verified_is_false():
    times = [utc(2026, 11, 1, 2) + n * DAY for n in range(10)]
    decisions = retention.apply(Policy(keep_last=2), backups(times))
    assert kept(decisions) == times
    assert all(decision.reasons[-1] == retention.NO_VERIFIED for decision in decisions)
    decisions = retention.apply(Policy(keep_last=2, require_verified=False), backups(times))
    assert kept(decisions) == times[-2:]


def test_empty_series():
    assert retention.apply(Policy(keep_last=1), []) == []


# --- durations -------------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('1y2m3d4h', '1y2m3d4h'), ('30d', '30d'), ('36h', '36h'), ('2w', '2w'), (' 7d ', '7d'), ('1h2y', '2y1h'),
])
def test_duration_parses_restic_syntax(text, expected):
    assert str(Duration.parse(text, 'keep_within')) == expected


@pytest.mark.parametrize('text', ['', '3x', '30', 'd', '-1d', '1.5d', '1d1d', '0d', '0y0h', '1 d', '1D'])
def test_bad_duration_names_the_option(text):
    with pytest.raises(PolicyError) as caught:
        Duration.parse(text, 'max_age')
    assert 'max_age' in str(caught.value)


@pytest.mark.parametrize('text, moment, expected', [
    ('1m', utc(2026, 3, 31, 2), utc(2026, 3, 3, 2)),        # Go's AddDate: February 31st -> March 3rd
    ('1y', utc(2024, 2, 29, 2), utc(2023, 3, 1, 2)),
    ('1y2m3d4h', utc(2026, 11, 23, 2), utc(2025, 9, 19, 22)),
    ('2w', utc(2026, 11, 23, 2), utc(2026, 11, 9, 2)),
    ('13m', utc(2026, 1, 15), utc(2024, 12, 15)),
    ('9999y', utc(2026, 1, 1), datetime.datetime.min.replace(tzinfo=UTC)),
])
def test_duration_subtracts_by_the_calendar(text, moment, expected):
    assert Duration.parse(text, 'keep_within').before(moment) == expected


# --- options ---------------------------------------------------------------------------------

def test_no_policy_names_every_option():
    for options in ({}, {'keep_daily': 0, 'keep_within': ''}, {'keep_last': None}):
        with pytest.raises(PolicyError) as caught:
            Policy.from_options(options)
        for option in retention.POLICY_OPTIONS:
            assert option in str(caught.value)


@pytest.mark.parametrize('option', retention.COUNT_OPTIONS)
def test_negative_count_names_the_option(option):
    with pytest.raises(PolicyError) as caught:
        Policy.from_options({option: -1, 'keep_within': '1d'})
    assert str(caught.value).startswith('%s must be 0 or more' % option)


def test_bad_keep_within_names_the_option():
    with pytest.raises(PolicyError) as caught:
        Policy.from_options({'keep_within': '3 weeks'})
    assert "keep_within '3 weeks' is not a duration" in str(caught.value)


def test_policy_from_options():
    policy = Policy.from_options(dict(keep_daily=7, keep_weekly=4, keep_within='1y2m', require_verified=False))
    assert policy.describe() == 'keep_daily 7, keep_weekly 4, keep_within 1y2m'
    assert policy.require_verified is False


# --- properties ------------------------------------------------------------------------------

if HAS_HYPOTHESIS:
    START = utc(2025, 6, 1)
    minutes_strategy = strategies.lists(strategies.integers(min_value=0, max_value=2 * 366 * 24 * 60), max_size=60)
    counts_strategy = strategies.integers(min_value=0, max_value=15)

    @settings(max_examples=300, deadline=None, database=None)  # no .hypothesis/ in the checkout
    @given(minutes=minutes_strategy, verified_flags=strategies.lists(strategies.booleans(), max_size=60),
           keep_last=counts_strategy, keep_hourly=counts_strategy, keep_daily=counts_strategy,
           keep_weekly=counts_strategy, keep_monthly=counts_strategy, keep_yearly=counts_strategy,
           within_days=strategies.integers(min_value=0, max_value=400), require_verified=strategies.booleans())
    def test_invariants_hold_for_any_series(minutes, verified_flags, keep_last, keep_hourly, keep_daily, keep_weekly,
                                            keep_monthly, keep_yearly, within_days, require_verified):
        times = sorted(set(START + n * MINUTE for n in minutes))
        verified = [moment for moment, flag in zip(times, verified_flags) if flag]
        counts = dict(keep_last=keep_last, keep_hourly=keep_hourly, keep_daily=keep_daily, keep_weekly=keep_weekly,
                      keep_monthly=keep_monthly, keep_yearly=keep_yearly)
        within = Duration(days=within_days) if within_days else None
        policy = Policy(keep_within=within, require_verified=require_verified, **counts)
        survivors = kept(retention.apply(policy, backups(times, verified)))

        if verified:   # never the newest verified, never anything newer
            assert [moment for moment in times if moment >= verified[-1]] == [
                moment for moment in survivors if moment >= verified[-1]]
        elif require_verified:
            assert survivors == times
        assert set(times[len(times) - keep_last:] if keep_last else []) <= set(survivors)   # keep_last N: N newest
        assert survivors == model_survivors(times, verified, require_verified=require_verified, keep_within=within,
                                            **counts)
else:
    def test_invariants_hold_for_any_series():
        pytest.skip('hypothesis is not installed (requirements-dev.txt)')
