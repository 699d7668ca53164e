# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pruning a backup destination by a retention policy: the filesystem side (docs/backups.md).

Per series: list the artifacts (layout.list_backups skips temp files, manifests, symlinks and
names without a timestamp), split complete backups (a readable manifest naming the artifact)
from the rest, let retention.apply decide the complete ones, then delete.

A backup is deleted artifact first, manifest second: a crash in between leaves a manifest
without its artifact, which no reader lists as a backup and the next run removes. The other
order would leave an artifact without a manifest, which the contract calls incomplete and
which is kept unless prune_unmanifested is set: space would leak silently.

Files are deleted relative to the series directory opened with O_NOFOLLOW, after an lstat
shows a regular file: a symlink is never followed nor removed, nothing outside dest is touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import stat

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import retention

_SERIES_NAME = re.compile(r'^[A-Za-z0-9._-]+$')
_DIR_FLAGS = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0)

UNMANIFESTED_HINT = 'set prune_unmanifested to delete it'
MAY_BE_WRITING = 'not older than the newest verified backup: may be a backup still getting its manifest'


class PruneError(Exception):
    """Bad input about the destination or the series; the text names the option and the fix."""


def select_series(dest, names=None):
    """Series names to prune: the ones given, checked, or every series directory under dest."""
    if not os.path.isdir(dest):
        raise PruneError('dest %s is not a directory: give the destination the backups were written to' % dest)
    present = layout.list_series(dest)
    if not names:
        return present
    for name in names:
        if not _SERIES_NAME.match(name or '') or name in ('.', '..'):
            raise PruneError('series %r is not a series name (one directory name under dest, characters '
                             'A-Z a-z 0-9 . _ -)' % (name,))
        path = os.path.join(dest, name)
        if os.path.islink(path):
            raise PruneError('series %s under %s is a symlink; backup_prune never follows symlinks' % (name, dest))
        if name not in present:
            raise PruneError('series %s not found under dest %s (series there: %s)'
                             % (name, dest, ', '.join(present) or 'none'))
    return list(dict.fromkeys(names))


class SeriesPlan(object):
    """What pruning one series keeps and deletes; ``deleted`` is filled by delete()."""

    def __init__(self, dest, name):
        self.dest = dest
        self.name = name
        self.path = os.path.join(dest, name)
        self.kept = []      # one dict per backup kept: path, time, verified, reasons
        self.doomed = []    # (file name, reason), in deletion order
        self.deleted = []   # one dict per file deleted (or, in check mode, to delete): path, bytes, reason
        self.refused = None
        self.error = None
        self.newest = None
        self.newest_verified = None

    @property
    def bytes_freed(self):
        return sum(item['bytes'] for item in self.deleted)

    def keep(self, backup, reasons, verified=False):
        self.kept.append({'path': backup.path, 'time': manifests.utc_stamp(backup.time),
                          'verified': verified, 'reasons': list(reasons)})

    def doom(self, backup, reason, with_manifest=True):
        self.doomed.append((backup.name, reason))
        if with_manifest:
            self.doomed.append((backup.name + manifests.SUFFIX, 'manifest, deleted with its artifact'))


def _incomplete(backup, series):
    """(why, deletable) for an artifact that is not a complete backup of this series, else None."""
    if not backup.name.startswith(series + '-'):
        return 'not named for series %s' % series, False
    manifest_file = manifests.manifest_path(backup.path)
    if os.path.islink(manifest_file):
        return 'manifest is a symlink', False
    if backup.manifest_error:
        return 'manifest unreadable: %s' % backup.manifest_error, True
    if backup.manifest is None:
        return 'no manifest: incomplete or foreign', True
    if backup.manifest.get('artifact') != backup.name:
        return 'manifest names another artifact (%s)' % backup.manifest.get('artifact'), True
    return None


def _orphan_manifests(series_dir, series):
    """Manifests whose artifact is gone (left by a prune interrupted between the two deletions)."""
    found = []
    for name in sorted(os.listdir(series_dir)):
        artifact = name[:-len(manifests.SUFFIX)]
        if (name.startswith('.') or not name.endswith(manifests.SUFFIX) or not artifact.startswith(series + '-')
                or layout.artifact_time(artifact) is None):
            continue
        path = os.path.join(series_dir, name)
        if stat.S_ISREG(os.lstat(path).st_mode) and not os.path.lexists(os.path.join(series_dir, artifact)):
            found.append((layout.artifact_time(artifact), name))
    return found


