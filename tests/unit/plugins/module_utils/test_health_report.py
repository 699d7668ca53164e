# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils import _health_report as hr

T0 = datetime.datetime(2026, 11, 23, 2, 0, 0, tzinfo=datetime.timezone.utc)


def minutes(n):
    return T0 + datetime.timedelta(minutes=n)


def result(*statuses):
    return {'checks': [{'name': 'check%d' % n, 'status': s, 'value': n, 'unit': 'ms'} for n, s in enumerate(statuses)]}


class Host(object):
    """Runs evaluate + (optionally) acknowledge against a real state file, as the role does."""

    def __init__(self, tmp_path, alert_on='warning', remind=240):
        self.path = str(tmp_path / 'state.json')
        self.alert_on = alert_on
        self.remind = remind

    def run(self, res, at, delivered=True):
        report, new, old = hr.evaluate('web1', [res], [], self.path, self.alert_on, self.remind, now=at)
        if new != old:
            hr.save_state(self.path, new)
        if report['alert']['send'] and delivered:
            new, old = hr.acknowledge(report['alert'], self.path, now=at)
            hr.save_state(self.path, new)
        return report


def test_first_failure_alerts_once_then_stays_quiet(tmp_path):
    host = Host(tmp_path)
    first = host.run(result('ok', 'critical'), minutes(0))
    assert first['status'] == 'critical'
    assert first['alert']['send'] is True and first['alert']['reason'] == 'alert'
    assert first['alert']['text'].startswith('[CRITICAL] web1 is critical: 1 check not ok\n- check1 critical: 1 ms')
    assert first['alert']['slack'] == {'text': first['alert']['text']}
    assert first['alert']['generic']['failing'][0]['name'] == 'check1'
    second = host.run(result('ok', 'critical'), minutes(5))
    assert second['alert'] == {'send': False, 'reason': None}


def test_change_of_status_or_failing_set_alerts(tmp_path):
    host = Host(tmp_path)
    host.run(result('warning', 'ok'), minutes(0))
    worse = host.run(result('critical', 'ok'), minutes(5))
    assert worse['alert']['reason'] == 'changed'
    other = host.run(result('ok', 'critical'), minutes(10))
    assert other['alert']['reason'] == 'changed'


def test_reminder_after_interval(tmp_path):
    host = Host(tmp_path, remind=60)
    host.run(result('critical'), minutes(0))
    assert host.run(result('critical'), minutes(59))['alert']['send'] is False
    reminder = host.run(result('critical'), minutes(60))
    assert reminder['alert']['reason'] == 'reminder'
    assert reminder['alert']['text'].startswith('[CRITICAL] still web1 is critical for 1 h 0 min')
    assert host.run(result('critical'), minutes(65))['alert']['send'] is False


def test_no_reminders_when_disabled(tmp_path):
    host = Host(tmp_path, remind=0)
    host.run(result('critical'), minutes(0))
    assert host.run(result('critical'), minutes(10000))['alert']['send'] is False


def test_recovery_alerts_once(tmp_path):
    host = Host(tmp_path)
    host.run(result('critical'), minutes(0))
    recovered = host.run(result('ok'), minutes(15))
    assert recovered['alert']['reason'] == 'recovered'
    assert recovered['alert']['text'] == '[RECOVERED] web1 is ok again (was critical)'
    assert host.run(result('ok'), minutes(20))['alert']['send'] is False


def test_undelivered_alert_is_decided_again(tmp_path):
    host = Host(tmp_path)
    assert host.run(result('critical'), minutes(0), delivered=False)['alert']['reason'] == 'alert'
    assert host.run(result('critical'), minutes(5))['alert']['reason'] == 'alert'
    assert host.run(result('critical'), minutes(10))['alert']['send'] is False


def test_below_alert_on_does_not_alert(tmp_path):
    host = Host(tmp_path, alert_on='critical')
    assert host.run(result('warning'), minutes(0))['alert']['send'] is False


def test_state_file_is_private_and_unchanged_when_nothing_changes(tmp_path):
    host = Host(tmp_path)
    host.run(result('ok'), minutes(0))
    assert oct(os.stat(host.path).st_mode & 0o777) == '0o600'
    before = open(host.path).read()
    report, new, old = hr.evaluate('web1', [result('ok')], [], host.path, 'warning', 240, now=minutes(5))
    assert new == old and json.loads(before) == old
    assert report['since'] == '2026-11-23T02:00:00Z'


def test_skipped_results_are_ignored_and_extra_items_count():
    items = hr.collect_items([{'skipped': True, 'changed': False}, result('ok')],
                             [{'name': 'nginx.service', 'status': 'critical', 'detail': 'inactive'}])
    assert [item['name'] for item in items] == ['check0', 'nginx.service']


@pytest.mark.parametrize('results, items, message', [
    (['nope'], [], r'results\[0\] must be a registered check result'),
    ([{'changed': False}], [], r'results\[0\] has no checks'),
    ([], [{'name': 'x', 'status': 'fine'}], r'item 0 needs a name and a status'),
])
def test_bad_input_names_the_option(results, items, message):
    with pytest.raises(hr.ReportError, match=message):
        hr.collect_items(results, items)


def test_unreadable_state_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text('{not json')
    with pytest.raises(hr.ReportError, match='cannot be read .* remove it to start afresh'):
        hr.load_state(str(path))
