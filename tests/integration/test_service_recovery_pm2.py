"""The service_recovery role's pm2 kind for real, through playbooks/recover.yml: a tiny Node.js
HTTP app on a free loopback port, run by a pm2 daemon of its own (a private PM2_HOME, given to
the role as service_recovery_pm2_home) and started with --no-autorestart, so only the role
brings it back after its process is killed. The daemon is stopped with pm2 kill at the end
and its process id is checked to be gone."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from tests.support.playbook import ROOT, run_playbook
from tests.support.recovery import report, status_of
from tests.support.servers import free_port

PLAYBOOK = ROOT / 'playbooks' / 'recover.yml'
PM2 = shutil.which('pm2')
NODE = shutil.which('node')

pytestmark = pytest.mark.skipif(not (PM2 and NODE), reason='pm2 and node are needed on PATH (make system-deps installs them)')

APP = r'''
require("http").createServer((request, response) => {
  response.writeHead(200, {"Content-Type": "text/plain"});
  response.end("ready\n");
}).listen(Number(process.env.PORT), "127.0.0.1");
'''


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError('timed out after %s s waiting for %s' % (timeout, what))


def pid_alive(pid):
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            return handle.read().rpartition(')')[2].split()[0] != 'Z'
    except OSError:
        return False


class Pm2:
    """pm2 commands against one private daemon."""

    def __init__(self, home):
        self.home = home
        self.env = dict(os.environ, PM2_HOME=home)

    def run(self, *args, env=None):
        proc = subprocess.run([PM2] + list(args), env=dict(self.env, **(env or {})), capture_output=True, text=True,
                              check=False, timeout=60)
        assert proc.returncode == 0, 'pm2 %s: rc %d\n%s\n%s' % (' '.join(args), proc.returncode, proc.stdout, proc.stderr)
        return proc.stdout

    def app(self, name):
        """(status, pid) of the app as pm2 sees it; pid 0 when it does not run."""
        for entry in json.loads(self.run('jlist')):
            if entry['name'] == name:
                return entry['pm2_env']['status'], entry['pid']
        raise AssertionError('pm2 does not know %s' % name)

    def daemon_pid(self):
        try:
            with open(os.path.join(self.home, 'pm2.pid'), encoding='ascii') as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None


@pytest.fixture
def pm2(monkeypatch):
    # The role's pm2 commands find the daemon through service_recovery_pm2_home only.
    monkeypatch.delenv('PM2_HOME', raising=False)
    # A short path: the daemon's unix sockets live in PM2_HOME (sun_path holds 107 bytes).
    home = tempfile.mkdtemp(prefix='caretaker-pm2-')
    daemon = Pm2(home)
    try:
        yield daemon
    finally:
        pid = daemon.daemon_pid()
        if pid is not None:
            subprocess.run([PM2, 'kill'], env=daemon.env, capture_output=True, check=False, timeout=60)
            try:
                wait_for(lambda: not pid_alive(pid), 15, 'the pm2 daemon (pid %d) to exit' % pid)
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
                raise
        shutil.rmtree(home, ignore_errors=True)
    assert pid is None or not pid_alive(pid), 'the pm2 daemon (pid %d) outlived pm2 kill' % pid


def recover(tmp_path, pm2_home, services, check=False):
    variables = {'service_recovery_pm2_home': pm2_home, 'service_recovery_wait_timeout': 20,
                 'service_recovery_wait_interval': 1, 'service_recovery_services': services}
    path = tmp_path / 'vars.json'
    path.write_text(json.dumps(variables))
    return run_playbook(PLAYBOOK, check=check, extra_args=['-e', '@%s' % path])


def test_a_killed_pm2_app_is_left_down_in_check_mode_then_reloaded_and_then_left_alone(pm2, tmp_path):
    name = 'caretaker-test-%d' % os.getpid()
    port = free_port()
    url = 'http://127.0.0.1:%d/' % port
    script = tmp_path / 'app.js'
    script.write_text(APP)
    pm2.run('start', str(script), '--name', name, '--no-autorestart', env={'PORT': str(port)})
    wait_for(lambda: status_of(url) == 200, 30, '%s answering 200' % url)
    _status, first_pid = pm2.app(name)
    assert first_pid > 0

    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: pm2.app(name)[0] != 'online', 15, 'pm2 to see %s stopped' % name)
    assert status_of(url) is None
    services = [{'name': name, 'kind': 'pm2', 'url': url}]

    run = recover(tmp_path, pm2.home, services, check=True)
    assert run.returncode != 0, 'a service that is down fails the host, in check mode too'
    found = report(run)[name]
    assert found['outcome'] == 'down'
    assert found['steps'][0].startswith('check: critical: ') and 'connection refused' in found['steps'][0]
    assert found['steps'][1] == 'check mode: would restart: pm2 reload %s' % name
    assert pm2.app(name) == ('stopped', 0)
    assert status_of(url) is None

    run = recover(tmp_path, pm2.home, services)
    assert run.returncode == 0, run.stdout[-3000:]
    found = report(run)[name]
    assert found['outcome'] == 'recovered'
    assert [step.split(':')[0] for step in found['steps']] == ['check', 'restart', 'after restart']
    assert found['steps'][1] == 'restart: pm2 reload %s' % name
    assert found['steps'][2].startswith('after restart: ok: ')
    status, pid = pm2.app(name)
    assert status == 'online' and pid not in (0, first_pid)
    assert status_of(url) == 200

    # Healthy now: left alone.
    run = recover(tmp_path, pm2.home, services)
    assert run.returncode == 0, run.stdout[-3000:]
    found = report(run)[name]
    assert found['outcome'] == 'healthy' and len(found['steps']) == 1
    assert found['steps'][0].startswith('check: ok: ')
    assert run.stats['localhost']['changed'] == 0
    assert pm2.app(name) == ('online', pid)
    assert status_of(url) == 200
