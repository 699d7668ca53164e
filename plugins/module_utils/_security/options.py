# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""security_audit options: the argument spec and the checks made before anything is read.
Every error names the option and the fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_time import TimeError, parse_since
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import (
    CHECK_NAMES, FILE_CHECKS, THRESHOLDS, AuditError)
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.files import (
    DEFAULT_SECRET_EXCLUDES, DEFAULT_SECRET_PATTERNS, DEFAULT_SUID_ALLOWLIST)
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.ports import PortRule
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.sshd import DEFAULT_POLICY
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    parse_thresholds, resolve_thresholds, status_argument_spec)

PACKAGE_MANAGERS = ('auto', 'apt', 'dnf')
_MODE = re.compile(r'^0?[0-7]{3}$')
_KEYWORD = re.compile(r'^[A-Za-z][A-Za-z0-9]*$')


def argument_spec():
    spec = dict(
        checks=dict(type='list', elements='str', choices=list(CHECK_NAMES)),
        paths=dict(type='list', elements='path', default=[]),
        exclude_paths=dict(type='list', elements='path', default=[]),
        one_filesystem=dict(type='bool', default=True),
        secret_patterns=dict(type='list', elements='str', default=list(DEFAULT_SECRET_PATTERNS), no_log=False),
        secret_exclude_patterns=dict(type='list', elements='str', default=list(DEFAULT_SECRET_EXCLUDES),
                                     no_log=False),
        secret_mode=dict(type='str', default='0600', no_log=False),
        fix=dict(type='bool', default=False),
        suid_allowlist=dict(type='list', elements='str', default=[]),
        suid_builtin_allowlist=dict(type='bool', default=True),
        passwd_file=dict(type='path', default='/etc/passwd', no_log=False),
        allowed_login_accounts=dict(type='list', elements='str', default=['root']),
        sshd_config=dict(type='path', default='/etc/ssh/sshd_config'),
        sshd_policy=dict(type='dict'),
        allowed_ports=dict(type='list', elements='str', default=[]),
        allow_loopback=dict(type='bool', default=False),
        auth_log_paths=dict(type='list', elements='path'),
        access_log_paths=dict(type='list', elements='path', default=[]),
        since=dict(type='str'),
        integrity_paths=dict(type='list', elements='path', default=[]),
        baseline_file=dict(type='path'),
        update_baseline=dict(type='bool', default=False),
        package_manager=dict(type='str', choices=list(PACKAGE_MANAGERS), default='auto'),
        thresholds=dict(type='dict'),
    )
    spec.update(status_argument_spec())
    return spec


