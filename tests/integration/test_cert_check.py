"""cert_check through real ansible-playbook runs: certificate files made by a test CA,
a loopback TLS server that picks its certificate by SNI, an SMTP server with STARTTLS,
and a real PostgreSQL 15 with ssl = on."""

import os
import socket

import pytest
import yaml

from tests.support import servers
from tests.support.certs import TestPKI
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks
from tests.support.tls_peers import SilentPeer, SMTPPeer, TLSPeer, start_postgresql_tls

MODULE = 'caretaker.maintenance.cert_check'
# Several cases in one play, so that each costs no ansible-playbook start of its own.
MODULE_TASK = {'name': 'cert_check', 'ignore_errors': True}
INTERMEDIATE = 'CN=Caretaker Test Intermediate CA'

# name in the test PKI -> (expected status, words the detail must hold)
CASES = {
    'valid': ('ok', 'expires'),
    'expiring': ('warning', '(10 days)'),
    'expired': ('critical', '(5 days ago)'),
    'not_yet_valid': ('critical', 'not valid until'),
    'wrong_host': ('critical', 'does not match host name wrong.example.test'),
}
SNI = {
    'valid': 'valid.example.test',
    'expiring': 'expiring.example.test',
    'expired': 'expired.example.test',
    'not_yet_valid': 'future.example.test',
    'wrong_host': 'wrong.example.test',
}


def by_name(result):
    return dict((item['name'], item) for item in result['checks'])


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return TestPKI(tmp_path_factory.mktemp('pki'))


@pytest.fixture(scope='module')
def tls_peer(pki):
    """One port, a certificate per SNI name; the loopback certificate without SNI."""
    with TLSPeer(pki.loopback, dict((SNI[case], getattr(pki, case)) for case in CASES)) as peer:
        yield peer


@pytest.fixture(scope='module')
def pg_tls(pki, tmp_path_factory):
    server = start_postgresql_tls(tmp_path_factory.mktemp('pg-tls'), pki.leaf('db.example.test'))
    try:
        yield server
    finally:
        server.stop()


# --- files -----------------------------------------------------------------------


@pytest.fixture(scope='module')
def file_run(pki):
    files = [{'path': str(getattr(pki, case).cert_path), 'name': case} for case in CASES]
    files[-1]['expect_hostname'] = 'wrong.example.test'
    return run_module(MODULE, {'files': files, 'fail_on': 'never'})


@pytest.mark.parametrize('case', list(CASES))
def test_file_certificate_cases(file_run, pki, case):
    result, run = file_run
    status, words = CASES[case]
    item = by_name(result)['%s leaf' % case]
    assert item['status'] == status, item['detail']
    assert words in item['detail']
    assert item['detail'].endswith('issuer ' + INTERMEDIATE)
    issued = getattr(pki, case)
    assert item['signal'] == 'days_left' and item['unit'] == 'days'
    assert item['subject'] == 'O=Caretaker Test,CN=%s' % issued.name
    assert item['issuer'] == 'O=Caretaker Test,CN=Caretaker Test Intermediate CA'
    assert item['san'] == [issued.name]
    assert item['not_after'] == issued.not_after.strftime('%Y-%m-%dT%H:%M:%SZ')
    assert item['threshold'] == {'warning': 30, 'critical': 7, 'direction': 'below'}
    assert item['source'] == str(issued.cert_path) and item['target'] == case


def test_file_run_as_a_whole(file_run):
    result, run = file_run
    assert run.returncode == 0
    assert result['status'] == 'critical' and result['changed'] is False
    assert result['counts'] == {'ok': 1, 'warning': 1, 'critical': 3, 'unknown': 0}
    assert result['msg'].startswith('3 critical, 1 warning of 5 certificate checks; expired leaf: expired.example.test')


def test_days_left_values(file_run):
    items = by_name(file_run[0])
    assert 364 < items['valid leaf']['value'] <= 365
    assert 9.9 < items['expiring leaf']['value'] <= 10
    assert -5.1 < items['expired leaf']['value'] < -4.9
    assert items['not_yet_valid leaf']['value'] > 399
    assert items['wrong_host leaf']['hostname'] == 'wrong.example.test'
    assert items['wrong_host leaf']['hostname_match'] is False
    assert items['valid leaf']['hostname'] is None and items['valid leaf']['hostname_match'] is None


