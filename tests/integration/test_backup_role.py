"""The backup role through the daily, monthly and restore playbooks, with real servers and a
two-host inventory (both hosts local): backups taken, verified, copied to the controller and
to a second host, pruned on both; the monthly restore test; the guarded restore."""

import hashlib
import json
import os
import stat
import sys

import pytest
import yaml

from tests.support import artifacts
from tests.support.playbook import ROOT, run_playbook

RETENTION = {'keep_last': 2}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(data, handle)
    return path


def artifacts_in(directory):
    """{series: sorted artifact names} under a destination, manifests left out."""
    found = {}
    if not directory.is_dir():
        return found
    for series in sorted(directory.iterdir()):
        found[series.name] = sorted(p.name for p in series.iterdir() if not p.name.endswith('.manifest.json'))
    return found


class Stack:
    """An inventory of a database host ``db1`` and a copy host ``vault`` (both local
    connections) and the role's variables for PostgreSQL and Redis."""

    def __init__(self, tmp_path, pg_server, redis_server, age_key):
        self.tmp_path = tmp_path
        self.pg_server = pg_server
        self.counts = artifacts.seed_postgresql(pg_server, 'role_src', users=50, orders=120)
        self.dest = tmp_path / 'backups'
        self.copies = tmp_path / 'vault'
        self.controller = tmp_path / 'controller'
        self.inventory = tmp_path / 'hosts.yml'
        host = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        self.inventory.write_text(yaml.safe_dump({'all': {'hosts': {'db1': dict(host), 'vault': dict(host)}}}))
        self.passwords = [pg_server.password, redis_server.password]
        self.variables = {
            'caretaker_hosts': 'db1',
            'backup_dest': str(self.dest),
            'backup_databases': [
                dict(pg_server.target(), database='role_src'),
                {'engine': 'redis', 'login_host': redis_server.host, 'login_port': redis_server.port,
                 'login_password': redis_server.password},
            ],
            'backup_encryption_recipients': [age_key.recipient],
            'backup_verify_identity_file': str(age_key.identity_file),
            'backup_retention': RETENTION,
            'backup_copy_to_controller': str(self.controller),
            'backup_copy_to_host': 'vault',
            'backup_copy_to_host_dest': str(self.copies),
        }

    def run(self, playbook, check=False, **extra):
        path = write_private(self.tmp_path / 'vars.json', dict(self.variables, **extra))
        run = run_playbook(ROOT / 'playbooks' / playbook, inventory=str(self.inventory), check=check,
                           extra_args=['-e', '@%s' % path])
        for secret in self.passwords:
            assert secret not in run.stdout and secret not in run.stderr
        return run


def task_results(run, name_end, host='db1'):
    for play in run.data['plays']:
        for task in play['tasks']:
            if task['task']['name'].endswith(name_end) and host in task['hosts']:
                return task['hosts'][host]
    raise AssertionError('no task %r ran on %s' % (name_end, host))


@pytest.fixture(scope='module')
def age_key(tmp_path_factory):
    return artifacts.age_keygen(tmp_path_factory.mktemp('keys'))


@pytest.fixture
def stack(tmp_path, pg_server, redis_server, age_key):
    made = Stack(tmp_path, pg_server, redis_server, age_key)
    yield made
    artifacts.pg_drop(pg_server, 'role_src')


def test_daily_takes_verifies_copies_and_prunes_on_both_hosts(stack):
    runs = []
    for _run in range(3):
        before = artifacts_in(stack.dest)
        runs.append(stack.run('daily.yml'))
        assert runs[-1].returncode == 0, runs[-1].stdout[-3000:]
    removed_last_run = [name for names in before.values() for name in names
                        if name not in sum(artifacts_in(stack.dest).values(), [])]
    assert len(removed_last_run) == 2  # the oldest of each series

    local = artifacts_in(stack.dest)
    redis_port = stack.variables['backup_databases'][1]['login_port']
    assert sorted(local) == ['postgresql-127.0.0.1-%d-role_src' % stack.pg_server.port, 'redis-127.0.0.1-%s-all' % redis_port]
    assert all(len(names) == 2 for names in local.values()), local  # keep_last 2 after three runs
    for series, names in local.items():
        for name in names:
            manifest = json.loads((stack.dest / series / (name + '.manifest.json')).read_text())
            assert manifest['verifications'][-1]['outcome'] == 'ok'

    # The second host holds the same two newest backups per series, byte for byte, private.
    assert artifacts_in(stack.copies) == local
    for series, names in local.items():
        assert stat.S_IMODE(os.stat(stack.copies / series).st_mode) == 0o700
        for name in names:
            for suffix in ('', '.manifest.json'):
                copy = stack.copies / series / (name + suffix)
                assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
                assert sha256(copy) == sha256(stack.dest / series / (name + suffix))
    pruned = task_results(runs[-1], 'Prune the copies on the second host by the same retention')
    # One artifact and its manifest per series went on the second host in the last run.
    assert sorted(os.path.basename(entry['path']) for entry in pruned['deleted']) == sorted(
        name + suffix for name in removed_last_run for suffix in ('', '.manifest.json'))

    # The controller keeps every copy (no retention there), private.
    fetched = sorted(p.name for p in (stack.controller / 'db1').iterdir())
    assert len([name for name in fetched if not name.endswith('.manifest.json')]) == 6
    assert all(stat.S_IMODE(os.stat(stack.controller / 'db1' / name).st_mode) == 0o600 for name in fetched)

    # The controller's staging directory is gone after every run.
    staging = task_results(runs[-1], 'Make a private staging directory on the controller')['path']
    assert not os.path.exists(staging)


