# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sizes of the last run, kept in a small JSON file on the host, and growth since then.

One file can serve many targets: entries are keyed by the target label. The file is
written atomically with mode 0600 and re-read under a lock, so two tasks sharing it keep
each other's entries.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import atomic_write

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # not on POSIX: no lock, the rename is still atomic
    HAS_FCNTL = False

VERSION = 1
# Targets not measured for this long are dropped, so a file shared by many targets stays small.
KEEP_SECONDS = 400 * 86400
# Tables kept per target: the biggest ones, where growth matters.
MAX_TABLES = 1000
# A daily rate extrapolated from runs closer together than this says nothing.
MIN_RATE_SECONDS = 3600


class SnapshotProblem(Exception):
    """The snapshot file cannot be used; the text says what to do."""


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def load(path):
    """Entries by target label; {} when the file does not exist yet."""
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return {}
        raise SnapshotProblem('snapshot_file %s cannot be read (%s): fix its permissions or choose another path'
                              % (path, exc.strerror or exc))
    try:
        data = json.loads(raw.decode('utf-8'))
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get('targets'), dict) or data.get('version') != VERSION:
        # Not ours (or a future format): never overwrite what we did not write.
        raise SnapshotProblem('snapshot_file %s exists but is not a db_stats snapshot; it is left alone and growth '
                              'is not tracked: remove it or choose another path' % path)
    return dict((key, value) for key, value in data['targets'].items() if _usable(value))


def _usable(value):
    """An entry this code can compare with; a damaged one is dropped (and rewritten)."""
    return (isinstance(value, dict) and isinstance(value.get('taken_at'), (int, float))
            and isinstance(value.get('databases'), dict) and isinstance(value.get('tables', {}), dict))


def entry(sizes, now):
    """What this run records for its target."""
    tables = sorted(sizes['tables'].items(), key=lambda pair: -pair[1])[:MAX_TABLES]
    return {'taken_at': now, 'unit': sizes['unit'], 'databases': dict(sizes['databases']), 'tables': dict(tables)}


def save(path, label, record, now):
    """Merge this target's entry into the file under a lock and write it atomically (0600)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    lock = None
    if HAS_FCNTL:
        lock = open(path + '.lock', 'a')
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    try:
        entries = load(path)
        entries = dict((key, value) for key, value in entries.items()
                       if now - value['taken_at'] < KEEP_SECONDS)
        entries[label] = record
        data = json.dumps({'version': VERSION, 'targets': entries}, indent=1, sort_keys=True) + '\n'
        atomic_write(path, data.encode('utf-8'), 0o600)
    finally:
        if lock is not None:
            lock.close()


def _changes(before, after):
    rows = []
    for name in set(before) | set(after):
        size, previous = after.get(name), before.get(name)
        row = {'name': name, 'size': size, 'previous': previous, 'change': (size or 0) - (previous or 0)}
        if previous is None:
            row['new'] = True
        if size is None:
            row['gone'] = True
        rows.append(row)
    rows.sort(key=lambda row: (-row['change'], row['name']))
    return rows


def growth(previous, current, now, top):
    """Growth between a stored entry and this run's sizes; None when units differ."""
    if previous.get('unit') != current['unit']:
        return None
    before_total = sum(previous.get('databases', {}).values())
    total = sum(current['databases'].values())
    taken_at = float(previous['taken_at'])
    elapsed = max(0.0, now - taken_at)
    change = total - before_total
    tables = _changes(previous.get('tables') or {}, current['tables'])
    return {
        'unit': current['unit'],
        'previous_at': iso(taken_at),
        'elapsed_seconds': round(elapsed, 1),
        'total': total,
        'previous_total': before_total,
        'change': change,
        'percent': round(100.0 * change / before_total, 2) if before_total else None,
        'per_day': round(change * 86400.0 / elapsed, 1) if elapsed >= MIN_RATE_SECONDS else None,
        'databases': _changes(previous.get('databases') or {}, current['databases'])[:top],
        'tables': [row for row in tables if row['change']][:top],
    }
