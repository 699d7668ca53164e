# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_check: certificates from PEM files and live TLS endpoints as status items.

Every certificate is one item whose value is the days left until it expires. Live
endpoints are read without verifying the certificate, so an expired, self-signed or
wrongly named one can still be inspected; the host name is then matched here, against
the subjectAltName, the way browsers do it (RFC 6125 / RFC 9525).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import os
import re
import socket
import ssl
import struct
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    BELOW, CRITICAL, Threshold, check_item, measured_item, parse_thresholds, resolve_thresholds,
    summarize, worst)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

try:
    import _ssl
    _ENCODING_DER = _ssl.ENCODING_DER
except (ImportError, AttributeError):
    _ENCODING_DER = None

# Runbook defaults: a month's notice to renew, a week before it is an emergency.
DEFAULT_THRESHOLDS = {
    'days_left': Threshold(30, 7, BELOW),
}

STARTTLS_CHOICES = ('none', 'smtp', 'postgresql')
DEFAULT_PORTS = {'none': 443, 'smtp': 25, 'postgresql': 5432}
DEFAULT_TIMEOUT = 10.0
MAX_PARALLEL = 8
FILE_KEYS = ('path', 'name', 'expect_hostname', 'thresholds')
MAX_FILE_BYTES = 4 * 1024 * 1024

_PEM_BLOCK = re.compile(
    br'-----BEGIN ([A-Z0-9 ]+)-----\s*?\n(.*?)-----END \1-----', re.DOTALL)
# PostgreSQL's SSLRequest: length 8, then the magic code 1234 << 16 | 5679.
PG_SSL_REQUEST = struct.pack('!ii', 8, 80877103)
_SECONDS_PER_DAY = 86400.0
_UTC = datetime.timezone.utc


class CertCheckError(Exception):
    """A problem an operator can act on; its text becomes the detail of a critical item."""


# --- options ---------------------------------------------------------------------


def _resolve(task_thresholds, own, option):
    """Defaults, then task-level, then the item's own limits, as Threshold objects.
    The item's limits are checked against the task-level ones they land on, so a
    per-item critical of 365 under a task-level warning of 400 is accepted."""
    task_level = resolve_thresholds(DEFAULT_THRESHOLDS, task_thresholds)
    return resolve_thresholds(task_level, parse_thresholds(task_level, own, option))


def file_specs(files, task_thresholds):
    """Normalise ``files`` (paths or dicts) into dicts with resolved thresholds.
    Raises ValueError naming the option at fault."""
    specs = []
    for index, entry in enumerate(files or []):
        option = 'files[%d]' % index
        if isinstance(entry, str):
            entry = {'path': entry}
        if not isinstance(entry, dict):
            raise ValueError('%s must be a path or a dict with path, got %r' % (option, entry))
        unknown = sorted(set(entry) - set(FILE_KEYS))
        if unknown:
            raise ValueError('%s.%s is not an option of files: use one of %s'
                             % (option, unknown[0], ', '.join(FILE_KEYS)))
        path = entry.get('path')
        if not isinstance(path, str) or not path.strip():
            raise ValueError('%s.path is required: the certificate file to read' % option)
        for key in ('name', 'expect_hostname'):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise ValueError('%s.%s must be a string, got %r' % (option, key, entry[key]))
        path = os.path.expanduser(os.path.expandvars(path))
        specs.append({
            'path': path,
            'name': entry.get('name') or path,
            'expect_hostname': entry.get('expect_hostname') or None,
            'thresholds': _resolve(task_thresholds, entry.get('thresholds'), '%s.thresholds' % option),
        })
    return specs