def _age(seconds):
    days, rest = divmod(int(seconds), 86400)
    return '%dd%dh' % (days, rest // 3600) if days else '%dh%dm' % (rest // 3600, rest % 3600 // 60)


def plan_series(dest, name, policy, now, max_age=None, prune_unmanifested=False):
    """Decide one series. ``max_age`` (retention.Duration) refuses a series whose newest backup is older."""
    plan = SeriesPlan(dest, name)
    complete, loose = [], []
    for backup in layout.list_backups(plan.path):
        why = _incomplete(backup, name)
        if why:
            loose.append((backup, why))
        else:
            complete.append(backup)
    by_name = dict((backup.name, backup) for backup in complete)
    decisions = retention.apply(policy, [(b.time, b.name, b.verified) for b in complete], now)
    plan.newest = complete[-1] if complete else None
    verified_time = retention.newest_verified_time(decisions)
    plan.newest_verified = ([b for b in complete if b.verified and b.time == verified_time] or [None])[-1]

    if max_age is not None and (plan.newest is None or plan.newest.time < max_age.before(now)):
        if plan.newest is None:
            plan.refused = 'series %s has no complete backup (max_age %s)' % (name, max_age)
        else:
            plan.refused = ('series %s: newest backup %s is %s old, older than max_age %s'
                            % (name, plan.newest.name, _age((now - plan.newest.time).total_seconds()), max_age))
        plan.refused += ': nothing deleted in this series; a stalled backup needs fixing, not pruning'
    refusal = ['refused: %s' % plan.refused] if plan.refused else []

    for decision in reversed(decisions):  # oldest first: an interrupted run has deleted the oldest
        for artifact in decision.names:
            backup = by_name[artifact]
            if decision.keep or refusal:
                plan.keep(backup, decision.reasons + refusal, backup.verified)
            else:
                plan.doom(backup, 'matched no keep rule (%s)' % policy.describe())

    # Unmanifested files and orphan manifests go only when older than a backup known good.
    cutoff = plan.newest_verified.time if plan.newest_verified else None
    if cutoff is None and not policy.require_verified and plan.newest is not None:
        cutoff = plan.newest.time
    for backup, (why, deletable) in loose:
        if not deletable or not prune_unmanifested:
            plan.keep(backup, [why, UNMANIFESTED_HINT] if deletable else [why, 'never deleted'])
        elif refusal or cutoff is None or backup.time >= cutoff:
            plan.keep(backup, [why] + (refusal or [MAY_BE_WRITING]))
        else:
            plan.doom(backup, '%s (prune_unmanifested)' % why,
                      with_manifest=os.path.lexists(manifests.manifest_path(backup.path)))
    if not refusal and cutoff is not None:
        for moment, manifest_name in _orphan_manifests(plan.path, name):
            if moment < cutoff:
                plan.doomed.append((manifest_name, 'manifest without its artifact (left by an interrupted prune)'))
    plan.kept.sort(key=lambda item: (item['time'], item['path']))
    return plan


def delete(plan, check_mode=False):
    """Delete (or in check mode, measure) the doomed files of a plan, never through a symlink."""
    dest_fd = os.open(plan.dest, _DIR_FLAGS)
    try:
        series_fd = os.open(plan.name, _DIR_FLAGS | getattr(os, 'O_NOFOLLOW', 0), dir_fd=dest_fd)
    finally:
        os.close(dest_fd)
    try:
        for name, reason in plan.doomed:
            try:
                info = os.stat(name, dir_fd=series_fd, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    continue
                if not check_mode:
                    os.unlink(name, dir_fd=series_fd)
            except FileNotFoundError:
                continue  # gone meanwhile: nothing freed by us
            plan.deleted.append({'path': os.path.join(plan.path, name), 'bytes': info.st_size, 'reason': reason})
        if plan.deleted and not check_mode:
            os.fsync(series_fd)  # the deletions survive a crash right after the task
    finally:
        os.close(series_fd)
    return plan


def prune(dest, names, policy, now, max_age=None, prune_unmanifested=False, check_mode=False):
    """Plan and delete every selected series; a refused or failing series never stops the others."""
    plans = []
    for name in select_series(dest, names):
        plan = None
        try:
            plan = plan_series(dest, name, policy, now, max_age, prune_unmanifested)
            delete(plan, check_mode)
        except OSError as exc:
            plan = plan or SeriesPlan(dest, name)
            plan.error = 'series %s: %s' % (name, exc)
        plans.append(plan)
    return plans


def _series_result(plan):
    return {
        'path': plan.path,
        'deleted': plan.deleted,
        'kept': plan.kept,
        'bytes_freed': plan.bytes_freed,
        'newest': plan.newest.path if plan.newest else None,
        'newest_verified': plan.newest_verified.path if plan.newest_verified else None,
        'refused': plan.refused,
        'error': plan.error,
    }


def summary(plans, check_mode=False):
    """The module result: per series and in total; ``problems`` lists what must fail the task."""
    deleted = [item for plan in plans for item in plan.deleted]
    freed = sum(item['bytes'] for item in deleted)
    kept = sum(len(plan.kept) for plan in plans)
    verb = 'would delete' if check_mode else 'deleted'
    touched = len([plan for plan in plans if plan.deleted])
    msg = '%s %d files (%d bytes) in %d of %d series; kept %d backups' % (verb, len(deleted), freed, touched,
                                                                          len(plans), kept)
    problems = [plan.refused or plan.error for plan in plans if plan.refused or plan.error]
    return {
        'changed': bool(deleted),
        'msg': msg,
        'series': dict((plan.name, _series_result(plan)) for plan in plans),
        'deleted': deleted,
        'bytes_freed': freed,
    }, problems


def _kept_files(plan):
    names = []
    for item in plan.kept:
        names.append(os.path.basename(item['path']))
        if os.path.lexists(manifests.manifest_path(item['path'])):
            names.append(names[-1] + manifests.SUFFIX)
    return names


def diff(plans, check_mode=False):
    """One diff per series: the file list before and after, and why each backup stays."""
    diffs = []
    for plan in plans:
        after = sorted(_kept_files(plan))
        before = sorted(after + [os.path.basename(item['path']) for item in plan.deleted])
        lines = ['series %s: %s %d files (%d bytes), keep %d backups' % (
            plan.name, 'would delete' if check_mode else 'deleted', len(plan.deleted), plan.bytes_freed, len(plan.kept))]
        if plan.refused or plan.error:
            lines.append('  refused: %s' % (plan.refused or plan.error))
        lines.extend('  delete %s (%d bytes): %s' % (os.path.basename(item['path']), item['bytes'], item['reason'])
                     for item in plan.deleted)
        lines.extend('  keep   %s: %s' % (os.path.basename(item['path']), ', '.join(item['reasons']))
                     for item in plan.kept)
        diffs.append({'before_header': plan.path, 'after_header': plan.path,
                      'before': ''.join(name + '\n' for name in before),
                      'after': ''.join(name + '\n' for name in after),
                      'prepared': '\n'.join(lines) + '\n'})
    return diffs
