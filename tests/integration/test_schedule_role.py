"""The schedule role through ansible-playbook on localhost, every path in a temp dir: the cron
entries and the systemd units it writes, the wrapper's lock (two concurrent runs, one playbook
run), check mode, idempotence, the switch between backends and removal."""

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.support.playbook import ROOT, run_tasks

CADENCES = ['health', 'daily', 'logs', 'weekly', 'monthly', 'quarterly']

# A stand-in for ansible-playbook: records its arguments, working directory and environment,
# then waits for a release file when the test asks it to.
FAKE_PLAYBOOK = """#!/bin/sh
echo "run $$" >> "{tmp}/runs"
printf '%s\\n' "$@" > "{tmp}/args"
pwd > "{tmp}/cwd"
echo "$ANSIBLE_CONFIG|$ANSIBLE_VAULT_PASSWORD_FILE|$CARETAKER_SITE" > "{tmp}/env"
echo "playbook output"
if [ -e "{tmp}/hold" ]; then
    touch "{tmp}/started"
    while [ ! -e "{tmp}/release" ]; do sleep 0.05; done
fi
exit 0
"""


@pytest.fixture(autouse=True)
def cron_and_logrotate():
    """The cron module needs crontab (Debian package cron), the logrotate check logrotate."""
    missing = [tool for tool in ('crontab', 'logrotate') if not shutil.which(tool)]
    assert not missing, 'install the Debian packages cron and logrotate (make system-deps): %s missing' % ', '.join(missing)


def paths(tmp_path):
    return {name: tmp_path / name for name in ('bin', 'locks', 'logs', 'cron.d', 'systemd', 'logrotate.d', 'etc', 'project', 'reports')}


def variables(tmp_path, **extra):
    where = paths(tmp_path)
    fake = tmp_path / 'fake-ansible-playbook'
    if not fake.exists():
        fake.write_text(FAKE_PLAYBOOK.format(tmp=tmp_path))
        fake.chmod(0o755)
        (where['project'] / 'playbooks').mkdir(parents=True)
        where['cron.d'].mkdir()
        where['logrotate.d'].mkdir()
    return dict({
        'schedule_bin_dir': str(where['bin']),
        'schedule_lock_dir': str(where['locks']),
        'schedule_log_dir': str(where['logs']),
        'schedule_cron_file_dir': str(where['cron.d']),
        'schedule_systemd_dir': str(where['systemd']),
        'schedule_logrotate_dir': str(where['logrotate.d']),
        'schedule_env_file': str(where['etc'] / 'schedule.env'),
        'schedule_report_dir': str(where['reports']),
        'schedule_project_dir': str(where['project']),
        'schedule_ansible_playbook': str(fake),
        'schedule_inventory': str(where['project'] / 'inventory.yml'),
        'schedule_ansible_config': str(where['project'] / 'ansible.cfg'),
        'schedule_vault_password_file': '/root/.vault-pass',
        'schedule_environment': {'CARETAKER_SITE': 'it has spaces and a \'quote\''},
        # A machine running systemd would otherwise enable timers from a temp dir.
        'schedule_systemd_enable': False,
    }, **extra)


def role_run(tmp_path, check=False, **extra):
    task = {'name': 'schedule', 'ansible.builtin.include_role': {'name': 'caretaker.maintenance.schedule'},
            'vars': variables(tmp_path, **extra)}
    return run_tasks([task], check=check, diff=check, play_options={'vars': {'ansible_python_interpreter': sys.executable}})


def failures(run):
    """The failed tasks' names and messages, for assertion output."""
    found = []
    for play in run.data['plays']:
        for task in play['tasks']:
            result = task['hosts'].get('localhost', {})
            items = result.get('results') or [result]
            for item in items:
                if item.get('failed') and not item.get('failed_when_result') is False:
                    found.append('%s: %s %s' % (task['task']['name'], item.get('msg', ''), item.get('stderr', '')))
    return '\n'.join(found) or run.stderr[-3000:]


