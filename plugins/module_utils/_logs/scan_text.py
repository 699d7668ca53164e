# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application logs: plain text lines with a level word, or JSON lines.

Both count lines per level and group error messages after folding what varies between
occurrences of the same error (numbers, hex ids, UUIDs, IP addresses, quoted strings), so
``user 42 not found`` and ``user 97 not found`` are one entry, ``user <n> not found``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_counters import DEFAULT_CAPACITY, TopCounter
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_time import text_epoch, value_epoch

DEFAULT_LEVEL_REGEX = (r'(?i)\b(trace|debug|info|notice|warn(?:ing)?|err(?:or)?|crit(?:ical)?|fatal|alert|emerg(?:ency)?'
                       r'|panic|severe)\b')
LEVEL_NAMES = {'warn': 'warning', 'err': 'error', 'crit': 'critical', 'emerg': 'emergency', 'severe': 'error'}
# Levels whose messages are grouped in top_errors.
ERROR_LEVELS = frozenset(('error', 'critical', 'fatal', 'alert', 'emergency', 'panic'))
WARNING_LEVELS = frozenset(('warning',))
# pino / bunyan numeric levels.
NUMERIC_LEVELS = {10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal'}
NO_LEVEL = 'none'
DEFAULT_LEVEL_FIELDS = ['level', 'severity', 'log.level', 'levelname']
DEFAULT_MESSAGE_FIELDS = ['message', 'msg', 'event', 'error']
DEFAULT_TIME_FIELDS = ['time', 'timestamp', '@timestamp', 'ts']

# Folded in this order: a quoted string may hold any of the others.
_FOLDS = (
    (re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''), '<str>'),
    (re.compile(r'\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b'), '<uuid>'),
    (re.compile(r'\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b|\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b'
                r'|\[?\b(?:[0-9a-fA-F]{1,4}:)+:(?:[0-9a-fA-F]{1,4}:?)*\b\]?(?::\d{1,5})?'), '<ip>'),
    (re.compile(r'\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b'), '<hex>'),
    (re.compile(r'\d+(?:\.\d+)*'), '<n>'),
)
MAX_MESSAGE = 200
_FOLD_INPUT = 1000
SAMPLE_CHARS = 300


