# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: report
type: aggregate
short_description: Writes a JSON, Markdown and HTML report of each playbook run
version_added: 0.1.0
author:
  - Caretaker Maintainers (@caretaker)
description:
  - Gathers the results of every host and writes one run report in three forms into O(report_dir) when the
    playbook ends - JSON for tools, Markdown for a ticket or chat, and one self-contained HTML page (inline CSS
    and SVG, no script, nothing loaded from elsewhere).
  - "The report holds: the status of each host and of each check, with values and thresholds, from every result
    in the collection's check shape (C(status) and C(checks)), loop items included; the backups taken (path, size,
    SHA-256, duration) and their verification status; the bytes freed (C(log_cleanup), C(backup_prune), any
    result with C(bytes_freed)); the rows matched and affected per C(data_retention) rule; each C(db_optimize)
    operation; failed and unreachable tasks with their messages; hosts on which every task was skipped; and the
    ok, changed and failed counts per host."
  - When earlier reports of the same run label are in O(report_dir), the HTML and Markdown add each host's status
    over the last O(history) runs and the backup sizes per series over those runs (an SVG chart in the HTML).
  - Files are named by the run's UTC start time and the run label, for example C(20261123T020000Z-daily.json).
    The label is the playbook's name, with the tags when the run is limited by C(--tags) or C(--skip-tags)
    (C(daily_tags-logs), C(daily_skip-logs)); the nightly backups and the log upkeep run the same playbook at other
    times and keep trends of their own. Files are mode 0600 in a 0700 directory, and written atomically (temp file, then rename). C(latest.json),
    C(latest.md) and C(latest.html) point at the newest run (see O(latest)).
  - Secrets stay out. A result Ansible censored for C(no_log) contributes only that it was hidden; module
    arguments (C(invocation)) and loop items are never copied; values under keys named like a password, token
    or secret are replaced by C(********); credentials in URLs and C(password=...) text are masked.
  - The report never breaks a run. An error inside it is shown as a warning and the playbook goes on.
requirements:
  - Enable it with C(callbacks_enabled = caretaker.maintenance.report) in the C([defaults]) section of
    C(ansible.cfg), or the E(ANSIBLE_CALLBACKS_ENABLED) environment variable.
options:
  report_dir:
    description:
      - Directory the reports go to. Created with mode 0700 when missing; an existing one owned by the user
        running Ansible is set to 0700.
    type: path
    default: ~/.caretaker/reports
    ini:
      - section: caretaker_report
        key: report_dir
    env:
      - name: CARETAKER_REPORT_DIR
  history:
    description:
      - Runs the trend covers, this one included. Earlier runs are the JSON reports of the same playbook in
        O(report_dir). V(1) or less leaves the trend out.
    type: int
    default: 10
    ini:
      - section: caretaker_report
        key: history
    env:
      - name: CARETAKER_REPORT_HISTORY
  keep:
    description:
      - Reports of the same run label (playbook and tags) kept in O(report_dir), this one included; older ones are
        deleted (all three files) after the new report is written. V(0) keeps every report.
      - The default keeps about 40 hours of a health check every 5 minutes and over a year of a nightly run.
    type: int
    default: 500
    ini:
      - section: caretaker_report
        key: keep
    env:
      - name: CARETAKER_REPORT_KEEP
  latest:
    description:
      - How C(latest.json), C(latest.md) and C(latest.html) point at the newest report - V(symlink) (relative;
        a copy where symlinks cannot be made), V(copy), or V(none) to leave them out.
    type: str
    choices: [symlink, copy, none]
    default: symlink
    ini:
      - section: caretaker_report
        key: latest
    env:
      - name: CARETAKER_REPORT_LATEST
