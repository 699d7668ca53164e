# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx / Apache access logs in the combined (or common) format.

    203.0.113.9 - - [06/May/2024:12:53:20 +0000] "GET /cart?id=7 HTTP/1.1" 200 5120 "-" "curl/8.4" 0.069

Speed comes from doing the per-line work in C: one regular-expression pass per block finds
every line's client, time, request, path, status and last field (measured quicker than
``str`` methods on each line), ``Counter.update`` counts them, ``itertools.compress``
picks the few lines that need a closer look (401/403, probes, slow requests), and Python
code runs only for those and for values never seen before. The last field is the request
time when it is a number (nginx ``$request_time``; Apache ``%D`` with request_time_unit),
optionally written ``rt=0.069``, like ``awk '{print $NF}'``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import heapq
import math
import re
from collections import Counter
from itertools import compress, islice
from operator import itemgetter

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_counters import (
    DEFAULT_CAPACITY, Histogram, TopCounter)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_probes import (
    KINDS, candidates, classify, decode)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_time import combined_epoch

# Each match starts at the newline before its line, so matches never span lines and a
# literal first character lets the engine skip ahead fast. Groups: client, time, request,
# path (the request's target up to "?", at most MAX_KEY bytes), status, last field.
# Possessive quantifiers (Python 3.11+) avoid backtracking; older Pythons get the same
# pattern without them.
MAX_KEY = 200
_PATTERN = (r'\n([^ \n]{1,255}+) [^\[\n]*+\[([^\]\n]{0,64}+)\] '
            r'"((?:[A-Z]++ )?([^ ?"\\\n]{0,%d}+)(?:[^"\\\n]++|\\.)*+)" (\d{3}) [^ \n]++'
            r'(?:[^\n]* ([^ \n]*))?(?=\n)' % MAX_KEY)
try:
    LINE = re.compile(_PATTERN.encode())
except re.error:
    LINE = re.compile(_PATTERN.replace('++', '+').replace('*+', '*').replace('}+', '}').encode())
_CLIENT, _TIME, _REQUEST, _PATH, _STATUS, _LAST = (itemgetter(index) for index in range(6))

AUTH_STATUSES = frozenset((b'401', b'403'))
TIME_UNITS = {'seconds': 1.0, 'milliseconds': 1e-3, 'microseconds': 1e-6}
SAMPLES = 5
# Distinct request-time fields counted before they go into the histogram.
_MAX_FIELDS = 50000


def _text(value, limit=MAX_KEY):
    text = value.decode('utf-8', 'backslashreplace')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _seconds(field, factor):
    if not field or field[-1:] == b'"':
        return None
    if b'=' in field:
        field = field.rpartition(b'=')[2]
    try:
        value = float(field)
    except ValueError:
        return None
    if math.isnan(value) or value < 0:
        return None
    return value * factor


def _sample(match, decoded=False, seconds=None):
    request = match[2]
    sample = {
        'client': _text(match[0]),
        'time': match[1].decode('ascii', 'replace'),
        'request': _text(decode(request) if decoded else request),
        'status': int(match[4]),
    }
    if seconds is not None:
        sample['seconds'] = round(seconds, 6)
    return sample


