# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walking audit roots without following symlinks, and changing the mode of one file found.

The walk goes down by directory descriptors (openat with O_NOFOLLOW, as the log cleanup
walk does), so a symlink is never followed, a symlink loop is only a link, and a directory
swapped for a symlink during the walk is not entered. Each directory is entered once (by
device and inode), so bind mounts cannot make it loop either. A directory that cannot be
read is a problem, reported with the fix, and the walk goes on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_walk import (
    DIR_FLAGS, Dir, PathChanged, open_dir)

FILE_FLAGS = (os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
              | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0))


class Entry(object):
    """One thing found, as lstat saw it; ``dir`` is the directory holding it (None for a root)."""
    __slots__ = ('path', 'rel', 'name', 'dir', 'st')

    def __init__(self, path, rel, name, directory, st):
        self.path = path
        self.rel = rel          # path below the root, '' for the root itself
        self.name = name
        self.dir = directory
        self.st = st

    @property
    def mode(self):
        return stat.S_IMODE(self.st.st_mode)

    @property
    def is_file(self):
        return stat.S_ISREG(self.st.st_mode)

    @property
    def is_dir(self):
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_link(self):
        return stat.S_ISLNK(self.st.st_mode)


def _denied(path, exc, what='read directory'):
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (path, 'cannot %s: permission denied; run the task with become: true' % what)
    return (path, 'cannot %s: %s' % (what, exc.strerror or exc))


def _excluded(path, excludes):
    return any(path == item or path.startswith(item.rstrip('/') + '/') for item in excludes)


def walk(root, problems, one_filesystem=True, excludes=()):
    """Yield an Entry for ``root`` (a resolved absolute path) and everything below it.

    Problems (path, text) go to ``problems``; ``excludes`` are absolute paths not entered;
    with ``one_filesystem`` directories on another device than the root are listed but not
    entered (as find -xdev)."""
    try:
        st = os.lstat(root)
    except OSError as exc:
        problems.append(_denied(root, exc, 'read'))
        return
    if not stat.S_ISDIR(st.st_mode):
        yield Entry(root, '', os.path.basename(root), None, st)
        return
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError as exc:
        problems.append(_denied(root, exc))
        return
    yield Entry(root, '', os.path.basename(root) or root, None, st)
    seen = set([(st.st_dev, st.st_ino)])
    stack = [(Dir(root, (), (st.st_dev, st.st_ino)), fd)]
    while stack:
        directory, fd = stack.pop()
        try:
            children = []
            for entry in _list(directory, fd, problems):
                yield entry
                if entry.is_dir:
                    children.append(entry)
            for entry in reversed(children):
                child = _enter(directory, fd, entry, st.st_dev if one_filesystem else None, excludes, seen, problems)
                if child is not None:
                    stack.append(child)
        finally:
            os.close(fd)


def _list(directory, fd, problems):
    try:
        names = sorted(os.listdir(fd))
    except OSError as exc:
        problems.append(_denied(directory.path, exc))
        return []
    entries = []
    for name in names:
        path = os.path.join(directory.path, name)
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENOENT:   # gone since it was listed: nothing to report
                problems.append(_denied(path, exc, 'stat'))
            continue
        entries.append(Entry(path, os.path.join(*(directory.rel + (name,))), name, directory, st))
    return entries


def _enter(directory, fd, entry, root_dev, excludes, seen, problems):
    """(Dir, fd) of a sub-directory to walk, or None when it is not entered."""
    st = entry.st
    if _excluded(entry.path, excludes) or (st.st_dev, st.st_ino) in seen:
        return None
    if root_dev is not None and st.st_dev != root_dev:
        return None
    try:
        child = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            problems.append(_denied(entry.path, exc))
        return None
    opened = os.fstat(child)
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
        os.close(child)
        problems.append((entry.path, 'was replaced while it was walked: not audited'))
        return None
    seen.add((st.st_dev, st.st_ino))
    return Dir(directory.root, directory.rel + (entry.name,), (st.st_dev, st.st_ino)), child


class ChangeError(Exception):
    """A file that cannot be changed safely; the text names it and why."""


def chmod_entry(entry, mode):
    """Set the permission bits of a regular file found by ``walk`` to ``mode``.

    The file is reached again from its root one name at a time without following symlinks,
    and must still be the file the walk saw (device and inode); its mode is then changed
    through the open file, so nothing outside the root can be touched."""
    if entry.dir is None:
        parent = os.open(os.path.dirname(entry.path) or '/', DIR_FLAGS)
    else:
        try:
            parent = open_dir(entry.dir)
        except PathChanged as exc:
            raise ChangeError('%s' % exc)
    try:
        try:
            fd = os.open(entry.name, FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ChangeError('%s is now a symlink: not changed' % entry.path)
            raise ChangeError('cannot open %s: %s' % (entry.path, exc.strerror))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (entry.st.st_dev, entry.st.st_ino):
                raise ChangeError('%s was replaced since it was audited: not changed' % entry.path)
            os.fchmod(fd, (st.st_mode & 0o7000) | mode)
        except OSError as exc:
            raise ChangeError('cannot change the mode of %s: %s' % (entry.path, exc.strerror))
        finally:
            os.close(fd)
    finally:
        os.close(parent)
