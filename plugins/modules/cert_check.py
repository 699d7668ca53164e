#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cert_check
short_description: Expiry, validity and host name of TLS certificates in files and on live endpoints
version_added: 0.1.0
description:
  - Reads X.509 certificates from PEM files (a leaf, a chain or a bundle) and from live TLS
    endpoints, directly or after STARTTLS for SMTP and PostgreSQL, and reports each certificate
    as an item with a status (V(ok), V(warning), V(critical)); the result's status is the worst.
  - The value of each item is the days left until the certificate expires, compared with
    O(thresholds) (lower is worse). An expired certificate, one that is not valid yet, and a leaf
    that does not match the expected host name are V(critical) whatever the thresholds.
  - Each item names the subject, the subjectAltName entries, the issuer, the validity dates,
    the serial number and the SHA-256 fingerprint.
  - Live endpoints are read B(without verifying) the certificate, so that an expired,
    self-signed or wrongly named certificate can still be inspected. No application data is
    sent. Whether the chain is trusted by a CA store is not checked.
  - The host name is matched against the subjectAltName as current clients do it
    (RFC 6125 / RFC 9525); a wildcard is only a whole leftmost label C(*) and matches one
    label; an IP address matches only an IP address entry; the subject CN is never used.
  - A file that is missing, unreadable or holds no certificate, and an endpoint that refuses
    the connection, times out or fails the handshake, is one V(critical) item naming the
    path or C(host:port).
  - Read-only. Never reports C(changed).
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.status
requirements:
  - cryptography >= 38 (on the host the module runs on; Debian 12 python3-cryptography is 38.0.4)
options:
  files:
    description:
      - Certificate files to read on the host the module runs on. Each element is a path,
        or a dict with C(path) and optionally C(name), C(expect_hostname) and C(thresholds).
      - "C(path): the file; PEM with one or more C(CERTIFICATE) blocks (other blocks such as
        a private key are skipped), or a single DER certificate. C(~) and environment variables are expanded."
      - "C(name): label of the file's items; defaults to the path."
      - "C(expect_hostname): a host name or IP address the first certificate (the leaf) must
        be valid for; not checked when unset."
      - "C(thresholds): like O(thresholds), for this file only, over the task-level limits."
      - Every certificate of a file is one item, the first named C(leaf) and the next
        C(chain 1), C(chain 2), ... each with its own days left.
    type: list
    elements: raw
  endpoints:
    description:
      - Live TLS endpoints to connect to from the host the module runs on. Each certificate the
        server sends is one item, the leaf first; see RV(checks[].chain_complete) for whether
        the chain could be read.
      - Endpoints are checked in parallel, up to eight at a time; items keep the order given.
    type: list
    elements: dict
    suboptions:
      host:
        description: Host name or IP address to connect to.
        type: str
        required: true
      port:
        description:
          - TCP port.
          - Defaults to V(443), or V(25) for O(endpoints[].starttls=smtp), or V(5432) for
            O(endpoints[].starttls=postgresql).
        type: int
      server_name:
        description:
          - Name sent in the TLS handshake (SNI), which selects the certificate on a server with
            several. Defaults to O(endpoints[].host). An IP address is not sent as SNI.
        type: str
      starttls:
        description:
          - V(none) starts TLS right away (HTTPS, SMTPS, IMAPS, ...).
          - V(smtp) reads the greeting, sends C(EHLO) and C(STARTTLS), then starts TLS.
          - V(postgresql) sends PostgreSQL's C(SSLRequest); the server must answer C(S).
        type: str
        choices: [none, smtp, postgresql]
        default: none
      expect_hostname:
        description:
          - Host name or IP address the leaf certificate must be valid for.
          - Defaults to O(endpoints[].server_name).
        type: str
      check_hostname:
        description: Set to V(false) to skip the host name match.
        type: bool
        default: true
      name:
        description:
          - Label of this endpoint's items. Defaults to C(host:port), or
            C(server_name@host:port) when the server name differs from the host.
        type: str
      timeout:
        description: As the task-level O(timeout), for this endpoint only.
        type: float
      thresholds:
        description: Like O(thresholds), for this endpoint only, over the task-level limits.
        type: dict
  thresholds:
    description:
      - Warning and critical limits per signal, for every file and endpoint. The key takes a dict
        with C(warning) and/or C(critical); a limit left unset keeps its default.
      - "C(days_left): days until the certificate expires, lower is worse; a value exactly at a
        limit crosses it; default warning 30, critical 7."
    type: dict
  timeout:
    description:
      - Seconds to wait for each step with an endpoint (connecting, STARTTLS, the TLS handshake).
    type: float
    default: 10
notes:
  - "On Python 3.10 and later every certificate the server sends is read (Python 3.13+ through
    C(get_unverified_chain()), 3.10 to 3.12 through the same call on the private SSL object).
    On older Python only the leaf can be read without verification: RV(checks[].chain_complete)
    is then V(false) and only the leaf is reported."
seealso:
  - module: community.crypto.x509_certificate_info
  - module: community.crypto.get_certificate
