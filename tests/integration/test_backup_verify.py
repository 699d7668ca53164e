"""backup_verify against artifacts made by the standard tools and real servers, through
real ansible-playbook runs."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.support import artifacts, servers
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

MODULE = 'caretaker.maintenance.backup_verify'


def items(result):
    return dict((item['name'], item) for item in result['checks'])


@pytest.fixture(scope='module')
def age_key(tmp_path_factory):
    return artifacts.age_keygen(tmp_path_factory.mktemp('keys'))


@pytest.fixture(scope='module')
def other_key(tmp_path_factory):
    return artifacts.age_keygen(tmp_path_factory.mktemp('other-keys'))


def make(engine, request, dest, workdir, age_key):
    """(artifact, connection options for a restore test, server or None) for one engine."""
    if engine == 'postgresql':
        server = request.getfixturevalue('pg_server')
        counts = artifacts.seed_postgresql(server, 'verify_src')
        artifact = artifacts.pg_artifact(server, dest, 'verify_src', counts, recipient=age_key.recipient)
        return artifact, server.target(), server
    if engine == 'mysql':
        server = request.getfixturevalue('mysql_server')
        counts = artifacts.seed_mysql(server, 'verify_src')
        return artifacts.mysql_artifact(server, dest, 'verify_src', counts, workdir), server.target(), server
    if engine == 'mongodb':
        server = request.getfixturevalue('mongo_server')
        artifact = artifacts.mongo_artifact(dest, 'verify_src', workdir, port=server.port, compression='zstd',
                                            recipient=age_key.recipient)
        return artifact, server.target(), server
    artifact = artifacts.redis_artifact(dest, workdir, compression='zstd')
    return artifact, {}, None


def verify_args(artifact, age_key, **extra):
    args = {'path': str(artifact.path)}
    if (artifact.manifest.get('encryption') or {}).get('type') == 'age-x25519':
        args['identity_file'] = str(age_key.identity_file)
    args.update(extra)
    return args


ENGINES = ['postgresql', 'mysql', 'mongodb', 'redis']
FORMAT_WORDS = {'postgresql': 'pg_restore --list', 'mysql': 'Dump completed on', 'mongodb': 'every document parses as BSON',
                'redis': 'redis-check-rdb: RDB looks OK'}


@pytest.mark.parametrize('engine', ENGINES)
def test_verify_ok_and_recorded(engine, request, tmp_path, age_key):
    artifact, _target, _server = make(engine, request, tmp_path / 'dest', tmp_path, age_key)
    result, run = run_module(MODULE, verify_args(artifact, age_key))
    assert run.returncode == 0, result
    assert result['status'] == 'ok' and result['verified'] is True, result['msg']
    assert [item['name'] for item in result['checks']] == ['checksum', 'decode', 'format']
    assert FORMAT_WORDS[engine] in items(result)['format']['detail']
    assert result['changed'] is True and result['recorded'] is True
    [record] = artifact.read_manifest()['verifications']
    assert record['method'] == 'checksum+decode+format' and record['outcome'] == 'ok'
    assert record['at'] == result['verification']['at']
    # Recording again is a new event: another record, changed again.
    again = run_module(MODULE, verify_args(artifact, age_key))[0]
    assert again['changed'] is True and len(artifact.read_manifest()['verifications']) == 2


def test_one_flipped_byte_fails_the_checksum(request, tmp_path, age_key):
    artifact = make('postgresql', request, tmp_path / 'dest', tmp_path, age_key)[0]
    artifacts.flip_byte(artifact.path)
    result, run = run_module(MODULE, verify_args(artifact, age_key))
    assert run.returncode != 0 and result['failed'] is True
    assert result['status'] == 'critical' and result['verified'] is False
    found = items(result)
    assert found['checksum']['status'] == 'critical'
    assert 'the artifact changed since it was written' in found['checksum']['detail']
    assert found['decode']['status'] == 'critical' and 'corrupt' in found['decode']['detail']
    assert result['msg'].startswith('2 critical of 2 backup checks; checksum: ')
    assert artifact.read_manifest()['verifications'][-1]['outcome'] == 'failed'


def test_a_truncated_file_fails_checksum_and_decode(request, tmp_path, age_key):
    artifact = make('mysql', request, tmp_path / 'dest', tmp_path, age_key)[0]
    artifacts.truncate(artifact.path, 40)
    result = run_module(MODULE, verify_args(artifact, age_key))[0]
    found = items(result)
    assert found['checksum']['status'] == 'critical' and 'size' in found['checksum']['detail']
    assert found['decode']['status'] == 'critical'
    assert 'gzip stream is truncated' in found['decode']['detail']
    assert 'format' not in found


def test_a_wrong_key_fails_decryption_by_name(request, tmp_path, age_key, other_key):
    artifact = make('postgresql', request, tmp_path / 'dest', tmp_path, age_key)[0]
    result = run_module(MODULE, verify_args(artifact, age_key, identity_file=str(other_key.identity_file)))[0]
    found = items(result)
    assert found['checksum']['status'] == 'ok'
    assert found['decode']['status'] == 'critical'
    assert 'no identity in the identity file matches a recipient' in result['msg']
    secret = other_key.identity_file.read_text()
    assert 'AGE-SECRET-KEY' not in json.dumps(result) and secret not in json.dumps(result)


def test_an_encrypted_artifact_without_a_key_names_the_option(request, tmp_path, age_key):
    artifact = make('mongodb', request, tmp_path / 'dest', tmp_path, age_key)[0]
    result = run_module(MODULE, {'path': str(artifact.path)})[0]
    assert 'set identity_file' in items(result)['decode']['detail']


def test_a_passphrase_artifact(request, tmp_path, age_key):
    server = request.getfixturevalue('mysql_server')
    counts = artifacts.seed_mysql(server, 'verify_pass', users=20, orders=30)
    artifact = artifacts.mysql_artifact(server, tmp_path / 'dest', 'verify_pass', counts, tmp_path, compression='zstd',
                                        passphrase='correct horse battery')
    good, bad = tmp_path / 'pass', tmp_path / 'wrong'
    good.write_text('correct horse battery\n')
    bad.write_text('wrong\n')
    os.chmod(good, 0o600)
    os.chmod(bad, 0o600)
    result = run_module(MODULE, {'path': str(artifact.path), 'passphrase_file': str(good)})[0]
    assert result['status'] == 'ok', result['msg']
    assert 'age scrypt decryption and zstd decompression' in items(result)['decode']['detail']
    result = run_module(MODULE, {'path': str(artifact.path), 'passphrase_file': str(bad)})[0]
    assert 'wrong passphrase' in items(result)['decode']['detail']


def test_a_missing_manifest_is_critical_and_nothing_is_recorded(tmp_path, request, age_key):
    artifact = make('redis', request, tmp_path / 'dest', tmp_path, age_key)[0]
    artifact.manifest_path.unlink()
    result = run_module(MODULE, {'path': str(artifact.path), 'fail_on': 'never'})[0]
    assert result['status'] == 'critical' and result['changed'] is False and result['recorded'] is False
    assert items(result)['manifest']['status'] == 'critical'


def _scratch_left(engine, server):
    if engine == 'postgresql':
        return artifacts.pg_databases(server, 'caretaker_verify_')
    if engine == 'mysql':
        return artifacts.my_databases(server, 'caretaker_verify_')
    if engine == 'mongodb':
        return [name for name in artifacts.mongo_client(server).list_database_names() if name.startswith('caretaker_verify_')]
    return []


def _redis_throwaways():
    """redis-server processes whose command line names a caretaker-restore temp dir."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if b'caretaker-restore-' in cmdline and b'redis' in cmdline:
            found.append(pid)
    return found


