# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tar stream written as bytes chunks, member by member, never holding a member in memory.

Headers are POSIX pax (Python's tarfile default), so long and non-ASCII names survive;
GNU tar, bsdtar and Python's tarfile read them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import tarfile
import time

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
READ_SIZE = 1024 * 1024


class TarStream(object):
    """Yields the bytes of one tar archive. ``size`` counts what was yielded so far."""

    def __init__(self, mtime=None):
        self.mtime = int(time.time()) if mtime is None else int(mtime)
        self.size = 0

    def _header(self, name, size, kind, mode):
        info = tarfile.TarInfo(name)
        info.size = size
        info.type = kind
        info.mode = mode
        info.mtime = self.mtime
        return info.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape')

    def _emit(self, data):
        self.size += len(data)
        return data

    def directory(self, name):
        """A directory member (``name`` without the trailing slash), mode 0700."""
        yield self._emit(self._header(name.rstrip('/') + '/', 0, tarfile.DIRTYPE, 0o700))

    def member(self, name, data):
        """A regular file member, mode 0600, from bytes already in memory (small files)."""
        yield self._emit(self._header(name, len(data), tarfile.REGTYPE, 0o600))
        if data:
            yield self._emit(data)
        padding = -len(data) % BLOCK
        if padding:
            yield self._emit(b'\0' * padding)

    def member_from_file(self, name, handle, size):
        """A regular file member read from ``handle`` (positioned at its start), exactly ``size`` bytes."""
        yield self._emit(self._header(name, size, tarfile.REGTYPE, 0o600))
        left = size
        while left:
            data = handle.read(min(READ_SIZE, left))
            if not data:
                raise IOError('spool file ended %d bytes early while writing tar member %s' % (left, name))
            left -= len(data)
            yield self._emit(data)
        padding = -size % BLOCK
        if padding:
            yield self._emit(b'\0' * padding)

    def end(self):
        """Two zero blocks, then zeros up to a whole record, as tar itself writes."""
        trailer = 2 * BLOCK
        trailer += -(self.size + trailer) % RECORD
        yield self._emit(b'\0' * trailer)
