"""The log_maintenance role's logrotate part with the real logrotate: configurations rendered,
validated before they are put in place, rotated for real with a private state file."""

import os
import stat
import sys

from tests.support.playbook import run_tasks


def role_run(tmp_path, check=False, diff=False, **variables):
    task = {'name': 'log maintenance', 'ansible.builtin.include_role': {'name': 'caretaker.maintenance.log_maintenance'},
            'vars': dict({'log_maintenance_logrotate_dir': str(tmp_path / 'logrotate.d'),
                          'log_maintenance_logrotate_state_file': str(tmp_path / 'logrotate.status')}, **variables)}
    return run_tasks([task], check=check, diff=diff, play_options={'vars': {'ansible_python_interpreter': sys.executable}})


def results(run, name_end):
    for task in run.data['plays'][0]['tasks']:
        if task['task']['name'].endswith(name_end):
            return task['hosts']['localhost']
    raise AssertionError('no task %r in the run' % name_end)


def app_config(tmp_path, **extra):
    logs = tmp_path / 'logs'
    logs.mkdir(exist_ok=True)
    return dict({'name': 'demoapp', 'paths': [str(logs / '*.log')], 'rotate': 3,
                 'create': {'mode': '0640', 'owner': 'root', 'group': 'root'},
                 'postrotate': 'touch %s' % (tmp_path / 'reloaded')}, **extra)


def test_writes_validated_config_and_rotates_for_real(tmp_path):
    (tmp_path / 'logrotate.d').mkdir()
    config = app_config(tmp_path)
    log = tmp_path / 'logs' / 'app.log'
    log.write_text('first day\n')

    run = role_run(tmp_path, log_maintenance_logrotate=[config], log_maintenance_force_rotate=True)
    assert run.returncode == 0, run.stdout[-3000:]
    written = (tmp_path / 'logrotate.d' / 'demoapp').read_text()
    for line in ('"%s" {' % config['paths'][0], 'daily', 'rotate 3', 'compress', 'delaycompress',
                 'create 0640 root root', 'postrotate', 'endscript'):
        assert line in written, line
    # The forced rotation ran: the old file moved (not yet compressed), a new one was created
    # with the configured mode, and the postrotate command ran once.
    assert (tmp_path / 'logs' / 'app.log.1').read_text() == 'first day\n'
    assert log.read_text() == '' and stat.S_IMODE(os.stat(log).st_mode) == 0o640
    assert (tmp_path / 'reloaded').exists()

    log.write_text('second day\n')
    again = role_run(tmp_path, log_maintenance_logrotate=[config], log_maintenance_force_rotate=True)
    assert again.returncode == 0
    assert results(again, 'Install each configuration')['changed'] is False  # the file is unchanged
    assert (tmp_path / 'logs' / 'app.log.2.gz').exists()  # delaycompress: compressed one rotation later
    assert (tmp_path / 'logs' / 'app.log.1').read_text() == 'second day\n'


def test_a_config_logrotate_rejects_never_replaces_the_good_one(tmp_path):
    (tmp_path / 'logrotate.d').mkdir()
    good = role_run(tmp_path, log_maintenance_logrotate=[app_config(tmp_path)])
    assert good.returncode == 0
    before = (tmp_path / 'logrotate.d' / 'demoapp').read_text()

    bad = role_run(tmp_path, log_maintenance_logrotate=[app_config(tmp_path, maxsize='lots')])
    assert bad.returncode != 0
    install = results(bad, 'Install each configuration')['results'][0]  # its validate refused the file
    assert install['failed'] is True and "unknown unit" in install['stderr']
    assert (tmp_path / 'logrotate.d' / 'demoapp').read_text() == before
    assert sorted(os.listdir(tmp_path / 'logrotate.d')) == ['demoapp']


def test_a_name_leaving_the_directory_is_refused(tmp_path):
    (tmp_path / 'logrotate.d').mkdir()
    run = role_run(tmp_path, log_maintenance_logrotate=[app_config(tmp_path, name='../escape')])
    assert run.returncode != 0
    assert 'the name may hold only letters' in run.stdout
    assert not (tmp_path / 'escape').exists() and os.listdir(tmp_path / 'logrotate.d') == []


def test_check_mode_validates_and_shows_the_diff_but_writes_nothing(tmp_path):
    (tmp_path / 'logrotate.d').mkdir()
    log = tmp_path / 'logs'
    run = role_run(tmp_path, check=True, diff=True, log_maintenance_logrotate=[app_config(tmp_path)],
                   log_maintenance_force_rotate=True)
    assert run.returncode == 0, run.stdout[-3000:]
    install = results(run, 'Install each configuration')['results'][0]
    assert install['changed'] is True
    assert 'rotate 3' in install['diff'][0]['after']
    assert os.listdir(tmp_path / 'logrotate.d') == []
    assert results(run, 'Rotate now')['results'][0]['skipped'] is True
    assert os.listdir(log) == []

    bad = role_run(tmp_path, check=True, log_maintenance_logrotate=[app_config(tmp_path, maxsize='lots')])
    assert bad.returncode != 0  # a bad entry fails in check mode too
    check = results(bad, 'Check each candidate with logrotate -d')['results'][0]
    assert "unknown unit" in check['stderr']
    assert os.listdir(tmp_path / 'logrotate.d') == []


def test_absent_removes_the_file(tmp_path):
    (tmp_path / 'logrotate.d').mkdir()
    assert role_run(tmp_path, log_maintenance_logrotate=[app_config(tmp_path)]).returncode == 0
    run = role_run(tmp_path, log_maintenance_logrotate=[{'name': 'demoapp', 'state': 'absent'}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert os.listdir(tmp_path / 'logrotate.d') == []
