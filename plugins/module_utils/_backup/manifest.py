# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest beside each artifact (docs/backups.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import atomic_write

FORMAT_VERSION = 1
SUFFIX = '.manifest.json'


class ManifestError(ValueError):
    """A manifest that is missing or cannot be read; the text names the file."""


def utc_stamp(moment=None):
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def manifest_path(artifact_path):
    return artifact_path + SUFFIX


def write(artifact_path, manifest):
    """Write the manifest of an artifact atomically, mode 0600."""
    manifest = dict(manifest, format_version=FORMAT_VERSION)
    manifest.setdefault('verifications', [])
    data = json.dumps(manifest, indent=2, sort_keys=True).encode('utf-8') + b'\n'
    atomic_write(manifest_path(artifact_path), data)
    return manifest


def read(artifact_path):
    path = manifest_path(artifact_path)
    try:
        with open(path, 'rb') as handle:
            manifest = json.loads(handle.read().decode('utf-8'))
    except (OSError, ValueError) as exc:
        raise ManifestError('manifest %s cannot be read: %s' % (path, exc))
    if not isinstance(manifest, dict) or manifest.get('format_version') != FORMAT_VERSION:
        raise ManifestError('manifest %s is not a caretaker backup manifest (format_version %r)'
                            % (path, manifest.get('format_version') if isinstance(manifest, dict) else None))
    return manifest


def add_verification(artifact_path, method, outcome, detail, at=None):
    """Append a verification record (the evidence an auditor asks for)."""
    manifest = read(artifact_path)
    manifest['verifications'].append({'at': at or utc_stamp(), 'method': method, 'outcome': outcome,
                                      'detail': detail})
    return write(artifact_path, manifest)


def is_verified(manifest):
    """True when the latest verification succeeded."""
    verifications = manifest.get('verifications') or []
    return bool(verifications) and verifications[-1].get('outcome') == 'ok'
