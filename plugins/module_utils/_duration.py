# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calendar durations in restic's syntax, shared by backup retention and data retention (pure, no I/O).

``2y``, ``6mo``, ``30d``, ``24h``, ``2w`` and combinations such as ``1y6mo``. Months are
``mo`` or ``m`` (restic's spelling, kept so existing ``keep_within``/``max_age`` values still
parse); there is no unit for minutes, so ``m`` can never mean them.
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


class DurationError(ValueError):
    """A duration option that cannot be used; the text names the option and the fix."""


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
