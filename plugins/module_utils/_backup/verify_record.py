# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification records of a manifest: writing one, and whether a recent one stands
for a verification asked now (backup_verify's skip_if_verified_within).

A record keeps the artifact's size and mtime (nanoseconds) as they were when it was
verified, so a later run can tell the file was not replaced or rewritten since. The
skip trusts that earlier verification: a byte changed in place with the mtime put back
is found only by decoding again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests

METHOD_BASIC = 'checksum+decode+format'
METHOD_RESTORE = 'restore_test'
# A restore test decodes and format-checks too, so it stands for a plain verification.
THOROUGHNESS = {METHOD_BASIC: 1, METHOD_RESTORE: 2}
_STAMP = '%Y-%m-%dT%H:%M:%SZ'


def file_state(path):
    """{'size', 'mtime_ns'} of the artifact now."""
    stat = os.stat(path)
    return {'size': stat.st_size, 'mtime_ns': stat.st_mtime_ns}


def new_record(method, outcome, detail, state, at=None):
    return dict({'at': at or manifests.utc_stamp(), 'method': method, 'outcome': outcome, 'detail': detail}, **state)


def append_record(path, record):
    """Add ``record`` to the manifest of ``path``, rewritten atomically."""
    manifest = manifests.read(path)
    manifest['verifications'].append(record)
    return manifests.write(path, manifest)


def _parse_stamp(text):
    try:
        return datetime.datetime.strptime(text, _STAMP).replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def recent_verification(manifest, method, within, state, now):
    """(record, None) when a verification on record stands for ``method`` now, else (None, why not).

    The newest record that is at least as thorough counts, and only when no failed record
    came after it: a failure is never hidden by an older success.
    """
    wanted = THOROUGHNESS[method]
    for record in reversed(manifest.get('verifications') or []):
        if record.get('outcome') != 'ok':
            return None, 'the last verification (%s, %s) failed' % (record.get('at'), record.get('method'))
        if THOROUGHNESS.get(record.get('method'), 0) < wanted:
            continue
        at = _parse_stamp(record.get('at'))
        if at is None:
            return None, 'the last %s verification has no readable time (%r)' % (record.get('method'), record.get('at'))
        if at < within.before(now):
            return None, 'the last successful %s verification (%s) is older than %s' % (record['method'], record['at'], within)
        if record.get('mtime_ns') is None or record.get('size') is None:
            return None, ('the last successful %s verification (%s) did not record the artifact\'s size and mtime'
                          % (record['method'], record['at']))
        if state['size'] != manifest.get('size') or (state['size'], state['mtime_ns']) != (record['size'], record['mtime_ns']):
            return None, ('the artifact changed since its last successful %s verification (%s): size %d, mtime_ns %d then '
                          '%d and %d now, manifest size %s' % (record['method'], record['at'], record['size'],
                                                               record['mtime_ns'], state['size'], state['mtime_ns'],
                                                               manifest.get('size')))
        return record, None
    return None, 'no successful verification of method %s or more thorough on record' % method


def skipped_reason(record, within, now):
    """The words for a skip: when and how the artifact was verified."""
    seconds = max(0, int((now - _parse_stamp(record['at'])).total_seconds()))
    return ('verified at %s (%dh%02dm ago, within skip_if_verified_within %s) by %s, outcome %s; the artifact\'s size '
            'and mtime are unchanged, so it was not decoded again'
            % (record['at'], seconds // 3600, seconds % 3600 // 60, within, record['method'], record['outcome']))
