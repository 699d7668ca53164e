# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_scan options: the argument spec, the thresholds per format, and the checks made
before any file is opened. Every error names the option and the fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_combined import TIME_UNITS
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_parallel import default_workers
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_text import (
    DEFAULT_LEVEL_FIELDS, DEFAULT_LEVEL_REGEX, DEFAULT_MESSAGE_FIELDS, DEFAULT_TIME_FIELDS)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_time import TimeError, parse_since
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    ABOVE, Threshold, parse_thresholds, resolve_thresholds, status_argument_spec)

FORMATS = ('combined', 'text', 'json')
MAX_TOP = 1000

# The runbooks alert on a 5xx share above 1 % and page above 5 %, and want the 95th
# percentile response time under 2 s (warning) and 5 s (critical). The share of lines
# that are not in the format warns at 10 %: the format option is probably wrong. The
# other signals are reported for information unless limits are given.
COMBINED_THRESHOLDS = {
    'error_rate': Threshold(1, 5, ABOVE),
    'request_time_p95': Threshold(2, 5, ABOVE),
    'unparsed_rate': Threshold(10, None, ABOVE),
    'client_error_rate': Threshold(None, None, ABOVE),
    'auth_failures': Threshold(None, None, ABOVE),
    'probes': Threshold(None, None, ABOVE),
    'slow_request_rate': Threshold(None, None, ABOVE),
}
TEXT_THRESHOLDS = {
    'error_lines': Threshold(None, None, ABOVE),
    'warning_lines': Threshold(None, None, ABOVE),
}
JSON_THRESHOLDS = dict(TEXT_THRESHOLDS, unparsed_rate=Threshold(10, None, ABOVE))
THRESHOLDS = {'combined': COMBINED_THRESHOLDS, 'text': TEXT_THRESHOLDS, 'json': JSON_THRESHOLDS}

# Options that only mean something for one format.
_FORMAT_OPTIONS = {
    'slow_request_seconds': 'combined',
    'request_time_unit': 'combined',
    'level_regex': 'text',
    'level_field': 'json',
    'message_field': 'json',
    'time_field': 'json',
}


class ScanOptionError(ValueError):
    """An option that cannot work; nothing has been read."""


def log_scan_argument_spec():
    spec = dict(
        paths=dict(type='list', elements='path', required=True),
        format=dict(type='str', choices=list(FORMATS), default='combined'),
        since=dict(type='str'),
        state_file=dict(type='path'),
        thresholds=dict(type='dict'),
        top=dict(type='int', default=10),
        slow_request_seconds=dict(type='float'),
        request_time_unit=dict(type='str', choices=sorted(TIME_UNITS)),
        level_regex=dict(type='str'),
        level_field=dict(type='list', elements='str'),
        message_field=dict(type='list', elements='str'),
        time_field=dict(type='list', elements='str'),
        workers=dict(type='int'),
    )
    spec.update(status_argument_spec())
    return spec


class ScanOptions(object):
    """Checked options, with the defaults of the chosen format filled in."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def check_options(params, now):
    """ScanOptions from module params; raises ScanOptionError."""
    fmt = params['format']
    for option, owner in sorted(_FORMAT_OPTIONS.items()):
        if params.get(option) is not None and owner != fmt:
            raise ScanOptionError('%s applies to format %s only, and format is %s: remove it or set format: %s'
                                  % (option, owner, fmt, owner))
    paths = [path for path in params['paths'] or [] if path]
    if not paths:
        raise ScanOptionError('paths is empty: give log files or globs, for example /var/log/nginx/access.log*')
    top = params['top']
    if not 1 <= top <= MAX_TOP:
        raise ScanOptionError('top must be between 1 and %d, got %d' % (MAX_TOP, top))
    slow = params.get('slow_request_seconds')
    if slow is None:
        slow = 1.0
    if slow <= 0:
        raise ScanOptionError('slow_request_seconds must be more than 0, got %s' % slow)
    workers = params.get('workers')
    if workers is None:
        workers = default_workers()
    if not 1 <= workers <= 64:
        raise ScanOptionError('workers must be between 1 and 64, got %d' % workers)
    since = None
    if params.get('since') not in (None, ''):
        try:
            since = parse_since(params['since'], now)
        except TimeError as exc:
            raise ScanOptionError('%s' % exc)
    level_regex = params.get('level_regex') or DEFAULT_LEVEL_REGEX
    try:
        re.compile(level_regex)
    except re.error as exc:
        raise ScanOptionError('level_regex %r is not a valid regular expression: %s' % (level_regex, exc))
    for option in ('level_field', 'message_field', 'time_field'):
        if params.get(option) is not None and not [name for name in params[option] if name]:
            raise ScanOptionError('%s is empty: name at least one JSON field, or leave it unset' % option)
    defaults = THRESHOLDS[fmt]
    try:
        thresholds = resolve_thresholds(defaults, parse_thresholds(defaults, params.get('thresholds')))
    except ValueError as exc:
        raise ScanOptionError('%s' % exc)
    return ScanOptions(
        paths=paths,
        format=fmt,
        since=since,
        state_file=params.get('state_file') or None,
        thresholds=thresholds,
        top=top,
        slow_request_seconds=slow,
        request_time_unit=params.get('request_time_unit') or 'seconds',
        level_regex=level_regex,
        level_fields=[name for name in params.get('level_field') or DEFAULT_LEVEL_FIELDS if name],
        message_fields=[name for name in params.get('message_field') or DEFAULT_MESSAGE_FIELDS if name],
        time_fields=[name for name in params.get('time_field') or DEFAULT_TIME_FIELDS if name],
        workers=workers,
    )
