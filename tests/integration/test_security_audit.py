"""security_audit through real ansible-playbook runs on a generated tree, passwd, sshd_config,
auth and access logs, and a socket the test opens.

The unreadable-directory test needs a module process that file permissions apply to. As root
they do not (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so as root ansible-playbook runs under
`setpriv` with those two capabilities dropped: still uid 0, so it reads the venv, but a chmod 000
directory is closed to it. As a non-root user the chmod alone does it.
"""

import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.caretaker.maintenance.plugins.doc_fragments.status import ModuleDocFragment as StatusFragment
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.options import argument_spec
from tests.support.playbook import ROOT, ansible_env, assert_ansible_doc_renders, run_module
from tests.support.sockets import loopback_listener

MODULE = 'caretaker.maintenance.security_audit'
SECRET = 'DB_PASSWORD=s3cr3t-value-never-printed'
PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n'
CERTIFICATE = '-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUb\n-----END CERTIFICATE-----\n'


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def put(path, text='data\n', perm=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, perm)
    return path


def by_kind(result, kind):
    return [item for item in result['findings'] if item['kind'] == kind]


def item(result, name):
    return [check for check in result['checks'] if check['name'] == name][0]


@pytest.fixture
def tree(tmp_path):
    """An audit root with one of each problem, and a directory outside it that links point to."""
    root = tmp_path / 'root'
    outside = tmp_path / 'outside'
    put(outside / '.env', SECRET + '\n', 0o644)
    put(outside / 'open.txt', perm=0o666)
    put(root / 'ww.txt', perm=0o666)
    (root / 'shared').mkdir(parents=True)
    os.chmod(root / 'shared', 0o777)
    (root / 'tmp').mkdir()
    os.chmod(root / 'tmp', 0o1777)
    put(root / 'bin' / 'tool', '#!/bin/sh\n', 0o4755)
    put(root / 'bin' / 'group-tool', '#!/bin/sh\n', 0o2755)
    put(root / 'app' / '.env', SECRET + '\n', 0o644)
    put(root / 'app' / '.env.example', 'DB_PASSWORD=\n', 0o644)
    put(root / 'app' / 'config' / 'private' / 'token.json', '{"token": "x"}\n', 0o640)
    put(root / 'app' / 'notes.txt', perm=0o644)
    put(root / 'certs' / 'fullchain.pem', CERTIFICATE, 0o644)
    put(root / 'certs' / 'privkey.pem', PRIVATE_KEY, 0o644)
    put(root / 'certs' / 'ready.key', PRIVATE_KEY, 0o600)
    os.symlink('b', root / 'a')                       # a -> b -> a: a symlink loop
    os.symlink('a', root / 'b')
    os.symlink('.', root / 'app' / 'self')            # a directory loop through a symlink
    os.symlink(str(outside), root / 'escape')         # a link out of the root
    os.symlink(str(outside / '.env'), root / 'app' / 'linked.env')
    return root, outside


def file_args(root, **extra):
    return dict({'checks': ['world_writable', 'suid_sgid', 'secrets'], 'paths': [str(root)],
                 'secret_patterns': ['.env', '.env.*', '*.pem', '*.key', 'config/private/*'],
                 'fail_on': 'never'}, **extra)


def test_file_findings_never_follow_symlinks(tree):
    root, outside = tree
    result, run = run_module(MODULE, file_args(root))
    assert run.returncode == 0, result
    assert result['changed'] is False and result['problems'] == []
    assert sorted(f['path'] for f in by_kind(result, 'world_writable')) == [str(root / 'shared'), str(root / 'ww.txt')]
    assert [f['type'] for f in by_kind(result, 'world_writable') if f['path'].endswith('shared')] == ['directory']
    assert [f['path'] for f in by_kind(result, 'sticky_world_writable')] == [str(root / 'tmp')]
    assert item(result, 'sticky_world_writable')['status'] == 'ok'          # informational by default
    assert sorted(f['path'] for f in by_kind(result, 'suid_sgid')) == [str(root / 'bin' / 'group-tool'),
                                                                       str(root / 'bin' / 'tool')]
    assert 'setuid file mode 4755' in [f for f in by_kind(result, 'suid_sgid') if f['path'].endswith('/tool')][0]['detail']
    # .env and the private key and config/private/*; not the example, the certificate, the 0600 key,
    # nor the .env behind a symlink.
    assert sorted(f['path'] for f in by_kind(result, 'secret_permissions')) == [
        str(root / 'app' / '.env'), str(root / 'app' / 'config' / 'private' / 'token.json'),
        str(root / 'certs' / 'privkey.pem')]
    assert not [f for f in result['findings'] if str(outside) in f['path']]
    assert item(result, 'world_writable')['value'] == 2 and item(result, 'world_writable')['status'] == 'warning'
    assert item(result, 'unreadable')['value'] == 0
    assert result['status'] == 'warning'
    assert SECRET not in run.stdout and 's3cr3t' not in run.stderr


