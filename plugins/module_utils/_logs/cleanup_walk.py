# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walking log directories without following symlinks, and finding files open for writing.

The walk goes down by directory descriptors (openat with O_NOFOLLOW), never by path, so a
directory swapped for a symlink after it was listed cannot lead outside the root: every
directory is opened again the same way when files in it are changed, and its device and
inode must still be the ones seen during the walk. The real path of each directory
(/proc/self/fd) is checked to be under the root as well.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

DIR_FLAGS = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
TEMP_SUFFIX = '.log-cleanup-tmp'


class PathChanged(Exception):
    """A directory is no longer the one the walk saw (replaced, moved or made a symlink)."""


class Dir(object):
    __slots__ = ('root', 'rel', 'key', 'path')

    def __init__(self, root, rel, key):
        self.root = root
        self.rel = rel          # tuple of names below the root
        self.key = key          # (st_dev, st_ino)
        self.path = os.path.join(root, *rel) if rel else root


class File(object):
    """One regular file as lstat saw it during the walk."""
    __slots__ = ('dir', 'name', 'kind', 'key', 'size', 'mtime_ns', 'atime_ns', 'mode', 'uid', 'gid', 'nlink')

    def __init__(self, directory, name, kind, st):
        self.dir = directory
        self.name = name
        self.kind = kind        # 'log' or 'archive'
        self.key = (st.st_dev, st.st_ino)
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns
        self.atime_ns = st.st_atime_ns
        self.mode = stat.S_IMODE(st.st_mode)
        self.uid = st.st_uid
        self.gid = st.st_gid
        self.nlink = st.st_nlink

    def archive(self, suffix, size, key):
        """The archive compressing this file made (or, in check mode, would make)."""
        made = File.__new__(File)
        for slot in File.__slots__:
            setattr(made, slot, getattr(self, slot))
        made.name = self.name + suffix
        made.kind = 'archive'
        made.size = size
        made.key = key
        made.nlink = 1
        return made

    @property
    def path(self):
        return os.path.join(self.dir.path, self.name)

    @property
    def mtime(self):
        return self.mtime_ns / 1e9

    def same(self, st):
        """Whether ``st`` (an lstat/fstat) is this file, unchanged."""
        return (stat.S_ISREG(st.st_mode) and (self.key is None or (st.st_dev, st.st_ino) == self.key)
                and st.st_size == self.size and st.st_mtime_ns == self.mtime_ns)


def _fd_path(fd):
    try:
        return os.readlink('/proc/self/fd/%d' % fd)
    except OSError:
        return None


def _inside(path, root):
    return path == root or path.startswith(root.rstrip('/') + '/')


class Scan(object):
    """Everything found under one root: dirs, files (logs and archives), names per dir, skips, errors."""

    def __init__(self, root):
        self.root = root
        self.dirs = []
        self.files = []
        self.names = {}         # Dir.key -> set of names in it
        self.skipped = []       # (path, reason)
        self.errors = []        # (path, error)


def scan(root, options):
    """Walk ``root`` (a resolved directory) and classify what is in it."""
    result = Scan(root)
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError as exc:
        result.errors.append((root, 'cannot read directory: %s' % exc.strerror))
        return result
    st = os.fstat(fd)
    stack = [(Dir(root, (), (st.st_dev, st.st_ino)), fd)]
    while stack:
        directory, fd = stack.pop()
        try:
            _scan_dir(directory, fd, options, result, stack)
        finally:
            os.close(fd)
    return result


def _scan_dir(directory, fd, options, result, stack):
    real = _fd_path(fd)
    if real is not None and not _inside(real, result.root):
        result.errors.append((directory.path, 'resolves to %s, outside %s: not touched' % (real, result.root)))
        return
    try:
        entries = list(os.scandir(fd))
    except OSError as exc:
        result.errors.append((directory.path, 'cannot read directory: %s' % exc.strerror))
        return
    result.dirs.append(directory)
    names = result.names[directory.key] = set()
    subdirs = []
    for entry in entries:
        name = entry.name
        names.add(name)
        try:
            if entry.is_symlink():
                if options.classify(name):
                    result.skipped.append((os.path.join(directory.path, name), 'symlink: never followed'))
                continue
            if entry.is_dir(follow_symlinks=False):
                if options.recurse:
                    subdirs.append(name)
                continue
            kind = options.classify(name)
            if kind is None or name.endswith(TEMP_SUFFIX):
                continue
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            result.errors.append((os.path.join(directory.path, name), 'cannot stat: %s' % exc.strerror))
            continue
        if not stat.S_ISREG(st.st_mode):
            result.skipped.append((os.path.join(directory.path, name), 'not a regular file'))
            continue
        result.files.append(File(directory, name, kind, st))
    for name in sorted(subdirs, reverse=True):
        path = os.path.join(directory.path, name)
        try:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            result.errors.append((path, 'cannot read directory: %s' % exc.strerror))
            continue
        st = os.fstat(child)
        stack.append((Dir(directory.root, directory.rel + (name,), (st.st_dev, st.st_ino)), child))


def open_dir(directory):
    """A descriptor of ``directory``, reached from its root by openat(O_NOFOLLOW) one name at a time.

    Raises PathChanged when what is there now is not the directory the walk saw."""
    fd = os.open(directory.root, DIR_FLAGS)
    try:
        for name in directory.rel:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != directory.key:
            raise PathChanged('%s was replaced or removed since it was scanned: not touched' % directory.path)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            raise PathChanged('%s was replaced or removed since it was scanned: not touched' % directory.path)
        raise PathChanged('%s cannot be opened again: %s' % (directory.path, exc.strerror))
    except PathChanged:
        os.close(fd)
        raise
    return fd


def _write_access(pid, fd):
    """Whether /proc/<pid>/fdinfo/<fd> says the descriptor is open for writing."""
    with open('/proc/%s/fdinfo/%s' % (pid, fd)) as handle:
        for line in handle:
            if line.startswith('flags:'):
                return (int(line.split()[1], 8) & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR)
    return False


def _comm(pid):
    try:
        with open('/proc/%s/comm' % pid) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return '?'


def open_writers(keys):
    """{(st_dev, st_ino): 'pid N (comm)'} for the files in ``keys`` some process holds open for
    writing, from /proc/*/fd and /proc/*/fdinfo; and the number of processes that could not be
    inspected (other users' processes, for a user without CAP_SYS_PTRACE), or None without /proc."""
    found = {}
    hidden = 0
    try:
        pids = [name for name in os.listdir('/proc') if name.isdigit()]
    except OSError:
        return found, None
    me = str(os.getpid())
    for pid in pids:
        if pid == me:
            continue
        try:
            fds = os.listdir('/proc/%s/fd' % pid)
        except OSError as exc:
            if exc.errno != 2:      # ENOENT: the process has ended
                hidden += 1
            continue
        for fd in fds:
            try:
                st = os.stat('/proc/%s/fd/%s' % (pid, fd))
                key = (st.st_dev, st.st_ino)
                if key in keys and key not in found and _write_access(pid, fd):
                    found[key] = 'pid %s (%s)' % (pid, _comm(pid))
            except (IOError, OSError, ValueError):
                continue
    return found, hidden
