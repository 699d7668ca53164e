# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps of log_cleanup that change the disk, unit by unit, in worker processes.

A unit is up to UNIT_FILES files of one directory. Compressing a unit:
  1. every archive is written to its temp file;
  2. all of them are flushed to disk at once (cleanup_compress.flush);
  3. each gets its final name, never overwriting one;
  4. the directory is fsync'ed, so the names are on disk before any source goes;
  5. each source still unchanged since the scan is removed, otherwise its archive is.
Deleting a unit removes each file still the one planned (same inode, size and mtime).
The directories files were removed from are fsync'ed once at the end of the run (settle),
not after each unit: on a filesystem with a journal every fsync is a commit.

Units run in a pool of `workers` processes (forked, so nothing is imported again). The work
is mostly short system calls, each of which takes the GIL back: threads were measured to spend
much of their time handing it over. With one worker, or one unit, units run in this process.
In check mode nothing is written: archives are compressed into a byte counter for their size.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import cleanup_compress as compressor
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_walk import PathChanged, open_dir

UNIT_FILES = 256    # its temp files stay open until flushed: well below the usual 1024 descriptors
CHANGED = 'changed since it was scanned: left as it is'


def units(items, key=lambda item: item):
    """Per directory, in order of first appearance, slices of at most UNIT_FILES items."""
    groups = {}
    for item in items:
        groups.setdefault(key(item).dir.key, []).append(item)
    return [group[start:start + UNIT_FILES] for group in groups.values() for start in range(0, len(group), UNIT_FILES)]


def fsync_dir(fd):
    try:
        os.fsync(fd)
    except OSError:
        pass    # some filesystems cannot fsync a directory; link and unlink are atomic all the same


def _remove(dir_fd, item):
    """Unlink ``item`` if it is still the file planned; None, or why not as (kind, text)."""
    try:
        if not item.same(os.stat(item.name, dir_fd=dir_fd, follow_symlinks=False)):
            return 'skipped', CHANGED
        os.unlink(item.name, dir_fd=dir_fd)
    except OSError as exc:
        return 'error', 'cannot delete: %s' % exc.strerror
    return None


def _publish(dir_fd, pending, target):
    try:
        if compressor.publish(dir_fd, pending, target):
            return None
        return 'skipped', '%s exists already: not overwritten' % target
    except OSError as exc:
        return 'error', 'cannot name the archive %s: %s' % (target, exc.strerror)


def _remove_source(dir_fd, pending, suffix):
    """Remove the source of a published archive; if it changed meanwhile, remove the archive instead."""
    item = pending.item
    try:
        if item.same(os.stat(item.name, dir_fd=dir_fd, follow_symlinks=False)):
            os.unlink(item.name, dir_fd=dir_fd)
            return None
        why = ('skipped', 'written to while being compressed: left as it is')
    except OSError as exc:
        why = ('error', 'cannot remove after compressing: %s' % exc.strerror)
    try:
        st = os.stat(item.name + suffix, dir_fd=dir_fd, follow_symlinks=False)
        if (st.st_dev, st.st_ino) == pending.key:
            os.unlink(item.name + suffix, dir_fd=dir_fd)
    except OSError:
        pass
    return why


def _compress_in(dir_fd, items, codec, check_mode):
    """Outcomes of one unit, in order: ('compressed', size, key) or (kind, text)."""
    compression, level, suffix = codec
    if check_mode:
        results = [compressor.measure(dir_fd, item, compression, level) for item in items]
        return [('compressed', result.size, None) if result.status == 'pending' else (result.status, result.text)
                for result in results]
    outcomes = {}
    written = []
    try:
        for item in items:
            result = compressor.write(dir_fd, item, compression, level, suffix)
            if result.status == 'pending':
                written.append(result)
            else:
                outcomes[id(item)] = (result.status, result.text)
        for pending, error in compressor.flush(written, compressor.find_syncfs()):
            outcomes[id(pending.item)] = ('error', error)
            compressor.discard(dir_fd, pending)
        named = []
        for pending in written:
            if id(pending.item) in outcomes:
                continue
            why = _publish(dir_fd, pending, pending.item.name + suffix)
            if why is None:
                named.append(pending)
            else:
                outcomes[id(pending.item)] = why
    finally:
        for pending in written:
            compressor.discard(dir_fd, pending)
    fsync_dir(dir_fd)
    for pending in named:
        outcomes[id(pending.item)] = _remove_source(dir_fd, pending, suffix) or ('compressed', pending.size, pending.key)
    return [outcomes[id(item)] for item in items]


def compress_unit(unit):
    directory, items, codec, check_mode = unit
    try:
        dir_fd = open_dir(directory)
    except PathChanged as exc:
        return [('error', '%s' % exc)] * len(items)
    try:
        return _compress_in(dir_fd, items, codec, check_mode)
    finally:
        os.close(dir_fd)


def delete_unit(unit):
    directory, items = unit
    try:
        dir_fd = open_dir(directory)
    except PathChanged as exc:
        return [('error', '%s' % exc)] * len(items)
    try:
        return [_remove(dir_fd, item) for item in items]
    finally:
        os.close(dir_fd)


class Apply(object):
    def __init__(self, options, check_mode, skipped, errors):
        self.options = options
        self.check_mode = check_mode
        self.skipped = skipped
        self.errors = errors
        self.touched = {}       # directories files were removed from: fsync'ed once, at the end

    def note(self, item, why):
        kind, text = why
        if kind == 'skipped':
            self.skipped.append({'path': item.path, 'reason': text})
        else:
            self.errors.append({'path': item.path, 'error': text})

    def _map(self, function, work):
        workers = min(self.options.workers, len(work))
        if workers <= 1:
            return [function(unit) for unit in work]
        try:
            context = multiprocessing.get_context('fork')
        except ValueError:
            return [function(unit) for unit in work]
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(function, work))

    def compress(self, items):
        """[(source File, archive size, archive key)] for every file compressed (in check mode, measured)."""
        codec = (self.options.compression, self.options.level, self.options.suffix)
        work = [(unit[0].dir, unit, codec, self.check_mode) for unit in units(items)]
        made = []
        for (directory, unit, codec, check_mode), outcomes in zip(work, self._map(compress_unit, work)):
            for item, outcome in zip(unit, outcomes):
                if outcome[0] == 'compressed':
                    made.append((item, outcome[1], outcome[2]))
                else:
                    self.note(item, outcome)
            if not self.check_mode:
                self.touched[directory.key] = directory
        return made

    def delete(self, doomed):
        """Delete (File, reason) pairs still as planned; returns the pairs deleted, in the order given."""
        if self.check_mode or not doomed:
            return list(doomed)
        work = units(doomed, key=lambda pair: pair[0])
        outcomes_per_unit = self._map(delete_unit, [(unit[0][0].dir, [pair[0] for pair in unit]) for unit in work])
        gone = set()
        for unit, outcomes in zip(work, outcomes_per_unit):
            for pair, why in zip(unit, outcomes):
                if why is None:
                    gone.add(id(pair))
                else:
                    self.note(pair[0], why)
            self.touched[unit[0][0].dir.key] = unit[0][0].dir
        return [pair for pair in doomed if id(pair) in gone]

    def settle(self):
        """fsync every directory files were removed from, so the removals are on disk when the module returns."""
        for directory in self.touched.values():
            try:
                dir_fd = open_dir(directory)
            except PathChanged:
                continue
            fsync_dir(dir_fd)
            os.close(dir_fd)
        self.touched = {}
