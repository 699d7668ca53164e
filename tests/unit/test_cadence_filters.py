"""The cadence filters: the cron fields, the systemd OnCalendar expression and the AWX rrule of
one timing name the same moments. The default cadences of roles/schedule are expanded three
ways (cron rules, systemd-analyze calendar, RFC 5545 rules) and compared."""

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.filter.cadence import FilterModule
from tests.support.awx_rules import rrule_errors

FILTERS = FilterModule().filters()
ROOT = Path(__file__).resolve().parents[2]
CADENCES = yaml.safe_load((ROOT / 'roles' / 'schedule' / 'defaults' / 'main.yml').read_text())['schedule_cadences']
BASE = datetime.datetime(2026, 1, 1)


def by_name(name):
    return [cadence for cadence in CADENCES if cadence['name'] == name][0]


@pytest.mark.parametrize('name, cron, calendar, rrule', [
    ('health', ('*/5', '*', '*', '*', '*', ''), '*-*-* *:00/5:00',
     'DTSTART;TZID=UTC:20260101T000000 RRULE:FREQ=MINUTELY;INTERVAL=5'),
    ('daily', ('0', '2', '*', '*', '*', ''), '*-*-* 02:00:00', 'DTSTART;TZID=UTC:20260101T020000 RRULE:FREQ=DAILY;INTERVAL=1'),
    ('logs', ('0', '3', '*', '*', '*', ''), '*-*-* 03:00:00', 'DTSTART;TZID=UTC:20260101T030000 RRULE:FREQ=DAILY;INTERVAL=1'),
    ('weekly', ('0', '4', '*', '*', '1', ''), 'Mon *-*-* 04:00:00',
     'DTSTART;TZID=UTC:20260101T040000 RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO'),
    ('monthly', ('0', '5', '1-7', '*', '*', '[ "$(date +\\%u)" = 1 ]'), 'Mon *-*-01..07 05:00:00',
     'DTSTART;TZID=UTC:20260101T050000 RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=MO;BYSETPOS=1'),
    ('quarterly', ('0', '6', '1-7', '1,4,7,10', '*', '[ "$(date +\\%u)" = 1 ]'), 'Mon *-01,04,07,10-01..07 06:00:00',
     'DTSTART;TZID=UTC:20260101T060000 RRULE:FREQ=MONTHLY;INTERVAL=3;BYDAY=MO;BYSETPOS=1'),
])
def test_default_cadences(name, cron, calendar, rrule):
    fields = FILTERS['cadence_cron'](by_name(name))
    assert tuple(fields[key] for key in ('minute', 'hour', 'day', 'month', 'weekday', 'guard')) == cron
    assert FILTERS['cadence_calendar'](by_name(name)) == calendar
    assert FILTERS['cadence_rrule'](by_name(name)) == rrule


def test_rrule_time_zone_and_start():
    rule = FILTERS['cadence_rrule'](by_name('quarterly'), 'Europe/Berlin', '2027-05-17')
    # a quarter is counted from DTSTART's month: the first month of the cadence
    assert rule == 'DTSTART;TZID=Europe/Berlin:20270101T060000 RRULE:FREQ=MONTHLY;INTERVAL=3;BYDAY=MO;BYSETPOS=1'
    assert FILTERS['cadence_rrule']({'name': 'q', 'minute': 30, 'hour': 1, 'day': 15, 'months': [3, 6, 9, 12]}) == \
        'DTSTART;TZID=UTC:20260301T013000 RRULE:FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15'
    assert FILTERS['cadence_rrule']({'name': 'h', 'minute': 15, 'hour': '*/6'}) == \
        'DTSTART;TZID=UTC:20260101T001500 RRULE:FREQ=HOURLY;INTERVAL=6'


@pytest.mark.parametrize('name', [cadence['name'] for cadence in CADENCES])
def test_rrules_pass_awx_validation(name):
    assert rrule_errors(FILTERS['cadence_rrule'](by_name(name), 'America/New_York')) == []


