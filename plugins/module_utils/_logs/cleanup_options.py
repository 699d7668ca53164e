# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_cleanup options: checked and normalised before anything on disk is touched.

Every error names the option and says how to fix it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re

# Trees that hold no logs a cleanup may touch: the directory and everything below it is refused.
# So are /lib, /lib32, /lib64, /libx32 and /lib.<anything> (such as /lib.usr-is-merged).
SYSTEM_TREES = ('/bin', '/boot', '/dev', '/etc', '/proc', '/run', '/sbin', '/sys', '/usr')
# Directories holding many unrelated things: refused themselves, their sub-directories allowed
# (/var/log/nginx, /var/lib/docker/containers, /home/app/logs, /opt/app/logs). /var/log is allowed.
SYSTEM_DIRS = ('/', '/home', '/media', '/mnt', '/opt', '/root', '/srv', '/tmp', '/var', '/var/backups',
               '/var/cache', '/var/lib', '/var/local', '/var/mail', '/var/opt', '/var/spool', '/var/tmp')

SUFFIXES = {'gzip': '.gz', 'zstd': '.zst'}
# Archives this module deletes: a name matching a pattern plus one of these.
ARCHIVE_SUFFIXES = ('.gz', '.zst')
# Never compressed again.
COMPRESSED_SUFFIXES = ARCHIVE_SUFFIXES + ('.bz2', '.xz', '.lz4', '.lzma', '.lz', '.br', '.zip', '.7z', '.Z')
LEVELS = {'gzip': (1, 9, 6), 'zstd': (1, 22, 3)}
DEFAULT_PATTERNS = ['*.log', '*.log.[0-9]*']
_UNITS = {'': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40, 'p': 1 << 50}
_SIZE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|b)?\s*$', re.IGNORECASE)

_LIB_TREE = re.compile(r'^lib(?:32|64|x32|\..*)?$')

DAY = 86400


class CleanupError(Exception):
    """Bad input: nothing has been changed; the text names the option and the fix."""


class MissingZstandard(Exception):
    """compression=zstd without the zstandard library on the host."""


def parse_size(text):
    """Bytes of a size such as 2G, 500M, 1.5G, 4096; K, M, G, T, P are powers of 1024 (as in du -h)."""
    match = _SIZE.match('%s' % text)
    if not match:
        raise CleanupError('max_total_size %r is not a size: write a number with an optional unit K, M, G or T '
                           '(powers of 1024), for example 2G or 500M' % (text,))
    return int(float(match.group(1)) * _UNITS[(match.group(2) or '').lower()])


def system_path_reason(path):
    """Why ``path`` (absolute, normalised) is a system directory, or None."""
    if path in SYSTEM_DIRS:
        return 'a system directory'
    first = path.split('/')[1] if path != '/' else ''
    if _LIB_TREE.match(first):
        return 'inside the system tree /%s' % first
    for tree in SYSTEM_TREES:
        if path == tree or path.startswith(tree + '/'):
            return 'inside the system tree %s' % tree
    return None


class Options(object):
    """The checked options; ``roots`` are resolved real paths, in the order given."""

    def __init__(self, params):
        self.compression = params.get('compression') or 'gzip'
        self.suffix = SUFFIXES[self.compression]
        self.recurse = bool(params.get('recurse'))
        self.allow_system_paths = bool(params.get('allow_system_paths'))
        self.compress_after_days = params.get('compress_after_days')
        self.delete_after_days = params.get('delete_after_days')
        self.min_idle = params.get('min_idle')
        self.min_idle = 60 if self.min_idle is None else self.min_idle
        self.workers = params.get('workers')
        self.workers = (os.cpu_count() or 1) if self.workers is None else self.workers
        self.max_total_size = params.get('max_total_size')
        self.limit = parse_size(self.max_total_size) if self.max_total_size not in (None, '') else None
        self.patterns = list(params.get('patterns') or DEFAULT_PATTERNS)
        self.level = params.get('compression_level')
        self._check_numbers()
        self.pattern_re = self._compile_patterns()
        self.roots = self._check_roots(params.get('paths') or [])

    def _check_numbers(self):
        for name in ('compress_after_days', 'delete_after_days', 'min_idle', 'workers'):
            value = getattr(self, name)
            if value is not None and value < (1 if name == 'workers' else 0):
                raise CleanupError('%s must be %s, not %s' % (name, 'at least 1' if name == 'workers' else '0 or more', value))
        if self.compress_after_days is None and self.delete_after_days is None and self.limit is None:
            raise CleanupError('nothing to do: set at least one of compress_after_days, delete_after_days and max_total_size')
        if (self.compress_after_days is not None and self.delete_after_days is not None
                and self.delete_after_days < self.compress_after_days):
            raise CleanupError('delete_after_days (%d) is less than compress_after_days (%d): archives would be deleted '
                               'before logs of that age are compressed; set delete_after_days to %d or more'
                               % (self.delete_after_days, self.compress_after_days, self.compress_after_days))
        low, high, default = LEVELS[self.compression]
        if self.level is None:
            self.level = default
        elif not low <= self.level <= high:
            raise CleanupError('compression_level %d is out of range for %s: use %d to %d'
                               % (self.level, self.compression, low, high))

    def _compile_patterns(self):
        for pattern in self.patterns:
            if not pattern or '/' in pattern:
                raise CleanupError('patterns: %r is not a file name pattern; give shell globs matched against '
                                   'file names, without "/", for example "*.log" or "*.log.[0-9]*"' % (pattern,))
        return re.compile('|'.join('(?:%s)' % fnmatch.translate(pattern) for pattern in self.patterns))

    def _check_roots(self, paths):
        if not paths:
            raise CleanupError('paths is empty: list the log directories to clean')
        roots = []
        for given in paths:
            if not given or not os.path.isabs(given):
                raise CleanupError('paths: %r is not an absolute path; give log directories as absolute paths' % (given,))
            normal = os.path.normpath(given)
            real = os.path.realpath(normal)
            if not self.allow_system_paths:
                for candidate in (normal, real):
                    reason = system_path_reason(candidate)
                    if reason:
                        shown = candidate if candidate == normal else '%s (the real path of %s)' % (candidate, normal)
                        raise CleanupError('paths: %s is %s; log_cleanup refuses it unless allow_system_paths=true '
                                           '(give the application\'s own log directory, for example /var/log/myapp)'
                                           % (shown, reason))
            if not os.path.isdir(real):
                raise CleanupError('paths: %s is not a directory; create it or remove it from paths' % given)
            roots.append(real)
        for index, root in enumerate(roots):
            for other in roots[:index]:
                if root == other:
                    raise CleanupError('paths: %s is listed twice (as given or after resolving symlinks); list it once' % root)
                if self.recurse and (root.startswith(other.rstrip('/') + '/') or other.startswith(root.rstrip('/') + '/')):
                    inner, outer = (root, other) if len(root) > len(other) else (other, root)
                    raise CleanupError('paths: %s is inside %s and recurse=true would clean it twice; list only %s'
                                       % (inner, outer, outer))
        return roots

    def classify(self, name):
        """'log', 'archive' or None for a file name."""
        if name.endswith(ARCHIVE_SUFFIXES):
            stem = name[:name.rindex('.')]
            if self.pattern_re.match(stem):
                return 'archive'
        if name.endswith(COMPRESSED_SUFFIXES):
            return None
        if self.pattern_re.match(name):
            return 'log'
        return None
