# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trend over earlier runs of the same playbook, read from the JSON reports beside it.

Reports are named ``<UTC start>-<playbook>.json`` (``20261123T020000Z-daily.json``), so
name order is time order and the playbook's earlier runs are found without opening
every file. A file that cannot be read or is not a report is left out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.model import FORMAT, host_state

STAMP = '%Y%m%dT%H%M%SZ'
_STAMP_PATTERN = r'\d{8}T\d{6}Z'
MAX_REPORT_BYTES = 64 * 1024 * 1024


def slug(name):
    """A playbook label safe in a file name."""
    text = re.sub(r'[^A-Za-z0-9._+-]+', '_', str(name or 'playbook')).strip('._')
    return text[:80] or 'playbook'


def report_names(directory, label):
    """Names of the JSON reports of playbook ``label`` in ``directory``, oldest first."""
    pattern = re.compile(r'%s-%s(?:-\d+)?\.json\Z' % (_STAMP_PATTERN, re.escape(slug(label))))
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(name for name in names if pattern.match(name))


def load_history(directory, label, limit, exclude=()):
    """Up to ``limit`` earlier reports of the playbook, oldest first."""
    reports = []
    if limit <= 0:
        return reports
    for name in reversed(report_names(directory, label)):
        if name in exclude:
            continue
        path = os.path.join(directory, name)
        try:
            if os.path.getsize(path) > MAX_REPORT_BYTES:
                continue
            with open(path, 'rb') as handle:
                report = json.loads(handle.read().decode('utf-8'))
        except (OSError, ValueError):
            continue
        if not isinstance(report, dict) or report.get('format') != FORMAT or not isinstance(report.get('hosts'), dict):
            continue
        reports.append(report)
        if len(reports) >= limit:
            break
    reports.reverse()
    return reports


def _state(entry):
    if not isinstance(entry, dict):
        return None
    if entry.get('state'):
        return entry['state']
    try:
        return host_state(entry)
    except (KeyError, TypeError):
        return None


def _backup_sizes(report):
    """{(host, series): size} of the backups a report took; the last one wins per series."""
    sizes = {}
    for backup in report.get('backups') or []:
        if not isinstance(backup, dict) or not isinstance(backup.get('size'), int):
            continue
        series = backup.get('series') or os.path.dirname(str(backup.get('path') or '')) or 'backup'
        sizes[(str(backup.get('host')), str(series))] = backup['size']
    return sizes


def build_trend(history, current):
    """Status per host and backup size per series over the earlier runs and this one.

    Returns ``{'runs': [{started, status, check_mode}], 'hosts': {host: [state or None]},
    'backups': [{host, series, sizes: [size or None]}]}``, one position per run, oldest
    first; None where the host or series was not in that run. Hosts are those of this run."""
    runs = list(history) + [current]
    hosts = dict((host, [None] * len(runs)) for host in current.get('hosts') or {})
    for position, report in enumerate(runs):
        for host, entry in (report.get('hosts') or {}).items():
            if host in hosts:
                hosts[host][position] = _state(entry)
    series = {}
    for position, report in enumerate(runs):
        for key, size in _backup_sizes(report).items():
            series.setdefault(key, [None] * len(runs))[position] = size
    return {
        'runs': [{'started': r.get('started'), 'status': r.get('status'), 'check_mode': bool(r.get('check_mode'))}
                 for r in runs],
        'hosts': dict((host, hosts[host]) for host in sorted(hosts)),
        'backups': [{'host': host, 'series': name, 'sizes': series[(host, name)]} for host, name in sorted(series)],
    }