def fold(message):
    """The message with its varying parts replaced, cut to MAX_MESSAGE characters."""
    text = ' '.join(message[:_FOLD_INPUT].split())
    for pattern, placeholder in _FOLDS:
        text = pattern.sub(placeholder, text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + '...'


def canonical_level(name):
    if isinstance(name, bool):
        return NO_LEVEL
    if isinstance(name, (int, float)):
        return NUMERIC_LEVELS.get(int(name), ('%s' % name).lower())
    name = ('%s' % name).strip().lower()
    if name.isdigit():
        return NUMERIC_LEVELS.get(int(name), name)
    return LEVEL_NAMES.get(name, name)[:32] or NO_LEVEL


def _cut(text, limit=SAMPLE_CHARS):
    return text if len(text) <= limit else text[:limit - 3] + '...'


class _MessageScanner(object):
    """What text and JSON lines share: levels, error groups, the time window."""

    def __init__(self, top=10, since=None, capacity=DEFAULT_CAPACITY):
        self.top = top
        self.since = since
        self.lines = 0
        self.unparsed = 0
        self.before_since = 0
        self.undated = 0
        self.levels = {}
        self.errors = TopCounter(capacity)
        self.samples = {}
        self.capacity = capacity

    def _level(self, level, message):
        self.levels[level] = self.levels.get(level, 0) + 1
        if level in ERROR_LEVELS:
            key = fold(message)
            self.errors.add(key)
            if key not in self.samples:
                if len(self.samples) > 4 * self.capacity:
                    kept = self.errors.keys()
                    self.samples = dict((name, text) for name, text in self.samples.items() if name in kept)
                self.samples[key] = _cut(' '.join(message.split()))

    def _too_old(self, epoch):
        if self.since is None:
            return False
        if epoch is None:
            self.undated += 1
            return False
        if epoch < self.since:
            self.before_since += 1
            return True
        return False

    def merge(self, other):
        """Add the figures of a scanner of later lines."""
        for name in ('lines', 'unparsed', 'before_since', 'undated'):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for level, count in other.levels.items():
            self.levels[level] = self.levels.get(level, 0) + count
        self.errors.merge(other.errors)
        for key, sample in other.samples.items():
            self.samples.setdefault(key, sample)
        kept = self.errors.keys()
        self.samples = dict((key, sample) for key, sample in self.samples.items() if key in kept)

    def figures(self):
        levels = dict(sorted(self.levels.items()))
        return {
            'levels': levels,
            'error_lines': sum(count for level, count in levels.items() if level in ERROR_LEVELS),
            'warning_lines': sum(count for level, count in levels.items() if level in WARNING_LEVELS),
            'top_errors': [{'message': key, 'count': count, 'sample': self.samples.get(key)}
                           for key, count in self.errors.most_common(self.top)],
            'undated': self.undated,
            'approximate': [] if self.errors.exact else ['top_errors'],
        }


class TextScanner(_MessageScanner):
    """Lines such as ``2024-05-06 12:53:20,123 ERROR [db] connection 7 lost``: the level is
    the first match of ``level_regex`` (its first group, or the whole match), the message
    what follows it. A line without a level (a stack-trace line) counts under ``none`` and
    takes the time of the line before it."""

    def __init__(self, level_regex=DEFAULT_LEVEL_REGEX, **kwargs):
        super(TextScanner, self).__init__(**kwargs)
        self.level_regex = re.compile(level_regex)
        self.last_epoch = None

    def scan(self, block):
        search = self.level_regex.search
        for line in block.decode('utf-8', 'replace').split('\n')[:-1]:
            if not line.strip():
                continue
            if self.since is not None:
                epoch = text_epoch(line)
                if epoch is None:
                    epoch = self.last_epoch
                else:
                    self.last_epoch = epoch
                if self._too_old(epoch):
                    continue
            self.lines += 1
            match = search(line)
            if match is None:
                self._level(NO_LEVEL, line)
                continue
            word = match.group(1) if match.groups() else match.group(0)
            message = line[match.end():].lstrip(' \t:]|>-')
            self._level(canonical_level(word), message)


def _field(document, names):
    """The first of ``names`` present in a JSON object; a dotted name is tried as one key,
    then as a path (``log.level`` is {"log.level": x} or {"log": {"level": x}})."""
    for name in names:
        if name in document:
            return document[name]
        value = document
        for part in name.split('.'):
            if not isinstance(value, dict) or part not in value:
                value = None
                break
            value = value[part]
        if value is not None:
            return value
    return None


class JsonScanner(_MessageScanner):
    """One JSON object per line; the level, message and time come from the first field
    present of each list. A line that is not a JSON object is counted as unparsed."""

    def __init__(self, level_fields=None, message_fields=None, time_fields=None, **kwargs):
        super(JsonScanner, self).__init__(**kwargs)
        self.level_fields = level_fields or DEFAULT_LEVEL_FIELDS
        self.message_fields = message_fields or DEFAULT_MESSAGE_FIELDS
        self.time_fields = time_fields or DEFAULT_TIME_FIELDS

    def scan(self, block):
        loads = json.loads
        for line in block.split(b'\n')[:-1]:
            if not line.strip():
                continue
            try:
                document = loads(line)
            except ValueError:
                document = None
            if not isinstance(document, dict):
                self.unparsed += 1
                self.lines += 1
                continue
            if self.since is not None and self._too_old(value_epoch(_field(document, self.time_fields))):
                continue
            self.lines += 1
            level = _field(document, self.level_fields)
            message = _field(document, self.message_fields)
            if message is None:
                message = ''
            elif not isinstance(message, str):
                message = json.dumps(message, sort_keys=True)
            self._level(NO_LEVEL if level is None else canonical_level(level), message)