def changed(run):
    return run.stats['localhost']['changed']


def changed_tasks(run):
    return [task['task']['name'] for play in run.data['plays'] for task in play['tasks']
            if task['hosts'].get('localhost', {}).get('changed')]


def tree(tmp_path):
    """Every file the role may write, relative to tmp_path (the fake and the project aside)."""
    found = []
    for name, where in paths(tmp_path).items():
        if name != 'project' and where.exists():
            found += sorted(str(path.relative_to(tmp_path)) for path in where.rglob('*') if path.is_file())
    return found


def cron_entries(tmp_path):
    """{cadence: (five fields, command)} from the cron file."""
    entries, name = {}, None
    for line in (tmp_path / 'cron.d' / 'caretaker-maintenance').read_text().splitlines():
        if line.startswith('#Ansible: caretaker '):
            name = line.split()[-1]
        elif line and not line.startswith('#'):
            fields = line.split(None, 6)
            entries[name] = (' '.join(fields[:5]), fields[5], fields[6])
    return entries


def test_cron_backend_check_mode_install_idempotence_and_removal(tmp_path):
    check = role_run(tmp_path, check=True)
    assert check.returncode == 0, failures(check)
    assert changed(check) > 0
    assert tree(tmp_path) == [], 'check mode wrote files'

    run = role_run(tmp_path)
    assert run.returncode == 0, failures(run)
    entries = cron_entries(tmp_path)
    wrapper = str(tmp_path / 'bin' / 'caretaker-%s')
    assert entries == {
        'health': ('*/5 * * * *', 'root', wrapper % 'health'),
        'daily': ('0 2 * * *', 'root', wrapper % 'daily'),
        'logs': ('0 3 * * *', 'root', wrapper % 'logs'),
        'weekly': ('0 4 * * 1', 'root', wrapper % 'weekly'),
        # cron ORs day of month and weekday: days 1-7 behind a Monday guard (% escaped for cron)
        'monthly': ('0 5 1-7 * *', 'root', '[ "$(date +\\%u)" = 1 ] && ' + wrapper % 'monthly'),
        'quarterly': ('0 6 1-7 1,4,7,10 *', 'root', '[ "$(date +\\%u)" = 1 ] && ' + wrapper % 'quarterly'),
    }
    for name in CADENCES:
        mode = stat.S_IMODE(os.stat(wrapper % name).st_mode)
        assert mode == 0o755, name
        subprocess.run(['sh', '-n', wrapper % name], check=True)
    env_file = tmp_path / 'etc' / 'schedule.env'
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env_text = env_file.read_text()
    assert "ANSIBLE_VAULT_PASSWORD_FILE=/root/.vault-pass" in env_text
    assert 'ANSIBLE_CONFIG=%s' % (tmp_path / 'project' / 'ansible.cfg') in env_text
    # every scheduled run writes its report into a private directory
    assert 'ANSIBLE_CALLBACKS_ENABLED=caretaker.maintenance.report' in env_text
    assert 'CARETAKER_REPORT_DIR=%s' % (tmp_path / 'reports') in env_text
    assert stat.S_IMODE((tmp_path / 'reports').stat().st_mode) == 0o700
    rotate = (tmp_path / 'logrotate.d' / 'caretaker-schedule').read_text()
    for line in ('"%s/*.log" {' % (tmp_path / 'logs'), 'weekly', 'rotate 8', 'compress', 'delaycompress', 'missingok'):
        assert line in rotate, line
    assert 'copytruncate' not in rotate
    assert not (tmp_path / 'systemd').exists()

    again = role_run(tmp_path)
    assert again.returncode == 0
    assert changed(again) == 0, changed_tasks(again)

    # The monthly guard is true on Mondays only, whatever the shell.
    guard = entries['monthly'][2].split(' && ')[0].replace('\\%', '%')
    is_monday = time.localtime().tm_wday == 0
    assert (subprocess.run(['sh', '-c', guard], check=False).returncode == 0) is is_monday

    removed = role_run(tmp_path, schedule_state='absent')
    assert removed.returncode == 0, failures(removed)
    assert tree(tmp_path) == []
    again = role_run(tmp_path, schedule_state='absent')
    assert changed(again) == 0, changed_tasks(again)


