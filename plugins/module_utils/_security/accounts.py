# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accounts from a passwd file: who can log in with a shell, and who has UID 0 besides root."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import finding

# Shells that refuse a login. An empty shell field means /bin/sh, a login shell.
NO_LOGIN_SHELLS = frozenset(
    prefix + name
    for prefix in ('/bin/', '/sbin/', '/usr/bin/', '/usr/sbin/')
    for name in ('nologin', 'false', 'sync', 'shutdown', 'halt', 'true'))


class Account(object):
    __slots__ = ('name', 'password', 'uid', 'gid', 'gecos', 'home', 'shell', 'line')

    def __init__(self, name, password, uid, gid, gecos, home, shell, line):
        self.name = name
        self.password = password
        self.uid = uid
        self.gid = gid
        self.gecos = gecos
        self.home = home
        self.shell = shell
        self.line = line

    @property
    def login_shell(self):
        """The shell a login gets, or None when the account cannot log in with a shell."""
        shell = self.shell or '/bin/sh'
        if shell in NO_LOGIN_SHELLS or os.path.basename(shell) in ('nologin', 'false'):
            return None
        return shell


def parse_passwd(text):
    """(accounts, problems) from passwd(5) text; a problem is (line number, text)."""
    accounts = []
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith('#'):
            continue
        if line[0] in '+-':
            problems.append((number, 'NIS entry %r is not audited' % line.split(':', 1)[0]))
            continue
        fields = line.split(':')
        if len(fields) != 7:
            problems.append((number, 'has %d fields instead of 7: not an account line' % len(fields)))
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            problems.append((number, 'UID %r or GID %r is not a number' % (fields[2], fields[3])))
            continue
        accounts.append(Account(fields[0], fields[1], uid, gid, fields[4], fields[5], fields[6], number))
    return accounts, problems


def audit_accounts(text, path, allowed_login_accounts):
    """Findings of kinds login_shell and uid0, and the parse problems, as (path: line N, text)."""
    accounts, problems = parse_passwd(text)
    login = []
    uid0 = []
    for account in accounts:
        shell = account.login_shell
        if account.uid == 0 and account.name != 'root':
            uid0.append(finding(
                'uid0', 'account %s has UID 0: it is root under another name%s'
                % (account.name, ', with the login shell %s' % shell if shell else ''),
                'remove the account or give it its own UID (usermod -u N %s), after checking what uses it'
                % account.name,
                value=account.name, uid=0, shell=account.shell, line=account.line, source=path))
        if shell and account.name not in allowed_login_accounts:
            login.append(finding(
                'login_shell', 'account %s (UID %d) can log in with %s' % (account.name, account.uid, shell),
                'usermod -s /usr/sbin/nologin %s if it is a service account; otherwise add it to '
                'allowed_login_accounts' % account.name,
                value=account.name, uid=account.uid, shell=shell, home=account.home, line=account.line,
                source=path))
    return {
        'login_shell': login,
        'uid0': uid0,
        'accounts': len(accounts),
        'problems': [('%s: line %d' % (path, number), text) for number, text in problems],
    }