'''

EXAMPLES = r'''
- name: Check the certificate files nginx serves, leaf and chain, and the internal CA
  caretaker.maintenance.cert_check:
    files:
      - "{{ tls_dir }}/api.example.test/fullchain.pem"
      - path: "{{ tls_dir }}/internal-ca.pem"
        name: internal CA
        thresholds:
          days_left: {warning: 90, critical: 30}
      - path: "{{ tls_dir }}/mail.example.test/cert.pem"
        expect_hostname: mail.example.test

- name: Check what the web, mail and database servers present, reporting without failing
  caretaker.maintenance.cert_check:
    endpoints:
      - host: 127.0.0.1
        port: 8443
        server_name: api.example.test
      - host: 127.0.0.1
        port: 587
        starttls: smtp
        expect_hostname: mail.example.test
      - host: 127.0.0.1
        starttls: postgresql
        server_name: db.example.test
        timeout: 5
    thresholds:
      days_left: {warning: 21}
    fail_on: never
  register: certificates

- name: Show what needs renewing
  ansible.builtin.debug:
    msg: "{{ certificates.msg }}"
  when: certificates.status != 'ok'
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: warning
msg:
  description: One line a person can act on, naming the worst items.
  returned: always
  type: str
  sample: "1 warning of 3 certificate checks; api.example.test@127.0.0.1:8443 leaf: api.example.test: expires 2026-12-03 (10 days), issuer CN=Test CA"
checks:
  description: One item per certificate; one item per file or endpoint that could not be read.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Label of the file or endpoint, then C(leaf) or C(chain N).
      type: str
      sample: api.example.test@127.0.0.1:8443 leaf
    status:
      description: V(ok), V(warning) or V(critical).
      type: str
    value:
      description: Days left until the certificate expires, two decimals; negative when it has expired.
      type: float
      sample: 10.0
    unit:
      description: V(days) for a certificate.
      type: str
    threshold:
      description: The C(days_left) limits the value was compared with, with direction V(below).
      type: dict
      sample: {warning: 30, critical: 7, direction: below}
    detail:
      description: The certificate in words, problems first, or why the file or endpoint could not be read.
      type: str
      sample: "api.example.test: expires 2026-12-03 (10 days), issuer CN=Test CA"
    signal:
      description: V(days_left) for a certificate, V(readable) for a file or a certificate that could
        not be read or parsed, V(reachable) for an endpoint that could not be reached or read.
      type: str
    target:
      description: Label of the file or endpoint the item belongs to.
      type: str
    source:
      description: Path of the file, or C(host:port) of the endpoint.
      type: str
    position:
      description: Place in the file or in what the server sent; 0 is the leaf.
      type: int
      returned: for certificates
    subject:
      description: Subject distinguished name (RFC 4514).
      type: str
      returned: for certificates
      sample: CN=api.example.test,O=Example
    issuer:
      description: Issuer distinguished name (RFC 4514).
      type: str
      returned: for certificates
      sample: CN=Test CA
    san:
      description: DNS names and IP addresses of the subjectAltName.
      type: list
      elements: str
      returned: for certificates
      sample: [api.example.test, www.example.test]
    not_before:
      description: Start of validity, UTC, ISO 8601.
      type: str
      returned: for certificates
      sample: "2026-09-04T12:00:00Z"
    not_after:
      description: End of validity, UTC, ISO 8601.
      type: str
      returned: for certificates
      sample: "2026-12-03T12:00:00Z"
    serial:
      description: Serial number, hexadecimal.
      type: str
      returned: for certificates
    fingerprint_sha256:
      description: SHA-256 fingerprint of the DER certificate, hexadecimal.
      type: str
      returned: for certificates
    self_signed:
      description: Whether subject and issuer are the same name.
      type: bool
      returned: for certificates
    hostname:
      description: Host name the leaf was matched against; null when none was.
      type: str
      returned: for certificates
    hostname_match:
      description: Whether the leaf is valid for RV(checks[].hostname); null when not checked.
      type: bool
      returned: for certificates
    server_name:
      description: Name sent as SNI.
      type: str
      returned: for endpoints
    starttls:
      description: V(none), V(smtp) or V(postgresql).
      type: str
      returned: for endpoints
    chain_complete:
      description: Whether every certificate the server sent could be read (V(false) means only the leaf).
      type: bool
      returned: for endpoint certificates
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 2, warning: 1, critical: 0, unknown: 0}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._cert_check import (
    CRYPTOGRAPHY_IMPORT_ERROR, DEFAULT_TIMEOUT, HAS_CRYPTOGRAPHY, STARTTLS_CHOICES, build_specs, run_checks)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    exit_with_status, status_argument_spec)


def argument_spec():
    spec = dict(
        files=dict(type='list', elements='raw'),
        endpoints=dict(type='list', elements='dict', options=dict(
            host=dict(type='str', required=True),
            port=dict(type='int'),
            server_name=dict(type='str'),
            starttls=dict(type='str', choices=list(STARTTLS_CHOICES), default='none'),
            expect_hostname=dict(type='str'),
            check_hostname=dict(type='bool', default=True),
            name=dict(type='str'),
            timeout=dict(type='float'),
            thresholds=dict(type='dict'),
        )),
        thresholds=dict(type='dict'),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
    )
    spec.update(status_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    try:
        files, endpoints = build_specs(module.params)
    except ValueError as exc:
        module.fail_json(msg='%s' % exc)
    exit_with_status(module, run_checks(files, endpoints))


if __name__ == '__main__':
    main()
