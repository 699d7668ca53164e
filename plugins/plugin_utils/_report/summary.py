# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end-of-run summary of one host: short lines read from the results its roles registered.

The facts come from the report's Collector (backups, verifications, space freed, retention
rules, optimisations, statuses, failures), so the summary and the run report never disagree;
only what the report does not gather (cache keys and jobs, security findings, the Docker
report, the restore) is read here. A result that is absent (its tag or role did not run)
gives no line; one that was skipped says so; in check mode the lines say "would".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.model import Collector
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.scrub import scrub_text, shorten
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.text import human_bytes, plural

# The variables the roles and playbooks register, in reading order: the module behind each,
# what its lines start with, and the method of _Lines that writes them.
REGISTERED = (
    ('backup_taken', 'db_backup', 'backups', 'backups'),
    ('backup_verified', 'backup_verify', 'verified', 'verified'),
    ('backup_pruned', 'backup_prune', 'pruned', 'pruned'),
    ('backup_copies_pruned', 'backup_prune', 'pruned copies', 'pruned'),
    ('log_maintenance_cleaned', 'log_cleanup', 'logs cleaned', 'cleaned'),
    ('log_maintenance_scanned', 'log_scan', 'logs scanned', 'statuses'),
    ('log_maintenance_reported', 'log_scan', 'logs scanned', 'statuses'),
    ('db_maintenance_optimized', 'db_optimize', 'optimise', 'optimised'),
    ('db_maintenance_statistics', 'db_stats', 'stats', 'statuses'),
    ('db_maintenance_retained', 'data_retention', 'retention', 'retention'),
    ('cache_maintenance_cleaned', 'redis_cleanup', 'cache', 'cache'),
    ('security_audit_result', 'security_audit', 'security', 'security'),
    ('restore_result', 'db_restore', 'restore', 'restore'),
)
# docker_maintenance's report is a set_fact of its own shape, with a msg that says it all.
DOCKER_REPORT = 'docker_maintenance_report'
# The loops over indexes into a role's list (so no password reaches a registered item).
LISTS = {
    'backup_taken': 'backup_databases', 'db_maintenance_optimized': 'db_maintenance_databases',
    'db_maintenance_statistics': 'db_maintenance_databases', 'db_maintenance_retained': 'db_maintenance_databases',
    'cache_maintenance_cleaned': 'cache_maintenance_instances',
}
# data_retention actions: (done, would do)
VERBS = {'delete': ('deleted', 'delete'), 'archive': ('archived', 'archive'), 'anonymize': ('anonymised', 'anonymise')}
MSG_LIMIT = 300
# Ansible's skipped_reason for a loop over an empty list
EMPTY_LOOP = 'No items in the list'


def _items(result):
    """The results of a registered loop, or the result itself."""
    items = result.get('results')
    if isinstance(items, list) and any(isinstance(i, dict) and 'ansible_loop_var' in i for i in items):
        return [i for i in items if isinstance(i, dict)]
    return [result]


def _ran(result):
    """Items that ran: not skipped (backup_verify's ``skipped`` is a list of checks, not this)."""
    return [i for i in _items(result) if i.get('skipped') is not True]


def _entry_label(entry):
    """What the roles call one entry of their lists: its name, else engine/database."""
    if not isinstance(entry, dict):
        return None
    if entry.get('name'):
        return str(entry['name'])
    if entry.get('engine'):
        return '%s/%s' % (entry['engine'], entry.get('database') or 'all')
    return None


def _labelled(result, entries):
    """The result with each loop item labelled as the role labels it. Registered results carry
    no loop label; the roles loop over dicts or over indexes into ``entries`` (their list)."""
    items = _items(result)
    if items == [result]:
        return result
    labelled = []
    for item in items:
        entry = item.get('item')
        if isinstance(entry, int) and not isinstance(entry, bool) and isinstance(entries, list) \
                and 0 <= entry < len(entries):
            entry = entries[entry]
        label = _entry_label(entry) or item.get('target')
        labelled.append(dict(item, _ansible_item_label=label) if isinstance(label, str) and label else item)
    return dict(result, results=labelled)


def _ints(values):
    return sum(v for v in values if isinstance(v, int) and not isinstance(v, bool))


def _msg(text):
    return shorten(scrub_text(' '.join(str(text or '').split())), MSG_LIMIT)


def _of(rows, name):
    return [row for row in rows if row['task'] == name]


def _with_item(label, row):
    return '%s (%s)' % (label, row['item']) if row.get('item') else label