class Options(object):
    """Checked options; ``checks`` is the set of checks to run."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _roots(values, option, must_exist=True):
    roots = []
    for value in values or []:
        if not value:
            continue
        if not os.path.isabs(value):
            raise AuditError('%s entry %r is not an absolute path: write it from /, for example /srv/app' % (option, value))
        if must_exist and not os.path.lexists(value):
            raise AuditError('%s entry %s does not exist: remove it or fix the path' % (option, value))
        real = os.path.realpath(value) if os.path.lexists(value) else os.path.normpath(value)
        if real not in roots:
            roots.append(real)
    return roots


def _policy(value):
    if value is None:
        return dict(DEFAULT_POLICY)
    if not value:
        raise AuditError('sshd_policy is empty: give keywords with their allowed values, for example '
                         '{PermitRootLogin: [no], PasswordAuthentication: [no]}, or leave sshd out of checks')
    policy = {}
    for keyword, allowed in value.items():
        if not _KEYWORD.match('%s' % keyword):
            raise AuditError('sshd_policy key %r is not an sshd_config keyword' % (keyword,))
        if isinstance(allowed, bool):
            allowed = ['yes' if allowed else 'no']
        if not isinstance(allowed, list):
            allowed = [allowed]
        allowed = ['yes' if item is True else 'no' if item is False else '%s' % item for item in allowed]
        if not [item for item in allowed if item]:
            raise AuditError('sshd_policy.%s lists no allowed value: give at least one, for example [no]' % keyword)
        policy['%s' % keyword] = allowed
    return policy


def _checks(params):
    """The checks to run: those asked for, or (checks unset) every check whose input is given."""
    given = {
        'paths': bool(params['paths']),
        'access_log_paths': bool(params['access_log_paths']),
        'integrity_paths': bool(params['integrity_paths']),
    }
    needs = dict([(name, 'paths') for name in FILE_CHECKS] + [('access_log', 'access_log_paths'),
                                                              ('integrity', 'integrity_paths')])
    if params['checks'] is None:
        return set(name for name in CHECK_NAMES if name not in needs or given[needs[name]]), set(
            name for name in needs if not given[needs[name]])
    checks = set(params['checks'])
    if not checks:
        raise AuditError('checks is empty: name at least one of %s, or leave it unset for every check that '
                         'has its input' % ', '.join(CHECK_NAMES))
    for name in sorted(checks):
        if name in needs and not given[needs[name]]:
            raise AuditError('checks has %s but %s is empty: give %s or remove %s from checks'
                             % (name, needs[name], needs[name], name))
    return checks, set()


def check_options(params, now=None):
    """Options from module params; raises AuditError."""
    checks, not_given = _checks(params)
    if params['fix'] and 'secrets' not in checks:
        raise AuditError('fix changes the modes of secrets files, and the secrets check does not run: give paths '
                         'and keep secrets in checks, or set fix: false')
    if params['update_baseline'] and 'integrity' not in checks:
        raise AuditError('update_baseline needs the integrity check: give integrity_paths and baseline_file, or '
                         'set update_baseline: false')
    if 'integrity' in checks and not params['baseline_file']:
        raise AuditError('integrity_paths is given but baseline_file is not: name the JSON file that keeps the '
                         'baseline, for example /var/lib/caretaker/security_audit/baseline.json')
    if params['baseline_file'] and not os.path.isabs(params['baseline_file']):
        raise AuditError('baseline_file %r is not an absolute path' % params['baseline_file'])
    mode = '%s' % params['secret_mode']
    if not _MODE.match(mode):
        raise AuditError('secret_mode %r is not an octal mode: write it as a quoted string such as "0600" or "0640"'
                         % mode)
    patterns = [item for item in params['secret_patterns'] or [] if item]
    if 'secrets' in checks and not patterns:
        raise AuditError('secret_patterns is empty: give file name patterns such as .env and *.key, or remove '
                         'secrets from checks')
    since = None
    if params.get('since') not in (None, ''):
        try:
            since = parse_since(params['since'], now)
        except TimeError as exc:
            raise AuditError('%s' % exc)
    try:
        thresholds = resolve_thresholds(THRESHOLDS, parse_thresholds(THRESHOLDS, params.get('thresholds')))
    except ValueError as exc:
        raise AuditError('%s' % exc)
    allowlist = list(params['suid_allowlist'] or [])
    if params['suid_builtin_allowlist']:
        allowlist += list(DEFAULT_SUID_ALLOWLIST)
    return Options(
        checks=checks,
        not_given=not_given,
        paths=_roots(params['paths'], 'paths'),
        exclude_paths=_roots(params['exclude_paths'], 'exclude_paths', must_exist=False),
        one_filesystem=params['one_filesystem'],
        secret_patterns=patterns,
        secret_excludes=[item for item in params['secret_exclude_patterns'] or [] if item],
        secret_mode=int(mode, 8),
        fix=params['fix'],
        suid_allowlist=allowlist,
        passwd_file=params['passwd_file'],
        allowed_login_accounts=[item for item in params['allowed_login_accounts'] or [] if item],
        sshd_config=params['sshd_config'],
        sshd_policy=_policy(params.get('sshd_policy')) if 'sshd' in checks else {},
        port_rules=[PortRule(item) for item in params['allowed_ports'] or [] if '%s' % item != ''],
        allow_loopback=params['allow_loopback'],
        auth_log_paths=[item for item in params['auth_log_paths'] if item] if params['auth_log_paths'] is not None
        else None,
        access_log_paths=[item for item in params['access_log_paths'] if item],
        since=since,
        integrity_paths=_roots(params['integrity_paths'], 'integrity_paths', must_exist=False),
        baseline_file=params['baseline_file'],
        update_baseline=params['update_baseline'],
        package_manager=params['package_manager'],
        thresholds=thresholds,
    )