def _address(host, port):
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def endpoint_specs(endpoints, task_thresholds, task_timeout):
    """Complete ``endpoints`` (already type-checked by the argument spec) with their
    defaults and resolved thresholds. Raises ValueError naming the option at fault."""
    specs = []
    for index, entry in enumerate(endpoints or []):
        option = 'endpoints[%d]' % index
        host = (entry.get('host') or '').strip()
        if not host:
            raise ValueError('%s.host must not be empty' % option)
        starttls = entry.get('starttls') or 'none'
        port = entry.get('port')
        if port is None:
            port = DEFAULT_PORTS[starttls]
        if not 0 < port < 65536:
            raise ValueError('%s.port must be between 1 and 65535, got %d' % (option, port))
        timeout = entry.get('timeout')
        if timeout is None:
            timeout = task_timeout
        if timeout <= 0:
            raise ValueError('%s.timeout must be more than 0 seconds, got %s' % (option, timeout))
        server_name = (entry.get('server_name') or '').strip() or host
        for key, value in (('host', host), ('server_name', server_name)):
            try:
                value.encode('idna')
            except UnicodeError as exc:
                raise ValueError('%s.%s is not a valid host name: %r (%s)' % (option, key, value, exc))
        check_hostname = entry.get('check_hostname')
        expect = (entry.get('expect_hostname') or '').strip() or server_name
        address = _address(host, port)
        specs.append({
            'host': host,
            'port': port,
            'address': address,
            'server_name': server_name,
            'starttls': starttls,
            'expect_hostname': expect if check_hostname is not False else None,
            'timeout': float(timeout),
            'name': entry.get('name') or (address if server_name == host else '%s@%s' % (server_name, address)),
            'thresholds': _resolve(task_thresholds, entry.get('thresholds'), '%s.thresholds' % option),
        })
    return specs


def build_specs(params):
    """(file specs, endpoint specs) from the module parameters; ValueError names the option."""
    if params.get('timeout') is not None and params['timeout'] <= 0:
        raise ValueError('timeout must be more than 0 seconds, got %s' % params['timeout'])
    task_thresholds = parse_thresholds(DEFAULT_THRESHOLDS, params.get('thresholds'))
    files = file_specs(params.get('files'), task_thresholds)
    timeout = params.get('timeout')
    endpoints = endpoint_specs(params.get('endpoints'), task_thresholds,
                               DEFAULT_TIMEOUT if timeout is None else timeout)
    if not files and not endpoints:
        raise ValueError('nothing to check: set files, endpoints or both')
    return files, endpoints


# --- certificates ----------------------------------------------------------------


def parse_certificates(data):
    """Certificates in PEM data (every CERTIFICATE block, in order) or one DER
    certificate. Returns a list of (certificate or None, error text or None)."""
    blocks = _PEM_BLOCK.findall(data)
    found = [body for label, body in blocks if label == b'CERTIFICATE']
    if not found:
        if not data.strip():
            raise CertCheckError('empty file, no certificate in it')
        if data[:1] == b'\x30':
            try:
                return [(x509.load_der_x509_certificate(data), None)]
            except ValueError as exc:
                raise CertCheckError('not a PEM file, and not a DER certificate either: %s' % exc)
        labels = sorted(set(label.decode('ascii', 'replace') for label, body in blocks))
        if labels:
            raise CertCheckError('no CERTIFICATE block in the file, only %s' % ', '.join(labels))
        raise CertCheckError('not a PEM certificate file: no -----BEGIN CERTIFICATE----- block')
    result = []
    for body in found:
        pem = b'-----BEGIN CERTIFICATE-----\n' + body.strip() + b'\n-----END CERTIFICATE-----\n'
        try:
            result.append((x509.load_pem_x509_certificate(pem), None))
        except ValueError as exc:
            result.append((None, 'cannot parse this CERTIFICATE block: %s' % exc))
    return result


