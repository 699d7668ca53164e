# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and listing of backups in a destination directory (docs/backups.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]')
_STAMP = re.compile(r'-(\d{8}T\d{6}Z)\.')


def series_name(engine, host, port, database):
    parts = [engine, host or 'local', '%s' % (port or ''), database or 'all']
    return _UNSAFE.sub('_', '-'.join(part for part in parts if part != ''))


def artifact_name(series, moment, extension):
    return '%s-%s.%s' % (series, moment.strftime('%Y%m%dT%H%M%SZ'), extension)


def artifact_time(name):
    """The UTC time in an artifact's name, or None for a foreign file."""
    match = _STAMP.search(name)
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)


class Backup(object):
    """One artifact in a series directory, with its manifest when it has one."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.time = artifact_time(self.name)
        self.manifest = None
        self.manifest_error = None
        if os.path.exists(manifests.manifest_path(path)):
            try:
                self.manifest = manifests.read(path)
            except manifests.ManifestError as exc:
                self.manifest_error = '%s' % exc

    @property
    def verified(self):
        return self.manifest is not None and manifests.is_verified(self.manifest)

    def __repr__(self):
        return 'Backup(%r)' % self.name


def list_backups(series_dir):
    """Artifacts of one series, oldest first. Temp files and manifests are not artifacts."""
    if not os.path.isdir(series_dir):
        return []
    found = []
    for name in os.listdir(series_dir):
        if name.startswith('.') or name.endswith(manifests.SUFFIX):
            continue
        path = os.path.join(series_dir, name)
        if os.path.isfile(path) and not os.path.islink(path) and artifact_time(name) is not None:
            found.append(Backup(path))
    return sorted(found, key=lambda backup: (backup.time, backup.name))


def list_series(dest):
    """Series directories under a destination."""
    if not os.path.isdir(dest):
        return []
    return sorted(name for name in os.listdir(dest)
                  if not name.startswith('.') and os.path.isdir(os.path.join(dest, name))
                  and not os.path.islink(os.path.join(dest, name)))


def latest_verified(series_dir):
    verified = [backup for backup in list_backups(series_dir) if backup.verified]
    return verified[-1] if verified else None
