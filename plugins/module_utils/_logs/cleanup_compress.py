# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compressing one log file into NAME.gz or NAME.zst beside it, atomically.

All names are resolved relative to a directory descriptor (cleanup_walk.open_dir); the
source is opened with O_NOFOLLOW and must still be the file the walk saw, before and after
it is read. The archive is written to a temp file in the same directory: an unnamed
O_TMPFILE where the filesystem has them (nothing is left behind if the run dies), a hidden
named one elsewhere; it gets the source's owner (when permitted), mode, atime and mtime.
The caller then makes it durable (flush) and gives it its final name with link(), which
fails when the name exists: an archive that appeared meanwhile is never overwritten.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import struct
import zlib

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_walk import TEMP_SUFFIX

try:
    import zstandard
    HAS_ZSTANDARD = True
except ImportError:
    zstandard = None
    HAS_ZSTANDARD = False

READ_SIZE = 1 << 20
SYNCFS_FILES = 32
_SOURCE_FLAGS = (os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0)
                 | getattr(os, 'O_NOCTTY', 0) | getattr(os, 'O_CLOEXEC', 0))
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
_TMPFILE_FLAGS = os.O_WRONLY | getattr(os, 'O_TMPFILE', 0) | getattr(os, 'O_CLOEXEC', 0)
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT, errno.ENOTSUP)


class Outcome(object):
    """A file that was not compressed: status 'skipped' or 'error', and why."""
    __slots__ = ('status', 'text')

    def __init__(self, status, text):
        self.status = status
        self.text = text


class Pending(object):
    """An archive written and closed to the world, waiting to be flushed and published."""
    __slots__ = ('item', 'fd', 'temp', 'size', 'key', 'status')

    def __init__(self, item, fd, temp, size, key):
        self.status = 'pending'
        self.item = item
        self.fd = fd            # open descriptor of the temp file (None in check mode)
        self.temp = temp        # its name, or None for an O_TMPFILE
        self.size = size
        self.key = key


class _Skip(Exception):
    pass


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _gzip(source, write, item, level):
    """RFC 1952, as gzip(1) writes it: original name and mtime in the header, CRC-32 and size at the end."""
    try:
        name = item.name.encode('latin-1') + b'\0'
    except UnicodeEncodeError:
        name = b''
    flags = 0x08 if name else 0
    extra = 2 if level == 9 else 4 if level == 1 else 0
    mtime = int(item.mtime)
    write(struct.pack('<BBBBIBB', 0x1f, 0x8b, 8, flags, mtime if 0 <= mtime < 1 << 32 else 0, extra, 3) + name)
    deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
    crc = 0
    read = 0
    while True:
        chunk = os.read(source, READ_SIZE)
        if not chunk:
            break
        read += len(chunk)
        crc = zlib.crc32(chunk, crc)
        out = deflate.compress(chunk)
        if out:
            write(out)
    write(deflate.flush() + struct.pack('<II', crc & 0xffffffff, read & 0xffffffff))
    return read


def _zstd(source, write, item, level):
    deflate = zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj(size=item.size)
    read = 0
    while True:
        chunk = os.read(source, READ_SIZE)
        if not chunk:
            write(deflate.flush())
            return read
        read += len(chunk)
        out = deflate.compress(chunk)
        if out:
            write(out)


CODECS = {'gzip': _gzip, 'zstd': _zstd}


def _compress_stream(dir_fd, item, compression, level, write):
    source = os.open(item.name, _SOURCE_FLAGS, dir_fd=dir_fd)
    try:
        if not item.same(os.fstat(source)):
            raise _Skip('changed since it was scanned: left as it is')
        read = CODECS[compression](source, write, item, level)
        if read != item.size or not item.same(os.fstat(source)):
            raise _Skip('written to while being compressed: left as it is')
    finally:
        os.close(source)


