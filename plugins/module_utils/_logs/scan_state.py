# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the last run stopped in each file, so a run reads only what is new.

An entry per file, keyed by device and inode, holds the content offset read so far and a
fingerprint: the SHA-256 of the file's first bytes (up to 1024, of the decompressed
content). A file is resumed from an entry when

1. its device and inode are the entry's and its first bytes still match (the same file,
   grown; a file whose first bytes changed was truncated or replaced: read from 0), or
2. its first bytes match an entry's fingerprint: the same content under another inode,
   that is a log rotated by copying (``copytruncate``) or compressed (``access.log.1.gz``).

So after ``access.log`` is renamed to ``access.log.1`` (same inode) or compressed to
``access.log.1.gz`` (same content), only its unread tail is read, and the new
``access.log`` is read from 0. Two files with the same first bytes seen in one run are
copies of one content (``access.log.1`` and its ``.gz`` while it is being compressed):
only one of them is read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import atomic_write

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not on the hosts this collection supports
    HAS_FCNTL = False

STATE_VERSION = 1
# Entries of files not seen for this long are dropped (another task may scan them).
KEEP_SECONDS = 30 * 86400


class StateError(Exception):
    """The state file cannot be used; the text names it and the fix."""


class ScanState(object):
    """The state file's entries, read at the start of a run and written at its end."""

    def __init__(self, path):
        self.path = path
        self.entries = {}
        self.problem = None
        self._lock = None

    def lock(self):
        """Hold an exclusive lock (a sibling ``.lock`` file) until ``close``, so that two
        runs on one state file read one after the other instead of twice."""
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            if HAS_FCNTL:
                self._lock = open(self.path + '.lock', 'a')
                os.chmod(self.path + '.lock', 0o600)
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
        except (IOError, OSError) as exc:
            raise StateError('cannot use state_file %s: %s; choose a path in a directory the user can write'
                             % (self.path, exc.strerror or exc))
        return self

    def close(self):
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (IOError, OSError) as exc:
            if exc.errno != errno.ENOENT:
                raise StateError('cannot read state_file %s: %s' % (self.path, exc.strerror or exc))
            return self
        except ValueError as exc:
            self.problem = 'state_file %s is not valid JSON (%s): every file was read from the start' % (self.path, exc)
            return self
        files = data.get('files') if isinstance(data, dict) else None
        for key, entry in (files or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get('offset'), int):
                self.entries[key] = entry
        return self

    def save(self, entries, now):
        """Write the entries of this run plus those of other files seen recently, atomically, 0600."""
        kept = dict((key, entry) for key, entry in self.entries.items()
                    if now - float(entry.get('seen') or 0) < KEEP_SECONDS)
        kept.update(entries)
        data = {'version': STATE_VERSION, 'files': kept}
        try:
            atomic_write(self.path, (json.dumps(data, indent=1, sort_keys=True) + '\n').encode())
        except (IOError, OSError) as exc:
            raise StateError('cannot write state_file %s: %s' % (self.path, exc.strerror or exc))


def _matches(log, entry):
    """Do the file's first bytes match the entry's fingerprint?"""
    length = entry.get('fingerprint_bytes') or 0
    if not length:
        return False
    return len(log.head) >= length and log.fingerprint(length) == entry.get('fingerprint')


class Plan(object):
    """What to read of one file: from ``start``; ``twin`` names the file it copies."""

    def __init__(self, log, start=0, matched=None, twin=None, superseded=()):
        self.log = log
        self.start = start
        self.matched = matched
        self.twin = twin
        self.superseded = list(superseded)
        self.truncated = False
        self.end = start
        self.complete = False


def plan_reads(files, entries):
    """A Plan per file (files have their heads loaded), in the files' order."""
    plans = dict((log.key, Plan(log)) for log in files)
    claimed = {}
    # 1. the same file by inode, first bytes unchanged
    for log in files:
        entry = entries.get(log.key)
        if entry is None:
            continue
        if entry.get('fingerprint_bytes') == 0 or _matches(log, entry):
            plan = plans[log.key]
            plan.start = entry['offset']
            plan.matched = 'inode'
            if log.compression is None and log.size < plan.start:
                plan.start, plan.truncated = 0, True
            claimed[log.key] = log.key
    # 2. the same content under another inode: rotated by copy, or compressed
    for log in files:
        plan = plans[log.key]
        if plan.matched or not log.head:
            continue
        found = [key for key, entry in entries.items() if key != log.key and _matches(log, entry)]
        twins = [claimed[key] for key in found if key in claimed]
        if twins:
            plan.twin = twins[0]
            continue
        if found:
            best = max(found, key=lambda key: entries[key]['offset'])
            plan.start = entries[best]['offset']
            plan.matched = 'fingerprint'
            plan.superseded = found
            for key in found:
                claimed[key] = log.key
            claimed[log.key] = log.key
    # 3. new files: copies of each other share their first bytes; read the plain one
    groups = {}
    for log in files:
        plan = plans[log.key]
        if plan.matched or plan.twin or not log.head:
            continue
        groups.setdefault(log.head, []).append(log)
    for logs in groups.values():
        if len(logs) < 2:
            continue
        primary = sorted(logs, key=lambda item: (item.compression is not None, -item.size, item.path))[0]
        for log in logs:
            if log is not primary:
                plans[log.key].twin = primary.key
    return [plans[log.key] for log in files]


def entry_for(plan, end, complete, now):
    """The state entry of a file after this run."""
    log = plan.log
    return {
        'path': log.path,
        'offset': end,
        'fingerprint': log.fingerprint(),
        'fingerprint_bytes': len(log.head),
        'size': log.size,
        'mtime_ns': log.mtime_ns,
        'compression': log.compression,
        'complete': complete,
        'seen': now,
    }