def test_chain_file_reports_every_certificate(pki):
    result, run = run_module(MODULE, {'files': [str(pki.valid.fullchain), str(pki.short_intermediate.fullchain)],
                                      'fail_on': 'never'})
    items = result['checks']
    assert [item['name'] for item in items] == [
        '%s leaf' % pki.valid.fullchain, '%s chain 1' % pki.valid.fullchain,
        '%s leaf' % pki.short_intermediate.fullchain, '%s chain 1' % pki.short_intermediate.fullchain]
    assert [item['status'] for item in items] == ['ok', 'ok', 'ok', 'critical']
    assert [item['position'] for item in items] == [0, 1, 0, 1]
    assert items[1]['subject'].endswith('CN=Caretaker Test Intermediate CA')
    assert 1824 < items[1]['value'] <= 1825
    assert 4.9 < items[3]['value'] <= 5
    assert 'Caretaker Test Short Intermediate CA: expires' in items[3]['detail']
    assert result['status'] == 'critical'


def test_bundle_with_key_and_root(pki):
    """A combined PEM (key, leaf, intermediate, root): keys are skipped, the root is reported."""
    bundle = pki.write('combined.pem', pki.valid.key_path.read_bytes() + pki.valid.fullchain.read_bytes()
                       + pki.root.pem)
    result = run_module(MODULE, {'files': [{'path': str(bundle), 'expect_hostname': 'valid.example.test'}]})[0]
    assert result['status'] == 'ok'
    assert [item['position'] for item in result['checks']] == [0, 1, 2]
    assert result['checks'][0]['hostname_match'] is True
    assert result['checks'][2]['self_signed'] is True