def read_certificate_file(path):
    """Certificates of a file as parse_certificates returns them; CertCheckError with
    a clear reason when the file is missing, unreadable or holds no certificate."""
    if os.path.isdir(path):
        raise CertCheckError('%s is a directory, not a certificate file' % path)
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (IOError, OSError) as exc:
        reason = exc.strerror or '%s' % exc
        if isinstance(exc, FileNotFoundError):
            reason = 'no such file'
        raise CertCheckError('cannot read %s: %s' % (path, reason))
    if len(data) > MAX_FILE_BYTES:
        raise CertCheckError('%s is larger than %d MiB: not a certificate file'
                             % (path, MAX_FILE_BYTES // (1024 * 1024)))
    return parse_certificates(data)


def _not_before(cert):
    value = getattr(cert, 'not_valid_before_utc', None)  # cryptography 42+
    return value if value is not None else cert.not_valid_before.replace(tzinfo=_UTC)


def _not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=_UTC)


def subject_alt_names(cert):
    """(DNS names, IP addresses) of the subjectAltName extension; ([], []) without one.
    The third value says whether the certificate has the extension at all."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], False
    return san.get_values_for_type(x509.DNSName), san.get_values_for_type(x509.IPAddress), True


def _common_name_of(name):
    try:
        names = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return '%s' % names[0].value if names else None


def _common_name(cert):
    return _common_name_of(cert.subject)


def _to_ascii(name):
    name = name.strip().rstrip('.').lower()
    try:
        return name.encode('idna').decode('ascii').lower()
    except UnicodeError:
        return name


def _dns_name_matches(pattern, host):
    """RFC 6125 §6.4.3 as browsers and RFC 9525 apply it: a wildcard is only a whole
    leftmost label ``*``, matches exactly one label, and needs two labels after it."""
    pattern = _to_ascii(pattern)
    if '*' not in pattern:
        return pattern == host
    first, dot, rest = pattern.partition('.')
    if first != '*' or not dot or '*' in rest or '.' not in rest:
        return False
    label, dot, host_rest = host.partition('.')
    return bool(label) and bool(dot) and host_rest == rest


def match_hostname(cert, hostname):
    """(matched, reason). An IP address matches only an IP subjectAltName; a name only
    a DNS subjectAltName. The subject CN is not used, as in every current client."""
    dns_names, ip_addresses, has_san = subject_alt_names(cert)
    try:
        ip = ipaddress.ip_address(hostname.strip().strip('[]'))
    except ValueError:
        ip = None
    if ip is not None:
        if ip in ip_addresses:
            return True, None
        if not ip_addresses:
            return False, 'the certificate has no IP address in its subjectAltName'
        return False, 'certificate addresses: %s' % ', '.join('%s' % addr for addr in ip_addresses)
    host = _to_ascii(hostname)
    if any(_dns_name_matches(pattern, host) for pattern in dns_names):
        return True, None
    if not has_san or not dns_names:
        return False, ('the certificate has no DNS name in its subjectAltName '
                       '(clients ignore the subject CN %s)' % (_common_name(cert) or '(none)'))
    return False, 'certificate names: %s' % ', '.join(dns_names[:10])


def _name(name):
    try:
        return name.rfc4514_string()
    except ValueError:
        return '(unparseable name)'


def _iso(moment):
    return moment.astimezone(_UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _span(seconds):
    """A person's length of time: hours under two days, else whole days."""
    seconds = abs(seconds)
    if seconds < 2 * _SECONDS_PER_DAY:
        hours = int(seconds // 3600)
        return '%d hour%s' % (hours, '' if hours == 1 else 's')
    return '%d days' % int(round(seconds / _SECONDS_PER_DAY))


def describe_certificate(cert):
    """Facts of a certificate for a result item."""
    dns_names, ip_addresses, _has_san = subject_alt_names(cert)
    return {
        'subject': _name(cert.subject),
        'issuer': _name(cert.issuer),
        'san': list(dns_names) + ['%s' % addr for addr in ip_addresses],
        'serial': '%x' % cert.serial_number,
        'not_before': _iso(_not_before(cert)),
        'not_after': _iso(_not_after(cert)),
        'fingerprint_sha256': cert.fingerprint(hashes.SHA256()).hex(),
        'self_signed': cert.subject == cert.issuer,
    }


def certificate_item(cert, name, thresholds, now, expect_hostname=None, **extra):
    """One item for one certificate: days left against ``thresholds['days_left']``;
    expired, not yet valid and a host name mismatch are critical whatever the limits."""
    facts = describe_certificate(cert)
    not_before, not_after = _not_before(cert), _not_after(cert)
    seconds_left = (not_after - now).total_seconds()
    days_left = round(seconds_left / _SECONDS_PER_DAY, 2)
    threshold = thresholds['days_left']
    statuses = [threshold.evaluate(days_left)]
    problems = []
    if now < not_before:
        statuses.append(CRITICAL)
        problems.append('not valid until %s (in %s)' % (not_before.strftime('%Y-%m-%d %H:%M UTC'),
                                                        _span((not_before - now).total_seconds())))
    if seconds_left < 0:
        statuses.append(CRITICAL)
        expiry = 'expired %s (%s ago)' % (not_after.strftime('%Y-%m-%d'), _span(seconds_left))
    else:
        expiry = 'expires %s (%s)' % (not_after.strftime('%Y-%m-%d'), _span(seconds_left))
    matched = None
    if expect_hostname:
        matched, reason = match_hostname(cert, expect_hostname)
        if not matched:
            statuses.append(CRITICAL)
            problems.append('does not match host name %s (%s)' % (expect_hostname, reason))
    label = _common_name(cert) or (facts['san'][0] if facts['san'] else facts['subject'])
    issuer_cn = _common_name_of(cert.issuer)
    detail = '%s: %s, issuer %s' % (label, '; '.join(problems + [expiry]),
                                    'CN=%s' % issuer_cn if issuer_cn else facts['issuer'])
    item = measured_item(name, days_left, threshold, 'days', detail, signal='days_left', **extra)
    item['status'] = worst(statuses)
    item.update(facts)
    item['hostname'] = expect_hostname
    item['hostname_match'] = matched
    return item


def _role(index):
    return 'leaf' if index == 0 else 'chain %d' % index


def certificate_items(certs, label, thresholds, now, expect_hostname=None, **extra):
    """Items of a leaf and its chain: the host name is matched on the leaf only."""
    items = []
    for index, (cert, error) in enumerate(certs):
        name = '%s %s' % (label, _role(index))
        common = dict(extra, target=label, position=index)
        if cert is not None:
            try:
                items.append(certificate_item(cert, name, thresholds, now,
                                              expect_hostname if index == 0 else None, **common))
                continue
            except ValueError as exc:  # a malformed extension or name, found lazily
                error = 'cannot read the certificate: %s' % exc
        items.append(check_item(name, CRITICAL, detail=error, signal='readable', **common))
    return items


def check_file(spec, now):
    """Items of one certificate file; a missing or broken file is one critical item."""
    try:
        certs = read_certificate_file(spec['path'])
    except CertCheckError as exc:
        return [check_item(spec['name'], CRITICAL, detail='%s' % exc, target=spec['name'],
                           signal='readable', source=spec['path'])]
    return certificate_items(certs, spec['name'], spec['thresholds'], now, spec['expect_hostname'],
                             source=spec['path'])


# --- live endpoints --------------------------------------------------------------


def _client_context():
    """A context that completes a handshake whatever the certificate, so that it can
    be inspected: no verification, and old protocol versions and ciphers allowed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers('ALL:@SECLEVEL=0')
    except (ValueError, ssl.SSLError, AttributeError):
        pass  # an OpenSSL without these knobs keeps its defaults
    return context


class _LineReader(object):
    """Lines of a plain-text protocol from a socket, never reading past the last
    line asked for (the TLS handshake follows on the same socket)."""

    MAX_LINE = 4096

    def __init__(self, sock, address):
        self.sock = sock
        self.address = address
        self.buffer = b''

    def line(self):
        while b'\n' not in self.buffer:
            if len(self.buffer) > self.MAX_LINE:
                raise CertCheckError('%s sent a line longer than %d bytes' % (self.address, self.MAX_LINE))
            chunk = self.sock.recv(1024)
            if not chunk:
                raise CertCheckError('%s closed the connection before STARTTLS' % self.address)
            self.buffer += chunk
        line, _sep, self.buffer = self.buffer.partition(b'\n')
        return line.rstrip(b'\r').decode('utf-8', 'replace')


def smtp_reply(reader):
    """(code, lines) of one SMTP reply, multi-line replies joined (RFC 5321 §4.2)."""
    lines = []
    for _count in range(100):
        line = reader.line()
        if len(line) < 3 or not line[:3].isdigit():
            raise CertCheckError('%s does not speak SMTP: got %r' % (reader.address, line[:80]))
        lines.append(line[4:])
        if line[3:4] != '-':
            return int(line[:3]), lines
    raise CertCheckError('%s sent an SMTP reply of more than 100 lines' % reader.address)


def _ehlo_name(sock):
    """Our address as an RFC 5321 address literal: no DNS lookup for a name."""
    if sock.family == socket.AF_INET:
        return '[%s]' % sock.getsockname()[0]
    if sock.family == getattr(socket, 'AF_INET6', None):
        return '[IPv6:%s]' % sock.getsockname()[0].split('%')[0]
    return 'localhost'


def smtp_starttls(sock, address):
    """Greeting, EHLO, STARTTLS: leave ``sock`` ready for the TLS handshake."""
    reader = _LineReader(sock, address)
    code, lines = smtp_reply(reader)
    if code != 220:
        raise CertCheckError('SMTP server at %s greeted with %d %s' % (address, code, ' '.join(lines)[:200]))
    sock.sendall(('EHLO %s\r\n' % _ehlo_name(sock)).encode('ascii'))
    code, lines = smtp_reply(reader)
    if code != 250:
        raise CertCheckError('SMTP server at %s refused EHLO: %d %s' % (address, code, ' '.join(lines)[:200]))
    if not any(line.split(' ')[0].upper() == 'STARTTLS' for line in lines[1:]):
        raise CertCheckError('SMTP server at %s does not offer STARTTLS (EHLO lists: %s)'
                             % (address, ', '.join(line.split(' ')[0] for line in lines[1:]) or 'nothing'))
    sock.sendall(b'STARTTLS\r\n')
    code, lines = smtp_reply(reader)
    if code != 220:
        raise CertCheckError('SMTP server at %s refused STARTTLS: %d %s' % (address, code, ' '.join(lines)[:200]))


def postgresql_starttls(sock, address):
    """SSLRequest: the server answers S and the TLS handshake follows, or N."""
    sock.sendall(PG_SSL_REQUEST)
    answer = sock.recv(1)
    if answer == b'S':
        return
    if answer == b'N':
        raise CertCheckError('PostgreSQL server at %s refused SSL: it runs with ssl = off' % address)
    if not answer:
        raise CertCheckError('%s closed the connection after the PostgreSQL SSLRequest' % address)
    raise CertCheckError('%s answered the PostgreSQL SSLRequest with %r: not a PostgreSQL server?'
                         % (address, answer))


_STARTTLS = {'smtp': smtp_starttls, 'postgresql': postgresql_starttls}


def peer_chain(tls):
    """DER certificates the peer sent, leaf first, and whether that is the whole chain
    it sent. Python 3.13+ has get_unverified_chain(); 3.10 to 3.12 have the same call
    on the private _sslobj; before that only the leaf can be read."""
    chain = None
    getter = getattr(tls, 'get_unverified_chain', None)
    if getter is None:
        getter = getattr(getattr(tls, '_sslobj', None), 'get_unverified_chain', None)
    if getter is not None:
        try:
            chain = getter()
        except (AttributeError, ValueError, ssl.SSLError):
            chain = None
    if chain:
        ders = []
        for cert in chain:
            if isinstance(cert, bytes):
                ders.append(cert)
            elif _ENCODING_DER is not None:
                ders.append(cert.public_bytes(_ENCODING_DER))
        if ders:
            return ders, True
    leaf = tls.getpeercert(binary_form=True)
    return ([leaf] if leaf else []), False


def _connection_error(spec, exc):
    address = spec['address']
    if isinstance(exc, socket.timeout):
        return 'timed out after %gs talking to %s' % (spec['timeout'], address)
    if isinstance(exc, socket.gaierror):
        return 'cannot resolve %s: %s' % (spec['host'], getattr(exc, 'strerror', None) or exc)
    if isinstance(exc, ssl.SSLError):
        hint = ''
        if spec['starttls'] == 'none' and exc.reason in ('WRONG_VERSION_NUMBER', 'RECORD_LAYER_FAILURE'):
            hint = '; is it a TLS port? for SMTP or PostgreSQL set starttls'
        return 'TLS handshake with %s failed: %s%s' % (address, exc.reason or exc, hint)
    if isinstance(exc, ConnectionRefusedError):
        return 'cannot connect to %s: connection refused' % address
    return 'cannot connect to %s: %s' % (address, getattr(exc, 'strerror', None) or exc)


def fetch_chain(spec):
    """(DER certificates, whole chain read) from a live endpoint; CertCheckError names
    host:port and what failed."""
    address = spec['address']
    try:
        sock = socket.create_connection((spec['host'], spec['port']), timeout=spec['timeout'])
    except (OSError, ValueError) as exc:
        raise CertCheckError(_connection_error(spec, exc))
    try:
        sock.settimeout(spec['timeout'])
        starttls = _STARTTLS.get(spec['starttls'])
        if starttls is not None:
            starttls(sock, address)
        tls = _client_context().wrap_socket(sock, server_hostname=spec['server_name'])
        try:
            ders, whole = peer_chain(tls)
            if spec['starttls'] == 'smtp':
                try:
                    tls.sendall(b'QUIT\r\n')
                except OSError:
                    pass
        finally:
            tls.close()
    except (OSError, ValueError) as exc:
        raise CertCheckError(_connection_error(spec, exc))
    finally:
        sock.close()
    if not ders:
        raise CertCheckError('%s completed the TLS handshake without a certificate' % address)
    return ders, whole


def check_endpoint(spec, now=None):
    """Items of one live endpoint: the leaf (with the host name match) and every chain
    certificate it sent. Never raises for a network problem: that is a critical item."""
    common = dict(target=spec['name'], source=spec['address'], server_name=spec['server_name'],
                  starttls=spec['starttls'])
    try:
        ders, whole = fetch_chain(spec)
    except CertCheckError as exc:
        return [check_item(spec['name'], CRITICAL, detail='%s' % exc, signal='reachable', **common)]
    now = now or datetime.datetime.now(_UTC)
    certs = []
    for der in ders:
        try:
            certs.append((x509.load_der_x509_certificate(der), None))
        except ValueError as exc:
            certs.append((None, 'the server sent a certificate that cannot be parsed: %s' % exc))
    return certificate_items(certs, spec['name'], spec['thresholds'], now, spec['expect_hostname'],
                             chain_complete=whole, **common)


def run_checks(files, endpoints, now=None):
    """Items of every file, then every endpoint (checked in parallel), in the order given."""
    now = now or datetime.datetime.now(_UTC)
    items = []
    for spec in files:
        items.extend(check_file(spec, now))
    if endpoints:
        with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(endpoints)))) as pool:
            futures = [pool.submit(check_endpoint, spec, now) for spec in endpoints]
            for future in futures:
                items.extend(future.result())
    return summarize(items, what='certificate checks')
