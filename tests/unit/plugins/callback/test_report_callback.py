# -*- coding: utf-8 -*-
"""The callback's glue with stand-ins for Ansible's objects: events in, files out, and an
error inside the callback turned into a warning instead of an exception."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

from ansible_collections.caretaker.maintenance.plugins.callback import report as module
from ansible_collections.caretaker.maintenance.plugins.callback.report import CallbackModule

from tests.support import report_results as rr


class Display(object):
    def __init__(self):
        self.warnings = []
        self.lines = []

    def warning(self, msg, *args, **kwargs):
        self.warnings.append(msg)

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)


class Named(object):
    def __init__(self, name, **attrs):
        self._name = name
        self.__dict__.update(attrs)

    def get_name(self):
        return self._name


class Result(object):
    def __init__(self, host, task, data, action, loop=None):
        self.host = Named(host)
        self.task = Named(task, action=action, loop=loop, loop_with=None)
        self.task_name = task
        self.result = data


class Stats(object):
    def __init__(self, summaries):
        self.processed = dict((host, 1) for host in summaries)
        self._summaries = summaries

    def summarize(self, host):
        return self._summaries[host]


def callback(tmp_path, **options):
    plugin = CallbackModule()
    plugin._display = Display()
    values = dict({'report_dir': str(tmp_path / 'reports'), 'history': 10, 'latest': 'symlink'}, **options)
    plugin.get_option = values.get
    return plugin


def run(plugin):
    plugin.v2_playbook_on_start(Named('daily', _file_name='/srv/playbooks/daily.yml'))
    plugin.v2_playbook_on_play_start(Named('Daily backups'))
    plugin.v2_runner_on_ok(Result('db1', 'Take the backups', copy.deepcopy(rr.BACKUP_LOOP),
                                  'caretaker.maintenance.db_backup', loop='{{ range(2) }}'))
    plugin.v2_runner_on_failed(Result('db1', 'Verify the new backups', copy.deepcopy(rr.VERIFY_LOOP),
                                      'caretaker.maintenance.backup_verify', loop='{{ x }}'))
    plugin.v2_runner_on_ok(Result('web1', 'resources', copy.deepcopy(rr.RESOURCE), 'caretaker.maintenance.resource_check'))
    plugin.v2_runner_on_unreachable(Result('db2', 'ping', copy.deepcopy(rr.UNREACHABLE), 'ping'))
    plugin.v2_playbook_on_stats(Stats(dict((h, rr.STATS[h]) for h in ('db1', 'web1', 'db2'))))


def test_a_run_writes_the_three_files_and_names_the_page(tmp_path):
    plugin = callback(tmp_path)
    run(plugin)
    assert plugin._display.warnings == []
    names = sorted(os.listdir(tmp_path / 'reports'))
    assert [n.rsplit('.', 1)[1] for n in names if not n.startswith('latest')] == ['html', 'json', 'md']
    assert all(n.endswith(('-daily.html', '-daily.json', '-daily.md')) for n in names if not n.startswith('latest'))
    report = json.loads((tmp_path / 'reports' / 'latest.json').read_text())
    assert report['plays'] == ['Daily backups']
    assert [b['verified'] for b in report['backups']] == ['ok', 'critical']
    assert report['hosts']['web1']['status'] == 'warning' and report['hosts']['db2']['state'] == 'unreachable'
    assert plugin._display.lines == ['caretaker.maintenance.report: %s' % os.path.realpath(
        str(tmp_path / 'reports' / 'latest.html'))]


def test_the_second_run_has_a_trend(tmp_path):
    first = callback(tmp_path)
    run(first)
    second = callback(tmp_path)
    run(second)
    md = (tmp_path / 'reports' / 'latest.md').read_text()
    assert '## Status history' in md and '## Backup sizes' in md
    assert '<svg' in (tmp_path / 'reports' / 'latest.html').read_text()
    off = callback(tmp_path, history=1)
    run(off)
    assert '## Status history' not in (tmp_path / 'reports' / 'latest.md').read_text()


def test_errors_become_warnings_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    plugin = callback(tmp_path, report_dir=str(blocker / 'reports'))
    plugin.v2_runner_on_ok(object())  # not a task result at all
    run(plugin)
    assert len(plugin._display.warnings) == 2
    assert plugin._display.warnings[0].startswith('caretaker.maintenance.report: v2_runner_on_ok failed')
    assert plugin._display.warnings[1].startswith('caretaker.maintenance.report: v2_playbook_on_stats failed')
    assert 'NotADirectoryError' in plugin._display.warnings[1]


def test_a_trend_that_cannot_be_built_leaves_the_report(tmp_path, monkeypatch):
    def broken(*args):
        raise ValueError('bad history')
    monkeypatch.setattr(module, 'load_history', broken)
    plugin = callback(tmp_path)
    run(plugin)
    assert plugin._display.warnings == [
        'caretaker.maintenance.report: the trend is left out, earlier reports in %s could not be read: '
        'ValueError: bad history' % (tmp_path / 'reports')]
    assert (tmp_path / 'reports' / 'latest.html').exists()
