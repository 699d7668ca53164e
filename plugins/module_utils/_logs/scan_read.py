# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding log files and reading them as blocks of whole lines, plain, gzip or zstd.

Compression is recognised by the file's first bytes, not its name. Offsets are offsets
in the (decompressed) content, so a file compressed after rotation is resumed where its
plain self was left.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import gzip
import hashlib
import os
import stat
import zlib

try:
    import zstandard
    HAS_ZSTANDARD = True
except ImportError:
    zstandard = None
    HAS_ZSTANDARD = False

GZIP_MAGIC = b'\x1f\x8b'
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
# Large reads: the per-block cost of Python is paid once per megabyte, not per line.
BLOCK_SIZE = 1 << 20
# A longer line is cut to this many bytes (counted once), so one huge line cannot fill memory.
MAX_LINE = 1 << 20
# The content identity of a file: its first bytes, whatever its name, inode or compression.
FINGERPRINT_BYTES = 1024


class ReadError(Exception):
    """A file that cannot be read; the text names it, the cause and the fix."""


class LogFile(object):
    """One regular file to scan."""

    def __init__(self, path, st):
        self.path = path
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns
        self.compression = None
        self.head = None

    @property
    def key(self):
        return '%d:%d' % (self.dev, self.ino)

    def load_head(self):
        """Find the compression and read the first FINGERPRINT_BYTES of content."""
        with _open_raw(self.path) as raw:
            magic = raw.read(4)
        self.compression = 'gzip' if magic[:2] == GZIP_MAGIC else 'zstd' if magic == ZSTD_MAGIC else None
        stream = self.open()
        try:
            self.head = _read_exactly(stream, FINGERPRINT_BYTES)
        except Exception as exc:
            raise _read_error(self.path, exc)
        finally:
            stream.close()

    def fingerprint(self, length=None):
        length = len(self.head) if length is None else length
        return hashlib.sha256(self.head[:length]).hexdigest()

    def open(self):
        """The content as a binary stream (decompressed)."""
        if self.compression == 'gzip':
            return gzip.GzipFile(fileobj=_open_raw(self.path), mode='rb')
        if self.compression == 'zstd':
            if not HAS_ZSTANDARD:
                raise ReadError('%s is zstd-compressed and the zstandard Python library is missing on the host: '
                                'install it (pip install zstandard or the python3-zstandard package)' % self.path)
            return zstandard.ZstdDecompressor().stream_reader(_open_raw(self.path), read_across_frames=True,
                                                              closefd=True)
        return _open_raw(self.path)


def _open_raw(path):
    try:
        return open(path, 'rb')
    except (IOError, OSError) as exc:
        raise _read_error(path, exc)


def _read_exactly(stream, size):
    parts = []
    while size > 0:
        data = stream.read(size)
        if not data:
            break
        parts.append(data)
        size -= len(data)
    return b''.join(parts)


def _read_error(path, exc):
    if isinstance(exc, ReadError):
        return exc
    if isinstance(exc, (IOError, OSError)) and exc.errno in (errno.EACCES, errno.EPERM):
        return ReadError('cannot read %s: permission denied; run the task with become: true or give the user '
                         'read access (for example through the adm group)' % path)
    if isinstance(exc, (IOError, OSError)) and exc.errno is not None:
        return ReadError('cannot read %s: %s' % (path, exc.strerror or exc))
    if isinstance(exc, EOFError):
        return ReadError('%s: the compressed data ends early; it is still being written or was cut short' % path)
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)) or (HAS_ZSTANDARD and isinstance(exc, zstandard.ZstdError)):
        return ReadError('%s: the compressed data is damaged (%s)' % (path, exc))
    return None


def as_read_error(path, exc):
    """A ReadError for an exception met while reading ``path``, or None when it is a bug."""
    return _read_error(path, exc)


def _has_magic(pattern):
    return any(char in pattern for char in '*?[')


def find_files(patterns):
    """Regular files for paths and globs, each file once (by device and inode), oldest
    first. Returns (files, problems) where a problem is (pattern or path, detail)."""
    files = []
    problems = []
    seen = set()
    for pattern in patterns:
        is_glob = _has_magic(pattern)
        names = sorted(glob.glob(pattern)) if is_glob else [pattern]
        if is_glob and not names:
            problems.append((pattern, 'matches no file; check the path'))
        for name in names:
            try:
                st = os.stat(name)
            except (IOError, OSError) as exc:
                if exc.errno == errno.ENOENT:
                    problems.append((name, 'no such file; check the path or use a glob'))
                else:
                    problems.append((name, '%s' % _read_error(name, exc)))
                continue
            if stat.S_ISDIR(st.st_mode):
                if not is_glob:
                    problems.append((name, 'is a directory; give files or a glob such as %s' % os.path.join(name, '*.log')))
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append((name, 'is not a regular file'))
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            files.append(LogFile(name, st))
    files.sort(key=lambda item: (item.mtime_ns, item.path))
    return files, problems


class LineBlocks(object):
    """Blocks of whole lines from content offset ``start``; ``offset`` is the content offset
    just after the last line of the blocks already processed (a block counts as processed
    when the next one is asked for, or at the end).

    A last line without a newline is read only when ``final_partial`` (a file that is no
    longer written to, or a scan that keeps no state); otherwise it is left for the next run.
    """

    def __init__(self, stream, start, final_partial, seekable):
        self.stream = stream
        self.seekable = seekable
        self.start = start
        self.offset = start
        self.final_partial = final_partial
        self.cut_lines = 0
        self.reached_start = True

    def _skip(self):
        """Move to ``start``; False when the content is shorter than that."""
        if not self.start:
            return True
        if self.seekable:
            self.stream.seek(self.start)
            return True
        left = self.start
        while left:
            data = self.stream.read(min(left, BLOCK_SIZE))
            if not data:
                return False
            left -= len(data)
        return True

    def __iter__(self):
        if not self._skip():
            self.reached_start = False
            return
        read = self.stream.read
        carry = b''         # the kept start of an unfinished line
        carry_bytes = 0     # its length in the content (more than len(carry) once cut)
        while True:
            data = read(BLOCK_SIZE)
            if not data:
                break
            last = data.rfind(b'\n')
            if last < 0:
                carry_bytes += len(data)
                if len(carry) < MAX_LINE:
                    carry += data[:MAX_LINE - len(carry)]
                continue
            first = data.find(b'\n')
            if carry_bytes > len(carry) or len(carry) + first > MAX_LINE:
                # An overlong line: its first MAX_LINE bytes, alone.
                self.cut_lines += 1
                yield (carry + data[:first])[:MAX_LINE] + b'\n'
                self.offset += carry_bytes + first + 1
                carry, carry_bytes = b'', 0
                block = data[first + 1:last + 1]
                consumed = last - first
            else:
                block = carry + data[:last + 1] if carry else (data if last == len(data) - 1 else data[:last + 1])
                consumed = carry_bytes + last + 1
            if block:
                yield block
            self.offset += consumed
            carry = data[last + 1:]
            carry_bytes = len(carry)
            if carry_bytes > MAX_LINE:
                carry = carry[:MAX_LINE]
        if carry_bytes and self.final_partial:
            if carry_bytes > len(carry):
                self.cut_lines += 1
            yield carry + b'\n'
            self.offset += carry_bytes