class _Lines(object):
    """The lines of one host, built from its registered results."""

    def __init__(self, host_vars, check_mode, host):
        self.check_mode = bool(check_mode)
        self.collector = Collector(None, check_mode=check_mode)
        self.registered = {}
        for name, module, _label, _method in REGISTERED:
            result = host_vars.get(name)
            if isinstance(result, dict):
                self.registered[name] = result
                entries = host_vars.get(LISTS[name]) if name in LISTS else None
                self.collector.add_result(host, name, _labelled(result, entries), action=module,
                                          outcome='failed' if result.get('failed') else 'ok')
        self.docker = host_vars.get(DOCKER_REPORT)

    def would(self, done, planned):
        return planned if self.check_mode else done

    def lines(self):
        out = []
        ran = set(label for name, _module, label, _method in REGISTERED
                  if name in self.registered and _ran(self.registered[name]))
        for name, _module, label, method in REGISTERED:
            result = self.registered.get(name)
            if result is None:
                continue
            if not _ran(result):
                # A loop over no items (nothing configured) says nothing, nor does the skipped one of
                # two alternative tasks (the scan since the last run, the scan of the report period).
                if result.get('skipped_reason') != EMPTY_LOOP and label not in ran:
                    out.append('%s: skipped' % label)
                continue
            lines = getattr(self, method)(name, label)
            out.extend(lines + self.failures(name, label, lines))
        if isinstance(self.docker, dict) and self.docker.get('msg'):
            out.append('docker: %s' % _msg(self.docker['msg']))
        return out or ['nothing ran']

    # --- from the report's Collector ------------------------------------------------------
    def failures(self, name, label, lines):
        """A line per failed item, unless ``lines`` already give its message (a failed verification)."""
        return ['%s failed: %s' % (_with_item(label, f), _msg(f['msg'])) for f in _of(self.collector.failures, name)
                if not any(_msg(f['msg']) in line for line in lines)]

    def backups(self, name, label):
        rows = _of(self.collector.backups, name)
        taken = [b for b in rows if not self._fresh(b)]
        fresh = [b for b in rows if self._fresh(b)]
        lines = []
        if taken:
            names = ', '.join(os.path.basename(b['path']) + self._size(b) for b in taken)
            sizes = [b['size'] for b in taken if b['size'] is not None]
            total = ', %s' % human_bytes(sum(sizes)) if sizes else ''
            lines.append('%s: %s %s%s: %s' % (label, self.would('took', 'would take'), plural(len(taken), 'backup'),
                                              total, names))
        if fresh:
            lines.append('%s: skipped %s, a fresh one exists: %s' % (
                label, plural(len(fresh), 'backup'),
                ', '.join('%s (%s)' % (os.path.basename(b['path']), _msg(b['skipped_reason'])) for b in fresh)))
        return lines

    @staticmethod
    def _size(backup):
        return ' (%s)' % human_bytes(backup['size']) if backup['size'] is not None else ''

    @staticmethod
    def _fresh(backup):
        return bool(backup.get('skipped_reason')) and not backup.get('changed')

    def verified(self, name, label):
        rows = _of(self.collector.verifications, name)
        if not rows:
            return []
        good = [v for v in rows if v['verified'] is True]
        tested = [c for c in _of(self.collector.checks, name) if c['name'] == 'restore_test' and c['status'] == 'ok']
        line = '%s: %d of %s ok' % (label, len(good), plural(len(rows), 'backup'))
        if tested:
            line += ', %d restore-tested' % len(tested)
        recent = [i for i in _ran(self.registered[name]) if i.get('verification_skipped')]
        if recent:
            line += ', %d verified recently and not again' % len(recent)
        bad = [v for v in rows if v['verified'] is not True]
        if bad:
            line += '; ' + '; '.join('%s %s: %s' % (os.path.basename(v['path']), v['status'], _msg(v['msg']))
                                     for v in bad)
        return [line]

    def pruned(self, name, label):
        rows = _of(self.collector.cleanups, name)
        if not rows:
            return []
        files, freed = _ints(r['deleted'] for r in rows), _ints(r['bytes_freed'] for r in rows)
        return ['%s: %s %s, %s' % (label, self.would('deleted', 'would delete'), plural(files, 'file'),
                                   human_bytes(freed))]

    def cleaned(self, name, label):
        rows = _of(self.collector.cleanups, name)
        if not rows:
            return []
        compressed, deleted = _ints(r['compressed'] for r in rows), _ints(r['deleted'] for r in rows)
        freed = _ints(r['bytes_freed'] for r in rows)
        return ['%s: %s %d, %s %d, %s %s' % (
            label, self.would('compressed', 'would compress'), compressed, self.would('deleted', 'delete'), deleted,
            self.would('freed', 'free'), human_bytes(freed))]

    def statuses(self, name, label):
        return ['%s: %s - %s' % (_with_item(label, r), r['status'], _msg(r['msg']))
                for r in _of(self.collector.results, name)]

    def optimised(self, name, label):
        lines = []
        rows = _of(self.collector.optimizations, name)
        for target in sorted(set(r['target'] or '' for r in rows)):
            ops = [r for r in rows if (r['target'] or '') == target]
            counts = {}
            for op in ops:
                counts[op['status']] = counts.get(op['status'], 0) + 1
            acted = sorted(set(str(op['table']) for op in ops if op['status'] in ('done', 'would_run')))
            parts = []
            for status, word in (('done', 'done'), ('would_run', 'would run')):
                if counts.get(status):
                    parts.append('%s %s on %s (%s)' % (plural(counts[status], 'operation'), word,
                                                       plural(len(acted), 'table'), ', '.join(acted[:5])))
            for status, word in (('skipped', 'skipped'), ('failed', 'failed'), ('left', 'left for lack of time')):
                if counts.get(status):
                    parts.append('%d %s' % (counts[status], word))
            reclaimed = _ints((op['size_before'] or 0) - (op['size_after'] or 0) for op in ops
                              if op['status'] == 'done' and op['size_after'] is not None)
            text = ', '.join(parts) or 'nothing to do'
            if counts.get('done'):
                text += '; %s reclaimed' % human_bytes(reclaimed)
            lines.append('%s %s: %s' % (label, target or '?', text))
        return lines

    def retention(self, name, label):
        lines = []
        for rule in _of(self.collector.retention, name):
            done, planned = VERBS.get(rule['action'], (rule['action'], rule['action']))
            what = rule['rule'] or rule['table']
            matched = rule['matched'] if rule['matched'] is not None else '?'
            text = '%s %s of %s matched' % (self.would(done, 'would ' + planned), plural(rule['affected'] or 0, 'row'),
                                            matched)
            if rule['left']:
                text += ', %d left (locked or changed meanwhile)' % rule['left']
            lines.append('%s %s (%s, older than %s): %s' % (label, what, rule['table'], rule['older_than'], text))
        return lines

    # --- what the report does not gather ---------------------------------------------------
    def cache(self, name, label):
        lines = []
        for item in _ran(self.registered[name]):
            if item.get('failed'):
                continue
            keys = _ints(op.get('affected') for key in ('delete_without_ttl', 'idle_sessions')
                         for op in item.get(key) or [] if isinstance(op, dict))
            ttl = _ints(op.get('affected') for op in item.get('expire_without_ttl') or [] if isinstance(op, dict))
            jobs = _ints(clean.get('affected') for queue in item.get('queues') or [] if isinstance(queue, dict)
                         for clean in queue.get('clean') or [] if isinstance(clean, dict))
            lines.append('%s %s: %s %s, %s %s a TTL, %s %s; %s' % (
                label, item.get('target') or '?', self.would('deleted', 'would delete'), plural(keys, 'key'),
                self.would('gave', 'give'), plural(ttl, 'key'), self.would('removed', 'remove'), plural(jobs, 'job'),
                item.get('status') or '?'))
        return lines

    def security(self, name, label):
        result = self.registered[name]
        if result.get('failed') and not result.get('status'):
            return []
        by_status = {}
        for check in result.get('checks') or []:
            if isinstance(check, dict) and check.get('status') != 'ok':
                by_status[check.get('status')] = by_status.get(check.get('status'), 0) + _ints([check.get('value')])
        findings = ', '.join('%d %s' % (by_status[s], s) for s in ('critical', 'warning', 'unknown') if s in by_status)
        findings = 'findings: ' + findings if findings else 'no findings over a limit'
        line = '%s: %s - %s' % (label, result.get('status') or '?', findings)
        fixed = [f for f in result.get('fixed') or [] if isinstance(f, dict)]
        if fixed:
            line += '; %s %s' % (self.would('fixed', 'would fix'), plural(len(fixed), 'secrets file'))
        if (result.get('baseline') or {}).get('written'):
            line += '; baseline written'
        return [line]

    def restore(self, name, label):
        result = self.registered[name]
        if result.get('failed'):
            return []
        return ['%s into %s: %s' % (label, result.get('target_database') or '?', _msg(result.get('msg')))]


def host_summary(host_vars, check_mode=False, host='host'):
    """Lines for one host from its variables (hostvars[host], or a dict of the registered results)."""
    return _Lines(host_vars, check_mode, host).lines()


def run_summary(hostvars, hosts, check_mode=False):
    """{host: lines} for each of ``hosts``, in their order."""
    return dict((host, host_summary(hostvars[host], check_mode, host)) for host in hosts)
