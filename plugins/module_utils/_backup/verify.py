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
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import verify_record
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    ArtifactError, DecodedStream, MissingLibrary, RestoreError, compression_of, count_items, private_temp_dir, restorer_for,
    scratch_name)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
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


def checksum_item(path, manifest):
    size, sha256 = file_digest(path)
    want_size, want_sha = manifest.get('size'), manifest.get('sha256')
    if not want_sha:
        return check_item('checksum', CRITICAL, sha256, detail='the manifest records no sha256 to compare with')
    problems = []
    if want_size is not None and size != want_size:
        problems.append('size %d bytes, manifest %d' % (size, want_size))
    if sha256 != want_sha:
        problems.append('sha256 %s, manifest %s' % (sha256, want_sha))
    if problems:
        return check_item('checksum', CRITICAL, sha256, detail='the artifact changed since it was written: %s' % '; '.join(problems),
                          size=size)
    return check_item('checksum', OK, sha256, detail='sha256 and size (%d bytes) match the manifest' % size, size=size)


def _layer_mismatch(path, manifest, stream):
    """Where the file (its header, its name) and the manifest disagree on the layers."""
    declared = (manifest.get('encryption') or {}).get('type')
    expected = {None: None, 'age-x25519': 'x25519', 'age-scrypt': 'scrypt'}.get(declared, declared)
    if expected != stream.encryption:
        return 'the manifest says encryption %s but the file is %s' % (
            declared or 'none', 'age ' + stream.encryption if stream.encryption else 'not encrypted')
    if (manifest.get('compression') or 'none') != compression_of(path):
        return 'the manifest says compression %s but the file name says %s' % (manifest.get('compression'), compression_of(path))
    return None


def decode_and_format(path, manifest, keys, restorer):
    """The decode and format items from one pass over the decoded stream."""
    try:
        stream = DecodedStream(path, keys.get('identity_file'), keys.get('passphrase_file'))
    except MissingLibrary:
        raise
    except ArtifactError as exc:
        return [check_item('decode', CRITICAL, None, detail='%s' % exc)]
    mismatch = _layer_mismatch(path, manifest, stream)
    if mismatch:
        stream.close()
        return [check_item('decode', CRITICAL, None, detail=mismatch)]
    try:
        with stream:
            try:
                ok, detail = restorer.check_format(stream, manifest)
            except (RestoreError, EngineError, OSError) as exc:
                ok, detail = False, '%s' % exc
                for _chunk in stream:  # the format check stopped early; the decode verdict needs the rest
                    pass
    except MissingLibrary:
        raise
    except ArtifactError as exc:
        return [check_item('decode', CRITICAL, stream.bytes_out, 'bytes', detail='%s' % exc)]
    return [check_item('decode', OK, stream.bytes_out, 'bytes',
                       detail='%d bytes decoded through %s, authenticated to the end' % (stream.bytes_out, stream.layers())),
            check_item('format', OK if ok else CRITICAL, manifest.get('dump_format'), detail=detail)]


def _drop_scratch(restorer, scratch):
    """(dropped, problem item or None): the scratch goes whatever happened before."""
    try:
        if restorer.drop(scratch):
            return True, None
        detail = 'scratch %s is still there after dropping it: drop it by hand' % scratch
    except (RestoreError, EngineError, OSError) as exc:
        detail = 'cannot drop scratch %s: %s; drop it by hand' % (scratch, exc)
    return False, check_item('scratch', CRITICAL, scratch, detail=detail)


def restore_test(path, manifest, keys, restorer):
    """Items of a restore into a scratch database that is dropped in every case."""
    scratch = scratch_name()
    failure = how = restored = None
    try:
        restorer.create(scratch)
        with DecodedStream(path, keys.get('identity_file'), keys.get('passphrase_file')) as stream:
            how = restorer.load(stream, scratch, manifest)
        restored = restorer.count(scratch, manifest)
    except (ArtifactError, RestoreError, EngineError, OSError) as exc:
        failure = '%s' % exc
    finally:
        dropped, problem = _drop_scratch(restorer, scratch)
    outcome = 'scratch dropped' if dropped else 'scratch NOT dropped'
    if failure is not None:
        items = [check_item('restore_test', CRITICAL, scratch, detail='restore into scratch %s failed: %s; %s'
                            % (scratch, failure, outcome))]
    else:
        counts = count_items(manifest.get('counts') or {}, restored, restorer.what)
        matching = sum(1 for item in counts if item['status'] == OK)
        items = [check_item('restore_test', OK, scratch, detail='restored into scratch %s (%s); counts match %d of %d; %s'
                            % (scratch, how, matching, len(counts), outcome))] + counts
    if problem:
        items.append(problem)
    return items, scratch, dropped


def _restore_test_or_item(path, manifest, keys, restorer):
    try:
        restorer.open()
    except (RestoreError, EngineError) as exc:
        return [check_item('restore_test', CRITICAL, None, detail='cannot connect for the scratch restore: %s' % exc)], None, None
    try:
        return restore_test(path, manifest, keys, restorer)
    finally:
        restorer.close()


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
        items = [checksum_item(path, manifest)]
        items.extend(decode_and_format(path, manifest, keys, restorer))
        if run_restore_test:
            if check_mode:
                skipped.append('restore_test: check mode changes nothing, so no scratch database was created')
            elif manifest.get('dump_format') == 'pgglobals.sql':
                skipped.append('restore_test: roles and settings (pgglobals.sql) are cluster-wide; there is no scratch to restore them into')
            elif any(item['status'] != OK for item in items):
                skipped.append('restore_test: not attempted because an earlier check failed')
            else:
                restore_items, scratch, dropped = _restore_test_or_item(path, manifest, keys, restorer)
                items.extend(restore_items)
                if scratch:
                    extra.update(scratch_database=scratch, scratch_dropped=dropped)
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