@pytest.mark.parametrize('engine', ENGINES)
def test_restore_test_compares_counts_and_drops_the_scratch(engine, request, tmp_path, age_key):
    artifact, target, server = make(engine, request, tmp_path / 'dest', tmp_path, age_key)
    temp_dir = tmp_path / 'work'
    temp_dir.mkdir()
    result, run = run_module(MODULE, verify_args(artifact, age_key, restore_test=True, temp_dir=str(temp_dir), **target))
    assert run.returncode == 0, result['msg']
    found = items(result)
    assert found['restore_test']['status'] == 'ok'
    counts = dict((name, item) for name, item in found.items() if name.startswith('counts '))
    assert sorted(counts) == sorted('counts %s' % key for key in artifact.manifest['counts'])
    assert all(item['value'] == item['expected'] for item in counts.values())
    assert result['scratch_database'].startswith('caretaker_verify_') and result['scratch_dropped'] is True
    assert _scratch_left(engine, server) == [] and _redis_throwaways() == []
    assert os.listdir(temp_dir) == []
    assert artifact.read_manifest()['verifications'][-1]['method'] == 'restore_test'


@pytest.mark.parametrize('engine', ENGINES)
def test_counts_that_do_not_match_are_critical_and_the_scratch_is_still_dropped(engine, request, tmp_path, age_key):
    artifact, target, server = make(engine, request, tmp_path / 'dest', tmp_path, age_key)
    wrong = dict((key, value + 1) for key, value in artifact.manifest['counts'].items())
    artifact.rewrite_manifest(counts=wrong)
    result, run = run_module(MODULE, verify_args(artifact, age_key, restore_test=True, **target))
    assert run.returncode != 0 and result['status'] == 'critical'
    bad = [item for item in result['checks'] if item['name'].startswith('counts ')]
    assert bad and all(item['status'] == 'critical' for item in bad)
    assert result['scratch_dropped'] is True and _scratch_left(engine, server) == [] and _redis_throwaways() == []
    record = artifact.read_manifest()['verifications'][-1]
    assert record['method'] == 'restore_test' and record['outcome'] == 'failed'


