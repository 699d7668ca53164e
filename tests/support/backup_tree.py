"""Backup destinations for retention tests: series of fake artifacts with valid manifests.

Follows docs/backups.md: <dest>/<series>/<series>-<UTC stamp>.<ext> plus
<artifact>.manifest.json, directories 0700, files 0600. Retention never reads artifact
contents, so an artifact is a few bytes of its own name; its manifest is complete and
true to those bytes (size, sha256), and "verified" means a last verification with
outcome ok, exactly as backup_verify records it.
"""

import datetime
import hashlib
import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout, manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import atomic_write, ensure_private_dir

UTC = datetime.timezone.utc
PG_SERIES = layout.series_name('postgresql', '127.0.0.1', 5432, 'appdb')
MYSQL_SERIES = layout.series_name('mysql', '127.0.0.1', 3306, 'shop')
EXTENSIONS = {'postgresql': 'pgdump.zst', 'mysql': 'sql.zst', 'mongodb': 'mongo.tar.zst', 'redis': 'rdb.zst'}


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def stamp(moment):
    return moment.strftime('%Y%m%dT%H%M%SZ')


def daily(first, last, hour=2):
    """One time per day at ``hour`` UTC from date ``first`` to ``last`` inclusive, oldest first."""
    times, day = [], first
    while day <= last:
        times.append(utc(day.year, day.month, day.day, hour))
        day += datetime.timedelta(days=1)
    return times


def hours_ago(now, *hours):
    """Times ``hours`` before ``now``, truncated to the second, oldest first."""
    now = now.replace(microsecond=0)
    return sorted(now - datetime.timedelta(hours=h) for h in hours)


def _parts(series):
    engine, rest = series.split('-', 1)
    host, port, database = rest.rsplit('-', 2)
    return engine, host, int(port), database


def make_backup(dest, series, moment, verified=False, manifest=True, ext=None, payload=None, verifications=None):
    """Write one artifact (and by default its manifest); returns the artifact path."""
    engine, host, port, database = _parts(series)
    ext = ext or EXTENSIONS[engine]
    directory = ensure_private_dir(os.path.join(ensure_private_dir(dest), series))
    path = os.path.join(directory, layout.artifact_name(series, moment, ext))
    data = payload if payload is not None else (os.path.basename(path) * 8).encode()
    atomic_write(path, data)
    if not manifest:
        return path
    if verifications is None:
        verifications = [{'at': manifests.utc_stamp(moment + datetime.timedelta(minutes=5)),
                          'method': 'checksum+decode+format', 'outcome': 'ok', 'detail': 'test tree'}] if verified else []
    manifests.write(path, {
        'artifact': os.path.basename(path), 'series': series, 'engine': engine,
        'host': host, 'port': port, 'database': database,
        'dump_format': ext.split('.')[0], 'dump_tool': 'fake 1.0', 'server_version': '1.0',
        'started_at': manifests.utc_stamp(moment),
        'finished_at': manifests.utc_stamp(moment + datetime.timedelta(seconds=7)),
        'duration_seconds': 7.0, 'size': len(data), 'sha256': hashlib.sha256(data).hexdigest(),
        'compression': 'zstd', 'compression_level': 3, 'encryption': None,
        'counts': {'public.users': 3}, 'verifications': verifications,
    })
    return path


def make_series(dest, series, times, verified=(), **kwargs):
    """Backups at ``times``; ``verified`` is a collection of times, or a predicate on a time."""
    is_verified = verified if callable(verified) else (lambda moment: moment in set(verified))
    return [make_backup(dest, series, moment, verified=is_verified(moment), **kwargs) for moment in times]


def files(dest):
    """Every entry under dest (files, symlinks, directories) relative to it, sorted."""
    found = []
    for root, dirs, names in os.walk(dest):
        for name in dirs + names:
            found.append(os.path.relpath(os.path.join(root, name), dest))
    return sorted(found)


def artifact_times(dest, series):
    """Times of the artifacts that are still there, oldest first."""
    return [backup.time for backup in layout.list_backups(os.path.join(dest, series))]
