# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import socket
import threading

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from ansible_collections.caretaker.maintenance.plugins.module_utils import _cert_check as cc
from ansible_collections.caretaker.maintenance.plugins.modules import cert_check
from tests.support.certs import TestPKI

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DEFAULTS = cc.resolve_thresholds(cc.DEFAULT_THRESHOLDS)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return TestPKI(tmp_path_factory.mktemp('pki'), now=NOW)


def at(days):
    return NOW + datetime.timedelta(days=days)


# --- host name matching --------------------------------------------------------------


@pytest.mark.parametrize('sans, hostname, expected', [
    (['api.example.test'], 'api.example.test', True),
    (['api.example.test'], 'API.Example.Test.', True),
    (['API.EXAMPLE.TEST'], 'api.example.test', True),
    (['api.example.test'], 'www.example.test', False),
    (['*.example.test'], 'api.example.test', True),
    (['*.example.test'], 'a.b.example.test', False),      # one label only
    (['*.example.test'], 'example.test', False),          # not the bare domain
    (['*.example.test'], '.example.test', False),         # not an empty label
    (['*.test'], 'example.test', False),                  # needs two labels after it
    (['a*.example.test'], 'abc.example.test', False),     # partial-label wildcards are not honoured
    (['api.*.test'], 'api.example.test', False),          # only the leftmost label
    (['*.*.example.test'], 'a.b.example.test', False),
    (['other.example.test', '*.example.test'], 'x.example.test', True),
    (['xn--bcher-kva.example.test'], u'b\u00fccher.example.test', True),   # IDN: compared as A-labels
    (['127.0.0.1'], '127.0.0.1', True),
    (['127.0.0.1'], '127.0.0.2', False),
    (['::1'], '::1', True),
    (['::1'], '[0:0::1]', True),
    (['localhost'], '127.0.0.1', False),                   # an address needs an IP entry
])
def test_match_hostname(pki, sans, hostname, expected):
    issued = pki.leaf('match-%d.example.test' % abs(hash(tuple(sans))), sans=sans)
    matched, reason = cc.match_hostname(issued.cert, hostname)
    assert matched is expected
    assert (reason is None) is expected


def test_ip_written_as_dns_name_does_not_match_an_address(pki):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, u'127.0.0.1')])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(at(-1)).not_valid_after(at(1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'127.0.0.1')]), critical=False)
            .sign(key, hashes.SHA256()))
    matched, reason = cc.match_hostname(cert, '127.0.0.1')
    assert matched is False and reason == 'the certificate has no IP address in its subjectAltName'


def test_no_san_never_falls_back_to_the_common_name(pki):
    issued = pki.leaf('legacy.example.test', sans=())
    matched, reason = cc.match_hostname(issued.cert, 'legacy.example.test')
    assert matched is False
    assert reason == ('the certificate has no DNS name in its subjectAltName '
                      '(clients ignore the subject CN legacy.example.test)')


def test_mismatch_names_the_certificate_names(pki):
    issued = pki.leaf('one.example.test', sans=('one.example.test', 'two.example.test'))
    assert cc.match_hostname(issued.cert, 'three.example.test') == (
        False, 'certificate names: one.example.test, two.example.test')


# --- parsing -----------------------------------------------------------------------------


def test_parse_pem_chain_in_order(pki):
    certs = cc.parse_certificates(pki.valid.fullchain.read_bytes())
    assert [cert.subject for cert, error in certs] == [pki.valid.cert.subject, pki.intermediate.cert.subject]


def test_parse_skips_keys_and_reads_der(pki):
    data = pki.valid.key_path.read_bytes() + b'junk between blocks\n' + pki.valid.pem
    [(cert, error)] = cc.parse_certificates(data)
    assert cert == pki.valid.cert and error is None
    der = pki.valid.cert.public_bytes(serialization.Encoding.DER)
    assert cc.parse_certificates(der) == [(pki.valid.cert, None)]


def test_parse_crlf_pem(pki):
    data = pki.valid.fullchain.read_bytes().replace(b'\n', b'\r\n')
    assert len(cc.parse_certificates(data)) == 2


