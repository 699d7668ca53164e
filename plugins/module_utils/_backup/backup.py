# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_backup: pre-flight, naming, the streaming pipeline and the manifest (docs/backups.md).

Engine-agnostic: any engine whose backend has ``dump_source(format=...)`` returning a
DumpSource (source.py) plugs in.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import datetime
import errno
import fcntl
import os
import re
import signal
import stat
import threading
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import pipeline
from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import DurationError, parse_seconds
from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import ensure_private_dir, free_bytes

TEMP_FILE = re.compile(r'^\..+\.tmp$')
SIGNALS = ('SIGTERM', 'SIGINT', 'SIGHUP')


# Options of one engine's dump_source(), passed through only when set.
ENGINE_OPTIONS = {
    'mongodb': ('collections', 'exclude_collections', 'spool_dir'),
    'redis': ('redis_method', 'redis_rdb_path', 'redis_timeout'),
}


def engine_options(engine, params):
    """The engine-specific options that are set, as keyword arguments for dump_source();
    BackupError when one is set for another engine."""
    options = {}
    for owner, names in sorted(ENGINE_OPTIONS.items()):
        for name in names:
            if params.get(name) in (None, []):
                continue
            if owner != engine:
                raise BackupError('%s applies only to engine %s: unset it for engine %s' % (name, owner, engine))
            options[name] = params[name]
    return options


class BackupError(Exception):
    """A backup that cannot be made; the text names the option or path and the fix."""


def signal_name(signum):
    return signal.Signals(signum).name


class Interrupted(BaseException):
    """A signal asked the module to stop. BaseException, so no ``except Exception`` swallows it."""

    def __init__(self, signum):
        self.signum = signum
        self.name = signal_name(signum)
        super(Interrupted, self).__init__('interrupted by %s' % self.name)


class SignalGuard(object):
    """Turns SIGTERM, SIGINT and SIGHUP into Interrupted while armed.

    Only the first signal raises: later ones must not break the cleanup it caused. Once the
    manifest is written the backup is complete, so ``disarm()`` stops a late signal from
    reporting a finished backup as interrupted.
    """

    def __init__(self):
        self.armed = True
        self.received = None

    def handler(self, signum, frame):
        if self.armed and self.received is None:
            self.received = signum
            raise Interrupted(signum)

    def disarm(self):
        self.armed = False


@contextlib.contextmanager
def signals_interrupt():
    """Install a SignalGuard while a backup runs, so a signal unwinds the stack: the temp file
    is removed, the dump tool killed, its option file deleted. Yields the guard."""
    guard = SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous = {}
    try:
        for name in SIGNALS:
            number = getattr(signal, name)
            previous[number] = signal.signal(number, guard.handler)
        yield guard
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def human(size):
    for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB'):
        if size < 1024 or unit == 'TiB':
            return ('%d %s' if unit == 'bytes' else '%.1f %s') % (size, unit)
        size /= 1024.0
    return '%d bytes' % size


def _existing_ancestor(path):
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def preflight(dest, estimated, factor, what):
    """(free bytes, required bytes); BackupError when the estimate does not fit."""
    free = free_bytes(_existing_ancestor(dest))
    if estimated is None or not factor:
        return free, None
    required = int(estimated * factor)
    if required > free:
        raise BackupError(
            'not enough free space in dest %s: %s (%d bytes) free, the backup needs about %s (%d bytes): '
            '%s is %s x free_space_factor %g. Free some space, choose another dest, or lower free_space_factor '
            'if compression shrinks your dumps (0 turns this check off)'
            % (dest, human(free), free, human(required), required, what, human(estimated), factor))
    return free, required


def stale_temp_files(series_dir):
    """Temp files a killed run left in a series directory (regular files named .*.tmp)."""
    if not os.path.isdir(series_dir):
        return []
    found = []
    for name in sorted(os.listdir(series_dir)):
        path = os.path.join(series_dir, name)
        if TEMP_FILE.match(name) and stat.S_ISREG(os.lstat(path).st_mode):
            found.append(path)
    return found


# Errors of a file system that cannot lock (some NFS setups): back up without the lock.
_NO_LOCKING = (errno.ENOLCK, errno.EBADF, errno.EINVAL, getattr(errno, 'EOPNOTSUPP', errno.EINVAL))