def _keep_attributes(fd, item):
    for owner in (item.uid, -1):            # without privileges, a member of the group may still keep it
        try:
            os.fchown(fd, owner, item.gid)
            break
        except OSError:
            continue
    os.fchmod(fd, item.mode)                # after chown, which may clear set-id bits
    os.utime(fd, ns=(item.atime_ns, item.mtime_ns))


def measure(dir_fd, item, compression, level):
    """Check mode: the size the archive would have, by compressing into a counter."""
    sizes = []
    try:
        _compress_stream(dir_fd, item, compression, level, lambda data: sizes.append(len(data)))
    except _Skip as exc:
        return Outcome('skipped', '%s' % exc)
    except (IOError, OSError) as exc:
        return Outcome('error', 'cannot compress: %s' % (exc.strerror or exc))
    return Pending(item, None, None, sum(sizes), None)


def _open_temp(dir_fd, target):
    if _TMPFILE_FLAGS & ~(os.O_WRONLY | getattr(os, 'O_CLOEXEC', 0)):
        try:
            return os.open('.', _TMPFILE_FLAGS, 0o600, dir_fd=dir_fd), None
        except OSError as exc:
            if exc.errno not in _NO_TMPFILE:
                raise
    temp = '.%s.%s%s' % (target[:200], os.urandom(4).hex(), TEMP_SUFFIX)
    return os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=dir_fd), temp


def write(dir_fd, item, compression, level, suffix):
    """Write the archive of ``item`` to a temp file; a Pending, or an Outcome saying why not."""
    fd = temp = None
    try:
        fd, temp = _open_temp(dir_fd, item.name + suffix)
        _compress_stream(dir_fd, item, compression, level, lambda data: _write_all(fd, data))
        _keep_attributes(fd, item)
        st = os.fstat(fd)
        return Pending(item, fd, temp, st.st_size, (st.st_dev, st.st_ino))
    except _Skip as exc:
        outcome = Outcome('skipped', '%s' % exc)
    except (IOError, OSError) as exc:
        outcome = Outcome('error', 'cannot compress: %s' % (exc.strerror or exc))
    discard(dir_fd, Pending(item, fd, temp, 0, None))
    return outcome


def discard(dir_fd, pending):
    if pending.fd is not None:
        os.close(pending.fd)
        pending.fd = None
    if pending.temp is not None:
        try:
            os.unlink(pending.temp, dir_fd=dir_fd)
        except OSError:
            pass
        pending.temp = None


def publish(dir_fd, pending, target):
    """Give the flushed temp file its final name unless that name exists (False then)."""
    try:
        if pending.temp is None:
            os.link('/proc/self/fd/%d' % pending.fd, target, dst_dir_fd=dir_fd, follow_symlinks=True)
            return True
        os.link(pending.temp, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        return True
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return False
        if pending.temp is None or exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        # A filesystem without hard links: check, then rename (a small window; Python has no renameat2).
        try:
            os.stat(target, dir_fd=dir_fd, follow_symlinks=False)
            return False
        except OSError as missing:
            if missing.errno != errno.ENOENT:
                raise
        os.rename(pending.temp, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        pending.temp = None
        return True
    finally:
        discard(dir_fd, pending)


def find_syncfs():
    """libc's syncfs(2) (Linux), or None."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (ImportError, OSError, AttributeError):
        return None


def flush(pendings, syncfs=None):
    """Make written archives durable before anything is removed: one syncfs per filesystem (one
    journal commit for the whole batch) for a batch of SYNCFS_FILES or more, else an fsync of
    each (syncfs also writes out what other programs wrote, which a few files are not worth).
    Returns [(pending, error)]."""
    if syncfs is not None and len(pendings) >= SYNCFS_FILES:
        devices = dict((pending.key[0], pending.fd) for pending in pendings)
        if all(syncfs(fd) == 0 for fd in devices.values()):
            return []
    failed = []
    for pending in pendings:
        try:
            os.fsync(pending.fd)
        except OSError as exc:
            failed.append((pending, 'cannot flush the archive to disk: %s' % exc.strerror))
    return failed
