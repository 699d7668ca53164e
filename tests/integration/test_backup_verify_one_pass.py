"""backup_verify's restore test reads the artifact once: its failure paths. A byte changed in
the middle, a wrong key, a changed file that still decodes, and SIGTERM mid-restore each fail
the verification and leave no scratch database. Real servers, real ansible-playbook runs."""

import os
import signal

import pytest

from tests.support import artifacts, backup_data as data, dump_watch
from tests.support.playbook import run_module

MODULE = 'caretaker.maintenance.backup_verify'
STOPPED = 'the restore was stopped before the end of the stream'


def items(result):
    return dict((item['name'], item) for item in result['checks'])


@pytest.fixture(scope='module')
def age_key(tmp_path_factory):
    return artifacts.age_keygen(tmp_path_factory.mktemp('keys'))


def big_pg_artifact(server, dest, name, megabytes, **kwargs):
    """An artifact of random bytes, many age chunks (64 KiB) long, so damage can sit in the middle."""
    data.pg_drop_database(server, name)
    data.pg_create_database(server, name)
    data.pg_big_table(server, name, 'big', megabytes)
    return artifacts.pg_artifact(server, dest, name, {'public.big': megabytes * 1000}, **kwargs)


def scratch_left(server):
    return artifacts.pg_databases(server, 'caretaker_verify_')


def test_a_byte_changed_mid_artifact_fails_the_restore_test_and_drops_the_scratch(pg_server, tmp_path, age_key):
    artifact = big_pg_artifact(pg_server, tmp_path / 'dest', 'one_pass_flip', 2, recipient=age_key.recipient)
    assert artifact.path.stat().st_size > 10 * 65536
    artifacts.flip_byte(artifact.path)
    result, run = run_module(MODULE, {'path': str(artifact.path), 'identity_file': str(age_key.identity_file),
                                      'restore_test': True, **pg_server.target()})
    assert run.returncode != 0 and result['verified'] is False
    found = items(result)
    assert found['checksum']['status'] == 'critical'
    assert found['decode']['status'] == 'critical' and 'authentication failed' in found['decode']['detail']
    assert 0 < found['decode']['value'] < 2000 * 1024  # it failed in the middle, after the restore had begun
    assert found['restore_test']['status'] == 'critical' and found['restore_test']['detail'].endswith('scratch dropped')
    assert result['scratch_database'].startswith('caretaker_verify_') and result['scratch_dropped'] is True
    assert scratch_left(pg_server) == []
    assert artifact.read_manifest()['verifications'][-1]['outcome'] == 'failed'


def test_a_changed_file_that_still_decodes_never_completes_a_restore(pg_server, tmp_path):
    """No layer authenticates a plain SQL file: only the checksum, taken in the same read, tells."""
    counts = artifacts.seed_postgresql(pg_server, 'one_pass_plain', users=50, orders=50)
    artifact = artifacts.pg_artifact(pg_server, tmp_path / 'dest', 'one_pass_plain', counts, dump_format='sql',
                                     compression='none')
    content = artifact.path.read_bytes()
    artifact.path.write_bytes(content.replace(b'u25@example.test', b'u25@example.TEST', 1))
    result, run = run_module(MODULE, {'path': str(artifact.path), 'restore_test': True, **pg_server.target()})
    assert run.returncode != 0 and result['verified'] is False
    found = items(result)
    assert found['checksum']['status'] == 'critical' and 'the artifact changed since it was written' in found['checksum']['detail']
    assert found['decode']['status'] == 'ok' and found['format']['status'] == 'ok'
    # psql runs it in one transaction and is killed before the end of its input: nothing committed.
    assert found['restore_test']['status'] == 'critical' and STOPPED in found['restore_test']['detail']
    assert result['scratch_dropped'] is True and scratch_left(pg_server) == []


def test_a_changed_rdb_never_reaches_the_throwaway_server(tmp_path):
    artifact = artifacts.redis_artifact(tmp_path / 'dest', tmp_path, compression='none')
    artifacts.flip_byte(artifact.path)
    temp_dir = tmp_path / 'work'
    temp_dir.mkdir()
    result, run = run_module(MODULE, {'path': str(artifact.path), 'restore_test': True, 'temp_dir': str(temp_dir)})
    assert run.returncode != 0 and result['verified'] is False
    found = items(result)
    assert found['checksum']['status'] == 'critical'
    assert found['restore_test']['status'] == 'critical' and STOPPED in found['restore_test']['detail']
    assert found['format']['status'] == 'critical' and found['format']['detail'].startswith('not checked')
    assert result['scratch_dropped'] is True and os.listdir(temp_dir) == []


def test_a_wrong_identity_creates_no_scratch(pg_server, tmp_path, age_key):
    counts = artifacts.seed_postgresql(pg_server, 'one_pass_key', users=20, orders=20)
    artifact = artifacts.pg_artifact(pg_server, tmp_path / 'dest', 'one_pass_key', counts, recipient=age_key.recipient)
    other = artifacts.age_keygen(tmp_path, 'other.txt')
    result, run = run_module(MODULE, {'path': str(artifact.path), 'identity_file': str(other.identity_file),
                                      'restore_test': True, **pg_server.target()})
    assert run.returncode != 0
    found = items(result)
    assert found['checksum']['status'] == 'ok'  # hashed to the end although nothing decoded
    assert found['decode']['status'] == 'critical' and 'no identity in the identity file matches' in found['decode']['detail']
    assert 'restore_test' not in found and 'scratch_database' not in result
    assert 'restore_test: not attempted because the artifact does not decode' in result['msg']
    assert scratch_left(pg_server) == []


def _restoring_pg_restore(module_pid):
    """pid of the module's pg_restore that restores (not the --list one), or None."""
    for pid, (comm, cmdline, ppid, state) in dump_watch.processes().items():
        if ppid == module_pid and comm == 'pg_restore' and b'--single-transaction' in cmdline and state not in ('Z', 'X'):
            return pid
    return None


def test_sigterm_mid_restore_drops_the_scratch_and_records_nothing(pg_server, tmp_path, age_key):
    artifact = big_pg_artifact(pg_server, tmp_path / 'dest', 'one_pass_term', 30, recipient=age_key.recipient)
    run = dump_watch.BackgroundRun({'path': str(artifact.path), 'identity_file': str(age_key.identity_file),
                                    'restore_test': True, **pg_server.target()}, module=MODULE)
    module_pid = dump_watch.wait_for('the module', lambda: dump_watch.module_process(run.marker, 'backup_verify'))
    restoring = dump_watch.wait_for('pg_restore restoring', lambda: _restoring_pg_restore(module_pid))
    os.kill(restoring, signal.SIGSTOP)  # holds the restore mid-stream: the module blocks writing to it
    assert dump_watch.wait_for('the scratch database', lambda: scratch_left(pg_server))
    os.kill(module_pid, signal.SIGTERM)
    result, playbook = run.join()
    assert playbook.returncode != 0
    assert result['msg'] == ('backup_verify was interrupted by SIGTERM: nothing was recorded; no scratch database of the '
                             'restore test is left')
    assert scratch_left(pg_server) == [] and dump_watch.state(restoring) in (None, 'Z')
    assert artifact.read_manifest()['verifications'] == []
