# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counters whose memory stays bounded however many distinct keys a log holds.

``TopCounter`` is Space-Saving with batched eviction. Keys are counted into a table (a
``Counter``, so a whole block of keys is counted in C); when the table holds more than
``SLACK * capacity`` keys, only the keys counted above the ``capacity``-th largest count
stay, and that count becomes the ``floor``. A key that enters the table later starts from
the floor, since it may have been dropped with that many before. So every count is an
upper bound of the true count, too high by at most the floor, and while nothing was ever
dropped (``floor == 0``) every count is exact.

``Histogram`` keeps logarithmic buckets 1 % wide, so a percentile is known within 1 %
with a few hundred buckets whatever the number of values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
from collections import Counter

DEFAULT_CAPACITY = 10000
SLACK = 3


class TopCounter(object):
    """Upper-bound counts of the most frequent keys in bounded memory."""

    def __init__(self, capacity=DEFAULT_CAPACITY):
        self.capacity = capacity
        self.counts = Counter()
        self.floor = 0
        # The first ``settled`` keys of the table (a dict keeps insertion order, and nothing
        # is deleted between prunes) kept their estimate through the last prune; the keys
        # after them entered since, at the current floor, which is added when needed.
        self.settled = 0

    @property
    def exact(self):
        return self.floor == 0

    def update(self, keys):
        """Count an iterable of keys, one per occurrence."""
        self.counts.update(keys)
        if len(self.counts) > SLACK * self.capacity:
            self._prune()

    def add(self, key, count=1):
        self.counts[key] += count
        if len(self.counts) > SLACK * self.capacity:
            self._prune()

    def _estimates(self):
        """Keys and their estimates, in table order (all in C)."""
        keys = list(self.counts)
        values = list(self.counts.values())
        if self.floor:
            values[self.settled:] = map(self.floor.__add__, values[self.settled:])
        return keys, values

    def _prune(self):
        keys, values = self._estimates()
        cut = sorted(values)[-self.capacity]
        # Keys at or below the cut go (ties included, so fewer than capacity may stay).
        self.counts = Counter({key: value for key, value in zip(keys, values) if value > cut})
        self.settled = len(self.counts)
        self.floor = max(self.floor, cut)

    def merge(self, other):
        """Add another counter's counts (of other lines). A key one of them dropped may have
        had up to that one's floor there, so the floors add up."""
        mine = dict(zip(*self._estimates()))
        theirs = dict(zip(*other._estimates()))
        merged = Counter()
        for key in set(mine) | set(theirs):
            merged[key] = mine.get(key, self.floor) + theirs.get(key, other.floor)
        self.counts = merged
        self.settled = len(merged)
        self.floor += other.floor
        if len(merged) > SLACK * self.capacity:
            self._prune()

    def most_common(self, count):
        """The ``count`` largest as ``(key, count)``, largest first, ties by key."""
        keys, values = self._estimates()
        return sorted(zip(keys, values), key=lambda pair: (-pair[1], pair[0]))[:count]

    def keys(self):
        return self.counts.keys()


class Histogram(object):
    """Positive values in 1 % logarithmic buckets; zero and negative values in one bucket."""

    RATIO = 1.01
    ZERO = -(10 ** 9)  # the bucket of zero and negative values, below every other

    def __init__(self):
        self.buckets = {}
        self.total = 0
        self.maximum = None
        self._log_ratio = math.log(self.RATIO)

    def index_of(self, value):
        return int(math.floor(math.log(value) / self._log_ratio)) if value > 0 else self.ZERO

    def add(self, value, count=1, index=None):
        """Count ``value``; ``index`` is its bucket when already known (index_of)."""
        if index is None:
            index = self.index_of(value)
        self.buckets[index] = self.buckets.get(index, 0) + count
        self.total += count
        if self.maximum is None or value > self.maximum:
            self.maximum = value

    def merge(self, other):
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        self.total += other.total
        if other.maximum is not None and (self.maximum is None or other.maximum > self.maximum):
            self.maximum = other.maximum

    def percentile(self, percent):
        """A value within 1 % of the one at ``percent`` (0-100), never above the maximum
        seen; None when empty."""
        if not self.total:
            return None
        rank = max(1, int(math.ceil(self.total * percent / 100.0)))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                if index == self.ZERO:
                    return 0.0
                return min(self.RATIO ** (index + 1), self.maximum)
        return self.maximum