def test_the_wrapper_runs_one_playbook_at_a_time_and_logs(tmp_path):
    run = role_run(tmp_path)
    assert run.returncode == 0, failures(run)
    wrapper = str(tmp_path / 'bin' / 'caretaker-daily')
    (tmp_path / 'hold').touch()
    first = subprocess.Popen([wrapper], env={'PATH': '/usr/bin:/bin'})
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / 'started').exists():
            assert first.poll() is None, 'the first run ended early (rc %s)' % first.returncode
            assert time.monotonic() < deadline, 'the first run never started the playbook'
            time.sleep(0.05)
        second = subprocess.run([wrapper], env={'PATH': '/usr/bin:/bin'}, timeout=30, check=False)
        assert second.returncode == 75
    finally:
        (tmp_path / 'release').touch()
        assert first.wait(timeout=30) == 0
    assert len((tmp_path / 'runs').read_text().splitlines()) == 1, 'the second run started the playbook'

    log = (tmp_path / 'logs' / 'daily.log').read_text()
    assert 'daily: skipped, the previous run still holds %s' % (tmp_path / 'locks' / 'daily.lock') in log
    assert 'playbook output' in log and 'daily: exit 0' in log
    # The lock is free again: the next run starts the playbook.
    (tmp_path / 'hold').unlink()
    assert subprocess.run([wrapper], env={'PATH': '/usr/bin:/bin'}, timeout=30, check=False).returncode == 0
    assert len((tmp_path / 'runs').read_text().splitlines()) == 2

    project = tmp_path / 'project'
    assert (tmp_path / 'args').read_text().splitlines() == [
        '-i', str(project / 'inventory.yml'), '--skip-tags', 'logs', str(project / 'playbooks' / 'daily.yml')]
    assert (tmp_path / 'cwd').read_text().strip() == str(project)
    assert (tmp_path / 'env').read_text().strip() == "%s|/root/.vault-pass|it has spaces and a 'quote'" % (project / 'ansible.cfg')


def unit_files(tmp_path):
    return sorted(path.name for path in (tmp_path / 'systemd').iterdir())


def test_systemd_backend_units_verify_switch_and_removal(tmp_path):
    check = role_run(tmp_path, check=True, schedule_backend='systemd')
    assert check.returncode == 0, failures(check)
    assert tree(tmp_path) == []

    run = role_run(tmp_path, schedule_backend='systemd')
    assert run.returncode == 0, failures(run)
    assert unit_files(tmp_path) == sorted('caretaker-%s.%s' % (name, kind) for name in CADENCES for kind in ('service', 'timer'))
    calendars = {}
    for name in CADENCES:
        timer = (tmp_path / 'systemd' / ('caretaker-%s.timer' % name)).read_text()
        calendars[name] = [line.split('=', 1)[1] for line in timer.splitlines() if line.startswith('OnCalendar=')][0]
        assert 'Persistent=true' in timer and 'WantedBy=timers.target' in timer
        service = (tmp_path / 'systemd' / ('caretaker-%s.service' % name)).read_text()
        assert 'ExecStart=%s/caretaker-%s\n' % (tmp_path / 'bin', name) in service
        assert 'Type=oneshot' in service and 'SuccessExitStatus=75' in service and 'User=root' in service
    assert calendars == {
        'health': '*-*-* *:00/5:00', 'daily': '*-*-* 02:00:00', 'logs': '*-*-* 03:00:00', 'weekly': 'Mon *-*-* 04:00:00',
        'monthly': 'Mon *-*-01..07 05:00:00', 'quarterly': 'Mon *-01,04,07,10-01..07 06:00:00'}
    assert not (tmp_path / 'cron.d' / 'caretaker-maintenance').exists()
    verify_task = [task for task in run.data['plays'][0]['tasks'] if task['task']['name'].endswith('Verify the candidate units')]
    if shutil.which('systemd-analyze'):
        assert verify_task and verify_task[0]['hosts']['localhost']['rc'] == 0
        units = [str(path) for path in sorted((tmp_path / 'systemd').iterdir())]
        verified = subprocess.run(['systemd-analyze', 'verify'] + units, capture_output=True, text=True, check=False)
        assert verified.returncode == 0 and str(tmp_path) not in verified.stderr, verified.stderr
    else:
        pytest.skip('systemd-analyze is not installed: the units were written but not verified')

    again = role_run(tmp_path, schedule_backend='systemd')
    assert changed(again) == 0, changed_tasks(again)

    # Back to cron: the units go, the cron entries come.
    to_cron = role_run(tmp_path)
    assert to_cron.returncode == 0, failures(to_cron)
    assert unit_files(tmp_path) == []
    assert sorted(cron_entries(tmp_path)) == sorted(CADENCES)

    removed = role_run(tmp_path, schedule_state='absent', schedule_backend='systemd')
    assert removed.returncode == 0
    assert tree(tmp_path) == []


