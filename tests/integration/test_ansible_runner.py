"""The cadence playbooks as AWX runs them: ansible-runner on a job's private data directory
(tests/support/awx_job.py), the project a clean checkout whose collections/requirements.yml
installed caretaker.maintenance into requirements_collections, the hosts' variables and
database passwords in inventory/hosts and env/extravars, real servers on loopback."""

import os
import sys
import time

import pytest

from tests.support import artifacts, servers
from tests.support.awx_job import Job, check_out_project, sync_project

LOCAL = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
DATABASE = 'runner_src'
# Old logs on the host: compressed after 30 days, deleted after 90.
LOG_AGES = {'app.log.1': 40, 'app.log.2': 100}


@pytest.fixture(scope='module')
def synced(tmp_path_factory):
    """The project as AWX's sync leaves it: checked out, its requirements installed."""
    base = tmp_path_factory.mktemp('awx-project')
    project = check_out_project(base / 'project')
    return project, sync_project(project, base / 'requirements_collections')


@pytest.fixture
def new_job(tmp_path, synced):
    made = []

    def make():
        made.append(Job(tmp_path / ('job%d' % (len(made) + 1)), *synced, job_id=len(made) + 1))
        return made[-1]
    return make


def health_host(tmp_path, name, datastores):
    return dict(LOCAL, health_datastores=datastores, health_resources=False,
                health_state_file=str(tmp_path / name / 'health-state.json'))


def assert_ran_from_the_synced_collection(run, job, action, host):
    """runner_on_ok of the module on host, from the role installed by the project sync."""
    events = [item['event_data'] for item in run.of('runner_on_ok', host) if item['event_data'].get('resolved_action') == action]
    assert events, '%s did not run on %s' % (action, host)
    installed = str(job.dir / 'requirements_collections' / 'ansible_collections' / 'caretaker' / 'maintenance') + '/roles/'
    assert all(event['task_path'].startswith(installed) for event in events), events[0]['task_path']
    return [event['res'] for event in events]


def test_health_job_is_successful_with_events_and_artifacts(tmp_path, new_job, pg_server, redis_server):
    job = new_job()
    datastores = [pg_server.target(), dict(redis_server.target(), connect_timeout=3)]
    job.write({'all': {'hosts': {'app1': health_host(tmp_path, 'app1', datastores)}}})
    run = job.run('playbooks/health.yml')

    assert (run.status, run.rc) == ('successful', 0), run.stdout[-3000:]
    assert (run.artifacts / 'rc').read_text().strip() == '0'
    assert (run.artifacts / 'status').read_text().strip() == 'successful'
    assert 'PLAY RECAP' in run.stdout
    assert len(list((run.artifacts / 'job_events').glob('*.json'))) == len(run.events) > 10

    checked = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.db_check', 'app1')[0]
    assert checked['status'] == 'ok'
    assert {item['target'].split('@')[0] for item in checked['checks']} == {'postgresql', 'redis'}
    report = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.health_report', 'app1')[0]
    assert report['status'] == 'ok' and report['lines'][0].startswith('app1 is ok')
    names = run.task_names()
    for expected in ('Check datastores', 'Combine the checks into one status and decide whether to alert',
                     'Show one line per host', 'Fail the hosts whose health reaches health_fail_on'):
        assert expected in names
    stats = run.stats()
    assert stats['failures'] == {} and stats['dark'] == {} and stats['ok']['app1'] > 0
    assert run.leaked([pg_server.password, redis_server.password]) == []


def test_a_failing_check_fails_the_health_job_for_that_host(tmp_path, new_job, redis_server):
    job = new_job()
    nothing_listens = dict(servers.unused_target('redis'), connect_timeout=2)
    job.write({'all': {'hosts': {'app1': health_host(tmp_path, 'app1', [redis_server.target()]),
                                 'app2': health_host(tmp_path, 'app2', [nothing_listens])}}})
    run = job.run('playbooks/health.yml')

    assert run.status == 'failed' and run.rc != 0
    assert (run.artifacts / 'status').read_text().strip() == 'failed'
    stats = run.stats()
    assert stats['failures'] == {'app2': 1}
    assert 'app1' in stats['ok']
    failed = [item['event_data'] for item in run.of('runner_on_failed', 'app2')]
    assert [event['task'] for event in failed] == ['Fail the hosts whose health reaches health_fail_on']
    assert failed[0]['res']['msg'].startswith('app2 is critical')
    assert run.leaked([redis_server.password, nothing_listens['login_password']]) == []


