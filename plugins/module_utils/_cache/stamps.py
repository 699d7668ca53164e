# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Timestamps inside session values: a JSON field of a string value or a hash field (pure, no I/O)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import datetime
import json
import math
import re

# Epoch numbers at or above this are milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973.
MS_FROM = 1e11

_ISO = re.compile(r'^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?'
                  r'\s*(Z|[+-]\d{2}(?::?\d{2})?)?$', re.IGNORECASE)


def parse_iso(text):
    """Seconds since the epoch of an ISO 8601 date or date-time; no offset means UTC. None if not one."""
    match = _ISO.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                   int(second or 0))
    except ValueError:
        return None
    seconds = calendar.timegm(moment.timetuple()) + (float('0.' + fraction) if fraction else 0.0)
    if zone and zone.upper() != 'Z':
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        offset = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
        seconds -= sign * offset
    return seconds


def to_epoch_seconds(value, unit='auto'):
    """Seconds since the epoch of a number (seconds or milliseconds), a numeric text or an ISO 8601 text.
    ``unit`` auto reads numbers of 1e11 and above as milliseconds. None when it is no timestamp."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode('utf-8')
        except UnicodeDecodeError:
            return None
    if not isinstance(value, (int, float)):
        text = ('%s' % value).strip()
        try:
            value = float(text)
        except ValueError:
            return parse_iso(text)
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return None
    if unit == 'ms' or (unit == 'auto' and abs(number) >= MS_FROM):
        return number / 1000.0
    return number


def _walk(document, path):
    for part in path:
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def field_value(raw, path):
    """The value at the dotted ``path`` (a list of names) of a JSON document given as bytes or text;
    None when the value is not JSON, or has no such field."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode('utf-8')
        except UnicodeDecodeError:
            return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return _walk(document, path)


def hash_field_value(raw, rest):
    """The value of a hash field: the field itself when ``rest`` (the remaining dotted path) is empty,
    else the value at ``rest`` of the field's JSON."""
    if raw is None:
        return None
    if not rest:
        return raw
    return field_value(raw, rest)