def test_a_cadence_marked_absent_goes_alone(tmp_path):
    defaults = yaml.safe_load((ROOT / 'roles' / 'schedule' / 'defaults' / 'main.yml').read_text())['schedule_cadences']
    assert role_run(tmp_path).returncode == 0
    without_logs = [dict(cadence, state='absent') if cadence['name'] == 'logs' else cadence for cadence in defaults]
    run = role_run(tmp_path, schedule_cadences=without_logs)
    assert run.returncode == 0, failures(run)
    assert sorted(cron_entries(tmp_path)) == sorted(set(CADENCES) - {'logs'})
    assert not (tmp_path / 'bin' / 'caretaker-logs').exists() and (tmp_path / 'bin' / 'caretaker-daily').exists()


@pytest.mark.parametrize('extra, message', [
    ({'schedule_cadences': [{'name': 'odd', 'playbook': 'health.yml', 'minute': '*/7', 'hour': '*'}]}, 'must divide 60'),
    ({'schedule_environment': {'DB_PASSWORD': 'hunter2'}}, 'no secret'),
    ({'schedule_cadences': [{'name': 'Bad Name', 'playbook': 'health.yml', 'minute': 0, 'hour': 1}]}, 'cadence names must be unique'),
])
def test_unsafe_or_impossible_settings_are_refused(tmp_path, extra, message):
    run = role_run(tmp_path, **extra)
    assert run.returncode != 0
    assert message in run.stdout
    assert tree(tmp_path) == []


def test_another_user_owns_the_environment_file_and_logs(tmp_path):
    user = pwd.getpwnam('nobody')
    group = grp.getgrgid(user.pw_gid).gr_name
    # logrotate -d checks the configuration as the su user, who must reach the log directory:
    # pytest's temp dirs are root's alone, so the logs go to a directory others may traverse.
    shared = Path(tempfile.mkdtemp(prefix='caretaker-schedule-'))
    try:
        shared.chmod(0o711)
        logs = shared / 'logs'
        run = role_run(tmp_path, schedule_user='nobody', schedule_log_dir=str(logs))
        assert run.returncode == 0, failures(run)
        env_file = tmp_path / 'etc' / 'schedule.env'
        assert (env_file.stat().st_uid, stat.S_IMODE(env_file.stat().st_mode)) == (user.pw_uid, 0o600)
        assert logs.stat().st_uid == user.pw_uid
        assert {entry[1] for entry in cron_entries(tmp_path).values()} == {'nobody'}
        # logrotate rotates a directory the user owns as that user
        assert '    su nobody %s\n' % group in (tmp_path / 'logrotate.d' / 'caretaker-schedule').read_text()
    finally:
        shutil.rmtree(shared)
