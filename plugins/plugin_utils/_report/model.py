# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report: what the callback gathers from task results, as one plain dict.

The collector never keeps a raw result. Each result (or each item of a loop result) is
read for the shapes the collection's modules return and only those fields are kept:

- any result with ``status`` and a ``checks`` list: the status and every check item;
- ``db_backup``: path, series, size, sha256 and duration of each backup taken (or kept as fresh);
- ``backup_verify``: each verification and its status, joined to the backup it checked;
- any result with an integer ``bytes_freed`` (log_cleanup, backup_prune, ...);
- ``data_retention``: matched and affected rows per rule;
- ``db_optimize``: each table operation;
- failed and unreachable tasks with their message.

A result Ansible censored for ``no_log`` contributes only the fact that it was hidden.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import STATUSES, worst
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.scrub import (
    item_label, scrub, scrub_text, shorten)

FORMAT = 'caretaker.maintenance.report'
VERSION = 1

OUTCOMES = ('ok', 'failed', 'unreachable', 'skipped')
STAT_KEYS = ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored')
CHECK_KEYS = ('name', 'status', 'value', 'unit', 'threshold', 'detail')
OPTIMIZE_KEYS = ('table', 'operation', 'status', 'reason', 'seconds', 'size_before', 'size_after')
CENSORED_MSG = 'output hidden by no_log'


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _module(action):
    """Short module name of a task action: caretaker.maintenance.db_backup -> db_backup."""
    return str(action or '').rsplit('.', 1)[-1]


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value):
    return len(value) if isinstance(value, list) else None


def failure_message(result):
    """One message for a failed result: its msg, else the end of stderr, else its rc."""
    msg = result.get('msg')
    if not msg and result.get('stderr'):
        msg = str(result['stderr']).strip().splitlines()[-1:] or None
        msg = msg[0] if msg else None
    if not msg and result.get('rc') not in (None, 0):
        msg = 'exited with rc %s' % result['rc']
    return shorten(scrub_text(str(msg or 'failed without a message')), 2000)


def is_status_result(result):
    return result.get('status') in STATUSES and isinstance(result.get('checks'), list)


def host_state(host):
    """One word per host for summaries and history: unreachable or failed when a task
    was, else the worst check status, else ok or skipped from the task counts."""
    if host['outcome'] in ('unreachable', 'failed', 'skipped'):
        return host['outcome']
    return host['status'] or 'ok'


