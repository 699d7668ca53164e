# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the security audit shares: the finding kinds, their default
thresholds, and the shape of one finding."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import ABOVE, Threshold

# Each kind is one check item; its value is the number of findings of that kind.
# A kind without limits is reported for information.
THRESHOLDS = {
    'world_writable': Threshold(1, None, ABOVE),
    'sticky_world_writable': Threshold(None, None, ABOVE),
    'suid_sgid': Threshold(1, None, ABOVE),
    'secret_permissions': Threshold(1, None, ABOVE),
    'unreadable': Threshold(1, None, ABOVE),
    'login_shell': Threshold(None, None, ABOVE),
    'uid0': Threshold(None, 1, ABOVE),
    'sshd': Threshold(1, None, ABOVE),
    'listening_port': Threshold(1, None, ABOVE),
    'failed_logins': Threshold(None, None, ABOVE),
    'http_auth_failures': Threshold(None, None, ABOVE),
    'integrity': Threshold(1, None, ABOVE),
    'security_updates': Threshold(1, None, ABOVE),
}

# The kinds each entry of the checks option reports, in the order of the items.
CHECKS = (
    ('world_writable', ('world_writable', 'sticky_world_writable')),
    ('suid_sgid', ('suid_sgid',)),
    ('secrets', ('secret_permissions',)),
    ('accounts', ('login_shell', 'uid0')),
    ('sshd', ('sshd',)),
    ('ports', ('listening_port',)),
    ('auth_log', ('failed_logins',)),
    ('access_log', ('http_auth_failures',)),
    ('integrity', ('integrity',)),
    ('updates', ('security_updates',)),
)
CHECK_NAMES = tuple(name for name, _kinds in CHECKS)
FILE_CHECKS = ('world_writable', 'suid_sgid', 'secrets')

UNITS = {
    'world_writable': 'paths', 'sticky_world_writable': 'directories', 'suid_sgid': 'files',
    'secret_permissions': 'files', 'unreadable': 'paths', 'login_shell': 'accounts', 'uid0': 'accounts',
    'sshd': 'settings', 'listening_port': 'sockets', 'failed_logins': 'lines', 'http_auth_failures': 'requests',
    'integrity': 'files', 'security_updates': 'packages',
}


class AuditError(ValueError):
    """An option that cannot work, or a state that stops the audit; the text names the option and the fix."""


def finding(kind, detail, fix, path=None, value=None, **extra):
    """One finding: its kind, what it is about (a path or a value), what is wrong, and the fix."""
    item = {'kind': kind, 'detail': detail, 'fix': fix}
    if path is not None:
        item['path'] = path
    if value is not None:
        item['value'] = value
    item.update(extra)
    return item


def octal(mode):
    return '%04o' % mode
