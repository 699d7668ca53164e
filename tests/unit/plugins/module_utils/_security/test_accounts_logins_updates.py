# -*- coding: utf-8 -*-
"""passwd lines, sshd failure lines of an auth log, and the package managers' security update lists."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.accounts import (
    audit_accounts, parse_passwd)
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.logins import (
    AuthCounts, count_auth_failures)
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.updates import (
    parse_apt_simulation, parse_dnf_security, pending_security_updates)

PASSWD = '''root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
toor:x:0:0::/root:/bin/sh
deploy:x:1000:1000:Deploy,,,:/home/deploy:/bin/bash
app:x:1001:1001::/srv/app:
svc:x:998:998::/srv/svc:/bin/false
broken:x:12:12
+nisuser::::::
nan:x:abc:1::/:/bin/sh
'''


def test_passwd_fields_and_problems():
    accounts, problems = parse_passwd(PASSWD)
    assert [a.name for a in accounts] == ['root', 'daemon', 'sync', 'toor', 'deploy', 'app', 'svc']
    assert [a.name for a in accounts if a.login_shell] == ['root', 'toor', 'deploy', 'app']
    assert [a for a in accounts if a.name == 'app'][0].login_shell == '/bin/sh'   # empty shell is /bin/sh
    assert [number for number, _text in problems] == [8, 9, 10]


def test_uid0_other_than_root_and_login_shells():
    found = audit_accounts(PASSWD, '/etc/passwd', ['root', 'deploy'])
    assert [item['value'] for item in found['uid0']] == ['toor']
    assert 'root under another name' in found['uid0'][0]['detail']
    assert [item['value'] for item in found['login_shell']] == ['toor', 'app']
    assert found['accounts'] == 7
    assert found['problems'][0][0] == '/etc/passwd: line 8'


AUTH = b'''Nov 30 10:00:01 web1 sshd[812]: Failed password for root from 203.0.113.9 port 52144 ssh2
Nov 30 10:00:02 web1 sshd[812]: Failed password for invalid user admin from 203.0.113.9 port 52145 ssh2
Nov 30 10:00:03 web1 sshd[813]: Invalid user admin from 198.51.100.7 port 52150
Nov 30 10:00:04 web1 sshd[814]: Accepted publickey for deploy from 192.0.2.1 port 40000 ssh2
Nov 30 10:00:05 web1 CRON[900]: pam_unix(cron:session): session opened for user root
2026-11-30T10:00:06.123456+00:00 web1 sshd-session[815]: Invalid user test from 203.0.113.9 port 1
'''


def test_auth_lines_counted_by_kind_with_sources():
    counts = AuthCounts()
    counts.scan(AUTH)
    figures = counts.figures()
    assert (figures['total'], figures['failed_password'], figures['invalid_user']) == (4, 2, 2)
    assert figures['top_sources'][0] == {'source': '203.0.113.9', 'count': 3}
    # Invalid user names are never kept (one may be a password typed at the prompt).
    assert figures['top_users'] == [{'user': 'root', 'count': 1}]


def test_auth_logs_rotated_and_gzip_with_since(tmp_path):
    (tmp_path / 'auth.log').write_bytes(AUTH)
    old = b'Jan  2 03:04:05 web1 sshd[1]: Failed password for root from 192.0.2.50 port 1 ssh2\n'
    (tmp_path / 'auth.log.2.gz').write_bytes(gzip.compress(old))
    now = time.mktime((2026, 12, 1, 0, 0, 0, 0, 0, -1))
    figures, read, problems = count_auth_failures([str(tmp_path / 'auth.log*')], now=now)
    assert problems == [] and len(read) == 2 and figures['total'] == 5
    since = time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1))
    figures, _read, _problems = count_auth_failures([str(tmp_path / 'auth.log*')], since=since, now=now)
    assert figures['total'] == 4 and figures['before_since'] == 1
    _figures, _read, problems = count_auth_failures([str(tmp_path / 'missing.log')])
    assert 'no such file' in problems[0][1]


APT = '''Reading package lists...
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libssl3 [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Inst openssl [3.0.2-0ubuntu1.10] (3.0.2-0ubuntu1.12 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
Conf libssl3 (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])
'''
DNF = '''FEDORA-2024-1a2b3c Important/Sec. openssl-libs-1:3.1.4-2.fc39.x86_64
FEDORA-2024-1a2b3c Important/Sec. openssl-1:3.1.4-2.fc39.x86_64
RHSA-2024:0001     Moderate/Sec.  python3-libs-3.9.18-1.el9.x86_64
FEDORA-2024-9999   bugfix         bash-5.2.26-1.fc39.x86_64
'''


def test_apt_simulation_counts_security_suites_only():
    packages = parse_apt_simulation(APT)
    assert [p['name'] for p in packages] == ['libssl3', 'libgcrypt20', 'openssl']
    assert packages[0]['installed'] == '3.0.19-1~deb12u2' and packages[0]['candidate'] == '3.0.22-1~deb12u2'


def test_dnf_security_list_names():
    packages = parse_dnf_security(DNF)
    assert [p['name'] for p in packages] == ['openssl', 'openssl-libs', 'python3-libs']
    assert packages[0]['severity'] == 'Important'


def test_no_answering_package_manager_is_a_note():
    def failing(argv, env):
        assert env['LC_ALL'] == 'C'
        return 100, '', 'E: Could not open lock file'
    result = pending_security_updates(failing, 'apt')
    assert result['manager'] is None and 'apt-get -s upgrade failed (rc 100)' in result['note']
    result = pending_security_updates(lambda argv, env: (0, APT, ''), 'apt')
    assert result['manager'] == 'apt' and len(result['packages']) == 3
