# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cadence timing, three schedulers: cron fields, a systemd OnCalendar expression and an
AWX schedule rrule, all from the same dictionary (roles/schedule's schedule_cadences), so
the cron entries, the timers and the AWX schedules cannot drift apart.

A timing holds ``minute`` and ``hour`` (an integer, ``'*'`` or ``'*/N'``), and optionally
``weekday`` (mon..sun), ``week_of_month`` (1-4, with a weekday: "the first Monday"),
``day`` (day of the month) and ``months`` (list of month numbers).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.errors import AnsibleFilterError

WEEKDAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
_STEP = re.compile(r'^\*(?:/([0-9]+))?$')


def _field(name, key, value, top):
    """('fixed', n) or ('step', n) for a minute or hour field ranging over 0..top-1."""
    if isinstance(value, bool):
        raise ValueError('%s: %s must be an integer, "*" or "*/N", not %r' % (name, key, value))
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if not 0 <= number < top:
            raise ValueError('%s: %s must be between 0 and %d, not %d' % (name, key, top - 1, number))
        return ('fixed', number)
    match = _STEP.match(str(value).strip())
    if not match:
        raise ValueError('%s: %s must be an integer, "*" or "*/N", not %r' % (name, key, value))
    step = int(match.group(1) or 1)
    if step < 1 or top % step:
        raise ValueError('%s: the step of %s must divide %d, not %d' % (name, key, top, step))
    return ('step', step)


def _months(name, value):
    if value in (None, '', '*', []):
        return None
    if isinstance(value, (int, str)):
        value = [value]
    try:
        months = sorted(set(int(month) for month in value))
    except (TypeError, ValueError):
        raise ValueError('%s: months must be a list of month numbers, not %r' % (name, value))
    if not months or months[0] < 1 or months[-1] > 12:
        raise ValueError('%s: months must be between 1 and 12, not %r' % (name, value))
    return None if len(months) == 12 else months


def timing(cadence):
    """Validate a cadence and return its normalised timing."""
    if not isinstance(cadence, dict):
        raise ValueError('a cadence must be a dictionary, not %r' % (cadence,))
    name = cadence.get('name') or 'cadence'
    for key in ('minute', 'hour'):
        if cadence.get(key) is None:
            raise ValueError('%s: %s is required' % (name, key))
    minute = _field(name, 'minute', cadence['minute'], 60)
    hour = _field(name, 'hour', cadence['hour'], 24)
    if minute[0] == 'step' and hour != ('step', 1):
        raise ValueError('%s: a minute step runs every hour; set hour to "*"' % name)
    weekday = cadence.get('weekday')
    if weekday not in (None, ''):
        weekday = str(weekday).strip().lower()[:3]
        if weekday not in WEEKDAYS:
            raise ValueError('%s: weekday must be one of %s, not %r' % (name, ', '.join(WEEKDAYS), cadence.get('weekday')))
    else:
        weekday = None
    week = cadence.get('week_of_month')
    if week not in (None, ''):
        week = int(week)
        if not 1 <= week <= 4 or weekday is None:
            raise ValueError('%s: week_of_month must be 1 to 4, with a weekday' % name)
    else:
        week = None
    day = cadence.get('day')
    if day not in (None, ''):
        day = int(day)
        if not 1 <= day <= 31 or weekday is not None:
            raise ValueError('%s: day must be 1 to 31, and not with a weekday' % name)
    else:
        day = None
    months = _months(name, cadence.get('months'))
    if (weekday or day or months) and hour[0] == 'step':
        raise ValueError('%s: a run every few hours or minutes takes no weekday, day or months' % name)
    return {'name': name, 'minute': minute, 'hour': hour, 'weekday': weekday, 'week_of_month': week,
            'day': day, 'months': months}


def _cron_field(field):
    kind, number = field
    if kind == 'fixed':
        return str(number)
    return '*' if number == 1 else '*/%d' % number


def cadence_cron(cadence):
    """Cron fields (minute, hour, day, month, weekday) and a shell guard for the job line.

    Cron runs a job when the day of the month OR the weekday matches once both are set, so
    "the first Monday" is days 1-7 with a guard on the weekday (``%`` escaped for crontab)."""
    try:
        spec = timing(cadence)
    except ValueError as exc:
        raise AnsibleFilterError('cadence_cron: %s' % exc)
    result = {'minute': _cron_field(spec['minute']), 'hour': _cron_field(spec['hour']),
              'day': '*', 'month': '*', 'weekday': '*', 'guard': ''}
    if spec['months']:
        result['month'] = ','.join(str(month) for month in spec['months'])
    if spec['day']:
        result['day'] = str(spec['day'])
    if spec['week_of_month']:
        first = (spec['week_of_month'] - 1) * 7 + 1
        result['day'] = '%d-%d' % (first, first + 6)
        result['guard'] = '[ "$(date +\\%%u)" = %d ]' % (WEEKDAYS.index(spec['weekday']) + 1)
    elif spec['weekday']:
        result['weekday'] = str((WEEKDAYS.index(spec['weekday']) + 1) % 7)
    return result


def _calendar_field(field):
    kind, number = field
    if kind == 'fixed':
        return '%02d' % number
    return '*' if number == 1 else '00/%d' % number


def cadence_calendar(cadence):
    """A systemd OnCalendar expression; weekday and date both have to match there."""
    try:
        spec = timing(cadence)
    except ValueError as exc:
        raise AnsibleFilterError('cadence_calendar: %s' % exc)
    months = ','.join('%02d' % month for month in spec['months']) if spec['months'] else '*'
    day = '*'
    if spec['day']:
        day = '%02d' % spec['day']
    if spec['week_of_month']:
        first = (spec['week_of_month'] - 1) * 7 + 1
        day = '%02d..%02d' % (first, first + 6)
    expression = '*-%s-%s %s:%s:00' % (months, day, _calendar_field(spec['hour']), _calendar_field(spec['minute']))
    if spec['weekday']:
        expression = spec['weekday'].capitalize() + ' ' + expression
    return expression


def _month_interval(name, months):
    """(interval, first month) for an AWX rrule, which takes at most one BYMONTH."""
    if not months:
        return 1, 1
    step = 12 // len(months)
    if 12 % len(months) or months != list(range(months[0], 13, step)):
        raise ValueError('%s: AWX schedules take evenly spaced months (such as 1, 4, 7, 10), not %r' % (name, months))
    return step, months[0]


def cadence_rrule(cadence, timezone='UTC', start='2026-01-01'):
    """An AWX schedule rrule: a DTSTART with a time zone and one RRULE with an INTERVAL, no
    BYDAY with a numeric prefix and no multiple BYMONTH or BYMONTHDAY (AWX refuses those):
    "the first Monday" is BYDAY=MO;BYSETPOS=1, a quarter is INTERVAL=3 from a DTSTART in
    the first month. The time of day is DTSTART's."""
    try:
        spec = timing(cadence)
        first_day = datetime.datetime.strptime(str(start), '%Y-%m-%d').date()
        name = spec['name']
        minute, hour = spec['minute'], spec['hour']
        start_minute = minute[1] if minute[0] == 'fixed' else 0
        start_hour = hour[1] if hour[0] == 'fixed' else 0
        if minute[0] == 'step':
            rule = 'FREQ=MINUTELY;INTERVAL=%d' % minute[1]
        elif hour[0] == 'step':
            rule = 'FREQ=HOURLY;INTERVAL=%d' % hour[1]
        elif spec['day'] or spec['week_of_month'] or spec['months']:
            interval, first_month = _month_interval(name, spec['months'])
            first_day = first_day.replace(month=first_month, day=1)
            rule = 'FREQ=MONTHLY;INTERVAL=%d' % interval
            if spec['day']:
                rule += ';BYMONTHDAY=%d' % spec['day']
            elif spec['week_of_month']:
                rule += ';BYDAY=%s;BYSETPOS=%d' % (spec['weekday'][:2].upper(), spec['week_of_month'])
            elif spec['weekday']:
                raise ValueError('%s: AWX cannot run on a weekday of some months only' % name)
            else:
                rule += ';BYMONTHDAY=1'
        elif spec['weekday']:
            rule = 'FREQ=WEEKLY;INTERVAL=1;BYDAY=%s' % spec['weekday'][:2].upper()
        else:
            rule = 'FREQ=DAILY;INTERVAL=1'
    except ValueError as exc:
        raise AnsibleFilterError('cadence_rrule: %s' % exc)
    if not re.match(r'^[A-Za-z][A-Za-z0-9_+/-]*$', str(timezone)):
        raise AnsibleFilterError('cadence_rrule: timezone must be a name such as UTC or Europe/Berlin, not %r' % (timezone,))
    return 'DTSTART;TZID=%s:%sT%02d%02d00 RRULE:%s' % (timezone, first_day.strftime('%Y%m%d'), start_hour, start_minute, rule)


_LAUNCH_OPTIONS = {'--tags': 'job_tags', '-t': 'job_tags', '--skip-tags': 'skip_tags', '--limit': 'limit', '-l': 'limit'}


def cadence_launch(cadence):
    """The AWX schedule fields (job_tags, skip_tags, limit) for a cadence's ansible-playbook
    ``args``; an argument a schedule cannot pass is an error rather than silently dropped."""
    args = list((cadence or {}).get('args') or [])
    launch = {}
    index = 0
    while index < len(args):
        arg = str(args[index])
        key, equals, value = arg.partition('=')
        if key not in _LAUNCH_OPTIONS:
            raise AnsibleFilterError('cadence_launch: %s: an AWX schedule cannot pass %r (only --tags, --skip-tags and --limit)'
                                     % ((cadence or {}).get('name', 'cadence'), arg))
        if not equals:
            index += 1
            if index >= len(args):
                raise AnsibleFilterError('cadence_launch: %s needs a value' % key)
            value = str(args[index])
        field = _LAUNCH_OPTIONS[key]
        launch[field] = ','.join(part for part in (launch.get(field), value) if part)
        index += 1
    return launch


class FilterModule(object):
    def filters(self):
        return {'cadence_cron': cadence_cron, 'cadence_calendar': cadence_calendar, 'cadence_rrule': cadence_rrule,
                'cadence_launch': cadence_launch}