def test_awx_rules_catch_what_they_should():
    assert rrule_errors('DTSTART:20300308T050000Z RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=5MO')
    assert rrule_errors('DTSTART:20300308T050000Z RRULE:FREQ=YEARLY;INTERVAL=1;BYMONTH=1,4')
    assert rrule_errors('DTSTART:20300308T050000 RRULE:FREQ=DAILY;INTERVAL=1')


# --- three independent expansions of a timing ----------------------------------------------

def _cron_values(field, top, first=0):
    if field == '*':
        return set(range(first, top))
    if field.startswith('*/'):
        return set(range(first, top, int(field[2:])))
    values = set()
    for part in field.split(','):
        low, high = (part.split('-', 1) + [part])[:2]
        values.update(range(int(low), int(high) + 1))
    return values


def cron_times(fields, count):
    """Vixie cron's rule: with both day of month and weekday restricted, either one matching runs."""
    minutes, hours = sorted(_cron_values(fields['minute'], 60)), sorted(_cron_values(fields['hour'], 24))
    days, months = _cron_values(fields['day'], 32, 1), _cron_values(fields['month'], 13, 1)
    weekdays = {value % 7 for value in _cron_values(fields['weekday'], 8)}
    guard = re.search(r'= ([1-7])', fields['guard'])
    found, day = [], BASE.date()
    while len(found) < count:
        cron_weekday = (day.isoweekday()) % 7
        if fields['day'] != '*' and fields['weekday'] != '*':
            day_ok = day.day in days or cron_weekday in weekdays
        else:
            day_ok = day.day in days and cron_weekday in weekdays
        if day_ok and day.month in months and (not guard or day.isoweekday() == int(guard.group(1))):
            found += [datetime.datetime(day.year, day.month, day.day, hour, minute) for hour in hours for minute in minutes]
        day += datetime.timedelta(days=1)
    return found[:count]


def systemd_times(expression, count):
    proc = subprocess.run(['systemd-analyze', 'calendar', '--iterations=%d' % count, '--base-time=2025-12-31 23:59:59',
                           expression], capture_output=True, text=True, check=True, env=dict(os.environ, TZ='UTC'))
    return [datetime.datetime.strptime(stamp, '%Y-%m-%d %H:%M:%S')
            for stamp in re.findall(r'(?:elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)', proc.stdout)]


WEEKDAY_CODES = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU']


def rrule_times(value, count):
    """RFC 5545 expansion of the rule forms cadence_rrule writes."""
    start = datetime.datetime.strptime(re.search(r':(\d{8}T\d{6}) ', value).group(1), '%Y%m%dT%H%M%S')
    parts = dict(part.split('=') for part in value.split('RRULE:')[1].split(';'))
    interval, freq = int(parts['INTERVAL']), parts['FREQ']
    found = []
    if freq in ('MINUTELY', 'HOURLY', 'DAILY'):
        step = {'MINUTELY': datetime.timedelta(minutes=interval), 'HOURLY': datetime.timedelta(hours=interval),
                'DAILY': datetime.timedelta(days=interval)}[freq]
        return [start + step * index for index in range(count)]
    if freq == 'WEEKLY':
        day = start
        while len(found) < count:
            if WEEKDAY_CODES[day.weekday()] == parts['BYDAY']:
                found.append(day)
            day += datetime.timedelta(days=1)
        return found
    year, month = start.year, start.month
    while len(found) < count:
        first = start.replace(year=year, month=month, day=1)
        days = [first + datetime.timedelta(days=offset) for offset in range(31)]
        days = [day for day in days if day.month == month]
        if 'BYMONTHDAY' in parts:
            days = [day for day in days if day.day == int(parts['BYMONTHDAY'])]
        if 'BYDAY' in parts:
            days = [day for day in days if WEEKDAY_CODES[day.weekday()] == parts['BYDAY']]
        if 'BYSETPOS' in parts:
            days = days[int(parts['BYSETPOS']) - 1:int(parts['BYSETPOS'])]
        found += [day for day in days if day >= start]
        month += interval
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return found[:count]


