# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times in logs and in the ``since`` option, as seconds since the epoch (UTC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import datetime
import re
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import DurationError, parse_seconds

MONTHS = dict((name, number) for number, name in enumerate(
    ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'), 1))

# 2024-05-06T12:53:20.123+02:00, 2024-05-06 12:53:20,123 Z, 2024/05/06 12:53:20 (nginx error log).
_ISO = re.compile(r'(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s?(Z|[+-]\d\d:?\d\d)?')
# syslog: "May  6 12:53:20" (no year).
_SYSLOG = re.compile(r'([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)')
# A timestamp is looked for near the start of a text line only.
TEXT_TIME_WINDOW = 48


class TimeError(ValueError):
    """A ``since`` value that cannot be used; the text names the option and the fix."""


def parse_since(text, now=None):
    """Epoch seconds for ``since``: ISO 8601 (a time without a zone is the host's local
    time) or a relative age such as 30m, 24h, 7d, 1h30m (s, m for minutes, h, d, w)."""
    now = time.time() if now is None else now
    value = ('%s' % text).strip()
    try:
        return now - parse_seconds(value, 'since', require_unit=True)
    except DurationError:
        pass  # not a relative age: try a time
    try:
        moment = datetime.datetime.fromisoformat(value.replace('z', 'Z').replace('Z', '+00:00'))
    except ValueError:
        raise TimeError('since %r is neither a relative age nor an ISO 8601 time: write for example 30m, 24h, 7d '
                        '(s, m for minutes, h, d, w) or 2024-05-06T12:00:00+00:00' % (text,))
    if moment.tzinfo is None:
        return time.mktime(moment.timetuple()) + moment.microsecond / 1e6
    return moment.timestamp()


def format_epoch(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat().replace('+00:00', 'Z')


def _zone_seconds(zone):
    if not zone or zone in ('Z', b'Z'):
        return 0
    zone = zone.replace(':', '')
    sign = -1 if zone[0] == '-' else 1
    return sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)


def combined_epoch(text):
    """``06/May/2024:12:53:20 +0000`` (bytes or str) -> epoch seconds, or None."""
    if isinstance(text, bytes):
        text = text.decode('ascii', 'replace')
    try:
        moment = calendar.timegm((int(text[7:11]), MONTHS[text[3:6]], int(text[0:2]),
                                  int(text[12:14]), int(text[15:17]), int(text[18:20])))
        return moment - _zone_seconds(text[21:26].strip())
    except (KeyError, ValueError, IndexError):
        return None


def _iso_match_epoch(match):
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    fields = (int(year), int(month), int(day), int(hour), int(minute), int(second))
    try:
        datetime.datetime(*fields)
    except ValueError:
        return None
    subsecond = float('0.' + fraction) if fraction else 0.0
    if zone:
        return calendar.timegm(fields) - _zone_seconds(zone) + subsecond
    return time.mktime(fields + (0, 0, -1)) + subsecond


def text_epoch(line, now=None):
    """The time at the start of a text line (ISO-like or syslog), or None."""
    head = line[:TEXT_TIME_WINDOW]
    match = _ISO.search(head)
    if match:
        return _iso_match_epoch(match)
    match = _SYSLOG.search(head)
    if match and match.group(1) in MONTHS:
        now = time.time() if now is None else now
        year = time.localtime(now).tm_year
        fields = (year, MONTHS[match.group(1)], int(match.group(2)), int(match.group(3)),
                  int(match.group(4)), int(match.group(5)), 0, 0, -1)
        try:
            epoch = time.mktime(fields)
        except (OverflowError, ValueError):
            return None
        # syslog has no year: a time ahead of now is last year's.
        if epoch > now + 86400:
            epoch = time.mktime((year - 1,) + fields[1:])
        return epoch
    return None


def value_epoch(value):
    """A JSON time field: ISO 8601 text or epoch seconds / milliseconds / microseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        if number > 1e14:
            return number / 1e6
        if number > 1e11:
            return number / 1e3
        return number
    if isinstance(value, str):
        match = _ISO.match(value.strip())
        if match:
            return _iso_match_epoch(match)
        try:
            return value_epoch(float(value))
        except ValueError:
            return None
    return None