def test_a_failing_restore_still_drops_the_scratch(pg_server, tmp_path):
    """A plain dump whose table owner no longer exists: psql stops on the error."""
    counts = artifacts.seed_postgresql(pg_server, 'verify_owner', users=10, orders=10)
    conn = artifacts.pg_connect(pg_server, 'verify_owner')
    with conn.cursor() as cur:
        cur.execute('DROP ROLE IF EXISTS caretaker_gone_owner')
        cur.execute('CREATE ROLE caretaker_gone_owner')
        cur.execute('ALTER TABLE users OWNER TO caretaker_gone_owner')
    conn.close()
    artifact = artifacts.pg_artifact(pg_server, tmp_path / 'dest', 'verify_owner', counts, dump_format='sql')
    artifacts.pg_drop(pg_server, 'verify_owner')
    conn = artifacts.pg_connect(pg_server, 'postgres')
    with conn.cursor() as cur:
        cur.execute('DROP ROLE caretaker_gone_owner')
    conn.close()
    result, run = run_module(MODULE, {'path': str(artifact.path), 'restore_test': True, **pg_server.target()})
    found = items(result)
    assert found['format']['status'] == 'ok'
    assert found['restore_test']['status'] == 'critical'
    assert 'caretaker_gone_owner' in found['restore_test']['detail']
    assert found['restore_test']['detail'].endswith('scratch dropped')
    assert result['scratch_dropped'] is True and _scratch_left('postgresql', pg_server) == []


def test_check_mode_records_nothing_and_creates_no_scratch(request, tmp_path, age_key):
    artifact, target, server = make('postgresql', request, tmp_path / 'dest', tmp_path, age_key)
    result, run = run_module(MODULE, verify_args(artifact, age_key, restore_test=True, **target), check=True)
    assert run.returncode == 0
    assert result['changed'] is False and result['recorded'] is False and result['status'] == 'ok'
    assert result['verification']['outcome'] == 'ok'
    assert 'restore_test: check mode' in result['msg'] and 'restore_test' not in items(result)
    assert artifact.read_manifest()['verifications'] == []


def test_passwords_never_reach_a_command_line_or_the_output(pg_server, mysql_server, tmp_path, age_key):
    runs = []
    with artifacts.ArgvWatcher([pg_server.password, mysql_server.password]) as watcher:
        for engine, server in (('postgresql', pg_server), ('mysql', mysql_server)):
            artifact, target, _server = make(engine, _Request(server), tmp_path / engine, tmp_path, age_key)
            result, run = run_module(MODULE, verify_args(artifact, age_key, restore_test=True, **target))
            assert result['status'] == 'ok', result['msg']
            runs.append(run)
    assert watcher.samples > 0 and watcher.found == []
    for run in runs:
        for secret in (pg_server.password, mysql_server.password):
            assert secret not in run.stdout + run.stderr


def test_the_argv_watcher_sees_a_secret_on_a_command_line():
    with artifacts.ArgvWatcher(['s3cret-on-argv']) as watcher:
        subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.5)', 's3cret-on-argv'], check=True)
    assert watcher.found


def test_skip_if_verified_within_returns_a_recent_restore_test_for_a_plain_verify(request, tmp_path, age_key):
    artifact, target, server = make('postgresql', request, tmp_path / 'dest', tmp_path, age_key)
    plain = verify_args(artifact, age_key, skip_if_verified_within='20h')
    first = run_module(MODULE, plain)[0]
    assert first['verification_skipped'] is False and first['changed'] is True
    assert first['verify_reason'] == 'no successful verification of method checksum+decode+format or more thorough on record'
    # A plain record never stands for a restore test: that one runs, and is recorded.
    restored = run_module(MODULE, dict(plain, restore_test=True, **target))[0]
    assert restored['verification_skipped'] is False and restored['scratch_dropped'] is True
    assert 'no successful verification of method restore_test' in restored['verify_reason']
    records = artifact.read_manifest()['verifications']
    assert [record['method'] for record in records] == ['checksum+decode+format', 'restore_test']
    assert records[-1]['size'] == artifact.path.stat().st_size and records[-1]['mtime_ns'] == artifact.path.stat().st_mtime_ns
    # Check mode says it would skip; the real run skips: nothing decoded, nothing recorded, not changed.
    checked, run = run_module(MODULE, plain, check=True)
    assert run.returncode == 0 and checked['msg'].startswith('would skip: verified at %s' % records[-1]['at'])
    skipped, run = run_module(MODULE, plain)
    assert run.returncode == 0 and skipped['changed'] is False and skipped['recorded'] is False
    assert skipped['verified'] is True and skipped['status'] == 'ok' and skipped['verification'] == records[-1]
    assert skipped['skipped_reason'].startswith('verified at %s (' % records[-1]['at'])
    assert 'ago, within skip_if_verified_within 20h) by restore_test, outcome ok' in skipped['skipped_reason']
    assert [item['name'] for item in skipped['checks']] == ['recent_verification']
    assert len(artifact.read_manifest()['verifications']) == 2


