# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_verify: is an artifact what its manifest says, and does it restore?

Checks, each one status item: ``checksum`` (size and SHA-256 against the manifest),
``decode`` (the whole stream decrypts and decompresses, every layer authenticated),
``format`` (the dump tool's own reader accepts it), and with a restore test
``restore_test`` plus one ``counts <table>`` item per manifest count. The scratch
database of a restore test is dropped whatever happened. With ``skip_within`` a recent
successful verification on record (verify_record.py) is returned instead of decoding again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import verify_pass, verify_record, verify_restore
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import private_temp_dir, restorer_for
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import CRITICAL, OK, check_item, summarize

METHOD_BASIC = verify_record.METHOD_BASIC
METHOD_RESTORE = verify_record.METHOD_RESTORE
_READ = 1 << 20


def file_digest(path):
    """(size, sha256 hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as handle:
        while True:
            block = handle.read(_READ)
            if not block:
                break
            size += len(block)
            digest.update(block)
    return size, digest.hexdigest()


def checksum_item(path, manifest, digest=None):
    """The checksum item from ``digest`` (size, sha256) of the read that decoded, or a read of its own."""
    size, sha256 = digest or file_digest(path)
    if not manifest.get('sha256'):
        return check_item('checksum', CRITICAL, sha256, detail='the manifest records no sha256 to compare with')
    problems = verify_pass.checksum_problems(size, sha256, manifest)
    if problems:
        return check_item('checksum', CRITICAL, sha256, detail='the artifact changed since it was written: %s' % '; '.join(problems),
                          size=size)
    return check_item('checksum', OK, sha256, detail='sha256 and size (%d bytes) match the manifest' % size, size=size)


def _restore_skipped(manifest, check_mode, undecodable):
    """Why a restore test asked for is not run, or None."""
    if check_mode:
        return 'restore_test: check mode changes nothing, so no scratch database was created'
    if manifest.get('dump_format') == 'pgglobals.sql':
        return 'restore_test: roles and settings (pgglobals.sql) are cluster-wide; there is no scratch to restore them into'
    if undecodable or not manifest.get('sha256'):
        return 'restore_test: not attempted because an earlier check failed'
    return None


def _method(manifest, run_restore_test):
    """The method a run records: roles and settings (pgglobals.sql) have no restore test."""
    return METHOD_RESTORE if run_restore_test and manifest.get('dump_format') != 'pgglobals.sql' else METHOD_BASIC


def _about(path, manifest):
    return dict(path=path, engine=manifest.get('engine'), dump_format=manifest.get('dump_format'),
                artifact=os.path.basename(path))


def _skipped_result(path, manifest, record, within, now, check_mode):
    reason = verify_record.skipped_reason(record, within, now)
    result = summarize([check_item('recent_verification', OK, record['method'], detail=reason)], 'backup checks')
    result['msg'] = '%s %s' % ('would skip:' if check_mode else 'skipped:', reason)
    result.update(verified=True, verification=record, recorded=False, changed=False, skipped=[], skipped_reason=reason,
                  verification_skipped=True, **_about(path, manifest))
    return result


def verify(path, keys, conn=None, run_restore_test=False, check_mode=False, temp_dir=None, skip_within=None, now=None):
    """The backup_verify result (the common check shape plus path, verified and the record).

    ``skip_within`` (a Duration): return the recorded outcome, without decoding, when a
    successful verification at least as thorough is younger than that and the artifact's
    size and mtime are those it had then.
    """
    try:
        manifest = manifests.read(path)
    except manifests.ManifestError as exc:
        result = summarize([check_item('manifest', CRITICAL, None, detail='%s; without it nothing can be verified' % exc)],
                           'backup checks')
        result.update(path=path, verified=False, recorded=False)
        return result
    method = _method(manifest, run_restore_test)
    state = verify_record.file_state(path)  # before reading: a file rewritten meanwhile is verified again next time
    verify_reason = None
    if skip_within is not None:
        now = now or datetime.datetime.now(datetime.timezone.utc)
        record, verify_reason = verify_record.recent_verification(manifest, method, skip_within, state, now)
        if record is not None:
            return _skipped_result(path, manifest, record, skip_within, now, check_mode)
    skipped = []
    extra = {}
    with private_temp_dir(temp_dir) as workdir:
        restorer = restorer_for(manifest.get('engine'), conn, workdir)
        stream, failed = verify_pass.open_stream(path, manifest, keys)
        restore = _restore_skipped(manifest, check_mode, stream is None) if run_restore_test else None
        if restore is not None:
            skipped.append(restore)
        if stream is None:
            items = [checksum_item(path, manifest), failed]  # nothing decoded: the checksum reads the file alone
        else:
            with stream:
                if run_restore_test and restore is None:
                    body, notes, extra = verify_restore.restore_test(stream, manifest, restorer)
                    skipped.extend(notes)
                else:
                    body = verify_pass.decode_and_format(stream, manifest, restorer)
                items = [checksum_item(path, manifest, stream.finish())] + body
    result = summarize(items, 'backup checks')
    if skipped:
        result['msg'] += '; skipped %s' % '; '.join(skipped)
    if verify_reason:
        extra.update(verify_reason=verify_reason, verification_skipped=False)
        result['msg'] += '; %s: %s' % ('would verify, not skip' if check_mode else 'not skipped', verify_reason)
    verified = result['status'] == OK
    record = verify_record.new_record(method, 'ok' if verified else 'failed', result['msg'], state)
    if not check_mode:
        verify_record.append_record(path, record)
    result.update(verified=verified, verification=record, recorded=not check_mode, changed=not check_mode,
                  skipped=skipped, **dict(_about(path, manifest), **extra))
    return result
