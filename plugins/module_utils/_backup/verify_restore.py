# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_verify's restore test, in the same read of the artifact as the other checks.

The first decoded chunk is read before anything is created, so a wrong key or a file that
is no artifact never makes a scratch database. Then one decode feeds the restore (this
thread) and the format check (a thread of its own, verify_pass.Tee). The restore reader
gets ChecksumMismatch instead of the end of the stream when the file is not the manifest's,
and the checksum item fails the verification whatever the restore did. The scratch is
dropped on every path, exceptions and signals (Interrupted) included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    ArtifactError, RestoreError, count_items, scratch_name)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.verify_pass import (
    Tee, check_format, decode_and_format, decode_items, gated)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import CRITICAL, OK, check_item

NOT_DECODED = 'restore_test: not attempted because the artifact does not decode'


def _drop_scratch(restorer, scratch):
    """(dropped, problem item or None): the scratch goes whatever happened before."""
    try:
        if restorer.drop(scratch):
            return True, None
        detail = 'scratch %s is still there after dropping it: drop it by hand' % scratch
    except (RestoreError, EngineError, OSError) as exc:
        detail = 'cannot drop scratch %s: %s; drop it by hand' % (scratch, exc)
    return False, check_item('scratch', CRITICAL, scratch, detail=detail)


def restore_test(stream, manifest, restorer):
    """(decode, format, restore_test and counts items; skipped notes; result extras) from one
    pass over ``stream`` (a verify_pass.HashedStream), whose checksum the caller takes after."""
    try:
        restorer.open()
    except (RestoreError, EngineError) as exc:
        items = decode_and_format(stream, manifest, restorer)
        return items + [check_item('restore_test', CRITICAL, None,
                                   detail='cannot connect for the scratch restore: %s' % exc)], [], {}
    try:
        return _restore_in_one_pass(stream, manifest, restorer)
    finally:
        restorer.close()


def _restore_in_one_pass(stream, manifest, restorer):
    source = iter(stream)
    try:
        first = next(source, None)  # unwraps the file key, authenticates the header and the first chunk
    except ArtifactError as exc:
        return decode_items(stream, exc, None, manifest), [NOT_DECODED], {}
    # The format check reads a copy of the decoded stream, unless the load itself runs it (Redis).
    tee = Tee(source if first is None else itertools.chain([first], source),
              None if restorer.load_checks_format else lambda chunks: check_format(restorer, chunks, manifest))
    scratch = scratch_name()
    failure = how = restored = None
    try:
        restorer.create(scratch)
        how = restorer.load(gated(tee, stream, manifest), scratch, manifest)
        restored = restorer.count(scratch, manifest)
    except (ArtifactError, RestoreError, EngineError, OSError) as exc:
        failure = exc
    except BaseException as exc:  # a signal (Interrupted): stop the format check, drop the scratch, go on unwinding
        tee.abort(exc)
        dropped = _drop_scratch(restorer, scratch)[0]
        exc.scratch_left = None if dropped else scratch  # for the module's message
        raise
    dropped, problem = _drop_scratch(restorer, scratch)
    tee.finish()  # the rest of the stream, when the restore stopped early, for the decode and format verdicts
    if restorer.load_checks_format:
        format_result = restorer.loaded_format or (False, 'not checked: the restore stopped before the decoded copy was '
                                                          'written whole (%s)' % failure)
    else:
        format_result = tee.result if tee.side_error is None else (False, '%s' % tee.side_error)
    items = decode_items(stream, tee.error, format_result, manifest)
    outcome = 'scratch dropped' if dropped else 'scratch NOT dropped'
    if failure is not None:
        items.append(check_item('restore_test', CRITICAL, scratch, detail='restore into scratch %s failed: %s; %s'
                                % (scratch, failure, outcome)))
    else:
        counts = count_items(manifest.get('counts') or {}, restored, restorer.what)
        matching = sum(1 for item in counts if item['status'] == OK)
        items.append(check_item('restore_test', OK, scratch, detail='restored into scratch %s (%s) in the same read as the '
                                'other checks; counts match %d of %d; %s' % (scratch, how, matching, len(counts), outcome)))
        items.extend(counts)
    if problem:
        items.append(problem)
    return items, [], dict(scratch_database=scratch, scratch_dropped=dropped)
