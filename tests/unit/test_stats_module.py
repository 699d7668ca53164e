# -*- coding: utf-8 -*-
"""db_stats' documentation, examples and option checks agree with its code."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import (
    DEFAULT_THRESHOLDS, ENGINE_SECTIONS, SECTIONS, StatsError)
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.run import COLLECTORS, check_options
from ansible_collections.caretaker.maintenance.plugins.modules import db_stats

MODULE = 'caretaker.maintenance.db_stats'


def params(**overrides):
    base = {'top': 10, 'slow_query_min_ms': 1000.0, 'include': None, 'thresholds': None, 'snapshot_file': ''}
    base.update(overrides)
    return base


def test_every_threshold_signal_is_documented():
    thresholds = yaml.safe_load(db_stats.DOCUMENTATION)['options']['thresholds']['description']
    text = ' '.join(thresholds)
    for signal in DEFAULT_THRESHOLDS:
        assert 'C(%s)' % signal in text, signal


def test_sections_match_the_collectors():
    documented = yaml.safe_load(db_stats.DOCUMENTATION)['options']['include']['choices']
    assert documented == list(SECTIONS)
    for engine, sections in ENGINE_SECTIONS.items():
        assert set(sections) - {'growth'} == set(COLLECTORS[engine]), engine


def test_examples_use_only_real_options():
    spec = db_stats.argument_spec()
    tasks = [task[MODULE] for task in yaml.safe_load(db_stats.EXAMPLES) if MODULE in task]
    assert len(tasks) == 3
    for args in tasks:
        assert set(args) <= set(spec), set(args) - set(spec)
        assert set(args.get('include') or ()) <= set(SECTIONS)
        check_options(params(**dict((key, args[key]) for key in ('top', 'thresholds', 'include') if key in args)))


@pytest.mark.parametrize('overrides, message', [
    ({'top': 0}, 'top must be 1 or more, got 0'),
    ({'slow_query_min_ms': -1.0}, 'slow_query_min_ms must be 0 or more milliseconds'),
    ({'include': []}, 'include is empty: leave it unset for every section, or name some of sizes, growth'),
    ({'thresholds': {'latency': {'warning': 1}}}, 'thresholds.latency is not a signal of this check: use one of'),
    ({'thresholds': {'connections': {'warning': 'many'}}}, 'thresholds.connections.warning must be a number'),
    ({'thresholds': {'cache_hit_ratio': {'warning': 80, 'critical': 90}}}, 'critical 90.0 must be at or below warning'),
])
def test_bad_options_name_the_option(overrides, message):
    with pytest.raises(StatsError, match=message):
        check_options(params(**overrides))


def test_empty_snapshot_file_means_none():
    assert check_options(params(snapshot_file=''))['snapshot_file'] is None