@contextlib.contextmanager
def series_lock(series_dir):
    """One db_backup per series at a time, so cleaning temp files never hits a live run.
    Yields False when the file system cannot lock: the caller then leaves temp files alone."""
    fd = os.open(series_dir, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except (IOError, OSError) as exc:
            if exc.errno in _NO_LOCKING:
                locked = False
            elif exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise BackupError('another db_backup of this series is running (it holds the lock on %s): '
                                  'wait for it to finish' % series_dir)
            else:
                raise
        yield locked
    finally:
        os.close(fd)


def _free_name(series_dir, series, moment, extension):
    """The artifact path for ``moment``; a second later if a backup of that second exists."""
    while True:
        path = os.path.join(series_dir, layout.artifact_name(series, moment, extension))
        if not os.path.lexists(path) and not os.path.lexists(manifests.manifest_path(path)):
            return path
        moment += datetime.timedelta(seconds=1)


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


class BackupSettings(object):
    """The db_backup options that are not the connection, checked before anything runs."""

    def __init__(self, dest, dump_format=None, compression='zstd', compression_level=None,
                 encryption_recipients=None, encryption_passphrase_file=None, free_space_factor=1.0,
                 dump_options=None, skip_if_newer_than=None):
        if not dest or not os.path.isabs(dest):
            raise BackupError('dest must be an absolute directory path, got %r' % (dest,))
        if os.path.exists(dest) and not os.path.isdir(dest):
            raise BackupError('dest %s exists and is not a directory: give a directory' % dest)
        if free_space_factor is None or free_space_factor < 0:
            raise BackupError('free_space_factor must be 0 or more, got %s' % free_space_factor)
        self.dest = os.path.normpath(dest)
        self.dump_format = dump_format
        self.compression = compression
        self.compression_level = pipeline.compression_level(compression, compression_level)
        self.encryption = pipeline.Encryption(encryption_recipients, encryption_passphrase_file)
        self.free_space_factor = free_space_factor
        self.dump_options = dict(dump_options or {})
        # Seconds: a rerun within this window of the series' newest good backup takes none.
        self.skip_window = None
        self.skip_text = skip_if_newer_than
        if skip_if_newer_than not in (None, ''):
            try:
                self.skip_window = parse_seconds(skip_if_newer_than, 'skip_if_newer_than')
            except DurationError as exc:
                raise BackupError('%s' % exc)


def series_of(engine, source):
    conn = engine.conn
    database = getattr(source, 'series_database', None) or conn.database
    return layout.series_name(engine.name, conn.host, engine.port, database)


def plan(engine, source, settings):
    """Where the backup goes and whether it fits; touches nothing (check mode stops here)."""
    conn = engine.conn
    database = getattr(source, 'series_database', None) or conn.database
    series = series_of(engine, source)
    series_dir = os.path.join(settings.dest, series)
    extension = pipeline.artifact_extension(source.dump_format, settings.compression, settings.encryption.enabled)
    estimated = source.estimated_size()
    free, required = preflight(settings.dest, estimated, settings.free_space_factor,
                               'database %s' % database)
    moment = _utc_now()
    path = _free_name(series_dir, series, moment, extension)
    return {
        'series': series, 'series_dir': series_dir, 'database': database, 'extension': extension,
        'path': path, 'manifest': manifests.manifest_path(path), 'estimated_size': estimated,
        'free_bytes': free, 'required_free_bytes': required,
    }


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _private_dir(path, option_hint):
    try:
        ensure_private_dir(path)
    except (IOError, OSError) as exc:
        raise BackupError('cannot create %s (mode 0700): %s; %s' % (path, exc.strerror or exc, option_hint))


def fresh_backup(series_dir, window, now):
    """The series' newest complete backup when it is younger than ``window`` seconds, intact on disk
    (size as its manifest says) and not recorded as failing its latest verification; else None."""
    for candidate in reversed(layout.list_backups(series_dir)):
        if candidate.manifest is None:
            continue
        verifications = candidate.manifest.get('verifications') or []
        if verifications and verifications[-1].get('outcome') != 'ok':
            return None
        try:
            intact = os.path.getsize(candidate.path) == candidate.manifest.get('size')
        except OSError:
            intact = False
        age = (now - candidate.time).total_seconds()
        return candidate if intact and 0 <= age < window else None
    return None


def _age_text(seconds):
    hours, rest = divmod(int(seconds), 3600)
    return '%dh%02dm' % (hours, rest // 60)


def _reused(settings, series, series_dir, check_mode):
    """The result of a run that takes no backup because a fresh one exists, or None."""
    if settings.skip_window is None:
        return None
    now = _utc_now()
    found = fresh_backup(series_dir, settings.skip_window, now)
    if found is None:
        return None
    reason = '%s is %s old, newer than skip_if_newer_than %s: %s' % (
        found.name, _age_text((now - found.time).total_seconds()), settings.skip_text,
        'no new dump would be taken' if check_mode else 'no new dump was taken')
    manifest = found.manifest
    return dict(changed=False, path=found.path, manifest=manifests.manifest_path(found.path),
                manifest_content=manifest, sha256=manifest.get('sha256'), size=manifest.get('size'),
                series=series, estimated_size=None, free_bytes=None, required_free_bytes=None,
                removed_temp_files=[], skipped_reason=reason, msg=reason)


def run_backup(engine, settings, check_mode=False, guard=None):
    """Back up the database ``engine`` is connected to. Returns the module result.
    ``guard`` (a SignalGuard) is disarmed once the backup is complete."""
    source = engine.dump_source(format=settings.dump_format, **settings.dump_options)
    with source:
        series = series_of(engine, source)
        reused = _reused(settings, series, os.path.join(settings.dest, series), check_mode)
        if reused is not None:
            return reused
        where = plan(engine, source, settings)
        stale = stale_temp_files(where['series_dir'])
        result = dict(changed=True, path=where['path'], manifest=where['manifest'], series=where['series'],
                      skipped_reason=None,
                      estimated_size=where['estimated_size'], free_bytes=where['free_bytes'],
                      required_free_bytes=where['required_free_bytes'])
        if check_mode:
            result['removed_temp_files'] = stale
            size = 'unknown size' if where['estimated_size'] is None else 'about %s before compression' % human(
                where['estimated_size'])
            result['msg'] = 'would write %s (%s)' % (where['path'], size)
            return result
        _private_dir(settings.dest, 'choose a dest the backup user may write, or create it')
        _private_dir(where['series_dir'], 'check the owner and mode of dest %s' % settings.dest)
        warnings = []
        with series_lock(where['series_dir']) as locked:
            removed = []
            if locked:
                for path in stale_temp_files(where['series_dir']):
                    _remove_quietly(path)
                    removed.append(path)
            else:
                warnings.append('the file system of %s cannot lock, so temp files of earlier runs were left '
                                'alone and two runs of this series must not overlap' % where['series_dir'])
            # Re-plan the name under the lock: a run that just finished may own this second.
            path = _free_name(where['series_dir'], where['series'], _utc_now(), where['extension'])
            manifest = _write(engine, source, settings, where, path, guard)
    result.update(path=path, manifest=manifests.manifest_path(path), manifest_content=manifest,
                  sha256=manifest['sha256'], size=manifest['size'], removed_temp_files=removed,
                  warnings=warnings + list(getattr(source, 'messages', None) or []),
                  msg='wrote %s (%s, %d counts in the manifest) in %.1f s' % (
                      path, human(manifest['size']), len(manifest['counts']), manifest['duration_seconds']))
    return result


def _write(engine, source, settings, where, path, guard=None):
    conn = engine.conn
    server_version = engine.version()
    started = _utc_now()
    clock = time.monotonic()
    manifest_written = False
    try:
        try:
            size, sha256 = pipeline.write_artifact(source.chunks(), path, settings.compression,
                                                   settings.compression_level, settings.encryption)
        except (IOError, OSError) as exc:
            raise BackupError('writing %s failed: %s; nothing was kept (dest %s)'
                              % (path, exc.strerror or exc, settings.dest))
        finished = _utc_now()
        manifest = {
            'artifact': os.path.basename(path),
            'series': where['series'],
            'engine': engine.name,
            'host': conn.host, 'port': engine.port, 'database': where['database'],
            'dump_format': source.dump_format,
            'dump_tool': source.tool_version, 'server_version': '%s' % server_version,
            'started_at': manifests.utc_stamp(started), 'finished_at': manifests.utc_stamp(finished),
            'duration_seconds': round(time.monotonic() - clock, 1),
            'size': size, 'sha256': sha256,
            'compression': settings.compression, 'compression_level': settings.compression_level,
            'encryption': settings.encryption.describe(),
            'counts': dict(source.counts),
        }
        try:
            manifest = manifests.write(path, manifest)
        except (IOError, OSError) as exc:
            raise BackupError('writing the manifest of %s failed: %s; the artifact was removed (dest %s)'
                              % (path, exc.strerror or exc, settings.dest))
        manifest_written = True
        if guard is not None:
            guard.disarm()
        return manifest
    finally:
        if not manifest_written:
            # No manifest, no artifact: an interrupted run leaves nothing a reader could trust.
            _remove_quietly(path)