def test_fix_check_mode_changes_nothing_then_fixes_then_is_idempotent(tree):
    root, outside = tree
    env = root / 'app' / '.env'
    args = file_args(root, checks=['secrets'], fix=True)

    checked, run = run_module(MODULE, args, check=True, diff=True)
    assert run.returncode == 0, checked
    assert checked['changed'] is True
    assert mode(env) == 0o644 and mode(root / 'certs' / 'privkey.pem') == 0o644     # nothing changed
    expected = [
        {'path': str(env), 'mode_before': '0644', 'mode_after': '0600'},
        {'path': str(root / 'app' / 'config' / 'private' / 'token.json'), 'mode_before': '0640', 'mode_after': '0600'},
        {'path': str(root / 'certs' / 'privkey.pem'), 'mode_before': '0644', 'mode_after': '0600'},
    ]
    assert sorted(checked['fixed'], key=lambda x: x['path']) == expected
    assert item(checked, 'secret_permissions')['would_fix'] == 3
    assert item(checked, 'secret_permissions')['value'] == 3 and checked['status'] == 'warning'
    assert 'would fix the mode of 3 secrets files' in checked['msg']
    diff = checked['diff'][0]
    assert '%s 0644\n' % env in diff['before'] and '%s 0600\n' % env in diff['after']

    done, run = run_module(MODULE, args, diff=True)
    assert run.returncode == 0, done
    assert done['changed'] is True and sorted(done['fixed'], key=lambda x: x['path']) == expected
    assert mode(env) == 0o600 and mode(root / 'certs' / 'privkey.pem') == 0o600
    assert mode(root / 'app' / 'config' / 'private' / 'token.json') == 0o600
    assert item(done, 'secret_permissions')['value'] == 0 and item(done, 'secret_permissions')['status'] == 'ok'
    assert all(f['fixed'] for f in by_kind(done, 'secret_permissions'))
    assert env.read_text() == SECRET + '\n'
    # Nothing outside the root, and no other file in it, was touched.
    assert mode(outside / '.env') == 0o644 and mode(outside / 'open.txt') == 0o666
    assert mode(root / 'app' / '.env.example') == 0o644 and mode(root / 'certs' / 'fullchain.pem') == 0o644
    assert mode(root / 'ww.txt') == 0o666

    again, run = run_module(MODULE, args)
    assert run.returncode == 0 and again['changed'] is False and again['fixed'] == []
    assert again['status'] == 'ok', again['msg']


def test_accounts_and_sshd_from_generated_files(tmp_path):
    passwd = put(tmp_path / 'passwd', 'root:x:0:0:root:/root:/bin/bash\n'
                 'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'
                 'backdoor:x:0:0::/root:/bin/sh\n'
                 'deploy:x:1000:1000::/home/deploy:/bin/bash\n'
                 'www-data:x:33:33::/var/www:/bin/bash\n')
    put(tmp_path / 'ssh' / 'sshd_config.d' / '00-hardening.conf', 'PasswordAuthentication no\n')
    sshd = put(tmp_path / 'ssh' / 'sshd_config',
               'Include sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\n'
               'PermitRootLogin no\nMatch User backup\n  PasswordAuthentication yes\n')
    args = {'checks': ['accounts', 'sshd'], 'passwd_file': str(passwd), 'sshd_config': str(sshd),
            'allowed_login_accounts': ['root', 'deploy']}
    result, run = run_module(MODULE, args)
    # A second UID 0 account is critical, and the default fail_on fails the task with every item returned.
    assert run.returncode != 0 and result['failed'] is True and result['status'] == 'critical'
    assert [f['value'] for f in by_kind(result, 'uid0')] == ['backdoor']
    assert item(result, 'uid0')['status'] == 'critical' and item(result, 'uid0')['value'] == 1
    assert [f['value'] for f in by_kind(result, 'login_shell')] == ['backdoor', 'www-data']
    sshd_findings = by_kind(result, 'sshd')
    assert sorted(f['value'] for f in sshd_findings) == ['PasswordAuthentication yes', 'PermitRootLogin yes']
    root_login = [f for f in sshd_findings if f['keyword'] == 'PermitRootLogin'][0]
    assert root_login['source'] == '%s line 2' % sshd       # first value wins over line 4
    assert [f['match'] for f in sshd_findings if f['keyword'] == 'PasswordAuthentication'] == ['User backup']
    assert result['sshd']['settings']['PasswordAuthentication']['value'] == 'no'   # from the include
    assert result['sshd']['files'] == [str(sshd), str(tmp_path / 'ssh' / 'sshd_config.d' / '00-hardening.conf')]

    reported, run = run_module(MODULE, dict(args, fail_on='never', sshd_config=str(tmp_path / 'none')))
    assert run.returncode == 0 and reported['status'] == 'critical'
    skipped = item(reported, 'sshd')
    assert skipped['status'] == 'ok' and skipped['skipped'] is True and 'does not exist' in skipped['detail']


