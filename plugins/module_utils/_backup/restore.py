# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_restore: pick an artifact, refuse what must not be restored, restore it.

Order of the checks, cheapest refusal first: the artifact has a manifest; it is
verified (its last backup_verify record is ok) unless ``allow_unverified``; its size
and SHA-256 match the manifest (always: a corrupt artifact is never restored); the key
to decrypt it is given; the target is empty unless ``clean``. Check mode stops there
and says what would happen.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    DecodedStream, RestoreError, private_temp_dir, restorer_for)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.verify import file_digest
from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import free_bytes


class RestoreRefused(RestoreError):
    """Restoring would be wrong as asked; the text says why and which option changes it."""


def series_for(conn, engine_port):
    """The series of the connection options, as db_backup names it (docs/backups.md)."""
    return layout.series_name(conn.engine, conn.host, engine_port, conn.database)


def select_artifact(path=None, dest=None, series=None, latest=False, allow_unverified=False):
    """(artifact path, how it was chosen)."""
    if path:
        if not os.path.isfile(path):
            raise RestoreRefused('path %s is not a file: give the artifact (not its manifest or directory)' % path)
        return path, 'named by path'
    if not latest:
        raise RestoreRefused('dest is set but latest is not: set latest: true to restore the newest verified backup, '
                             'or name the artifact with path')
    series_dir = os.path.join(dest, series)
    backups = layout.list_backups(series_dir)
    if not backups:
        raise RestoreRefused('no backups of series %s in %s: check dest and series (or engine, login_host, login_port '
                             'and database, from which the series name is computed)' % (series, dest))
    chosen = layout.latest_verified(series_dir)
    if chosen is not None:
        return chosen.path, 'the newest verified of %d backups of series %s' % (len(backups), series)
    with_manifest = [backup for backup in backups if backup.manifest is not None]
    if allow_unverified and with_manifest:
        return with_manifest[-1].path, 'the newest of %d backups of series %s (none is verified; allow_unverified)' % (
            len(backups), series)
    raise RestoreRefused('none of the %d backups of series %s in %s is verified: run caretaker.maintenance.backup_verify '
                         'on them, or set allow_unverified: true to take the newest anyway' % (len(backups), series, dest))


def check_artifact(path, allow_unverified):
    """The manifest, after the refusals that need only the file: no manifest, unverified, corrupt."""
    try:
        manifest = manifests.read(path)
    except manifests.ManifestError as exc:
        raise RestoreRefused('%s; an artifact without its manifest is incomplete or foreign (docs/backups.md) and is '
                             'never restored' % exc)
    if not manifests.is_verified(manifest) and not allow_unverified:
        records = manifest.get('verifications') or []
        if records:
            last = 'its last verification (%s, %s) says %s' % (records[-1].get('at'), records[-1].get('method'),
                                                               records[-1].get('outcome'))
        else:
            last = 'it was never verified'
        raise RestoreRefused('artifact %s is not verified: %s. Run caretaker.maintenance.backup_verify on it first, or set '
                             'allow_unverified: true' % (os.path.basename(path), last))
    size, sha256 = file_digest(path)
    if sha256 != manifest.get('sha256') or (manifest.get('size') is not None and size != manifest.get('size')):
        raise RestoreRefused('artifact %s is corrupt: size %d and sha256 %s do not match the manifest (%s, %s); it is never '
                             'restored, whatever allow_unverified says: restore another backup'
                             % (os.path.basename(path), size, sha256, manifest.get('size'), manifest.get('sha256')))
    return manifest


def _check_space(workdir, manifest, spooled, temp_dir):
    """A decoded copy goes to the temp dir (parallel pg_restore, Redis): it needs at least the artifact's size."""
    if not spooled:
        return
    need, free = int(manifest.get('size') or 0), free_bytes(workdir)
    if free < need:
        raise RestoreRefused('%s has %d bytes free but the decoded copy needs at least %d (the artifact\'s size): '
                             'free space or point temp_dir elsewhere' % (temp_dir or 'the temp directory', free, need))


def restore(conn, path, manifest, options, result, check_mode=False):
    """Restore ``path`` into options['target_database'], filling the db_restore ``result``
    as it goes: when a step fails after the target was changed, ``changed`` is already true."""
    target = options['target_database']
    engine = manifest.get('engine')
    if options.get('source_database') is not None:
        manifest = dict(manifest, source_database=options['source_database'])
    # Fail on a missing or wrong key before touching the target: decoding the first chunk
    # unwraps the file key and authenticates the header and the first 64 KiB.
    with DecodedStream(path, options.get('identity_file'), options.get('passphrase_file')) as stream:
        next(iter(stream), None)
    result.update(path=path, artifact=os.path.basename(path), series=manifest.get('series'), engine=engine,
                  dump_format=manifest.get('dump_format'), target_database=target, verified=manifests.is_verified(manifest))
    with private_temp_dir(options.get('temp_dir')) as workdir:
        restorer = restorer_for(engine, conn, workdir)
        if '*' in target and not getattr(restorer, 'target_patterns', False):
            raise RestoreRefused('target_database %s: a * stands for the name of each database of a MongoDB artifact; a %s '
                                 'artifact restores into one database: name it' % (target, engine))
        if target in restorer.system_databases:
            raise RestoreRefused('target_database %s is a system database of %s: choose another target_database' % (target, engine))
        restorer.check_plan(target, manifest, options.get('jobs') or 1)
        _check_space(workdir, manifest, restorer.spooled(manifest, options.get('jobs') or 1), options.get('temp_dir'))
        with restorer:
            state = restorer.inspect(target)
            result.update(target_existed=state['exists'], target_objects_before=state['objects'], target_before=state['detail'])
            if state.get('databases'):
                result['target_databases'] = state['databases']
            if state['objects'] and not options.get('clean'):
                raise RestoreRefused('target_database %s is not empty (%s): set clean: true to replace its contents, or '
                                     'choose another target_database' % (target, state['detail']))
            action = ('replace the contents of' if state['objects'] else 'restore into') + (
                ' existing' if state['exists'] else ' new') + ' %s %s' % (engine, target)
            if check_mode:
                result.update(changed=True, msg='would %s from %s (%s)' % (action, result['artifact'], manifest.get('dump_format')))
                return result
            started = time.monotonic()
            result['changed'] = True
            if options.get('clean') and state['exists']:
                restorer.clean(target)
            elif not state['exists']:
                restorer.create(target)
            with DecodedStream(path, options.get('identity_file'), options.get('passphrase_file')) as stream:
                how = restorer.load(stream, target, manifest, jobs=options.get('jobs') or 1,
                                    privileges=options.get('restore_privileges'))
                decoded = stream.bytes_out
            restored = restorer.count(target, manifest)
    expected = manifest.get('counts') or {}
    differ = dict((key, {'manifest': expected[key], 'restored': restored.get(key)})
                  for key in sorted(restored) if restored.get(key) != expected.get(key))
    cleaned = bool(options.get('clean') and state['exists'])
    result.update(changed=True, cleaned=cleaned, method=how, bytes_restored=decoded,
                  duration_seconds=round(time.monotonic() - started, 1), counts=restored, counts_differ=differ)
    result['msg'] = 'restored %s into %s %s %s (%s); counts match %d of %d' % (
        result['artifact'], 'cleaned' if cleaned else ('existing' if state['exists'] else 'new'), engine, target, how,
        len(restored) - len(differ), len(restored))
    return result