@pytest.mark.parametrize('data, message', [
    (b'', 'empty file'),
    (b'  \n', 'empty file'),
    (b'hello\n', 'not a PEM certificate file'),
    (b'\x30\x03\x02\x01\x00', 'not a PEM file, and not a DER certificate either'),
    (b'-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'only PUBLIC KEY'),
])
def test_parse_errors(data, message):
    with pytest.raises(cc.CertCheckError, match=message.replace('(', r'\(')):
        cc.parse_certificates(data)


def test_broken_block_among_good_ones(pki):
    data = pki.valid.pem + b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
    (first, none), (broken, error) = cc.parse_certificates(data)
    assert first == pki.valid.cert and broken is None
    assert error.startswith('cannot parse this CERTIFICATE block')


def test_read_errors(tmp_path):
    with pytest.raises(cc.CertCheckError, match='cannot read .*missing.pem: no such file'):
        cc.read_certificate_file(str(tmp_path / 'missing.pem'))
    with pytest.raises(cc.CertCheckError, match='is a directory'):
        cc.read_certificate_file(str(tmp_path))
    big = tmp_path / 'big.pem'
    big.write_bytes(b'x' * (cc.MAX_FILE_BYTES + 1))
    with pytest.raises(cc.CertCheckError, match='larger than 4 MiB'):
        cc.read_certificate_file(str(big))


# --- items --------------------------------------------------------------------------------


@pytest.mark.parametrize('days, status', [
    (365, 'ok'), (30.01, 'ok'), (30, 'warning'), (7.01, 'warning'), (7, 'critical'), (0.5, 'critical'),
])
def test_days_left_against_default_thresholds(pki, days, status):
    item = cc.certificate_item(pki.valid.cert, 'x', DEFAULTS, pki.valid.not_after - datetime.timedelta(days=days))
    assert item['value'] == days
    assert item['status'] == status
    assert item['threshold'] == {'warning': 30, 'critical': 7, 'direction': 'below'}


def test_expired_is_critical_whatever_the_thresholds(pki):
    lenient = cc.resolve_thresholds(cc.DEFAULT_THRESHOLDS, {'days_left': {'warning': 0.0, 'critical': -30.0}})
    item = cc.certificate_item(pki.valid.cert, 'x', lenient, pki.valid.not_after + datetime.timedelta(days=3))
    assert item['value'] == -3 and item['status'] == 'critical'
    assert 'expired %s (3 days ago)' % pki.valid.not_after.strftime('%Y-%m-%d') in item['detail']


def test_not_yet_valid_is_critical(pki):
    item = cc.certificate_item(pki.not_yet_valid.cert, 'x', DEFAULTS, NOW)
    assert item['status'] == 'critical' and item['value'] == 400
    assert item['detail'].startswith('future.example.test: not valid until %s (in 3 days); expires '
                                     % at(3).strftime('%Y-%m-%d %H:%M UTC'))


def test_hostname_mismatch_is_critical_and_comes_first(pki):
    item = cc.certificate_item(pki.valid.cert, 'x', DEFAULTS, NOW, expect_hostname='www.example.test')
    assert item['status'] == 'critical' and item['hostname_match'] is False
    assert item['detail'] == ('valid.example.test: does not match host name www.example.test '
                              '(certificate names: valid.example.test); expires %s (365 days), '
                              'issuer CN=Caretaker Test Intermediate CA' % at(365).strftime('%Y-%m-%d'))


def test_item_facts(pki):
    item = cc.certificate_item(pki.loopback.cert, 'name', DEFAULTS, NOW, expect_hostname='localhost', extra=1)
    assert item['name'] == 'name' and item['unit'] == 'days' and item['signal'] == 'days_left'
    assert item['san'] == ['localhost', '127.0.0.1']
    assert item['subject'] == 'O=Caretaker Test,CN=localhost'
    assert item['serial'] == '%x' % pki.loopback.cert.serial_number
    assert item['not_before'] == at(-1).strftime('%Y-%m-%dT%H:%M:%SZ')
    assert len(item['fingerprint_sha256']) == 64 and item['self_signed'] is False
    assert item['hostname_match'] is True and item['extra'] == 1


@pytest.mark.parametrize('seconds, text', [
    (3600 * 5, '5 hours'), (3600, '1 hour'), (86400 * 1.9, '45 hours'), (86400 * 2, '2 days'),
    (86400 * 9.6, '10 days'), (-86400 * 4, '4 days'),
])
def test_span(seconds, text):
    assert cc._span(seconds) == text


def test_chain_items_match_the_host_on_the_leaf_only(pki):
    certs = cc.parse_certificates(pki.valid.fullchain.read_bytes())
    items = cc.certificate_items(certs, 'web', DEFAULTS, NOW, 'valid.example.test', source='/x')
    assert [item['name'] for item in items] == ['web leaf', 'web chain 1']
    assert [item['hostname_match'] for item in items] == [True, None]
    assert [item['position'] for item in items] == [0, 1]
    assert all(item['target'] == 'web' and item['source'] == '/x' for item in items)


def test_check_file_error_is_one_item(tmp_path):
    [spec], _endpoints = cc.build_specs({'files': [{'path': str(tmp_path / 'nope.pem'), 'name': 'api'}]})
    [item] = cc.check_file(spec, NOW)
    assert item['name'] == 'api' and item['status'] == 'critical' and item['signal'] == 'readable'
    assert item['source'] == str(tmp_path / 'nope.pem')


# --- options ---------------------------------------------------------------------------------


def test_file_specs_forms(monkeypatch):
    monkeypatch.setenv('CERT_HOME', '/srv/tls')
    second = {'path': '/b.pem', 'name': 'B', 'expect_hostname': 'b.test', 'thresholds': {'days_left': {'warning': 60}}}
    specs = cc.file_specs(['$CERT_HOME/a.pem', second], {})
    assert specs[0]['path'] == '/srv/tls/a.pem' and specs[0]['name'] == '/srv/tls/a.pem'
    assert specs[0]['expect_hostname'] is None
    assert specs[0]['thresholds']['days_left'].as_dict() == {'warning': 30, 'critical': 7, 'direction': 'below'}
    assert specs[1]['name'] == 'B' and specs[1]['expect_hostname'] == 'b.test'
    assert specs[1]['thresholds']['days_left'].warning == 60


@pytest.mark.parametrize('files, message', [
    ([None], r'files\[0\] must be a path or a dict with path, got None'),
    ([{'path': ''}], r'files\[0\].path is required'),
    ([{'path': '/a', 'name': 3}], r'files\[0\].name must be a string'),
    (['/a', {'path': '/b', 'hostname': 'x'}], r'files\[1\].hostname is not an option of files'),
    ([{'path': '/a', 'thresholds': {'days_left': {'warn': 1}}}], r'files\[0\].thresholds.days_left takes a dict'),
])
def test_file_specs_errors(files, message):
    with pytest.raises(ValueError, match=message):
        cc.file_specs(files, {})


def endpoint(**options):
    base = {'host': '127.0.0.1', 'port': None, 'server_name': None, 'starttls': 'none', 'expect_hostname': None,
            'check_hostname': True, 'name': None, 'timeout': None, 'thresholds': None}
    base.update(options)
    return base


def test_endpoint_defaults():
    specs = cc.endpoint_specs([
        endpoint(),
        endpoint(host='mx.example.test', starttls='smtp'),
        endpoint(starttls='postgresql', server_name='db.example.test', timeout=2.5),
        endpoint(host='::1', port=8443, expect_hostname='api.example.test'),
        endpoint(check_hostname=False, name='mine'),
    ], {}, 10)
    assert [spec['port'] for spec in specs] == [443, 25, 5432, 8443, 443]
    assert [spec['name'] for spec in specs] == [
        '127.0.0.1:443', 'mx.example.test:25', 'db.example.test@127.0.0.1:5432', '[::1]:8443', 'mine']
    assert [spec['expect_hostname'] for spec in specs] == [
        '127.0.0.1', 'mx.example.test', 'db.example.test', 'api.example.test', None]
    assert [spec['server_name'] for spec in specs] == [
        '127.0.0.1', 'mx.example.test', 'db.example.test', '::1', '127.0.0.1']
    assert [spec['timeout'] for spec in specs] == [10, 10, 2.5, 10, 10]


def test_build_specs_errors():
    with pytest.raises(ValueError, match='nothing to check'):
        cc.build_specs({'files': None, 'endpoints': None, 'thresholds': None, 'timeout': 10})
    with pytest.raises(ValueError, match=r'endpoints\[1\].port must be between 1 and 65535, got 0'):
        cc.build_specs({'endpoints': [endpoint(), endpoint(port=0)], 'timeout': 10})
    with pytest.raises(ValueError, match=r'^thresholds.days_left: critical 40.0 must be at or below warning 30'):
        cc.build_specs({'files': ['/a'], 'thresholds': {'days_left': {'critical': 40}}})


# --- STARTTLS dialogues, on a socket pair ------------------------------------------------------


def converse(script, client):
    """Run ``client(sock)`` against a peer that answers each line it reads with the next
    reply of ``script`` (the first reply is sent before reading), then stops writing.
    Returns the lines the peer read."""
    ours, theirs = socket.socketpair()
    heard = []

    def peer():
        replies = list(script)
        theirs.sendall(replies.pop(0))
        reader = theirs.makefile('rb')
        while replies:
            line = reader.readline()
            if not line:
                break
            heard.append(line)
            theirs.sendall(replies.pop(0))
        theirs.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=peer)
    thread.start()
    ours.settimeout(5)
    try:
        client(ours)
    finally:
        ours.close()
        thread.join(5)
        theirs.close()
    return heard


