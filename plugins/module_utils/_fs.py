# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filesystem helpers every writer shares: private directories, atomic files, free space."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def ensure_private_dir(path):
    """Create ``path`` (and parents) with mode 0700; tighten an existing one we own."""
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
    os.chmod(path, 0o700)
    return path


def free_bytes(path):
    """Bytes an unprivileged writer can still use on the filesystem holding ``path``."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile(object):
    """A file that appears under its final name only when complete.

    Writes go to a hidden temp file in the same directory (so the rename is atomic),
    mode 0600. ``commit()`` flushes, fsyncs, renames and fsyncs the directory;
    ``abort()`` (or leaving the ``with`` block with an exception) removes the temp file.
    """

    def __init__(self, path, mode=0o600):
        self.path = path
        directory, name = os.path.split(os.path.abspath(path))
        fd, self.tmp_path = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
        os.fchmod(fd, mode)
        self.handle = os.fdopen(fd, 'wb')
        self.done = False

    def write(self, data):
        return self.handle.write(data)

    def commit(self):
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.rename(self.tmp_path, self.path)
        fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        self.done = True

    def abort(self):
        if self.done:
            return
        self.done = True
        try:
            self.handle.close()
        finally:
            if os.path.exists(self.tmp_path):
                os.unlink(self.tmp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None or not self.done:
            self.abort()
        return False


def atomic_write(path, data, mode=0o600):
    """Write bytes to ``path`` atomically."""
    with AtomicFile(path, mode) as handle:
        handle.write(data)
        handle.commit()