notes:
  - The trend compares runs of the same label (playbook and tags), so the health checks every 5 minutes, the nightly
    backups and the log upkeep each keep their own history.
  - A task registered in a loop over a list of dicts is labelled by its C(loop_control.label), or by its position
    when the label is a dict; loop over indexes (as the collection's roles do) to keep connection settings out of
    every callback.
  - Several playbooks in one C(ansible-playbook) command give one report named after all of them.
  - The files and every key of the JSON are described in C(docs/reports.md) of the collection.
  - Old reports beyond O(keep) of the same label are removed after each run; reports of other labels are not touched.
seealso:
  - name: Callback plugins
    description: How to enable and configure callback plugins.
    link: https://docs.ansible.com/ansible/latest/plugins/callback.html
'''

EXAMPLES = r'''
# ansible.cfg
# [defaults]
# callbacks_enabled = caretaker.maintenance.report
#
# [caretaker_report]
# report_dir = /var/lib/caretaker/reports
# history = 14
# keep = 1000

# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=caretaker.maintenance.report CARETAKER_REPORT_DIR=/tmp/reports \
#   ansible-playbook -i inventories/prod playbooks/daily.yml
'''

import datetime
import functools
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.history import build_trend, load_history
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.model import Collector
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.store import prune_reports, write_report


def _guarded(method):
    """Run a callback method; turn any error into a warning so the playbook goes on."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            self._display.warning('caretaker.maintenance.report: %s failed, the run goes on without it: %s: %s'
                                  % (method.__name__, type(exc).__name__, exc))
            return None
    return wrapper


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _in_rescued_block(task):
    """Whether a failure of ``task`` goes to a rescue section: the task sits in the block part
    of a block (or of a block around it) that has one."""
    child, parent = task, getattr(task, '_parent', None)
    while parent is not None:
        if getattr(parent, 'rescue', None) and any(
                getattr(entry, '_uuid', None) == getattr(child, '_uuid', False) for entry in parent.block or []):
            return True
        child, parent = parent, getattr(parent, '_parent', None)
    return False


def run_label(names, cli):
    """The playbooks' names, with the tags of a run limited by --tags or --skip-tags."""
    label = '+'.join(names) or 'playbook'
    tags = sorted(tag for tag in (cli.get('tags') or ()) if tag != 'all')
    skipped = sorted(cli.get('skip_tags') or ())
    if tags:
        label += '_tags-' + '-'.join(tags)
    if skipped:
        label += '_skip-' + '-'.join(skipped)
    return label


def _result_dict(result):
    data = getattr(result, 'result', None)
    if data is None:
        data = getattr(result, '_result', None)
    return data if isinstance(data, dict) else {}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'caretaker.maintenance.report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._collector = None
        self._play = None

    def _run(self):
        if self._collector is None:
            check = bool((context.CLIARGS or {}).get('check'))
            self._collector = Collector(_now(), check_mode=check)
        return self._collector

    @_guarded
    def v2_playbook_on_start(self, playbook):
        self._run().add_playbook(getattr(playbook, '_file_name', None))

    @_guarded
    def v2_playbook_on_play_start(self, play):
        self._play = (play.get_name() or '').strip() or None
        self._run().add_play(self._play)

    def _add(self, result, outcome, ignored=False, rescued=False):
        task = result.task
        is_loop = getattr(task, 'loop', None) is not None or bool(getattr(task, 'loop_with', None))
        name = getattr(result, 'task_name', None) or task.get_name()
        self._run().add_result(result.host.get_name(), name, _result_dict(result), outcome=outcome,
                               action=getattr(task, 'action', None), play=self._play, is_loop=is_loop,
                               ignored=ignored, rescued=rescued)

    @_guarded
    def v2_runner_on_ok(self, result):
        self._add(result, 'ok')

    @_guarded
    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, 'failed', ignored=ignore_errors, rescued=_in_rescued_block(result.task))

    @_guarded
    def v2_runner_on_unreachable(self, result):
        self._add(result, 'unreachable')

    @_guarded
    def v2_playbook_on_stats(self, stats):
        collector, self._collector = self._run(), None
        collector.set_stats(dict((host, stats.summarize(host)) for host in stats.processed))
        names = [os.path.splitext(os.path.basename(path))[0] for path in collector.playbooks]
        report = collector.report(_now(), run_label(names, context.CLIARGS or {}))
        directory = self.get_option('report_dir')
        limit = self.get_option('history')
        trend = None
        if limit and limit > 1:
            try:
                trend = build_trend(load_history(directory, report['playbook'], limit - 1), report)
            except Exception as exc:  # pylint: disable=broad-except
                # The trend is extra: the run's own report is still written.
                self._display.warning('caretaker.maintenance.report: the trend is left out, earlier reports in %s '
                                      'could not be read: %s: %s' % (directory, type(exc).__name__, exc))
        paths, warnings = write_report(directory, report, trend, latest=self.get_option('latest'))
        failed = prune_reports(directory, report['playbook'], self.get_option('keep'))
        if failed:
            warnings.append('%d old report file(s) could not be removed: %s' % (len(failed), '; '.join(failed[:3])))
        for warning in warnings:
            self._display.warning('caretaker.maintenance.report: ' + warning)
        self._display.display('caretaker.maintenance.report: %s' % paths['html'], stderr=True)
