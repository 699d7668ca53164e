# -*- coding: utf-8 -*-
"""db_stats' snapshot file and the growth computed from it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._stats import snapshot

DAY = 86400.0


def sizes(databases, tables=None, unit='bytes'):
    return {'unit': unit, 'databases': databases, 'tables': tables or {}}


def test_missing_file_is_empty(tmp_path):
    assert snapshot.load(str(tmp_path / 'none.json')) == {}


def test_save_merges_targets_and_is_private(tmp_path):
    path = str(tmp_path / 'sub' / 'stats.json')
    snapshot.save(path, 'a', snapshot.entry(sizes({'x': 1}), 1000.0), 1000.0)
    snapshot.save(path, 'b', snapshot.entry(sizes({'y': 2}), 2000.0), 2000.0)
    entries = snapshot.load(path)
    assert sorted(entries) == ['a', 'b'] and entries['a']['databases'] == {'x': 1}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert [name for name in os.listdir(os.path.dirname(path)) if name.endswith('.tmp')] == []


def test_old_targets_are_dropped(tmp_path):
    path = str(tmp_path / 'stats.json')
    snapshot.save(path, 'old', snapshot.entry(sizes({'x': 1}), 0.0), 0.0)
    later = snapshot.KEEP_SECONDS + 1
    snapshot.save(path, 'new', snapshot.entry(sizes({'x': 1}), later), later)
    assert list(snapshot.load(path)) == ['new']


@pytest.mark.parametrize('content', ['not json', '[]', '{"version": 1}', '{"version": 2, "targets": {}}'])
def test_a_file_that_is_not_a_snapshot_is_refused_and_left_alone(tmp_path, content):
    path = tmp_path / 'stats.json'
    path.write_text(content)
    with pytest.raises(snapshot.SnapshotProblem, match='not a db_stats snapshot.*remove it or choose another path'):
        snapshot.load(str(path))
    with pytest.raises(snapshot.SnapshotProblem):
        snapshot.save(str(path), 'a', snapshot.entry(sizes({}), 1.0), 1.0)
    assert path.read_text() == content


def test_damaged_entries_are_dropped(tmp_path):
    path = tmp_path / 'stats.json'
    targets = {'bad': {'databases': {}}, 'worse': 3, 'good': {'taken_at': 1, 'databases': {'d': 1}}}
    path.write_text(json.dumps({'version': 1, 'targets': targets}))
    assert list(snapshot.load(str(path))) == ['good']


def test_entry_keeps_the_largest_tables(monkeypatch):
    monkeypatch.setattr(snapshot, 'MAX_TABLES', 2)
    record = snapshot.entry(sizes({'d': 10}, {'a': 1, 'b': 5, 'c': 3}), 5.0)
    assert record['tables'] == {'b': 5, 'c': 3} and record['taken_at'] == 5.0


def test_growth_orders_by_change_and_marks_new_and_gone():
    before = snapshot.entry(sizes({'d1': 100, 'd2': 50}, {'t1': 10, 't2': 20, 'gone': 5}), 0.0)
    now = sizes({'d1': 300, 'd2': 40}, {'t1': 10, 't2': 120, 'fresh': 70})
    grown = snapshot.growth(before, now, 2 * DAY, top=10)
    assert (grown['total'], grown['previous_total'], grown['change']) == (340, 150, 190)
    assert grown['percent'] == round(100 * 190 / 150.0, 2) and grown['per_day'] == 95.0
    assert grown['previous_at'] == '1970-01-01T00:00:00Z' and grown['elapsed_seconds'] == 2 * DAY
    assert [row['name'] for row in grown['databases']] == ['d1', 'd2']
    assert [(row['name'], row['change']) for row in grown['tables']] == [('t2', 100), ('fresh', 70), ('gone', -5)]
    assert grown['tables'][1]['new'] is True and grown['tables'][2]['gone'] is True


def test_growth_has_no_daily_rate_for_close_runs_nor_percent_from_zero():
    grown = snapshot.growth(snapshot.entry(sizes({'d': 0}), 0.0), sizes({'d': 10}), 60.0, top=5)
    assert grown['per_day'] is None and grown['percent'] is None and grown['change'] == 10


def test_growth_refuses_a_different_unit():
    assert snapshot.growth(snapshot.entry(sizes({'d': 1}), 0.0), sizes({'db0': 1}, unit='keys'), DAY, 5) is None


def test_file_is_json_with_a_version(tmp_path):
    path = tmp_path / 'stats.json'
    snapshot.save(str(path), 'x', snapshot.entry(sizes({'d': 1}), 1.0), 1.0)
    data = json.loads(path.read_text())
    assert data['version'] == snapshot.VERSION and data['targets']['x']['unit'] == 'bytes'
