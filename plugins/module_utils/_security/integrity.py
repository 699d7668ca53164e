# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file-integrity baseline: SHA-256, mode and owner of every file under the given paths,
kept in a JSON file (mode 0600, written atomically), and what was added, changed and
removed since it was taken.

Symlinks are recorded by their target text, never followed. The baseline file itself is
left out when it lies under one of the paths.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os
import stat
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import atomic_write, ensure_private_dir
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import (
    AuditError, finding, octal)
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.walk import FILE_FLAGS, walk

VERSION = 1
CHUNK = 1 << 20
COMPARED = ('type', 'sha256', 'target', 'mode', 'uid', 'gid')


def _sha256(entry):
    fd = os.open(entry.path, FILE_FLAGS)
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (entry.st.st_dev, entry.st.st_ino):
            raise OSError(errno.ESTALE, 'replaced while it was read')
        digest = hashlib.sha256()
        while True:
            data = os.read(fd, CHUNK)
            if not data:
                break
            digest.update(data)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _record(entry):
    st = entry.st
    record = {'mode': octal(stat.S_IMODE(st.st_mode)), 'uid': st.st_uid, 'gid': st.st_gid}
    if entry.is_link:
        record.update(type='symlink', target=os.readlink(entry.path))
    else:
        record.update(type='file', size=st.st_size, sha256=_sha256(entry))
    return record


def current_state(paths, baseline_file, problems, one_filesystem=True, excludes=()):
    """{path: record} of the regular files and symlinks under ``paths``."""
    state = {}
    skip = os.path.abspath(baseline_file)
    for root in paths:
        if not os.path.lexists(root):
            continue    # gone: its files are reported as removed
        for entry in walk(root, problems, one_filesystem, excludes):
            if entry.path == skip or not (entry.is_file or entry.is_link):
                continue
            try:
                state[entry.path] = _record(entry)
            except OSError as exc:
                problems.append((entry.path, 'cannot read for its checksum: %s' % exc.strerror))
    return state


def load_baseline(path):
    """The saved baseline dict, or None when there is none yet."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise AuditError('baseline_file %s cannot be read: %s; run the task with become: true or choose '
                         'another baseline_file' % (path, exc.strerror))
    try:
        baseline = json.loads(data.decode('utf-8'))
        if baseline.get('version') != VERSION or not isinstance(baseline.get('files'), dict):
            raise ValueError('not a version %d baseline' % VERSION)
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise AuditError('baseline_file %s is not a baseline this module wrote (%s): move it away and run with '
                         'update_baseline: true to take a new one' % (path, exc))
    return baseline


def _changes(old, new):
    return [key for key in COMPARED if old.get(key) != new.get(key)]


def _describe(key, old, new):
    if key == 'sha256':
        return 'content (SHA-256 %s... -> %s...)' % ((old.get(key) or '-')[:12], (new.get(key) or '-')[:12])
    return '%s %s -> %s' % (key, old.get(key), new.get(key))


def compare(baseline_files, state):
    """(added, changed, removed) findings, each sorted by path."""
    added = []
    changed = []
    removed = []
    for path in sorted(set(state) - set(baseline_files)):
        added.append(finding(
            'integrity', 'added since the baseline (%s)' % state[path]['type'],
            'check who put it there; run with update_baseline: true once the change is known to be wanted',
            path=path, change='added'))
    for path in sorted(set(state) & set(baseline_files)):
        keys = _changes(baseline_files[path], state[path])
        if keys:
            changed.append(finding(
                'integrity', 'changed since the baseline: %s'
                % '; '.join(_describe(key, baseline_files[path], state[path]) for key in keys),
                'check the change (package upgrade, deploy, or intrusion); run with update_baseline: true once it '
                'is known to be wanted', path=path, change='changed', changed_keys=keys))
    for path in sorted(set(baseline_files) - set(state)):
        removed.append(finding(
            'integrity', 'removed since the baseline',
            'check why it is gone; run with update_baseline: true once the change is known to be wanted',
            path=path, change='removed'))
    return added, changed, removed


def save_baseline(path, paths, state, now=None):
    """Write the baseline atomically with mode 0600 (its directory is created 0700)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            ensure_private_dir(directory)
        data = {'version': VERSION, 'taken': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now)),
                'paths': list(paths), 'files': state}
        atomic_write(path, json.dumps(data, indent=1, sort_keys=True).encode('utf-8') + b'\n', mode=0o600)
    except (IOError, OSError) as exc:
        raise AuditError('baseline_file %s cannot be written: %s; run the task with become: true or choose '
                         'another baseline_file' % (path, exc.strerror))