def test_skip_if_verified_within_verifies_again_after_the_file_changed(request, tmp_path, age_key):
    artifact = make('redis', request, tmp_path / 'dest', tmp_path, age_key)[0]
    args = verify_args(artifact, age_key, skip_if_verified_within='1d')
    assert run_module(MODULE, args)[0]['verified'] is True
    assert run_module(MODULE, args)[0]['verification_skipped'] is True
    os.utime(artifact.path)  # same bytes, new mtime: rewritten or replaced as far as the skip can tell
    again, run = run_module(MODULE, args)
    assert run.returncode == 0 and again['verification_skipped'] is False and again['changed'] is True
    assert again['verify_reason'].startswith('the artifact changed since its last successful checksum+decode+format')
    offset = artifacts.flip_byte(artifact.path)
    broken, run = run_module(MODULE, args)
    assert run.returncode != 0 and broken['verified'] is False and items(broken)['checksum']['status'] == 'critical'
    # A failure on record is never skipped over, even when the file is put back as it was.
    artifacts.flip_byte(artifact.path, offset)
    after = run_module(MODULE, args)[0]
    assert after['verification_skipped'] is False and after['verify_reason'].startswith('the last verification (')


def test_skip_if_verified_within_must_be_a_duration(request, tmp_path, age_key):
    artifact = make('redis', request, tmp_path / 'dest', tmp_path, age_key)[0]
    result, run = run_module(MODULE, verify_args(artifact, age_key, skip_if_verified_within='20 minutes'))
    assert run.returncode != 0 and "skip_if_verified_within '20 minutes' is not a duration" in result['msg']
    assert artifact.read_manifest()['verifications'] == []


class _Request:
    """Stands in for pytest's request where a test already holds the server."""

    def __init__(self, server):
        self.server = server

    def getfixturevalue(self, name):
        return self.server


# --- documentation -----------------------------------------------------------------


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('restore_test', 'identity_file', 'passphrase_file', 'fail_on', 'login_password',
                                        'skip_if_verified_within', 'skipped_reason'))


@pytest.fixture(scope='module')
def default_port_servers(tmp_path_factory):
    """The examples use the engines' standard ports, so start servers there."""
    busy = [port for port in (5432, 6379) if servers._port_open(port)]
    if busy:
        pytest.skip('default ports already in use on this machine: %s' % busy)
    base = tmp_path_factory.mktemp('default-ports')
    started = {}
    try:
        started['postgresql'] = servers.start_postgresql(base, port=5432)
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_examples_run_as_written(default_port_servers, tmp_path, age_key):
    from ansible_collections.caretaker.maintenance.plugins.modules import backup_verify
    pg = default_port_servers['postgresql']
    dest = tmp_path / 'backups'
    counts = artifacts.seed_postgresql(pg, 'appdb')
    artifacts.pg_artifact(pg, dest, 'appdb', counts, recipient=age_key.recipient)
    artifacts.redis_artifact(dest, tmp_path, port=6379, database='0', compression='zstd')
    facts = {'backup_dir': str(dest), 'backup_identity_file': str(age_key.identity_file), 'vault_pg_password': pg.password}
    tasks = yaml.safe_load(backup_verify.EXAMPLES)
    run = run_tasks([{'name': 'facts', 'ansible.builtin.set_fact': facts, 'no_log': True}] + tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.task(1)['verified'] is True
    assert run.task(2)['verified'] is True and run.task(2)['scratch_dropped'] is True
    assert run.task(3)['verified'] is True
    assert run.task(4).get('skipped') is True
    # The nightly verify finds the restore test of task 2 on record and skips.
    assert run.task(5)['verification_skipped'] is True and run.task(5)['changed'] is False
    assert run.task(6)['msg'].startswith('verified at ') and 'by restore_test' in run.task(6)['msg']
    assert pg.password not in run.stdout