def test_listening_loopback_socket_not_allowed_then_allowed():
    with loopback_listener() as port:
        endpoint = 'tcp/127.0.0.1:%d' % port
        result, run = run_module(MODULE, {'checks': ['ports'], 'fail_on': 'never'})
        assert run.returncode == 0, result
        mine = [f for f in by_kind(result, 'listening_port') if f['value'] == endpoint]
        assert len(mine) == 1 and 'loopback only' in mine[0]['detail']
        assert item(result, 'listening_port')['status'] == 'warning'
        assert endpoint in [s['endpoint'] for s in result['listening'] if not s['allowed']]

        result, run = run_module(MODULE, {'checks': ['ports'], 'fail_on': 'never', 'allowed_ports': [endpoint]})
        assert not [f for f in by_kind(result, 'listening_port') if f['value'] == endpoint]
        assert [s['allowed'] for s in result['listening'] if s['endpoint'] == endpoint] == [True]
        result, run = run_module(MODULE, {'checks': ['ports'], 'fail_on': 'never', 'allow_loopback': True})
        assert not [f for f in by_kind(result, 'listening_port') if f['value'] == endpoint]


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_integrity_baseline_added_changed_removed(tmp_path):
    watched = tmp_path / 'watched'
    put(watched / 'bin' / 'app', 'v1\n', 0o755)
    put(watched / 'conf' / 'app.conf', 'port=80\n')
    put(watched / 'conf' / 'old.conf', 'old\n')
    os.symlink('app.conf', watched / 'conf' / 'current')
    baseline = tmp_path / 'state' / 'baseline.json'
    args = {'checks': ['integrity'], 'integrity_paths': [str(watched)], 'baseline_file': str(baseline),
            'fail_on': 'never'}

    first, run = run_module(MODULE, args)
    assert run.returncode == 0 and first['changed'] is False
    assert item(first, 'integrity')['status'] == 'warning' and 'no baseline' in item(first, 'integrity')['detail']

    checked, run = run_module(MODULE, dict(args, update_baseline=True), check=True)
    assert checked['changed'] is True and not baseline.exists()          # check mode writes nothing
    taken, run = run_module(MODULE, dict(args, update_baseline=True))
    assert taken['changed'] is True and taken['baseline']['written'] is True and taken['baseline']['files'] == 4
    assert mode(baseline) == 0o600 and mode(baseline.parent) == 0o700
    saved = json.loads(baseline.read_text())
    assert saved['files'][str(watched / 'bin' / 'app')]['sha256'] == digest(watched / 'bin' / 'app')
    assert saved['files'][str(watched / 'conf' / 'current')] == dict(
        saved['files'][str(watched / 'conf' / 'current')], type='symlink', target='app.conf')
    same, run = run_module(MODULE, dict(args, update_baseline=True))
    assert same['changed'] is False and item(same, 'integrity')['status'] == 'ok'   # nothing to write

    put(watched / 'bin' / 'app', 'v2 - replaced\n', 0o755)
    put(watched / 'conf' / 'new.conf', 'new\n')
    os.unlink(watched / 'conf' / 'old.conf')
    os.chmod(watched / 'conf' / 'app.conf', 0o666)
    before = baseline.read_bytes()
    result, run = run_module(MODULE, args)
    changes = dict((f['path'], f) for f in by_kind(result, 'integrity'))
    assert sorted((os.path.relpath(path, str(watched)), f['change']) for path, f in changes.items()) == [
        ('bin/app', 'changed'), ('conf/app.conf', 'changed'), ('conf/new.conf', 'added'), ('conf/old.conf', 'removed')]
    assert changes[str(watched / 'bin' / 'app')]['changed_keys'] == ['sha256']
    assert changes[str(watched / 'conf' / 'app.conf')]['changed_keys'] == ['mode']
    assert item(result, 'integrity')['value'] == 4 and result['baseline']['added'] == 1
    assert result['changed'] is False and baseline.read_bytes() == before

    checked, run = run_module(MODULE, dict(args, update_baseline=True), check=True, diff=True)
    assert checked['changed'] is True and baseline.read_bytes() == before
    assert digest(watched / 'bin' / 'app') in checked['diff'][0]['after']
    assert item(checked, 'integrity')['value'] == 4 and checked['status'] == 'warning'
    accepted, run = run_module(MODULE, dict(args, update_baseline=True))
    assert accepted['changed'] is True and baseline.read_bytes() != before
    # The changes are listed for the record and accepted: none is left against the new baseline.
    assert len(by_kind(accepted, 'integrity')) == 4 and all(f['accepted'] for f in by_kind(accepted, 'integrity'))
    assert item(accepted, 'integrity')['value'] == 0 and item(accepted, 'integrity')['accepted'] == 4
    assert accepted['status'] == 'ok' and 'wrote the baseline' in accepted['msg']
    clean, run = run_module(MODULE, args)
    assert clean['status'] == 'ok' and by_kind(clean, 'integrity') == []