class Collector(object):
    """Gathers one run. Feed it with ``add_playbook``, ``add_result`` and ``set_stats``,
    then call ``report``."""

    def __init__(self, started, check_mode=False):
        self.started = started  # an aware datetime, UTC
        self.check_mode = bool(check_mode)
        self.playbooks = []
        self.plays = []
        self.hosts = {}
        self.results = []
        self.checks = []
        self.backups = []
        self.verifications = []
        self.cleanups = []
        self.retention = []
        self.optimizations = []
        self.failures = []
        self._seen_checks = set()

    # --- input ---------------------------------------------------------------------------
    def add_playbook(self, path):
        if path and path not in self.playbooks:
            self.playbooks.append(path)

    def add_play(self, name):
        if name and name not in self.plays:
            self.plays.append(name)

    def _host(self, name):
        if name not in self.hosts:
            self.hosts[name] = {'name': name, 'status': None, 'outcome': 'ok', 'stats': None, 'censored': 0}
        return self.hosts[name]

    def add_result(self, host, task, result, outcome='ok', action=None, play=None, is_loop=False, ignored=False,
                   rescued=False):
        """Take what the report needs from one task result.

        ``outcome`` is ok, failed or unreachable (the callback event). ``ignored`` marks a
        failure under ignore_errors, ``rescued`` one in a block with a rescue section.
        ``is_loop`` says ``results`` holds loop items (and not, say, db_optimize's operations)."""
        if not isinstance(result, dict):
            return
        entry = self._host(host)
        where = {'host': host, 'play': play, 'task': shorten(scrub_text(task), 300)}
        module = _module(action)
        handled = 'ignored' if ignored else ('rescued' if rescued else None)
        if result.get('censored'):
            entry['censored'] += 1
            if outcome != 'ok':
                self._failure(where, None, outcome, CENSORED_MSG, handled)
            return
        if outcome == 'unreachable':
            self._failure(where, None, outcome, failure_message(result), handled)
            return
        items = result.get('results') if isinstance(result.get('results'), list) else None
        if items is not None and (is_loop or any(isinstance(i, dict) and 'ansible_loop_var' in i for i in items)):
            failed_items = 0
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                label = item_label(item, index)
                if item.get('censored') or item.get('_ansible_no_log'):
                    entry['censored'] += 1
                    if item.get('failed') or item.get('unreachable'):
                        failed_items += 1
                        self._failure(where, label, outcome, CENSORED_MSG, handled)
                    continue
                # A skipped item has skipped: true; backup_verify's skipped is a list of checks not run.
                if item.get('skipped') is True:
                    continue
                self._extract(where, label, module, item)
                if item.get('failed') or item.get('unreachable'):
                    failed_items += 1
                    self._failure(where, label, 'unreachable' if item.get('unreachable') else 'failed',
                                  failure_message(item), handled)
            if outcome == 'failed' and not failed_items:
                self._failure(where, None, outcome, failure_message(result), handled)
            return
        self._extract(where, None, module, result)
        if outcome == 'failed':
            self._failure(where, None, outcome, failure_message(result), handled)

    def set_stats(self, summaries):
        """``summaries``: {host: {ok, changed, failures, unreachable, skipped, rescued, ignored}}."""
        for name, summary in summaries.items():
            entry = self._host(name)
            entry['stats'] = dict((key, int(summary.get(key) or 0)) for key in STAT_KEYS)

    # --- extraction ---------------------------------------------------------------------
    def _failure(self, where, label, kind, msg, handled):
        self.failures.append(dict(where, item=label, kind=kind, msg=msg, ignored=handled == 'ignored',
                                  rescued=handled == 'rescued'))

    def _extract(self, where, label, module, result):
        base = dict(where, item=label)
        if is_status_result(result):
            self._status_result(base, result, module)
        backup = module == 'db_backup' or (module != 'backup_verify' and 'sha256' in result)
        if backup and result.get('path') and not result.get('failed'):
            self._backup(base, result)
        if module == 'backup_verify' or ('verified' in result and 'path' in result and 'status' in result):
            self.verifications.append(dict(
                base, path=scrub_text(str(result.get('path'))), status=result.get('status'),
                verified=result.get('verified') if isinstance(result.get('verified'), bool) else None,
                msg=shorten(scrub_text(result.get('msg')), 1000)))
        if _int(result.get('bytes_freed')) is not None:
            self.cleanups.append(dict(
                base, module=module or None, bytes_freed=result['bytes_freed'],
                compressed=_count(result.get('compressed')), deleted=_count(result.get('deleted')),
                errors=_count(result.get('errors')), msg=shorten(scrub_text(result.get('msg')), 1000)))
        rules = result.get('rules')
        if isinstance(rules, list) and any(isinstance(rule, dict) and ('affected' in rule or 'matched' in rule)
                                           for rule in rules):
            self._retention(base, rules)
        ops = result.get('results')
        if module == 'db_optimize' or (isinstance(ops, list) and isinstance(result.get('totals'), dict)):
            self._optimize(base, result)

    def _status_result(self, base, result, module):
        checks = [check for check in result['checks'] if isinstance(check, dict) and check.get('status') in STATUSES]
        self.results.append(dict(base, status=result['status'], msg=shorten(scrub_text(result.get('msg')), 1000),
                                 checks=len(checks)))
        host = self.hosts[base['host']]
        host['status'] = worst([host['status'] or 'ok', result['status']])
        for check in checks:
            row = dict((key, scrub(check.get(key))) for key in CHECK_KEYS)
            row['name'] = shorten(str(row['name']), 300)
            if isinstance(row['detail'], str):
                row['detail'] = shorten(row['detail'], 1000)
            # health_report repeats the items of the checks it combines: list those once per host.
            key = (base['host'], repr(row['name']), row['status'], repr(row['value']), repr(row['detail']))
            if module == 'health_report' and key in self._seen_checks:
                continue
            self._seen_checks.add(key)
            self.checks.append(dict(base, **row))

    def _backup(self, base, result):
        manifest = result.get('manifest_content') if isinstance(result.get('manifest_content'), dict) else {}
        self.backups.append(dict(
            base,
            path=scrub_text(str(result['path'])),
            series=scrub_text(result.get('series') or manifest.get('series')),
            engine=scrub_text(manifest.get('engine')),
            size=_int(result.get('size')) if _int(result.get('size')) is not None else _int(manifest.get('size')),
            sha256=scrub_text(result.get('sha256')) if isinstance(result.get('sha256'), str) else None,
            duration_seconds=_number(manifest.get('duration_seconds')),
            changed=bool(result.get('changed')),
            # set when an existing backup was fresh enough and none was taken (the path is that one)
            skipped_reason=shorten(scrub_text(result.get('skipped_reason')), 500),
            verified=None,
        ))

    def _retention(self, base, rules):
        for rule in rules:
            if not isinstance(rule, dict):
                continue
            self.retention.append(dict(
                base, rule=scrub_text(rule.get('name')), table=scrub_text(rule.get('table')),
                action=scrub_text(rule.get('action')), older_than=scrub_text(rule.get('older_than')),
                matched=_int(rule.get('matched')), affected=_int(rule.get('affected')), left=_int(rule.get('left')),
                archive_table=scrub_text(rule.get('archive_table'))))

    def _optimize(self, base, result):
        totals = result.get('totals') if isinstance(result.get('totals'), dict) else {}
        target = scrub_text(result.get('target'))
        ops = result.get('results') if isinstance(result.get('results'), list) else []
        for op in ops:
            if not isinstance(op, dict):
                continue
            row = dict((key, scrub(op.get(key))) for key in OPTIMIZE_KEYS)
            row['reason'] = shorten(row['reason'], 500)
            self.optimizations.append(dict(base, target=target, **row))
        if not ops and totals:
            self.optimizations.append(dict(base, target=target, table=None, operation=None, status='none',
                                           reason=shorten(scrub_text(result.get('msg')), 500), seconds=None,
                                           size_before=None, size_after=None))

    # --- output -------------------------------------------------------------------------
    def _finish_hosts(self):
        for entry in self.hosts.values():
            stats = entry['stats']
            if not stats:
                continue
            if stats['unreachable']:
                entry['outcome'] = 'unreachable'
            elif stats['failures']:
                entry['outcome'] = 'failed'
            elif not (stats['ok'] or stats['changed'] or stats['rescued'] or stats['ignored']) and stats['skipped']:
                entry['outcome'] = 'skipped'
            else:
                entry['outcome'] = 'ok'
        for entry in self.hosts.values():
            if entry['stats'] is None:
                # A host with results but no stats line (stats are missing when the run was cut short).
                failed = [f for f in self.failures if f['host'] == entry['name'] and not (f['ignored'] or f['rescued'])]
                if any(f['kind'] == 'unreachable' for f in failed):
                    entry['outcome'] = 'unreachable'
                elif failed:
                    entry['outcome'] = 'failed'
            entry['state'] = host_state(entry)

    def _join_verifications(self):
        for backup in self.backups:
            for verification in self.verifications:
                if verification['host'] == backup['host'] and verification['path'] == backup['path']:
                    backup['verified'] = verification['status']

    def totals(self):
        totals = dict((key, 0) for key in STAT_KEYS)
        for entry in self.hosts.values():
            for key in STAT_KEYS:
                totals[key] += (entry['stats'] or {}).get(key, 0)
        rows = {}
        for rule in self.retention:
            if rule['affected'] is not None:
                rows[rule['action'] or 'other'] = rows.get(rule['action'] or 'other', 0) + rule['affected']
        totals.update(
            hosts=len(self.hosts),
            states=dict((state, sum(1 for h in self.hosts.values() if h['state'] == state))
                        for state in sorted(set(h['state'] for h in self.hosts.values()))),
            checks=dict((status, sum(1 for c in self.checks if c['status'] == status)) for status in STATUSES),
            # a backup kept because it was fresh (skipped_reason) was not taken by this run
            backups=sum(1 for b in self.backups if b['size'] is not None and not b.get('skipped_reason')),
            backup_bytes=sum(b['size'] for b in self.backups if b['size'] is not None and not b.get('skipped_reason')),
            backups_kept=sum(1 for b in self.backups if b.get('skipped_reason')),
            verified_ok=sum(1 for v in self.verifications if v['verified'] is True),
            verified_failed=sum(1 for v in self.verifications if v['verified'] is False),
            bytes_freed=sum(c['bytes_freed'] for c in self.cleanups),
            rows_matched=sum(r['matched'] or 0 for r in self.retention),
            rows_affected=sum(r['affected'] or 0 for r in self.retention),
            rows_by_action=rows,
            operations_done=sum(1 for o in self.optimizations if o['status'] == 'done'),
            operations_failed=sum(1 for o in self.optimizations if o['status'] == 'failed'),
            reclaimed_bytes=sum((o['size_before'] or 0) - (o['size_after'] or 0) for o in self.optimizations
                                if o['status'] == 'done' and _int(o['size_before']) is not None
                                and _int(o['size_after']) is not None),
            failed_tasks=sum(1 for f in self.failures if not (f['ignored'] or f['rescued'])),
            ignored_failures=sum(1 for f in self.failures if f['ignored']),
            rescued_failures=sum(1 for f in self.failures if f['rescued']),
            censored=sum(h['censored'] for h in self.hosts.values()),
        )
        return totals

    def report(self, finished, name):
        """The whole report as a JSON-ready dict. ``finished`` is an aware datetime;
        ``name`` is the playbook label."""
        self._finish_hosts()
        self._join_verifications()
        hosts = dict((host, self.hosts[host]) for host in sorted(self.hosts))
        checked = [h['status'] for h in hosts.values() if h['status']]
        return {
            'format': FORMAT,
            'version': VERSION,
            'playbook': name,
            'playbooks': list(self.playbooks),
            'plays': list(self.plays),
            'started': format_time(self.started),
            'finished': format_time(finished),
            'duration_seconds': round((finished - self.started).total_seconds(), 1),
            'check_mode': self.check_mode,
            'status': worst(checked) if checked else None,
            'failed': any(h['outcome'] in ('failed', 'unreachable') for h in hosts.values()),
            'hosts': hosts,
            'results': self.results,
            'checks': self.checks,
            'backups': self.backups,
            'verifications': self.verifications,
            'cleanups': self.cleanups,
            'retention': self.retention,
            'optimizations': self.optimizations,
            'failures': self.failures,
            'skipped_hosts': [h for h in hosts if hosts[h]['outcome'] == 'skipped'],
            'totals': self.totals(),
        }