def test_smtp_dialogue_up_to_the_handshake():
    heard = converse([b'220-mail.example.test ESMTP\r\n220 second greeting line\r\n',
                      b'250-mail.example.test\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SIZE 1000\r\n',
                      b'220 go ahead\r\n'],
                     lambda sock: cc.smtp_starttls(sock, 'mx:25'))
    assert heard == [b'EHLO localhost\r\n', b'STARTTLS\r\n']  # no address on a socket pair


@pytest.mark.parametrize('script, message', [
    ([b'554 no service\r\n'], 'SMTP server at mx:25 greeted with 554 no service'),
    ([b'* OK IMAP4 ready\r\n'], "mx:25 does not speak SMTP: got '\\* OK IMAP4 ready'"),
    ([b'220 hi\r\n', b'502 what\r\n'], 'SMTP server at mx:25 refused EHLO: 502 what'),
    ([b'220 hi\r\n', b'250-mx\r\n250 8BITMIME\r\n'], r'does not offer STARTTLS \(EHLO lists: 8BITMIME\)'),
    ([b'220 hi\r\n', b'250-mx\r\n250 STARTTLS\r\n', b'454 TLS not available\r\n'],
     'refused STARTTLS: 454 TLS not available'),
    ([b'220 hi\r\n'], 'mx:25 closed the connection before STARTTLS'),
])
def test_smtp_dialogue_errors(script, message):
    with pytest.raises(cc.CertCheckError, match=message):
        converse(script, lambda sock: cc.smtp_starttls(sock, 'mx:25'))