AUTH_LOG = ('Nov 30 10:00:01 web1 sshd[812]: Failed password for root from 203.0.113.9 port 52144 ssh2\n'
            'Nov 30 10:00:02 web1 sshd[812]: Failed password for invalid user admin from 203.0.113.9 port 5 ssh2\n'
            'Nov 30 10:00:03 web1 sshd[813]: Invalid user admin from 198.51.100.7 port 52150\n'
            'Nov 30 10:00:04 web1 sshd[814]: Accepted publickey for deploy from 192.0.2.1 port 40000 ssh2\n')
ACCESS = '203.0.113.9 - - [30/Nov/2026:10:00:0%d +0000] "GET /admin HTTP/1.1" %d 12 "-" "curl/8"\n'


def test_failed_logins_and_http_auth_failures_with_thresholds(tmp_path):
    put(tmp_path / 'auth.log', AUTH_LOG)
    put(tmp_path / 'access.log', ''.join(ACCESS % (n, code) for n, code in enumerate((200, 401, 401, 403, 404))))
    args = {'checks': ['auth_log', 'access_log'], 'auth_log_paths': [str(tmp_path / 'auth.log')],
            'access_log_paths': [str(tmp_path / 'access.log')], 'fail_on': 'never'}
    result, run = run_module(MODULE, args)
    assert run.returncode == 0, result
    logins = item(result, 'failed_logins')
    assert logins['value'] == 3 and logins['status'] == 'ok' and '203.0.113.9 (2)' in logins['detail']
    assert result['failed_logins']['failed_password'] == 2 and result['failed_logins']['invalid_user'] == 1
    http = item(result, 'http_auth_failures')
    assert http['value'] == 3 and result['http_auth_failures']['401'] == 2 and result['http_auth_failures']['403'] == 1
    assert result['http_auth_failures']['requests'] == 5

    strict, run = run_module(MODULE, dict(args, thresholds={'failed_logins': {'warning': 2, 'critical': 3},
                                                            'http_auth_failures': {'warning': 3}}))
    assert run.returncode == 0
    assert item(strict, 'failed_logins')['status'] == 'critical' and item(strict, 'http_auth_failures')['status'] == 'warning'
    assert [f['value'] for f in by_kind(strict, 'failed_logins')] == [3]

    missing, run = run_module(MODULE, dict(args, auth_log_paths=[str(tmp_path / 'absent.log')]))
    assert item(missing, 'failed_logins')['status'] == 'unknown' and 'no such file' in item(missing, 'failed_logins')['detail']


def _run_unprivileged(args):
    with tempfile.TemporaryDirectory(prefix='caretaker-play-') as tmp:
        path = os.path.join(tmp, 'play.yml')
        play = [{'name': 'audit', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{MODULE: args}]}]
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as handle:
            json.dump(play, handle)
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=' + sys.executable, path]
        if os.geteuid() == 0:
            caps = '-dac_override,-dac_read_search'
            if subprocess.run(['setpriv', '--inh-caps=' + caps, '--bounding-set=' + caps, 'true'],
                              capture_output=True, check=False).returncode:
                pytest.skip('running as root and setpriv cannot drop CAP_DAC_OVERRIDE here')
            cmd = ['setpriv', '--inh-caps=' + caps, '--bounding-set=' + caps, '--'] + cmd
        proc = subprocess.run(cmd, cwd=str(ROOT), env=ansible_env(), capture_output=True, text=True, check=False,
                              timeout=300)
    return proc.returncode, json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']