BAD_FILES = {
    'missing': (lambda pki: str(pki.directory / 'missing.pem'), 'missing.pem: no such file'),
    'directory': (lambda pki: str(pki.directory), 'is a directory, not a certificate file'),
    'garbage': (lambda pki: str(pki.write('garbage.pem', b'hello, not a certificate\n')), 'not a PEM certificate file'),
    'empty': (lambda pki: str(pki.write('empty.pem', b'')), 'empty file'),
    'key only': (lambda pki: str(pki.valid.key_path), 'no CERTIFICATE block in the file, only PRIVATE KEY'),
    'broken': (lambda pki: str(pki.write('broken.pem', b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')),
               'cannot parse this CERTIFICATE block'),
}


@pytest.fixture(scope='module')
def bad_file_run(pki):
    """Every unreadable file in one task: each is one critical item, and the task fails."""
    files = [{'path': make(pki), 'name': name} for name, (make, message) in BAD_FILES.items()]
    return run_module(MODULE, {'files': files})


@pytest.mark.parametrize('name', list(BAD_FILES))
def test_unreadable_file_is_one_critical_item(bad_file_run, name):
    result, run = bad_file_run
    items = [item for item in result['checks'] if item['target'] == name]
    assert [item['name'] for item in items] == ['broken leaf' if name == 'broken' else name]
    assert items[0]['signal'] == 'readable'
    assert items[0]['status'] == 'critical'
    assert BAD_FILES[name][1] in items[0]['detail']


def test_unreadable_files_fail_the_task_without_a_traceback(bad_file_run):
    result, run = bad_file_run
    assert run.returncode != 0 and result['failed'] is True
    assert result['counts']['critical'] == len(BAD_FILES)
    assert 'Traceback' not in run.stdout + run.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads a 0000 file')
def test_unreadable_permissions(pki):
    path = pki.write('secret.pem', pki.valid.pem, 0o000)
    result = run_module(MODULE, {'files': [str(path)], 'fail_on': 'never'})[0]
    assert 'Permission denied' in result['checks'][0]['detail']


# --- live TLS endpoints ----------------------------------------------------------


@pytest.fixture(scope='module')
def endpoint_run(tls_peer):
    endpoints = [{'host': '127.0.0.1', 'port': tls_peer.port, 'server_name': SNI[case]} for case in CASES]
    return run_module(MODULE, {'endpoints': endpoints, 'fail_on': 'never'})


@pytest.mark.parametrize('case', list(CASES))
def test_endpoint_certificate_cases(endpoint_run, tls_peer, pki, case):
    result, run = endpoint_run
    status, words = CASES[case]
    label = '%s@127.0.0.1:%d' % (SNI[case], tls_peer.port)
    items = by_name(result)
    leaf = items['%s leaf' % label]
    assert leaf['status'] == status, leaf['detail']
    assert words in leaf['detail']
    assert leaf['subject'].endswith('CN=%s' % getattr(pki, case).name)
    assert leaf['hostname'] == SNI[case]
    assert leaf['hostname_match'] is (case != 'wrong_host')
    assert leaf['server_name'] == SNI[case] and leaf['starttls'] == 'none'
    assert leaf['source'] == '127.0.0.1:%d' % tls_peer.port
    # Python 3.10+ reads the whole chain the server sent: the intermediate is item 2.
    chain = items['%s chain 1' % label]
    assert leaf['chain_complete'] is True and chain['status'] == 'ok'
    assert chain['subject'].endswith('CN=Caretaker Test Intermediate CA')
    assert SNI[case] in tls_peer.server_names


def test_endpoint_run_as_a_whole(endpoint_run):
    result, run = endpoint_run
    assert run.returncode == 0 and result['status'] == 'critical'
    assert result['counts'] == {'ok': 6, 'warning': 1, 'critical': 3, 'unknown': 0}


def test_ip_address_endpoint_matches_ip_san(tls_peer):
    """No SNI for an IP address: the server's default certificate has IP:127.0.0.1."""
    result = run_module(MODULE, {'endpoints': [{'host': '127.0.0.1', 'port': tls_peer.port}]})[0]
    leaf = result['checks'][0]
    assert result['status'] == 'ok', result['msg']
    assert leaf['name'] == '127.0.0.1:%d leaf' % tls_peer.port
    assert leaf['san'] == ['localhost', '127.0.0.1']
    assert leaf['hostname'] == '127.0.0.1' and leaf['hostname_match'] is True


def test_expect_hostname_and_check_hostname(tls_peer):
    result = run_module(MODULE, {'fail_on': 'never', 'endpoints': [
        {'host': '127.0.0.1', 'port': tls_peer.port, 'expect_hostname': 'db.example.test', 'name': 'default'},
        {'host': '127.0.0.1', 'port': tls_peer.port, 'server_name': 'wrong.example.test', 'check_hostname': False},
    ]})[0]
    items = by_name(result)
    mismatch = items['default leaf']
    assert mismatch['status'] == 'critical'
    assert 'does not match host name db.example.test (certificate names: localhost)' in mismatch['detail']
    unchecked = items['wrong.example.test@127.0.0.1:%d leaf' % tls_peer.port]
    assert unchecked['status'] == 'ok' and unchecked['hostname_match'] is None


def test_refused_port_is_critical_naming_host_and_port():
    port = servers.free_port()
    result, run = run_module(MODULE, {'endpoints': [{'host': '127.0.0.1', 'port': port}]})
    assert run.returncode != 0 and result['failed'] is True
    [item] = result['checks']
    assert item['status'] == 'critical' and item['signal'] == 'reachable'
    assert item['detail'] == 'cannot connect to 127.0.0.1:%d: connection refused' % port
    assert result['msg'] == '1 critical of 1 certificate checks; 127.0.0.1:%d: %s' % (port, item['detail'])
    assert 'Traceback' not in run.stdout + run.stderr


def test_silent_port_times_out():
    with SilentPeer() as silent:
        result = run_module(MODULE, {'endpoints': [{'host': '127.0.0.1', 'port': silent.port, 'timeout': 1}],
                                     'fail_on': 'never'})[0]
    [item] = result['checks']
    assert item['status'] == 'critical'
    assert item['detail'] == 'timed out after 1s talking to 127.0.0.1:%d' % silent.port


# --- STARTTLS ----------------------------------------------------------------------


def test_smtp_starttls(pki):
    mail = pki.leaf('mail.example.test')
    with SMTPPeer(mail) as smtp:
        result = run_module(MODULE, {'endpoints': [
            {'host': '127.0.0.1', 'port': smtp.port, 'starttls': 'smtp', 'expect_hostname': 'mail.example.test'}]})[0]
        commands = list(smtp.commands)
    assert result['status'] == 'ok', result['msg']
    leaf = result['checks'][0]
    assert leaf['starttls'] == 'smtp' and leaf['subject'].endswith('CN=mail.example.test')
    assert leaf['hostname_match'] is True and len(result['checks']) == 2
    assert commands == ['EHLO [127.0.0.1]', 'STARTTLS', 'QUIT']


def test_smtp_without_starttls_offer(pki):
    with SMTPPeer(pki.valid, offer_starttls=False) as smtp:
        result = run_module(MODULE, {'endpoints': [{'host': '127.0.0.1', 'port': smtp.port, 'starttls': 'smtp'}],
                                     'fail_on': 'never'})[0]
    [item] = result['checks']
    assert item['status'] == 'critical'
    assert item['detail'] == ('SMTP server at 127.0.0.1:%d does not offer STARTTLS (EHLO lists: PIPELINING, SIZE)'
                              % smtp.port)


def test_plain_tls_against_an_smtp_port_hints_at_starttls(pki):
    with SMTPPeer(pki.valid) as smtp:
        result = run_module(MODULE, {'endpoints': [{'host': '127.0.0.1', 'port': smtp.port}], 'fail_on': 'never'})[0]
    [item] = result['checks']
    assert item['status'] == 'critical'
    assert item['detail'].startswith('TLS handshake with 127.0.0.1:%d failed' % smtp.port)
    assert 'set starttls' in item['detail']


def test_postgresql_starttls_against_real_postgres(pg_tls):
    result = run_module(MODULE, {'endpoints': [
        {'host': '127.0.0.1', 'port': pg_tls.port, 'starttls': 'postgresql', 'server_name': 'db.example.test'}]})[0]
    assert result['status'] == 'ok', result['msg']
    leaf, chain = result['checks']
    assert leaf['name'] == 'db.example.test@127.0.0.1:%d leaf' % pg_tls.port
    assert leaf['subject'].endswith('CN=db.example.test') and leaf['hostname_match'] is True
    assert chain['subject'].endswith('CN=Caretaker Test Intermediate CA')


def test_postgresql_without_ssl_is_critical(pg_server):
    """The session's PostgreSQL runs with ssl = off: it answers N to the SSLRequest."""
    result = run_module(MODULE, {'endpoints': [{'host': '127.0.0.1', 'port': pg_server.port,
                                                'starttls': 'postgresql'}], 'fail_on': 'never'})[0]
    [item] = result['checks']
    assert item['status'] == 'critical'
    assert item['detail'] == 'PostgreSQL server at 127.0.0.1:%d refused SSL: it runs with ssl = off' % pg_server.port


# --- thresholds, check mode, fail_on ------------------------------------------------


def test_thresholds_forced_to_cross(pki, tls_peer):
    valid = str(pki.valid.cert_path)
    result = run_module(MODULE, {
        'thresholds': {'days_left': {'warning': 400}},
        'files': [
            {'path': valid, 'name': 'task level'},
            {'path': valid, 'name': 'own critical', 'thresholds': {'days_left': {'warning': 500, 'critical': 400}}},
            {'path': valid, 'name': 'own lower', 'thresholds': {'days_left': {'warning': 100}}},
        ],
        'endpoints': [{'host': '127.0.0.1', 'port': tls_peer.port, 'name': 'endpoint',
                       'thresholds': {'days_left': {'critical': 365}}}],
        'fail_on': 'never',
    })[0]
    items = by_name(result)
    assert items['task level leaf']['status'] == 'warning'
    assert items['task level leaf']['threshold'] == {'warning': 400, 'critical': 7, 'direction': 'below'}
    assert items['own critical leaf']['status'] == 'critical'
    assert items['own lower leaf']['status'] == 'ok'
    assert items['endpoint leaf']['status'] == 'critical'
    assert items['endpoint leaf']['threshold'] == {'warning': 400, 'critical': 365, 'direction': 'below'}
    assert items['endpoint chain 1']['status'] == 'ok'


def test_check_mode_gives_the_same_read_only_result(pki, tls_peer):
    args = {'files': [str(pki.expiring.fullchain)], 'endpoints': [{'host': '127.0.0.1', 'port': tls_peer.port}]}
    checked, run = run_module(MODULE, args, check=True)
    real = run_module(MODULE, args)[0]
    assert run.returncode == 0 and checked['changed'] is False
    assert checked['status'] == real['status'] == 'warning'
    assert _essentials(checked) == _essentials(real)


def _essentials(result):
    return [(item['name'], item['status'], item['fingerprint_sha256']) for item in result['checks']]


@pytest.fixture(scope='module')
def fail_on_run(pki):
    expiring = {'files': [str(pki.expiring.cert_path)]}
    expired = {'files': [str(pki.expired.cert_path)]}
    tasks = [dict(MODULE_TASK, **{MODULE: args}) for args in (
        expiring, dict(expiring, fail_on='warning'), expired, dict(expired, fail_on='never'))]
    return run_tasks(tasks)


@pytest.mark.parametrize('index, status, failed', [
    (0, 'warning', False),   # default fail_on: critical
    (1, 'warning', True),    # fail_on: warning
    (2, 'critical', True),   # default fail_on: critical
    (3, 'critical', False),  # fail_on: never
])
def test_fail_on(fail_on_run, index, status, failed):
    result = fail_on_run.task(index)
    assert result['status'] == status
    assert bool(result.get('failed')) is failed
    assert len(result['checks']) == 1 and result['changed'] is False
    assert result['msg'].startswith('1 %s of 1 certificate checks; ' % status)


BAD_INPUT = [
    ({}, 'nothing to check: set files, endpoints or both'),
    ({'files': [], 'endpoints': []}, 'nothing to check'),
    ({'files': [42]}, 'files[0] must be a path or a dict with path, got 42'),
    ({'files': ['/a', {'pth': '/b'}]}, 'files[1].pth is not an option of files: use one of'),
    ({'files': [{'name': 'x'}]}, 'files[0].path is required'),
    ({'files': ['/a'], 'thresholds': {'days': {'warning': 1}}}, 'thresholds.days is not a signal of this check'),
    ({'files': ['/a'], 'thresholds': {'days_left': {'warning': 5}}},
     'thresholds.days_left: critical 7 must be at or below warning 5.0'),
    ({'files': [{'path': '/a', 'thresholds': {'days_left': {'critical': 'soon'}}}]},
     'files[0].thresholds.days_left.critical must be a number'),
    ({'files': [{'path': '/a', 'thresholds': {'days_left': {'warning': 20}}}],
      'thresholds': {'days_left': {'critical': 25, 'warning': 60}}},
     'files[0].thresholds.days_left: critical 25.0 must be at or below warning 20.0'),
    ({'endpoints': [{'port': 443}]}, 'missing required arguments: host found in endpoints'),
    ({'endpoints': [{'host': '127.0.0.1', 'starttls': 'imap'}]}, 'value of starttls must be one of: none, smtp, postgresql'),
    ({'endpoints': [{'host': '127.0.0.1', 'port': 70000}]}, 'endpoints[0].port must be between 1 and 65535'),
    ({'endpoints': [{'host': '127.0.0.1', 'timeout': 0}]}, 'endpoints[0].timeout must be more than 0 seconds'),
    ({'endpoints': [{'host': ' '}]}, 'endpoints[0].host must not be empty'),
    ({'endpoints': [{'host': '127.0.0.1', 'server_name': 'a..b'}]}, 'endpoints[0].server_name is not a valid host name'),
    ({'files': ['/a'], 'timeout': -1}, 'timeout must be more than 0 seconds'),
]


@pytest.fixture(scope='module')
def bad_input_run():
    return run_tasks([dict(MODULE_TASK, **{MODULE: args}) for args, message in BAD_INPUT])


@pytest.mark.parametrize('index', range(len(BAD_INPUT)), ids=[message for args, message in BAD_INPUT])
def test_bad_input_names_the_option(bad_input_run, index):
    result = bad_input_run.task(index)
    assert result['failed'] is True
    assert BAD_INPUT[index][1] in result['msg']
    assert 'checks' not in result


def test_bad_input_fails_the_run():
    result, run = run_module(MODULE, {'files': [{'pth': '/etc/ssl/cert.pem'}]})
    assert run.returncode != 0 and result['msg'].startswith('files[0].pth is not an option of files')


# --- documentation ----------------------------------------------------------------


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('endpoints', 'starttls', 'expect_hostname', 'days_left', 'fail_on',))


EXAMPLE_PORTS = {'https': 8443, 'smtp': 587, 'postgresql': 5432}


def _listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(('127.0.0.1', port)) == 0


@pytest.fixture(scope='module')
def example_peers(pki, tmp_path_factory):
    """The examples name 127.0.0.1:8443, :587 and :5432, so serve there."""
    busy = ['%s (%d)' % (name, port) for name, port in EXAMPLE_PORTS.items() if _listening(port)]
    if busy:
        pytest.skip('ports of the examples already in use on this machine: %s' % ', '.join(busy))
    https = TLSPeer(pki.loopback, {'api.example.test': pki.leaf('api.example.test')}, port=EXAMPLE_PORTS['https'])
    smtp = SMTPPeer(pki.leaf('mail.example.test'), port=EXAMPLE_PORTS['smtp'])
    https.start()
    try:
        smtp.start()
        try:
            pg = start_postgresql_tls(tmp_path_factory.mktemp('pg-example'), pki.leaf('db.example.test'),
                                      port=EXAMPLE_PORTS['postgresql'])
            try:
                yield
            finally:
                pg.stop()
        finally:
            smtp.stop()
    finally:
        https.stop()


def test_examples_run_as_written(pki, example_peers, tmp_path):
    from ansible_collections.caretaker.maintenance.plugins.modules import cert_check
    tls_dir = tmp_path / 'tls'
    for directory in ('api.example.test', 'mail.example.test'):
        (tls_dir / directory).mkdir(parents=True)
    (tls_dir / 'api.example.test' / 'fullchain.pem').write_bytes(pki.leaf('api.example.test').fullchain.read_bytes())
    (tls_dir / 'internal-ca.pem').write_bytes(pki.root.pem)
    (tls_dir / 'mail.example.test' / 'cert.pem').write_bytes(pki.leaf('mail.example.test').pem)
    tasks = yaml.safe_load(cert_check.EXAMPLES)
    run = run_tasks([{'name': 'where the files are', 'ansible.builtin.set_fact': {'tls_dir': str(tls_dir)}}] + tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    files = run.task(1)
    assert files['status'] == 'ok', files['msg']
    assert [item['name'] for item in files['checks']] == [
        '%s/api.example.test/fullchain.pem leaf' % tls_dir, '%s/api.example.test/fullchain.pem chain 1' % tls_dir,
        'internal CA leaf', '%s/mail.example.test/cert.pem leaf' % tls_dir]
    assert files['checks'][2]['threshold'] == {'warning': 90, 'critical': 30, 'direction': 'below'}
    endpoints = run.task(2)
    assert endpoints['status'] == 'ok', endpoints['msg']
    leaves = [item for item in endpoints['checks'] if item['position'] == 0]
    assert [item['name'] for item in leaves] == [
        'api.example.test@127.0.0.1:8443 leaf', '127.0.0.1:587 leaf', 'db.example.test@127.0.0.1:5432 leaf']
    assert [item['hostname_match'] for item in leaves] == [True, True, True]
    assert leaves[0]['threshold'] == {'warning': 21, 'critical': 7, 'direction': 'below'}
    assert run.task(3).get('skipped') is True
