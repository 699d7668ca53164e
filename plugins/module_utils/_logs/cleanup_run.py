# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_cleanup: plan from one walk per root, then compress, delete by age, delete by size cap.

A check-mode run makes the same plan and compresses into a byte counter instead of a file,
so it reports the same files, the same archive sizes and the same bytes freed as a real run.
The disk is changed by cleanup_apply; deletions by age come after compressing, and the size
cap is worked out on what is left, oldest archive first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_apply import Apply
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_options import DAY
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_walk import open_writers, scan


def _files(count):
    return '%d file%s' % (count, '' if count == 1 else 's')


class RootPlan(object):
    def __init__(self, scan_result):
        self.scan = scan_result
        self.compress = []      # File
        self.aged = []          # (File, reason)
        self.archives = []      # File: archives that stay unless the size cap takes them
        self.live = []          # File: counted towards the size cap, never deleted by it
        self.capped = []        # (File, reason)
        self.bytes_after = None


class Cleanup(object):
    def __init__(self, options, now, check_mode):
        self.options = options
        self.now = now
        self.check_mode = check_mode
        self.writers = {}
        self.compressed = []
        self.deleted = []
        self.skipped = []
        self.errors = []
        self.warnings = []
        self.apply = None

    # -- planning ---------------------------------------------------------------------------
    def protected(self, item):
        """Why ``item`` must not be touched now, or None."""
        if self.now - item.mtime < self.options.min_idle * 60:
            return 'modified within the last min_idle (%d minutes)' % self.options.min_idle
        if item.key in self.writers:
            return 'open for writing by %s' % self.writers[item.key]
        return None

    def _skip(self, item, reason):
        self.skipped.append({'path': item.path, 'reason': reason})

    def plan(self, scan_result):
        opts = self.options
        plan = RootPlan(scan_result)
        compress_age = None if opts.compress_after_days is None else opts.compress_after_days * DAY
        delete_age = None if opts.delete_after_days is None else opts.delete_after_days * DAY
        for item in sorted(scan_result.files, key=lambda f: f.path):
            age = self.now - item.mtime
            due = delete_age is not None and age > delete_age
            if item.kind == 'archive':
                reason = self.protected(item) if due else None
                if reason:
                    self._skip(item, reason)
                    plan.live.append(item)
                elif due:
                    plan.aged.append((item, 'older than delete_after_days (%d)' % opts.delete_after_days))
                else:
                    plan.archives.append(item)
                continue
            if compress_age is None or age <= compress_age:
                plan.live.append(item)
                continue
            reason = self.protected(item)
            if not reason and item.nlink > 1:
                reason = 'has %d hard links: left as it is' % item.nlink
            if not reason and not due and item.name + opts.suffix in scan_result.names[item.dir.key]:
                reason = '%s exists already: not overwritten' % (item.name + opts.suffix)
            if reason:
                self._skip(item, reason)
                plan.live.append(item)
            elif due:
                # Past both cut-offs: compressing would only be undone by the delete below.
                plan.aged.append((item, 'older than delete_after_days (%d): deleted without compressing first'
                                  % opts.delete_after_days))
            else:
                plan.compress.append(item)
        return plan

    # -- applying ---------------------------------------------------------------------------
    def compress(self, plans):
        """Compress every planned file; returns {id(plan): [(source, archive File)]}."""
        owner = dict((id(item), plan) for plan in plans for item in plan.compress)
        results = dict((id(plan), []) for plan in plans)
        for item, size, key in self.apply.compress([item for plan in plans for item in plan.compress]):
            results[id(owner[id(item)])].append((item, item.archive(self.options.suffix, size, key)))
        return results

    def cap(self, plan, candidates, total):
        """(File, reason) archives to delete, oldest first, until ``total`` fits the limit."""
        limit = self.options.limit
        doomed = []
        for item in sorted(candidates, key=lambda f: (f.mtime_ns, f.path)):
            if total <= limit:
                break
            reason = self.protected(item)
            if reason:
                self._skip(item, 'over max_total_size but %s' % reason)
                continue
            doomed.append((item, 'over max_total_size (%s): oldest archives first' % self.options.max_total_size))
            total -= item.size
        return doomed

    # -- the run ----------------------------------------------------------------------------
    def run(self):
        # Tens of thousands of small objects and no cycles: the collector would only walk them
        # again and again (and touch every page the worker processes share with this one).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def _run(self):
        scans = [scan(root, self.options) for root in self.options.roots]
        for found in scans:
            self.skipped.extend({'path': path, 'reason': reason} for path, reason in found.skipped)
            self.errors.extend({'path': path, 'error': error} for path, error in found.errors)
        keys = set(item.key for found in scans for item in found.files)
        self.writers, hidden = open_writers(keys) if keys else ({}, 0)
        plans = [self.plan(found) for found in scans]
        acting = any(plan.compress or plan.aged or (self.options.limit is not None and plan.archives) for plan in plans)
        if acting and hidden is None:
            self.warnings.append('/proc cannot be read: files open for writing cannot be detected; only min_idle protects them')
        elif acting and hidden:
            self.warnings.append('%d processes of other users could not be inspected for open files; files they write '
                                 'to are protected by min_idle only' % hidden)
        self.apply = Apply(self.options, self.check_mode, self.skipped, self.errors)
        try:
            self.act(plans)
        finally:
            self.apply.settle()
        self.compressed.sort(key=lambda item: item['path'])
        self.skipped.sort(key=lambda item: item['path'])
        self.errors.sort(key=lambda item: item['path'])
        return self.result(plans)

    def act(self, plans):
        """Compress, delete by age, then by size cap: one pool of workers per step for all roots."""
        made = self.compress(plans)
        for plan in plans:
            done = set(id(source) for source, archive in made[id(plan)])
            plan.live.extend(item for item in plan.compress if id(item) not in done)
            for source, archive in made[id(plan)]:
                self.compressed.append({'path': source.path, 'archive': archive.path,
                                        'bytes_before': source.size, 'bytes_after': archive.size})
        gone = set(id(pair) for pair in self.apply.delete([pair for plan in plans for pair in plan.aged]))
        for plan in plans:
            plan.live.extend(pair[0] for pair in plan.aged if id(pair) not in gone)
            candidates = plan.archives + [archive for source, archive in made[id(plan)]]
            plan.bytes_after = sum(item.size for item in plan.live) + sum(item.size for item in candidates)
            if self.options.limit is not None and plan.bytes_after > self.options.limit:
                plan.capped = self.cap(plan, candidates, plan.bytes_after)
        gone.update(id(pair) for pair in self.apply.delete([pair for plan in plans for pair in plan.capped]))
        for plan in plans:
            for pair in plan.aged + plan.capped:
                if id(pair) in gone:
                    self.deleted.append({'path': pair[0].path, 'bytes': pair[0].size, 'reason': pair[1]})
            plan.bytes_after -= sum(pair[0].size for pair in plan.capped if id(pair) in gone)
            if self.options.limit is not None and plan.bytes_after > self.options.limit:
                self.warnings.append('%s: still %d bytes after the size cap, over max_total_size %s (%d bytes): '
                                     'the rest are live logs or archives that must not be deleted now'
                                     % (plan.scan.root, plan.bytes_after, self.options.max_total_size, self.options.limit))

    def result(self, plans):
        freed = (sum(item['bytes_before'] - item['bytes_after'] for item in self.compressed)
                 + sum(item['bytes'] for item in self.deleted))
        roots = []
        for plan in plans:
            before = sum(item.size for item in plan.scan.files)
            roots.append({'path': plan.scan.root, 'bytes_before': before, 'bytes_after': plan.bytes_after,
                          'max_total_size': self.options.limit,
                          'within_limit': None if self.options.limit is None else plan.bytes_after <= self.options.limit})
        verb = ('would compress', 'would delete') if self.check_mode else ('compressed', 'deleted')
        msg = '%s %s (%d -> %d bytes), %s %s; %d bytes freed' % (
            verb[0], _files(len(self.compressed)), sum(item['bytes_before'] for item in self.compressed),
            sum(item['bytes_after'] for item in self.compressed), verb[1], _files(len(self.deleted)), freed)
        if self.skipped:
            msg += '; %d skipped' % len(self.skipped)
        if self.errors:
            msg += '; %d errors, the first: %s: %s' % (len(self.errors), self.errors[0]['path'], self.errors[0]['error'])
        return {
            'changed': bool(self.compressed or self.deleted),
            'msg': msg,
            'compressed': self.compressed,
            'deleted': self.deleted,
            'bytes_freed': freed,
            'skipped_files': self.skipped,   # "skipped" is Ansible's own key: it would mark the task skipped
            'errors': self.errors,
            'roots': roots,
        }


def diff(result):
    """Per root, the files acted on before and after the run."""
    diffs = []
    for root in result['roots']:
        prefix = root['path'].rstrip('/') + '/'
        before, after = [], []
        deleted = set(item['path'] for item in result['deleted'])
        archives = set(item['archive'] for item in result['compressed'])
        for item in result['compressed']:
            if item['path'].startswith(prefix):
                before.append('%s (%d bytes)' % (item['path'][len(prefix):], item['bytes_before']))
                if item['archive'] not in deleted:
                    after.append('%s (%d bytes)' % (item['archive'][len(prefix):], item['bytes_after']))
        for item in result['deleted']:
            if item['path'].startswith(prefix) and item['path'] not in archives:
                before.append('%s (%d bytes)' % (item['path'][len(prefix):], item['bytes']))
        diffs.append({'before_header': '%s (files acted on)' % root['path'], 'after_header': '%s (after)' % root['path'],
                      'before': ''.join(line + '\n' for line in sorted(before)),
                      'after': ''.join(line + '\n' for line in sorted(after))})
    return diffs