@pytest.mark.skipif(not shutil.which('systemd-analyze'), reason='systemd-analyze is not installed')
@pytest.mark.parametrize('name', [cadence['name'] for cadence in CADENCES])
def test_cron_systemd_and_rrule_name_the_same_moments(name):
    cadence = by_name(name)
    count = 30 if name == 'health' else 12
    cron = cron_times(FILTERS['cadence_cron'](cadence), count)
    assert cron == systemd_times(FILTERS['cadence_calendar'](cadence), count)
    assert cron == rrule_times(FILTERS['cadence_rrule'](cadence), count)
    if name == 'quarterly':
        assert [moment.strftime('%a %Y-%m-%d %H:%M') for moment in cron[:4]] == [
            'Mon 2026-01-05 06:00', 'Mon 2026-04-06 06:00', 'Mon 2026-07-06 06:00', 'Mon 2026-10-05 06:00']


@pytest.mark.parametrize('cadence, message', [
    ({'name': 'x', 'minute': '*/7', 'hour': '*'}, 'the step of minute must divide 60'),
    ({'name': 'x', 'minute': '*/5', 'hour': 2}, 'a minute step runs every hour'),
    ({'name': 'x', 'minute': 0, 'hour': 24}, 'hour must be between 0 and 23'),
    ({'name': 'x', 'hour': 2}, 'minute is required'),
    ({'name': 'x', 'minute': 0, 'hour': 2, 'weekday': 'funday'}, 'weekday must be one of'),
    ({'name': 'x', 'minute': 0, 'hour': 2, 'week_of_month': 1}, 'week_of_month must be 1 to 4, with a weekday'),
    ({'name': 'x', 'minute': 0, 'hour': 2, 'day': 3, 'weekday': 'mon'}, 'not with a weekday'),
    ({'name': 'x', 'minute': 0, 'hour': 2, 'months': [13]}, 'months must be between 1 and 12'),
    ({'name': 'x', 'minute': 'soon', 'hour': 2}, 'must be an integer'),
])
def test_impossible_timings_are_refused_by_every_filter(cadence, message):
    for name in ('cadence_cron', 'cadence_calendar', 'cadence_rrule'):
        with pytest.raises(AnsibleFilterError, match='%s: .*%s' % (name, re.escape(message))):
            FILTERS[name](cadence)


@pytest.mark.parametrize('cadence, launch', [
    ({'name': 'daily', 'args': ['--skip-tags', 'logs']}, {'skip_tags': 'logs'}),
    ({'name': 'x', 'args': ['--tags=backup', '-t', 'logs', '-l', 'db1']}, {'job_tags': 'backup,logs', 'limit': 'db1'}),
    ({'name': 'x'}, {}),
])
def test_cadence_launch(cadence, launch):
    assert FILTERS['cadence_launch'](cadence) == launch


def test_cadence_launch_refuses_what_a_schedule_cannot_pass():
    with pytest.raises(AnsibleFilterError, match="cannot pass '--check'"):
        FILTERS['cadence_launch']({'name': 'x', 'args': ['--check']})
    with pytest.raises(AnsibleFilterError, match='--tags needs a value'):
        FILTERS['cadence_launch']({'name': 'x', 'args': ['--tags']})


def test_what_awx_cannot_say_is_refused_by_the_rrule_filter_only():
    uneven = {'name': 'x', 'minute': 0, 'hour': 2, 'day': 1, 'months': [1, 2, 7]}
    assert FILTERS['cadence_cron'](uneven)['month'] == '1,2,7'
    with pytest.raises(AnsibleFilterError, match='evenly spaced months'):
        FILTERS['cadence_rrule'](uneven)
    with pytest.raises(AnsibleFilterError, match='timezone must be a name'):
        FILTERS['cadence_rrule'](by_name('daily'), 'UTC RRULE:FREQ=SECONDLY')
