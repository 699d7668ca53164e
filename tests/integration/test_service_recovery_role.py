"""The service_recovery role through playbooks/recover.yml, with services that really go down:
plain containers of the locally built image (tests/support/docker_engine.py) serving HTTP on
free loopback ports with network_mode host. The test kills them; the role sees http_check
fail, restarts the container and waits until it answers. Check mode restarts nothing; a
service that cannot come back fails the playbook after the summary; and with
recover_restore_on_failure a real db_restore of a verified Redis backup brings back an app
whose data was lost."""

import json
import os

import pytest

from tests.support import docker_engine as de
from tests.support import docker_fixtures
from tests.support.backup_sources import redis_client
from tests.support.playbook import ROOT, run_module, run_playbook
from tests.support.recovery import report, status_of
from tests.support.servers import free_port

PLAYBOOK = ROOT / 'playbooks' / 'recover.yml'
KEY = 'feature:ready'
DB = '5'

# An app that answers 200 only while its Redis key exists (the password comes from its environment).
APP = r'''
import http.server, os, socket
def ready():
    password = os.environ["REDIS_PASSWORD"].encode()
    words = [[b"AUTH", password], [b"SELECT", os.environ["REDIS_DB"].encode()], [b"EXISTS", os.environ["KEY"].encode()]]
    data = b"".join(b"*%d\r\n" % len(w) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in w) for w in words)
    try:
        with socket.create_connection(("127.0.0.1", int(os.environ["REDIS_PORT"])), timeout=2) as conn:
            conn.sendall(data)
            answer = b""
            while answer.count(b"\r\n") < 3:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return False
    return answer.split(b"\r\n")[2] == b":1"
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if ready() else 503
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ready\n" if code == 200 else b"no data\n")
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


engine = docker_fixtures.engine
made = docker_fixtures.made


def run_on_host_network(made, short, command, environment=None):
    """A container of ours on the host's network (loopback only: the engine has no bridge)."""
    container = made.client.containers.run(
        image=made.image, command=command, name=made.name(short), network_mode='host', detach=True,
        environment=environment or {}, labels={de.OWNER_LABEL: made.owner})
    made.made.append(container)
    return container


def wait_answering(url, code=200):
    de.wait_for(lambda: status_of(url) == code, timeout=30, what='%s answering %d' % (url, code))


def web_service(made, short):
    port = free_port()
    container = run_on_host_network(made, short, ['python3', '-m', 'http.server', '--bind', '127.0.0.1', str(port)])
    url = 'http://127.0.0.1:%d/' % port
    wait_answering(url)
    return container, url


def started_at(container):
    container.reload()
    return container.attrs['State']['StartedAt']


def recover(engine, tmp_path, services, check=False, secrets=(), **variables):
    variables = dict({'service_recovery_docker_host': engine.base_url, 'service_recovery_wait_timeout': 20,
                      'service_recovery_wait_interval': 1, 'service_recovery_stop_timeout': 5,
                      'service_recovery_services': services}, **variables)
    path = tmp_path / 'vars.json'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(variables, handle)
    run = run_playbook(PLAYBOOK, check=check, extra_args=['-e', '@%s' % path])
    for secret in secrets:
        assert secret not in run.stdout and secret not in run.stderr
    return run


def _task_on_localhost(run, play_name, task_name):
    for play in run.data['plays']:
        if play['play']['name'] == play_name:
            for task in play['tasks']:
                if task['task']['name'] == task_name:
                    return task['hosts']['localhost']
    raise AssertionError('%r of the play %r did not run' % (task_name, play_name))


def summary_lines(run):
    return _task_on_localhost(run, 'Recovery summary', 'Show one line per service of every host')['msg']


def failure_of(run):
    return _task_on_localhost(run, 'Recovery verdict', 'Fail the hosts whose services stayed down')


def test_check_mode_restarts_nothing_then_the_real_run_brings_the_service_back(engine, made, tmp_path):
    web, url = web_service(made, 'web')
    services = [{'name': web.name, 'kind': 'container', 'url': url}]
    web.kill()
    web.wait(timeout=30)
    stopped_at = started_at(web)

    run = recover(engine, tmp_path, services, check=True)
    assert run.returncode != 0, 'a service that is down fails the host, in check mode too'
    found = report(run)[web.name]
    assert found['outcome'] == 'down'
    assert found['steps'][0].startswith('check: critical: ') and 'connection refused' in found['steps'][0]
    assert found['steps'][1] == 'check mode: would restart: docker restart %s (SIGTERM, SIGKILL after 5 s)' % web.name
    assert summary_lines(run) == ['localhost: %s (container): down (check mode, nothing restarted) - %s'
                                  % (web.name, found['steps'][1])]
    web.reload()
    assert web.status == 'exited' and started_at(web) == stopped_at
    assert status_of(url) is None

    run = recover(engine, tmp_path, services)
    assert run.returncode == 0, run.stdout[-3000:]
    found = report(run)[web.name]
    assert found['outcome'] == 'recovered'
    assert [step.split(':')[0] for step in found['steps']] == ['check', 'restart', 'after restart']
    assert found['steps'][2].startswith('after restart: ok: ')
    web.reload()
    assert web.status == 'running' and started_at(web) != stopped_at
    assert status_of(url) == 200

    # Healthy now: left alone.
    before = started_at(web)
    run = recover(engine, tmp_path, services)
    assert run.returncode == 0, run.stdout[-3000:]
    found = report(run)[web.name]
    assert found['outcome'] == 'healthy' and len(found['steps']) == 1
    assert found['steps'][0].startswith('check: ok: ')
    assert run.stats['localhost']['changed'] == 0
    assert started_at(web) == before


def test_a_service_that_cannot_come_back_fails_the_playbook_after_the_summary(engine, made, tmp_path):
    healthy, healthy_url = web_service(made, 'fine')
    broken_url = 'http://127.0.0.1:%d/' % free_port()
    # Its process exits at once, every time it is started: nothing ever listens on its port.
    broken = run_on_host_network(made, 'broken', ['sh', '-c', 'echo cannot open config >&2; exit 1'])
    broken.wait(timeout=30)
    services = [{'name': broken.name, 'kind': 'container', 'url': broken_url, 'wait_timeout': 3},
                {'name': healthy.name, 'kind': 'container', 'url': healthy_url}]

    run = recover(engine, tmp_path, services, recover_restore_on_failure=True)
    assert run.returncode != 0
    found = report(run)
    assert found[healthy.name]['outcome'] == 'healthy'
    assert found[broken.name]['outcome'] == 'failed'
    steps = found[broken.name]['steps']
    assert [step.split(':')[0] for step in steps] == ['check', 'restart', 'after restart', 'no restore']
    assert 'exited' in steps[2] and 'with code 1' in steps[2] and 'connection refused' in steps[2]
    assert steps[3] == 'no restore: no databases listed for it'
    assert len(summary_lines(run)) == 2
    failure = failure_of(run)
    assert failure['failed']
    assert failure['msg'].startswith('%s stayed down: localhost: %s (container): failed - ' % (broken.name, broken.name))
    assert status_of(healthy_url) == 200

    # A container that does not exist cannot be restarted: said as such, and the summary still prints.
    run = recover(engine, tmp_path, [{'name': made.name('gone'), 'kind': 'container'}])
    assert run.returncode != 0
    steps = report(run)[made.name('gone')]['steps']
    assert steps[-1].startswith('error in ') and 'does not exist' in steps[-1]
    assert len(summary_lines(run)) == 1


@pytest.fixture
def redis_backup(redis_server, tmp_path):
    """Key KEY in logical database DB, backed up with db_backup and verified with backup_verify."""
    client = redis_client(redis_server, int(DB))
    client.flushdb()
    client.set(KEY, 'yes')
    client.set('feature:count', '42')
    dest = tmp_path / 'backups'
    taken, _run = run_module('caretaker.maintenance.db_backup', dict(redis_server.target(), dest=str(dest)))
    assert not taken.get('failed'), taken.get('msg')
    verified, _run = run_module('caretaker.maintenance.backup_verify', {'path': taken['path']})
    assert verified['status'] == 'ok', verified.get('msg')
    yield {'dest': str(dest), 'series': taken['series'], 'path': taken['path']}
    client.flushdb()


def test_a_restore_of_the_newest_verified_backup_brings_back_a_service_whose_data_is_gone(
        engine, made, tmp_path, redis_server, redis_backup):
    port = free_port()
    app = run_on_host_network(made, 'app', ['python3', '-c', APP], environment={
        'PORT': str(port), 'REDIS_PORT': str(redis_server.port), 'REDIS_PASSWORD': redis_server.password,
        'REDIS_DB': DB, 'KEY': KEY})
    url = 'http://127.0.0.1:%d/' % port
    wait_answering(url, 200)
    client = redis_client(redis_server, int(DB))
    client.flushdb()  # the data is lost: the app answers 503 and a restart does not help
    wait_answering(url, 503)
    restore = {'dest': redis_backup['dest'], 'series': redis_backup['series'], 'engine': 'redis',
               'login_host': redis_server.host, 'login_port': redis_server.port,
               'login_password': redis_server.password, 'source_database': DB, 'target_database': DB,
               'clean': True}
    services = [{'name': app.name, 'kind': 'container', 'url': url, 'wait_timeout': 3, 'restore': [restore]}]
    secrets = [redis_server.password]

    run = recover(engine, tmp_path, services, check=True, secrets=secrets, recover_restore_on_failure=True)
    steps = report(run)[app.name]['steps']
    assert report(run)[app.name]['outcome'] == 'down'
    assert steps[0].startswith('check: critical: ') and 'HTTP 503' in steps[0]
    assert steps[2].startswith('check mode: if still down after 3 s, would restore %s' % DB)
    assert steps[3].startswith('check mode: ') and os.path.basename(redis_backup['path']) in steps[3]
    assert client.dbsize() == 0

    # Without recover_restore_on_failure a restart is all it gets.
    run = recover(engine, tmp_path, services, secrets=secrets)
    assert run.returncode != 0
    assert report(run)[app.name]['steps'][-1] == 'no restore: recover_restore_on_failure (service_recovery_restore_on_failure) is false'
    assert client.dbsize() == 0

    run = recover(engine, tmp_path, services, secrets=secrets, recover_restore_on_failure=True)
    assert run.returncode == 0, run.stdout[-3000:]
    found = report(run)[app.name]
    assert found['outcome'] == 'restored'
    assert [step.split(':')[0] for step in found['steps']] == ['check', 'restart', 'after restart', 'restore', 'after restore']
    assert 'HTTP 503' in found['steps'][2]
    assert os.path.basename(redis_backup['path']) in found['steps'][3]
    assert found['steps'][4].startswith('after restore: ok: ')
    assert client.get(KEY) == b'yes' and client.get('feature:count') == b'42'
    assert status_of(url) == 200
    assert summary_lines(run) == ['localhost: %s (container): restored' % app.name]


def test_check_mode_says_how_each_kind_would_be_restarted(engine, tmp_path):
    dead = 'http://127.0.0.1:%d/health' % free_port()
    services = [
        {'name': 'api', 'kind': 'systemd', 'unit': 'caretaker-test-api.service', 'url': dead},
        {'name': 'worker', 'kind': 'pm2', 'url': dead},
        {'name': 'web', 'kind': 'compose', 'project_src': str(tmp_path / 'shop')},
    ]
    run = recover(engine, tmp_path, services, check=True)
    assert run.returncode != 0
    found = report(run)
    assert dict((name, entry['outcome']) for name, entry in found.items()) == {'api': 'down', 'worker': 'down', 'web': 'down'}
    assert found['api']['steps'][1] == ('check mode: would restart: systemctl restart caretaker-test-api.service'
                                        ' (its TimeoutStopSec, then SIGKILL)')
    assert found['worker']['steps'][1] == 'check mode: would restart: pm2 reload worker'
    assert found['web']['steps'][1] == 'check mode: would restart: docker compose restart -t 5 web in %s' % (tmp_path / 'shop')
    # The compose service is looked up by its project (the directory's name) and service labels.
    assert 'matched 0' in found['web']['steps'][0] or 'no container' in found['web']['steps'][0]


def test_a_restart_command_that_fails_is_reported_and_the_summary_still_prints(engine, tmp_path):
    dead = 'http://127.0.0.1:%d/health' % free_port()
    run = recover(engine, tmp_path, [{'name': 'worker', 'kind': 'pm2', 'url': dead, 'pm2_action': 'restart'}],
                  service_recovery_pm2_executable=str(tmp_path / 'no-pm2-here'))
    assert run.returncode != 0
    found = report(run)['worker']
    assert found['outcome'] == 'failed'
    assert found['steps'][-1].startswith('error in Reload or restart the pm2 app')
    assert 'no-pm2-here' in found['steps'][-1]
    assert summary_lines(run) == ['localhost: worker (pm2): failed - %s' % found['steps'][-1]]