def test_a_rerun_of_daily_within_the_windows_changes_nothing(stack):
    windows = dict(backup_skip_if_newer_than='20h', backup_verify_skip_within='20h')
    first = stack.run('daily.yml', **windows)
    assert first.returncode == 0, first.stdout[-3000:]
    taken = artifacts_in(stack.dest)
    manifests = {path: path.read_bytes() for path in stack.dest.rglob('*.manifest.json')}
    again = stack.run('daily.yml', **windows)
    assert again.returncode == 0, again.stdout[-3000:]
    # Tasks delegated to the second host and the controller count under db1.
    assert again.stats['db1']['changed'] == 0, again.stats
    assert all(counts['changed'] == 0 for counts in again.stats.values()), again.stats
    reused = task_results(again, 'Take the backups')['results']
    assert [item['changed'] for item in reused] == [False, False]
    assert all('newer than skip_if_newer_than 20h' in item['skipped_reason'] for item in reused)
    assert artifacts_in(stack.dest) == taken and artifacts_in(stack.copies) == taken
    assert {path: path.read_bytes() for path in stack.dest.rglob('*.manifest.json')} == manifests


def test_daily_in_check_mode_writes_nothing(stack):
    run = stack.run('daily.yml', check=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert [path for path in stack.tmp_path.rglob('*') if path.is_file() and 'backups' in path.parts] == []
    assert not stack.copies.exists() and not stack.controller.exists()
    taken = task_results(run, 'Take the backups')['results']
    assert [item['changed'] for item in taken] == [True, True]  # what it would write
    assert all(item['path'].startswith(str(stack.dest)) for item in taken)


def test_monthly_restore_test_then_guarded_restore(stack):
    before = artifacts.pg_databases(stack.pg_server, 'caretaker_')
    monthly = stack.run('monthly.yml', backup_copy_to_host='', backup_copy_to_controller='')
    assert monthly.returncode == 0, monthly.stdout[-3000:]
    verified = task_results(monthly, 'Verify the new backups')['results']
    assert [item['status'] for item in verified] == ['ok', 'ok']
    for item in verified:
        assert any('restore' in check['name'] and check['status'] == 'ok' for check in item['checks']), item['checks']
    assert artifacts.pg_databases(stack.pg_server, 'caretaker_') == before  # scratch dropped

    restore = {'restore_engine': 'postgresql', 'restore_database': 'role_src', 'restore_target_database': 'role_restored',
               'restore_login_host': stack.pg_server.host, 'restore_login_port': stack.pg_server.port,
               'restore_login_user': stack.pg_server.user, 'restore_login_password': stack.pg_server.password,
               'restore_identity_file': stack.variables['backup_verify_identity_file'], 'restore_dest': str(stack.dest)}
    refused = stack.run('restore.yml', **restore)
    assert refused.returncode != 0
    assert 'restore_confirm' in json.dumps(task_results(refused, 'Refuse without an explicit confirmation naming the target'))
    assert not artifacts.pg_exists(stack.pg_server, 'role_restored')

    try:
        done = stack.run('restore.yml', restore_confirm='role_restored', **restore)
        assert done.returncode == 0, done.stdout[-3000:]
        assert artifacts.pg_rows(stack.pg_server, 'role_restored') == artifacts.pg_rows(stack.pg_server, 'role_src')
    finally:
        artifacts.pg_drop(stack.pg_server, 'role_restored')


def test_restore_of_a_passphrase_encrypted_backup_with_blank_survey_answers(stack):
    """The examples encrypt with a passphrase file. restore.yml takes the host's own key
    (backup_encryption_passphrase_file) when the run gives none, and treats the empty strings
    an AWX survey may send for unanswered optional questions as not given."""
    passphrase = stack.tmp_path / 'backup.passphrase'
    write_private(passphrase, 'correct horse battery staple')  # JSON-quoted: any text is a passphrase
    stack.variables.update(backup_encryption_recipients=[], backup_verify_identity_file='',
                           backup_encryption_passphrase_file=str(passphrase),
                           backup_copy_to_host='', backup_copy_to_controller='')
    daily = stack.run('daily.yml')
    assert daily.returncode == 0, daily.stdout[-3000:]
    series = 'postgresql-127.0.0.1-%d-role_src' % stack.pg_server.port
    taken = artifacts_in(stack.dest)[series]
    assert len(taken) == 1 and taken[0].endswith('.age'), taken
    with open(stack.dest / series / taken[0], 'rb') as handle:
        assert handle.read(64).startswith(b'age-encryption.org/v1\n-> scrypt ')

    restore = {'restore_engine': 'postgresql', 'restore_database': 'role_src', 'restore_target_database': 'role_restored',
               'restore_confirm': 'role_restored', 'restore_dest': str(stack.dest),
               'restore_login_host': stack.pg_server.host, 'restore_login_port': stack.pg_server.port,
               'restore_login_user': stack.pg_server.user, 'restore_login_password': stack.pg_server.password,
               # unanswered optional survey questions
               'restore_identity_file': '', 'restore_passphrase_file': ''}
    try:
        done = stack.run('restore.yml', **restore)
        assert done.returncode == 0, done.stdout[-3000:]
        assert artifacts.pg_rows(stack.pg_server, 'role_restored') == artifacts.pg_rows(stack.pg_server, 'role_src')
    finally:
        artifacts.pg_drop(stack.pg_server, 'role_restored')