class CombinedScanner(object):
    """Figures of combined access-log lines, fed block by block; scanners of parts of the
    logs can be merged (``merge``), in the order of the parts."""

    COUNTERS = ('clients', 'paths', 'auth_clients', 'probe_clients', 'slow_paths')
    TOTALS = ('lines', 'requests', 'unparsed', 'before_since', 'probe_lines', 'timed', 'slow')

    def __init__(self, top=10, slow_seconds=1.0, time_unit='seconds', since=None, capacity=DEFAULT_CAPACITY):
        self.top = top
        self.slow_seconds = slow_seconds
        self.factor = TIME_UNITS[time_unit]
        self.since = since
        for name in self.TOTALS:
            setattr(self, name, 0)
        self.status = Counter()
        for name in self.COUNTERS:
            setattr(self, name, TopCounter(capacity))
        self.probe_counts = dict((kind, 0) for kind in KINDS)
        self.probe_samples = dict((kind, []) for kind in KINDS)
        self.durations = Histogram()
        self.slowest = []
        self._sequence = 0
        self._caches()

    def _caches(self):
        self._epochs = {}
        self._probes = {}
        self._fields = Counter()
        self._slow_fields = set()

    def __getstate__(self):
        self._fold_times()
        state = dict(self.__dict__)
        for name in ('_epochs', '_probes', '_fields', '_slow_fields'):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._caches()

    # --- per block ---------------------------------------------------------------------

    def scan(self, block):
        """Count a block of whole lines (bytes ending with a newline)."""
        matches = LINE.findall(b'\n' + block)
        lines = block.count(b'\n')
        self.unparsed += lines - len(matches)
        removed = 0
        if self.since is not None and matches:
            matches, removed = self._in_window(matches)
        self.lines += lines - removed
        if not matches:
            return
        self.requests += len(matches)
        statuses = Counter(map(_STATUS, matches))
        self.status.update(statuses)
        self.clients.update(map(_CLIENT, matches))
        self.paths.update(map(_PATH, matches))
        if b'401' in statuses or b'403' in statuses:
            self.auth_clients.update(compress(map(_CLIENT, matches),
                                              map(AUTH_STATUSES.__contains__, map(_STATUS, matches))))
        self._find_probes(matches)
        self._times(matches)

    def _in_window(self, matches):
        old = set()
        epochs = self._epochs
        stamps = set(map(_TIME, matches))
        for stamp in stamps:
            epoch = epochs.get(stamp)
            if epoch is None:
                if len(epochs) > 100000:
                    epochs.clear()
                epoch = epochs[stamp] = combined_epoch(stamp)
            if epoch is not None and epoch < self.since:
                old.add(stamp)
        if not old:
            return matches, 0
        recent = stamps - old
        kept = list(compress(matches, map(recent.__contains__, map(_TIME, matches))))
        removed = len(matches) - len(kept)
        self.before_since += removed
        return kept, removed

    def _find_probes(self, matches):
        probes = {}
        cache = self._probes
        for request in candidates(map(_REQUEST, matches)):
            kinds = cache.get(request)
            if kinds is None:
                if len(cache) > 10000:
                    cache.clear()
                kinds = cache[request] = classify(request)
            if kinds:
                probes[request] = kinds
        if not probes:
            return
        for match in compress(matches, map(probes.__contains__, map(_REQUEST, matches))):
            self.probe_lines += 1
            self.probe_clients.add(match[0])
            for kind in probes[match[2]]:
                self.probe_counts[kind] += 1
                samples = self.probe_samples[kind]
                if len(samples) < SAMPLES:
                    samples.append(_sample(match, decoded=True))

    def _times(self, matches):
        # The last fields are counted in C into one table; Python looks at each distinct
        # field once, when it first appears (a dict keeps insertion order, so the new ones
        # are the last), to note the slow ones. The table goes into the histogram when it
        # grows large and at the end.
        fields = self._fields
        known = len(fields)
        fields.update(map(_LAST, matches))
        if len(fields) > known:
            for field in list(islice(fields, known, None)):
                value = _seconds(field, self.factor)
                if value is not None and value >= self.slow_seconds:
                    self._slow_fields.add(field)
        if self._slow_fields:
            for match in compress(matches, map(self._slow_fields.__contains__, map(_LAST, matches))):
                self.slow += 1
                self.slow_paths.add(match[3])
                self._keep_slow(_seconds(match[5], self.factor), match)
        if len(fields) > _MAX_FIELDS:
            self._fold_times()

    def _fold_times(self):
        for field, count in self._fields.items():
            value = _seconds(field, self.factor)
            if value is not None:
                self.timed += count
                self.durations.add(value, count)
        self._fields = Counter()
        self._slow_fields = set()

    def _keep_slow(self, value, match):
        self._sequence += 1
        entry = (value, -self._sequence, match)
        if len(self.slowest) < self.top:
            heapq.heappush(self.slowest, entry)
        elif entry > self.slowest[0]:
            heapq.heapreplace(self.slowest, entry)

    def merge(self, other):
        """Add the figures of a scanner of later lines."""
        other._fold_times()  # pylint: disable=protected-access
        for name in self.TOTALS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.status.update(other.status)
        for name in self.COUNTERS:
            getattr(self, name).merge(getattr(other, name))
        for kind in KINDS:
            self.probe_counts[kind] += other.probe_counts[kind]
            self.probe_samples[kind] = (self.probe_samples[kind] + other.probe_samples[kind])[:SAMPLES]
        self.durations.merge(other.durations)
        for value, _order, match in sorted(other.slowest, reverse=True):
            self._keep_slow(value, match)

    # --- result ------------------------------------------------------------------------

    def _top(self, counter, label):
        return [{label: _text(key) or '-', 'count': count} for key, count in counter.most_common(self.top)]

    def figures(self):
        """The format's result keys."""
        self._fold_times()
        codes = dict((code.decode(), count) for code, count in sorted(self.status.items()))
        classes = {}
        for code, count in codes.items():
            name = code[0] + 'xx'
            classes[name] = classes.get(name, 0) + count
        server_errors = classes.get('5xx', 0)
        client_errors = classes.get('4xx', 0)
        auth = dict((code.decode(), self.status.get(code, 0)) for code in sorted(AUTH_STATUSES))
        counters = (('top_clients', self.clients), ('top_paths', self.paths),
                    ('top_auth_failure_clients', self.auth_clients), ('probes.top_clients', self.probe_clients),
                    ('slow_requests.top_paths', self.slow_paths))
        slowest = [_sample(match, seconds=value) for value, _order, match in sorted(self.slowest, reverse=True)]
        figures = {
            'requests': self.requests,
            'status_counts': {'codes': codes, 'classes': classes},
            'error_rate': _percent(server_errors, self.requests),
            'server_errors': server_errors,
            'client_errors': client_errors,
            'client_error_rate': _percent(client_errors, self.requests),
            'auth_failures': dict(auth, total=sum(auth.values())),
            'top_clients': self._top(self.clients, 'client'),
            'top_paths': self._top(self.paths, 'path'),
            'top_auth_failure_clients': self._top(self.auth_clients, 'client'),
            'probes': {
                'lines': self.probe_lines,
                'kinds': dict((kind, {'count': self.probe_counts[kind], 'samples': self.probe_samples[kind]})
                              for kind in KINDS),
                'top_clients': self._top(self.probe_clients, 'client'),
            },
            'request_time': None,
            'slow_requests': None,
            'approximate': sorted(name for name, counter in counters if not counter.exact),
        }
        if self.timed:
            figures['request_time'] = {
                'requests': self.timed,
                'max': round(self.durations.maximum, 6),
                'p50': _round(self.durations.percentile(50)),
                'p95': _round(self.durations.percentile(95)),
                'p99': _round(self.durations.percentile(99)),
            }
            figures['slow_requests'] = {
                'threshold_seconds': self.slow_seconds,
                'count': self.slow,
                'rate': _percent(self.slow, self.timed),
                'top_paths': self._top(self.slow_paths, 'path'),
                'slowest': slowest,
            }
        return figures


def _percent(part, whole):
    return round(100.0 * part / whole, 3) if whole else 0.0


def _round(value):
    # Percentiles are known within 1 %: four significant digits say all there is.
    return None if value is None else float('%.4g' % value)