def test_unreadable_directory_is_a_finding_and_a_warning(tree):
    root, _outside = tree
    locked = root / 'locked'
    put(locked / 'inner.txt', perm=0o666)
    os.chmod(locked, 0)
    try:
        code, result = _run_unprivileged(file_args(root))
    finally:
        os.chmod(locked, 0o755)
    assert code == 0, result
    unreadable = by_kind(result, 'unreadable')
    assert [f['path'] for f in unreadable] == [str(locked)]
    assert 'permission denied; run the task with become: true' in unreadable[0]['detail']
    assert item(result, 'unreadable')['status'] == 'warning'
    assert any('could not be audited' in str(w) for w in result['warnings'])
    assert str(root / 'ww.txt') in [f['path'] for f in by_kind(result, 'world_writable')]   # the rest is audited


@pytest.mark.parametrize('args, message', [
    ({'paths': ['relative/dir']}, 'paths entry'),
    ({'paths': ['/nonexistent/caretaker']}, 'does not exist'),
    ({'checks': ['integrity']}, 'integrity_paths is empty'),
    ({'checks': ['secrets'], 'paths': ['/tmp'], 'secret_mode': '600x'}, 'secret_mode'),
    ({'checks': ['ports'], 'allowed_ports': ['ssh']}, 'allowed_ports entry'),
    ({'checks': ['ports'], 'thresholds': {'disk': {'warning': 1}}}, 'thresholds.disk is not a signal'),
    ({'checks': ['ports'], 'fix': True}, 'fix changes the modes of secrets files'),
    ({'checks': ['ports'], 'since': 'last tuesday'}, 'since'),
    ({'integrity_paths': ['/etc/hostname'], 'checks': ['integrity']}, 'baseline_file is not'),
    ({'checks': ['sshd'], 'sshd_policy': {'PermitRootLogin': []}}, 'sshd_policy.PermitRootLogin'),
])
def test_bad_input_names_the_option(args, message):
    result, run = run_module(MODULE, args)
    assert run.returncode != 0 and result['failed'] is True
    assert message in result['msg'], result['msg']


def test_updates_check_answers_from_apt_or_is_unknown():
    result, run = run_module(MODULE, {'checks': ['updates'], 'fail_on': 'never'})
    assert run.returncode == 0, result
    updates = item(result, 'security_updates')
    if result['security_updates']['manager'] is None:
        assert updates['status'] == 'unknown' and 'no package manager answered' in updates['detail']
    else:
        assert updates['value'] == len(result['security_updates']['packages'])
        assert [f['value'] for f in by_kind(result, 'security_updates')] == [
            p['name'] for p in result['security_updates']['packages']]
    unknown, run = run_module(MODULE, {'checks': ['updates'], 'fail_on': 'never', 'package_manager': 'dnf'})
    if not os.path.exists('/usr/bin/dnf'):
        assert item(unknown, 'security_updates')['status'] == 'unknown'
        assert 'dnf not found' in item(unknown, 'security_updates')['detail']


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ['secret_patterns', 'baseline_file', 'update_baseline', 'allowed_ports',
                                        'sshd_policy', 'integrity_paths', 'findings', 'sticky_world_writable'])


def test_examples_are_valid_against_the_argument_spec():
    source = (ROOT / 'plugins' / 'modules' / 'security_audit.py').read_text()
    namespace = {}
    exec(compile(source.split('\nimport sys')[0], 'security_audit', 'exec'), namespace)  # the doc strings only
    doc = yaml.safe_load(namespace['DOCUMENTATION'])
    assert 'caretaker.maintenance.status.fail_on' in doc['extends_documentation_fragment']
    # The module's own options and the fragment's (fail_on), as ansible-doc merges them.
    documented = dict(yaml.safe_load(StatusFragment.FAIL_ON)['options'], **doc['options'])
    assert sorted(documented) == sorted(argument_spec())
    for name, spec in argument_spec().items():
        assert documented[name].get('default') == spec.get('default'), name
    examples = [task[MODULE] for task in yaml.safe_load(namespace['EXAMPLES']) if MODULE in task]
    assert len(examples) == 3
    validator = ArgumentSpecValidator(argument_spec())
    for args in examples:
        outcome = validator.validate(args)
        assert not outcome.error_messages, outcome.error_messages
