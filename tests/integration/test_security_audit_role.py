"""The security_audit role through a small playbook: the weekly review with its summary and
fail_on, the fix of a secrets file, and the quarterly full audit taking and then checking the
integrity baseline, in check mode first."""

import json
import os
import stat
import sys

import yaml

from tests.support.playbook import run_playbook


def playbook(tmp_path, variables, **extra):
    path = tmp_path / 'audit.yml'
    play = [{'name': 'security audit', 'hosts': 'localhost', 'gather_facts': False,
             'vars': {'ansible_python_interpreter': sys.executable},
             'tasks': [{'name': 'audit', 'ansible.builtin.include_role': {'name': 'caretaker.maintenance.security_audit'},
                        'vars': dict(variables, **extra)}]}]
    path.write_text(yaml.safe_dump(play))
    return path


def task(run, name):
    for entry in run.data['plays'][0]['tasks']:
        if entry['task']['name'].endswith(name):
            return entry['hosts']['localhost']
    raise AssertionError('no task %r in the run' % name)


def base_vars(tmp_path):
    root = tmp_path / 'app'
    root.mkdir()
    env = root / '.env'
    env.write_text('API_KEY=role-test-secret\n')
    os.chmod(env, 0o644)
    passwd = tmp_path / 'passwd'
    passwd.write_text('root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n')
    sshd = tmp_path / 'sshd_config'
    sshd.write_text('PermitRootLogin no\nPasswordAuthentication no\n')
    auth = tmp_path / 'auth.log'
    auth.write_text('Nov 30 10:00:01 web1 sshd[812]: Invalid user admin from 203.0.113.9 port 52150\n')
    return {
        'security_audit_paths': [str(root)],
        'security_audit_passwd_file': str(passwd),
        'security_audit_sshd_config': str(sshd),
        'security_audit_auth_log_paths': [str(auth)],
        'security_audit_since': '',
        'security_audit_allow_loopback': True,
        'security_audit_allowed_ports': ['0-65535'],
        'security_audit_updates': False,
        'security_audit_fail_on': 'warning',
    }


def test_weekly_review_summary_fail_on_then_fix(tmp_path):
    variables = base_vars(tmp_path)
    env = tmp_path / 'app' / '.env'
    run = run_playbook(playbook(tmp_path, variables))
    assert run.returncode != 0                                  # the .env is a warning, fail_on warning
    audit = task(run, 'Audit the host')
    assert audit['checks_run'] == ['accounts', 'auth_log', 'ports', 'secrets', 'sshd', 'suid_sgid', 'world_writable']
    assert audit['status'] == 'warning'
    assert [f['path'] for f in audit['findings'] if f['kind'] == 'secret_permissions'] == [str(env)]
    summary = task(run, 'Show the summary')['msg']
    assert summary['status'] == 'warning' and 'secret_permissions' in summary['attention']
    assert 'chmod 0600 %s (fix: true does it)' % env in summary['fixes']
    assert 'reaches security_audit_fail_on (warning)' in task(run, 'Fail when the audit reaches security_audit_fail_on')['msg']
    assert 'role-test-secret' not in run.stdout

    preview = run_playbook(playbook(tmp_path, variables, security_audit_fix=True), check=True, diff=True)
    assert stat.S_IMODE(env.stat().st_mode) == 0o644
    assert task(preview, 'Audit the host')['changed'] is True

    fixed = run_playbook(playbook(tmp_path, variables, security_audit_fix=True))
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert task(fixed, 'Show the summary')['msg']['changed'] == [str(env)]
    assert task(fixed, 'Audit the host')['status'] == 'ok'


def test_quarterly_full_audit_takes_then_checks_the_baseline(tmp_path):
    variables = base_vars(tmp_path)
    watched = tmp_path / 'watched'
    watched.mkdir()
    (watched / 'app.conf').write_text('port=80\n')
    baseline = tmp_path / 'state' / 'baseline.json'
    full = dict(variables, security_audit_paths=[], security_audit_full=True,
                security_audit_integrity_paths=[str(watched)], security_audit_baseline_file=str(baseline))

    checked = run_playbook(playbook(tmp_path, full, security_audit_update_baseline=True), check=True)
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert task(checked, 'Audit the host')['changed'] is True and not baseline.exists()

    taken = run_playbook(playbook(tmp_path, full, security_audit_update_baseline=True))
    assert taken.returncode == 0, taken.stdout[-3000:]
    assert 'integrity' in task(taken, 'Audit the host')['checks_run']
    assert json.loads(baseline.read_text())['files'][str(watched / 'app.conf')]['type'] == 'file'
    assert task(taken, 'Show the summary')['msg']['changed'] == ['baseline %s' % baseline]

    (watched / 'app.conf').write_text('port=8080\n')
    review = run_playbook(playbook(tmp_path, full))
    assert review.returncode != 0
    audit = task(review, 'Audit the host')
    assert [(f['path'], f['change']) for f in audit['findings'] if f['kind'] == 'integrity'] == [
        (str(watched / 'app.conf'), 'changed')]
    assert 'integrity' in task(review, 'Show the summary')['msg']['attention']


def test_full_without_integrity_paths_is_refused(tmp_path):
    run = run_playbook(playbook(tmp_path, {'security_audit_full': True, 'security_audit_updates': False}))
    assert run.returncode != 0
    assert 'security_audit_full needs security_audit_integrity_paths' in task(run, 'Check the role variables')['msg']
