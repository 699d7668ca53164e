# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one large plain log with several processes.

The unread part of the file is cut at line starts into ``workers`` ranges. Each range but
the last is scanned by a forked child into a fresh scanner, which it sends back pickled
through a pipe; the module's own process scans the last range, which runs to the end of
the file as it is then (so the file may still grow, and a partial last line is handled as
in a plain read). The scanners are merged in the order of the ranges.

Only for formats whose lines stand alone (combined, json) and on POSIX hosts (os.fork).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pickle

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_read import LineBlocks, as_read_error

# Below this many unread bytes one process is quicker than starting others.
MIN_PARALLEL_BYTES = 64 << 20
MAX_WORKERS = 4


def default_workers():
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


class _Range(object):
    """A file object that ends after ``length`` bytes."""

    def __init__(self, handle, length):
        self.handle = handle
        self.left = length

    def read(self, size):
        if self.left <= 0:
            return b''
        data = self.handle.read(min(size, self.left))
        self.left -= len(data)
        return data


def line_starts(path, start, end, parts):
    """``parts`` offsets from ``start``, each the start of a line, cutting [start, end) into
    ranges of about equal size (fewer when lines are long)."""
    starts = [start]
    with open(path, 'rb') as handle:
        for number in range(1, parts):
            nominal = start + (end - start) * number // parts
            if nominal <= starts[-1]:
                continue
            handle.seek(nominal - 1)
            position = nominal - 1
            while True:
                data = handle.read(64 << 10)
                if not data:
                    return starts
                newline = data.find(b'\n')
                if newline >= 0:
                    position += newline + 1
                    break
                position += len(data)
            if position >= end:
                break
            starts.append(position)
    return starts


def _child(path, start, end, factory, write_fd):
    """In the forked child: scan [start, end), send ('ok', scanner) or ('error', text), exit."""
    code = 1
    try:
        scanner = factory()
        with open(path, 'rb') as handle:
            handle.seek(start)
            for block in LineBlocks(_Range(handle, end - start), 0, True, seekable=False):
                scanner.scan(block)
        payload = pickle.dumps(('ok', scanner), pickle.HIGHEST_PROTOCOL)
        code = 0
    except BaseException as exc:  # pylint: disable=broad-except
        payload = pickle.dumps(('error', '%s' % (as_read_error(path, exc) or exc)))
    try:
        with os.fdopen(write_fd, 'wb') as out:
            out.write(payload)
    finally:
        os._exit(code)  # pylint: disable=protected-access


def _start_child(path, start, end, factory):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(path, start, end, factory, write_fd)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid, read_fd):
    with os.fdopen(read_fd, 'rb') as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    try:
        return pickle.loads(data)
    except Exception:  # pylint: disable=broad-except
        return ('error', 'a reading process ended without a result')


def scan_parallel(log, start, scanner, factory, final_partial, workers):
    """Scan ``log`` from ``start`` into ``scanner`` with up to ``workers`` processes.

    Returns (end offset, problem or None). On a child's failure the lines of its range and
    of the ranges after it are left out and ``end`` is the start of its range, so that the
    next run reads them.
    """
    starts = line_starts(log.path, start, log.size, workers)
    children = [_start_child(log.path, lo, hi, factory) for lo, hi in zip(starts[:-1], starts[1:])]
    own = factory()
    problem = None
    blocks = None
    try:
        stream = log.open()
        try:
            blocks = LineBlocks(stream, starts[-1], final_partial, seekable=True)
            for block in blocks:
                own.scan(block)
        finally:
            stream.close()
    except Exception as exc:  # pylint: disable=broad-except
        error = as_read_error(log.path, exc)
        if error is None:
            for pid, read_fd in children:
                _collect(pid, read_fd)
            raise
        problem = '%s' % error
    results = [_collect(pid, read_fd) for pid, read_fd in children]
    for index, (kind, value) in enumerate(results):
        if kind != 'ok':
            return starts[index], '%s' % value
        scanner.merge(value)
    scanner.merge(own)
    return (blocks.offset if blocks is not None else starts[-1]), problem
