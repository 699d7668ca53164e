# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""redis_cleanup options, checked and normalised before connecting (pure, no I/O).

Every error names the option and the fix; nothing has been deleted when one is raised.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import DurationError, parse_seconds
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import ABOVE, Threshold, parse_thresholds

FLAVOURS = ('bull', 'bullmq')
CLEAN_STATES = ('completed', 'failed')
BY_CHOICES = ('field', 'idletime')
UNIT_CHOICES = ('auto', 'ms', 's')
QUEUE_SIGNALS = ('waiting', 'active', 'delayed', 'completed', 'failed')

# The runbook's queue.clean(24 h, 'completed') and queue.clean(7 d, 'failed').
DEFAULT_OLDER_THAN = {'completed': '24h', 'failed': '7d'}
# A backlog of a thousand waiting jobs, or fifty failures kept for a week, is worth a look.
QUEUE_THRESHOLDS = {
    'waiting': Threshold(1000, 10000, ABOVE),
    'active': Threshold(None, None, ABOVE),
    'delayed': Threshold(None, None, ABOVE),
    'completed': Threshold(None, None, ABOVE),
    'failed': Threshold(50, 500, ABOVE),
}
MEMORY_THRESHOLDS = {'memory': Threshold(80, 90, ABOVE)}


class CleanupOptionError(ValueError):
    """Options that cannot work; raised before connecting."""


def matches_every_key(pattern):
    """True for glob patterns that match any key (``*``, ``**``)."""
    return pattern.replace('*', '') == ''


def _seconds(value, option, allow_zero=False):
    if isinstance(value, bool) or value is None:
        raise CleanupOptionError('%s is required: give seconds (86400) or a duration such as 24h or 7d' % option)
    if isinstance(value, (int, float)) or ('%s' % value).strip().lstrip('-').replace('.', '', 1).isdigit():
        number = float(value)
        if number < 0 or (number == 0 and not allow_zero):
            raise CleanupOptionError('%s %s is %s: give seconds above zero (86400 for a day) or a duration such '
                                     'as 24h or 7d' % (option, value, 'negative' if number < 0 else 'zero'))
    try:
        return parse_seconds(value, option)
    except DurationError as exc:
        raise CleanupOptionError('%s' % exc)


def _pattern(value, option, allow_all, what):
    if not isinstance(value, str) or not value.strip():
        raise CleanupOptionError('%s must be a non-empty key pattern such as analytics:* (Redis SCAN MATCH glob)'
                                 % option)
    if matches_every_key(value) and not allow_all:
        raise CleanupOptionError(
            '%s %r matches every key, so it would %s the whole database: give a narrower pattern such as '
            'analytics:*, or set allow_all_keys: true if that is really meant' % (option, value, what))
    return value


class KeyRule(object):
    """One rule over the keys a SCAN pattern matches."""

    def __init__(self, kind, index, pattern, **settings):
        self.kind = kind
        self.index = index
        self.pattern = pattern
        self.seconds = settings.get('seconds')
        self.by = settings.get('by')
        self.field = settings.get('field')
        self.unit = settings.get('unit', 'auto')
        self.idle_for = settings.get('idle_for')

    @property
    def option(self):
        return '%s[%d]' % (self.kind, self.index)


class QueueSpec(object):
    def __init__(self, index, name, flavour, prefix, clean, thresholds):
        self.index = index
        self.name = name
        self.flavour = flavour
        self.prefix = prefix
        self.clean = clean  # [(state, older_than text, seconds)]
        self.thresholds = thresholds

    @property
    def key_prefix(self):
        return '%s:%s:' % (self.prefix, self.name)

    @property
    def label(self):
        return '%s:%s' % (self.prefix, self.name)


