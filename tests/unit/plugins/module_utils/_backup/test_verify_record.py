# -*- coding: utf-8 -*-
"""Which verification on record stands for one asked now (skip_if_verified_within), and the
records backup_verify writes."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import verify_record as vr
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.verify import verify
from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import Duration

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)
STATE = {'size': 1000, 'mtime_ns': 1795406400123456789}
WITHIN = Duration.parse('20h', 'skip_if_verified_within')


def record(hours_ago, method=vr.METHOD_BASIC, outcome='ok', **state):
    at = manifests.utc_stamp(NOW - datetime.timedelta(hours=hours_ago))
    return vr.new_record(method, outcome, 'detail', dict(STATE, **state), at=at)


def decide(*records, method=vr.METHOD_BASIC, state=None, size=1000):
    manifest = {'size': size, 'verifications': list(records)}
    return vr.recent_verification(manifest, method, WITHIN, state or STATE, NOW)


def test_a_young_success_of_the_same_method_stands():
    found, reason = decide(record(3))
    assert found['at'] == '2026-11-23T09:00:00Z' and reason is None


def test_a_restore_test_stands_for_a_plain_verification_but_not_the_other_way_round():
    assert decide(record(3, vr.METHOD_RESTORE))[0]['method'] == vr.METHOD_RESTORE
    found, reason = decide(record(3), method=vr.METHOD_RESTORE)
    assert found is None and 'no successful verification of method restore_test' in reason


def test_a_plain_record_newer_than_a_restore_test_does_not_hide_it():
    found, _reason = decide(record(10, vr.METHOD_RESTORE), record(2), method=vr.METHOD_RESTORE)
    assert found['method'] == vr.METHOD_RESTORE and found['at'] == '2026-11-23T02:00:00Z'


def test_a_failure_after_the_success_is_never_hidden():
    found, reason = decide(record(5), record(1, outcome='failed'))
    assert found is None and reason == 'the last verification (2026-11-23T11:00:00Z, checksum+decode+format) failed'


def test_older_than_the_window_is_verified_again():
    found, reason = decide(record(21))
    assert found is None and 'is older than 20h' in reason
    assert decide(record(20))[0] is not None  # the window's edge is inside it


@pytest.mark.parametrize('state, size', [
    (dict(STATE, mtime_ns=STATE['mtime_ns'] + 1), 1000),  # touched or rewritten in place
    (dict(STATE, size=1001), 1000),                       # grew since
    (STATE, 999),                                         # the manifest was rewritten for another size
])
def test_a_changed_size_or_mtime_is_verified_again(state, size):
    found, reason = decide(record(3), state=state, size=size)
    assert found is None and reason.startswith('the artifact changed since its last successful')


def test_a_record_without_size_and_mtime_is_never_skipped_over():
    old = {'at': '2026-11-23T09:00:00Z', 'method': vr.METHOD_BASIC, 'outcome': 'ok', 'detail': 'x'}
    found, reason = decide(old)
    assert found is None and "did not record the artifact's size and mtime" in reason


def test_nothing_on_record():
    assert decide() == (None, 'no successful verification of method checksum+decode+format or more thorough on record')


def test_the_reason_says_when():
    text = vr.skipped_reason(record(6.5, vr.METHOD_RESTORE), WITHIN, NOW)
    assert text.startswith('verified at 2026-11-23T05:30:00Z (6h30m ago, within skip_if_verified_within 20h) by restore_test')


def test_records_keep_the_file_state_and_append(tmp_path):
    artifact = tmp_path / 'a.sql'
    artifact.write_bytes(b'-- Dump completed on\n')
    manifests.write(str(artifact), {'size': 21})
    state = vr.file_state(str(artifact))
    assert state == {'size': 21, 'mtime_ns': os.stat(str(artifact)).st_mtime_ns}
    vr.append_record(str(artifact), vr.new_record(vr.METHOD_BASIC, 'ok', 'fine', state))
    [written] = manifests.read(str(artifact))['verifications']
    assert written['size'] == 21 and written['mtime_ns'] == state['mtime_ns'] and written['outcome'] == 'ok'


def test_verify_returns_the_record_without_reading_the_artifact(tmp_path):
    """The skip trusts the record: garbage of the recorded size and mtime is not read, so it is not found."""
    artifact = tmp_path / 'mysql-x.sql'
    artifact.write_bytes(b'x' * 1000)  # no sha256 in the manifest either: any decode would fail
    os.utime(str(artifact), ns=(STATE['mtime_ns'], STATE['mtime_ns']))
    manifests.write(str(artifact), {'size': 1000, 'engine': 'mysql', 'dump_format': 'sql', 'verifications': [record(3)]})
    result = verify(str(artifact), {}, skip_within=WITHIN, now=NOW)
    assert result['changed'] is False and result['verified'] is True and result['verification_skipped'] is True
    assert result['msg'].startswith('skipped: verified at 2026-11-23T09:00:00Z')
    assert [item['name'] for item in result['checks']] == ['recent_verification']
    assert len(manifests.read(str(artifact))['verifications']) == 1
    checked = verify(str(artifact), {}, check_mode=True, skip_within=WITHIN, now=NOW)
    assert checked['msg'].startswith('would skip: ') and checked['changed'] is False


def test_verify_runs_and_says_why_when_the_record_is_too_old(tmp_path):
    artifact = tmp_path / 'mysql-x.sql'
    artifact.write_bytes(b'x' * 1000)
    manifests.write(str(artifact), {'size': 1000, 'engine': 'mysql', 'dump_format': 'sql', 'verifications': [record(30)]})
    result = verify(str(artifact), {}, check_mode=True, skip_within=WITHIN, now=NOW)
    assert result['verification_skipped'] is False and 'is older than 20h' in result['verify_reason']
    assert 'would verify, not skip: the last successful' in result['msg']
    assert [item['name'] for item in result['checks']][:1] == ['checksum'] and result['status'] == 'critical'