class Host:
    """A database host's daily.yml variables: one PostgreSQL database backed up to backup_dest,
    whose password is an extra var (a credential's injector or a survey answer) that the
    inventory refers to, and a log directory with a live log and two old ones."""

    def __init__(self, tmp_path, pg_server):
        self.dest = tmp_path / 'backups'
        self.logs = tmp_path / 'logs'
        self.logs.mkdir()
        (self.logs / 'app.log').write_text('GET /health 200\nERROR lost connection\n')
        for name, days in LOG_AGES.items():
            (self.logs / name).write_text('old lines\n' * 100)
            stamp = time.time() - days * 86400
            os.utime(self.logs / name, (stamp, stamp))
        self.scan_state = tmp_path / 'log_scan' / 'app.json'
        self.password = pg_server.password
        database = dict(pg_server.target(), database=DATABASE, login_password='{{ runner_db_password }}')
        self.inventory = {'all': {'hosts': {'db1': dict(
            LOCAL, backup_dest=str(self.dest), backup_databases=[database], backup_retention={'keep_last': 3},
            log_maintenance_cleanup=[{'name': 'app logs', 'paths': [str(self.logs)], 'compress_after_days': 30,
                                      'delete_after_days': 90, 'min_idle': 1}],
            log_maintenance_scan=[{'name': 'app log', 'paths': [str(self.logs / 'app.log')], 'format': 'text',
                                   'state_file': str(self.scan_state)}])}}}
        self.extravars = {'runner_db_password': pg_server.password}

    def files(self):
        """{relative path: (size, mtime)} of everything the run could write or change."""
        return {str(path): (path.stat().st_size, path.stat().st_mtime_ns)
                for base in (self.dest, self.logs, self.scan_state.parent) if base.exists()
                for path in base.rglob('*')}


@pytest.fixture
def host(tmp_path, pg_server):
    artifacts.seed_postgresql(pg_server, DATABASE, users=20, orders=50)
    yield Host(tmp_path, pg_server)
    artifacts.pg_drop(pg_server, DATABASE)


def test_daily_job_writes_a_verified_backup_and_keeps_the_logs(new_job, host):
    job = new_job()
    job.write(host.inventory, host.extravars)
    run = job.run('playbooks/daily.yml')

    assert (run.status, run.rc) == ('successful', 0), run.stdout[-3000:]
    taken = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.db_backup', 'db1')[0]['results']
    assert len(taken) == 1 and taken[0]['changed'] is True
    backup = taken[0]['path']
    assert backup.startswith(str(host.dest)) and os.path.getsize(backup) > 0
    assert os.path.isfile(backup + '.manifest.json')
    verified = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.backup_verify', 'db1')[0]['results']
    assert [item['status'] for item in verified] == ['ok']

    cleaned = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.log_cleanup', 'db1')
    assert cleaned and cleaned[0]['results'][0]['changed'] is True
    assert sorted(os.listdir(host.logs)) == ['app.log', 'app.log.1.gz']  # 100 days: deleted; 40: compressed
    assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.log_scan', 'db1')
    assert host.scan_state.is_file()

    names = run.task_names()
    for expected in ('Take the backups', 'Verify the new backups', 'Prune old backups', 'Compress and delete old logs',
                     'Scan the logs since the last run'):
        assert expected in names
    stats = run.stats()
    assert stats['failures'] == {} and stats['changed']['db1'] > 0
    assert run.leaked([host.password]) == []


def test_a_check_job_changes_nothing(new_job, host):
    before = host.files()
    job = new_job()
    job.write(host.inventory, host.extravars, check=True)
    assert (job.dir / 'env' / 'cmdline').read_text().split()[0] == '--check'
    run = job.run('playbooks/daily.yml')

    assert (run.status, run.rc) == ('successful', 0), run.stdout[-3000:]
    assert host.files() == before
    assert not host.dest.exists() and not host.scan_state.exists()
    taken = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.db_backup', 'db1')[0]['results']
    assert taken[0]['changed'] is True and taken[0]['path'].startswith(str(host.dest))  # what it would write
    cleaned = assert_ran_from_the_synced_collection(run, job, 'caretaker.maintenance.log_cleanup', 'db1')[0]['results'][0]
    assert cleaned['changed'] is True
    assert run.stats()['failures'] == {}
    assert run.leaked([host.password]) == []