class Options(object):
    def __init__(self, params):
        allow_all = bool(params.get('allow_all_keys'))
        self.rules = []
        for index, pattern in enumerate(params.get('delete_without_ttl') or []):
            self.rules.append(KeyRule('delete_without_ttl', index, _pattern(
                pattern, 'delete_without_ttl[%d]' % index, allow_all, 'delete')))
        for index, rule in enumerate(params.get('expire_without_ttl') or []):
            option = 'expire_without_ttl[%d]' % index
            seconds = _seconds(rule.get('seconds'), option + '.seconds')
            self.rules.append(KeyRule('expire_without_ttl', index, _pattern(
                rule.get('pattern'), option + '.pattern', allow_all, 'set a TTL on'),
                seconds=int(seconds) if seconds == int(seconds) else int(seconds) + 1))
        for index, rule in enumerate(params.get('idle_sessions') or []):
            self.rules.append(self._session_rule(index, rule, allow_all))
        self.queues = [self._queue(index, queue, params) for index, queue in enumerate(params.get('queues') or [])]
        labels = [queue.label for queue in self.queues]
        for queue in self.queues:
            if labels.count(queue.label) > 1:
                raise CleanupOptionError('queues: %s is listed twice: list each queue once' % queue.label)
        self.batch_size = self._positive(params, 'batch_size', 500)
        self.pause = self._non_negative(params, 'pause', 0)
        self.max_keys_per_second = params.get('max_keys_per_second')
        if self.max_keys_per_second is not None and self.max_keys_per_second <= 0:
            raise CleanupOptionError('max_keys_per_second must be above zero, got %s: leave it unset for no limit'
                                     % self.max_keys_per_second)
        self.largest_keys = self._non_negative(params, 'largest_keys', 10)
        self.largest_keys_sample = self._positive(params, 'largest_keys_sample', 10000)
        self.diff_max_keys = self._non_negative(params, 'diff_max_keys', 50)
        try:
            self.memory_thresholds = parse_thresholds(MEMORY_THRESHOLDS, {'memory': params.get('memory_thresholds')}
                                                      if params.get('memory_thresholds') else None, 'memory_thresholds')
        except ValueError as exc:
            raise CleanupOptionError(('%s' % exc).replace('memory_thresholds.memory', 'memory_thresholds'))
        self.queue_thresholds = self._thresholds(params.get('queue_thresholds'), 'queue_thresholds')

    @staticmethod
    def _positive(params, name, default):
        value = params.get(name)
        value = default if value is None else value
        if value <= 0:
            raise CleanupOptionError('%s must be 1 or more, got %s' % (name, value))
        return value

    @staticmethod
    def _non_negative(params, name, default):
        value = params.get(name)
        value = default if value is None else value
        if value < 0:
            raise CleanupOptionError('%s must be 0 or more, got %s' % (name, value))
        return value

    @staticmethod
    def _thresholds(value, option):
        try:
            return parse_thresholds(QUEUE_THRESHOLDS, value, option)
        except ValueError as exc:
            raise CleanupOptionError('%s' % exc)

    @staticmethod
    def _session_rule(index, rule, allow_all):
        option = 'idle_sessions[%d]' % index
        by = rule.get('by') or 'field'
        if by not in BY_CHOICES:
            raise CleanupOptionError('%s.by %r is not known: use field (a timestamp in the value) or idletime '
                                     '(OBJECT IDLETIME)' % (option, by))
        unit = rule.get('timestamp_unit') or 'auto'
        if unit not in UNIT_CHOICES:
            raise CleanupOptionError('%s.timestamp_unit %r is not known: use auto, ms or s' % (option, unit))
        field = rule.get('field') or 'lastActivity'
        if by == 'field' and any(not part for part in field.split('.')):
            raise CleanupOptionError('%s.field %r has an empty part: write a name such as lastActivity or a '
                                     'dotted path such as session.lastActivity' % (option, field))
        seconds = _seconds(rule.get('idle_for'), option + '.idle_for')
        return KeyRule('idle_sessions', index, _pattern(rule.get('pattern'), option + '.pattern', allow_all, 'delete'),
                       by=by, field=field if by == 'field' else None, unit=unit, seconds=seconds,
                       idle_for=rule.get('idle_for'))

    def _queue(self, index, queue, params):
        option = 'queues[%d]' % index
        name = queue.get('name')
        if not name or not isinstance(name, str):
            raise CleanupOptionError('%s.name is required: the queue name given to new Queue(name)' % option)
        flavour = queue.get('flavour') or 'bull'
        if flavour not in FLAVOURS:
            raise CleanupOptionError('%s.flavour %r is not known: use bull (Bull 3 and 4, package bull) or bullmq '
                                     '(package bullmq)' % (option, flavour))
        prefix = queue.get('prefix') or 'bull'
        states = queue.get('clean')
        states = list(CLEAN_STATES) if states is None else states
        clean = []
        for state in states:
            if state not in CLEAN_STATES:
                raise CleanupOptionError('%s.clean %r is not a state to clean: use completed and/or failed (active, '
                                         'waiting and delayed jobs are never removed)' % (option, state))
            key = '%s_older_than' % state
            text = queue.get(key)
            text = DEFAULT_OLDER_THAN[state] if text is None else text
            clean.append((state, '%s' % text, _seconds(text, '%s.%s' % (option, key))))
        thresholds = self._thresholds(queue.get('thresholds'), option + '.thresholds')
        return QueueSpec(index, name, flavour, prefix, clean, thresholds)
