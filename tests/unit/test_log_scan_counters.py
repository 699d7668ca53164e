# -*- coding: utf-8 -*-
"""Bounded counters: exact while the keys fit, upper bounds after, mergeable; percentiles within 1 %."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_counters import Histogram, TopCounter


def feed(counter, keys, block=50):
    for start in range(0, len(keys), block):
        counter.update(keys[start:start + block])


def test_exact_while_distinct_keys_fit():
    keys = ['k%d' % (n % 25) for n in range(1000)] + ['hot'] * 70
    counter = TopCounter(capacity=10)  # keeps up to 30 keys before pruning
    feed(counter, keys)
    assert counter.exact
    assert counter.most_common(3) == [('hot', 70), ('k0', 40), ('k1', 40)]
    assert dict(counter.most_common(100)) == dict(Counter(keys))


def test_heavy_hitters_survive_many_distinct_keys_with_upper_bounds():
    rnd = random.Random(3)
    keys = ['rare%d' % rnd.randint(0, 100000) for _number in range(20000)]
    keys += ['heavy%d' % n for n in range(5) for _copy in range(300 + 50 * n)]
    rnd.shuffle(keys)
    counter = TopCounter(capacity=50)
    feed(counter, keys, block=200)
    truth = Counter(keys)
    assert not counter.exact and counter.floor > 0
    top = counter.most_common(5)
    assert sorted(key for key, _count in top) == ['heavy%d' % n for n in range(5)]
    for key, estimate in counter.most_common(200):
        assert truth[key] <= estimate <= truth[key] + counter.floor, key


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=600), st.integers(min_value=1, max_value=8),
       st.integers(min_value=1, max_value=40))
def test_every_estimate_is_an_upper_bound(values, capacity, block):
    counter = TopCounter(capacity=capacity)
    feed(counter, values, block)
    truth = Counter(values)
    for key, estimate in counter.most_common(10 ** 6):
        assert truth[key] <= estimate <= truth[key] + counter.floor
    assert len(counter.counts) <= 3 * capacity + block
    if counter.exact:
        assert dict(counter.most_common(10 ** 6)) == dict(truth)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=300),
       st.lists(st.integers(min_value=0, max_value=40), max_size=300))
def test_merge_keeps_upper_bounds(first, second):
    left, right = TopCounter(capacity=4), TopCounter(capacity=4)
    feed(left, first, 7)
    feed(right, second, 7)
    left.merge(right)
    truth = Counter(first + second)
    for key, estimate in left.most_common(10 ** 6):
        assert truth[key] <= estimate <= truth[key] + left.floor


def test_merge_of_exact_counters_is_exact():
    left, right = TopCounter(), TopCounter()
    left.update(['a', 'b', 'a'])
    right.update(['b', 'c'])
    left.merge(right)
    assert left.exact and left.most_common(5) == [('a', 2), ('b', 2), ('c', 1)]


def test_histogram_percentiles_within_one_percent():
    rnd = random.Random(5)
    values = [rnd.expovariate(5.0) for _number in range(20000)] + [0.0] * 100
    histogram = Histogram()
    for value in values:
        histogram.add(value)
    values.sort()
    for percent in (50, 95, 99):
        exact = values[int(len(values) * percent / 100.0) - 1]
        assert abs(histogram.percentile(percent) - exact) <= 0.011 * exact, percent
    assert histogram.percentile(100) == max(values) == histogram.maximum
    assert histogram.percentile(0.1) == 0.0
    assert Histogram().percentile(95) is None


def test_histogram_merge():
    one, two, both = Histogram(), Histogram(), Histogram()
    for value in (0.1, 0.2, 0.3):
        one.add(value)
        both.add(value)
    for value in (4.0, 5.0):
        two.add(value)
        both.add(value)
    one.merge(two)
    assert one.buckets == both.buckets and one.total == 5 and one.maximum == 5.0
