# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's two kinds of duration (pure, no I/O).

Calendar durations (``Duration``), ages of data and backups in restic's syntax, shared by backup
and data retention: ``2y``, ``6mo``, ``30d``, ``24h``, ``2w`` and combinations such as ``1y6mo``.
Months are ``mo`` or ``m`` (restic's spelling, kept so existing ``keep_within``/``max_age`` values
still parse); there is no unit for minutes, so ``m`` can never mean them.

Clock intervals (``parse_seconds``), time budgets and recent windows such as ``max_duration`` and
``since``: ``90``, ``90s``, ``30m``, ``1h30m``, ``7d``, ``2w``. Here ``m`` is minutes and there are
no months: an interval is a number of seconds, not a date on the calendar.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

# ``mo`` before ``m`` so 6mo is six months, not six m followed by garbage.
_PART = re.compile(r'(\d+)(mo|[ymwdh])')
_UNIT_FIELDS = {'y': 'years', 'mo': 'months', 'm': 'months', 'w': 'weeks', 'd': 'days', 'h': 'hours'}
_FIELDS = ('years', 'months', 'weeks', 'days', 'hours')
ALLOWED_UNITS = 'y (years), mo or m (months), w (weeks), d (days) and h (hours)'


_CLOCK_PART = re.compile(r'(\d+(?:\.\d+)?)([smhdw])')
_CLOCK_SECONDS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
CLOCK_UNITS = 's (seconds), m (minutes), h (hours), d (days) and w (weeks)'


class DurationError(ValueError):
    """A duration option that cannot be used; the text names the option and the fix."""


def parse_seconds(value, option, require_unit=False):
    """Seconds (float, above zero) of a clock interval: a number of seconds, or numbers with the
    units s, m (minutes), h, d and w, each at most once (``1h30m``). With ``require_unit`` a bare
    number is refused, for options where it would be ambiguous."""
    fix = ('give %sa number with the units %s, each at most once, for example 30m, 24h or 1h30m'
           % ('' if require_unit else 'seconds (600) or ', CLOCK_UNITS))
    if isinstance(value, bool):
        raise DurationError('%s %r is not an interval: %s' % (option, value, fix))
    if isinstance(value, (int, float)) and not require_unit:
        seconds = float(value)
    else:
        text = ('%s' % (value,)).strip().lower()
        if re.match(r'^\d+(\.\d+)?$', text) and not require_unit:
            seconds = float(text)
        else:
            parts = _CLOCK_PART.findall(text)
            if not text or ''.join(number + unit for number, unit in parts) != text:
                raise DurationError('%s %r is not an interval: %s' % (option, value, fix))
            units = [unit for number, unit in parts]
            if len(set(units)) != len(units):
                raise DurationError('%s %r gives a unit twice: %s' % (option, value, fix))
            seconds = sum(float(number) * _CLOCK_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise DurationError('%s %r is not above zero: give a positive interval, or leave %s unset' % (option, value, option))
    return seconds


class Duration(object):
    """A calendar duration: years and months by the calendar, weeks, days and hours exactly."""

    def __init__(self, years=0, months=0, weeks=0, days=0, hours=0, month_unit='m'):
        self.years, self.months, self.weeks, self.days, self.hours = years, months, weeks, days, hours
        # How months are written back (str), so a value reads the way it was given.
        self.month_unit = month_unit

    @classmethod
    def parse(cls, text, option):
        """Parse ``text`` for ``option`` (named in the error); refuses empty, zero and unknown units."""
        fix = ('use whole numbers with the units %s, each at most once, for example 2y, 6mo, 30d, 24h or 1y6mo'
               % ALLOWED_UNITS)
        spec = ('%s' % text).strip() if text is not None else ''
        parts = _PART.findall(spec)
        if not spec or ''.join(number + unit for number, unit in parts) != spec:
            raise DurationError('%s %r is not a duration: %s' % (option, text, fix))
        values = {}
        month_unit = 'm'
        for number, unit in parts:
            field = _UNIT_FIELDS[unit]
            if field in values:
                raise DurationError('%s %r gives the %s twice: %s' % (option, text, field, fix))
            values[field] = int(number)
            if field == 'months':
                month_unit = unit
        if not any(values.values()):
            raise DurationError('%s %r is zero: give a duration longer than zero or leave %s unset' % (option, text, option))
        return cls(month_unit=month_unit, **values)

    def before(self, moment):
        """``moment`` minus this duration, months and years by the calendar as restic (Go's AddDate) does:
        2026-03-31 minus 1m is 2026-03-03 (February 31st, normalised)."""
        months = moment.year * 12 + moment.month - 1 - (self.years * 12 + self.months)
        year, month = divmod(months, 12)
        try:
            first = moment.replace(year=year, month=month + 1, day=1)
            return first + datetime.timedelta(days=moment.day - 1 - self.days - 7 * self.weeks, hours=-self.hours)
        except (ValueError, OverflowError):
            # Before year 1: everything is newer.
            return datetime.datetime.min.replace(tzinfo=moment.tzinfo)

    def __str__(self):
        units = (('y', 'years'), (self.month_unit, 'months'), ('w', 'weeks'), ('d', 'days'), ('h', 'hours'))
        return ''.join('%d%s' % (getattr(self, name), unit) for unit, name in units if getattr(self, name))

    def __repr__(self):
        return 'Duration(%s)' % self

    def __eq__(self, other):
        return isinstance(other, Duration) and all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(tuple(getattr(self, name) for name in _FIELDS))