@pytest.mark.parametrize('answer, message', [
    (b'S', None),
    (b'N', 'PostgreSQL server at db:5432 refused SSL'),
    (b'E', "answered the PostgreSQL SSLRequest with b'E'"),
])
def test_postgresql_ssl_request(answer, message):
    sent = []

    def client(sock):
        cc.postgresql_starttls(sock, 'db:5432')

    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(answer)
        ours.settimeout(5)
        if message:
            with pytest.raises(cc.CertCheckError, match=message):
                client(ours)
        else:
            client(ours)
        sent.append(theirs.recv(8))
    finally:
        ours.close()
        theirs.close()
    assert sent == [b'\x00\x00\x00\x08\x04\xd2\x16\x2f']


# --- reading the chain -----------------------------------------------------------------------


class FakeTLS(object):
    def __init__(self, public=None, private=None, leaf=b'leaf'):
        if public is not None:
            self.get_unverified_chain = lambda: public
        if private is not None:
            self._sslobj = type('SSLObj', (), {'get_unverified_chain': lambda self: private})()
        self.leaf = leaf

    def getpeercert(self, binary_form=False):
        return self.leaf


class FakeCert(object):
    def __init__(self, der):
        self.der = der

    def public_bytes(self, encoding):
        assert encoding == cc._ENCODING_DER
        return self.der


def test_peer_chain_public_private_and_leaf_only():
    assert cc.peer_chain(FakeTLS(public=[b'a', b'b'])) == ([b'a', b'b'], True)          # Python 3.13+
    assert cc.peer_chain(FakeTLS(private=[FakeCert(b'a'), FakeCert(b'b')])) == ([b'a', b'b'], True)  # 3.10-3.12
    assert cc.peer_chain(FakeTLS()) == ([b'leaf'], False)                                 # older
    assert cc.peer_chain(FakeTLS(leaf=None)) == ([], False)


# --- the module's documentation matches its argument spec --------------------------------------


def test_endpoints_suboptions_are_documented_like_the_spec():
    spec = cert_check.argument_spec()
    doc = yaml.safe_load(cert_check.DOCUMENTATION)['options']
    assert sorted(doc) == sorted(name for name in spec if name != 'fail_on')
    sub_spec = spec['endpoints']['options']
    sub_doc = doc['endpoints']['suboptions']
    assert sorted(sub_doc) == sorted(sub_spec)
    for name, option in sub_spec.items():
        assert sub_doc[name]['type'] == option['type'], name
        assert sub_doc[name].get('default') == option.get('default'), name
        assert sub_doc[name].get('choices') == option.get('choices'), name
    assert 'timeout' not in [name for name, option in sub_spec.items() if 'default' in option]


def test_unreadable_file_names_the_reason(tmp_path, monkeypatch):
    """As root every file is readable, so the permission error is simulated."""
    path = tmp_path / 'secret.pem'
    path.write_bytes(b'')

    def refuse(*args, **kwargs):
        raise PermissionError(13, 'Permission denied', str(path))

    monkeypatch.setattr('builtins.open', refuse)
    with pytest.raises(cc.CertCheckError) as caught:
        cc.read_certificate_file(str(path))
    assert '%s' % caught.value == 'cannot read %s: Permission denied' % path
