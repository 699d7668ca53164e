#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: security_audit
short_description: Audit a Linux host's file permissions, accounts, sshd, ports, failed logins, file integrity and security updates
version_added: 0.1.0
description:
  - Runs the checks of the runbooks' weekly security review and quarterly audit and returns one item per finding
    kind, whose value is the number of findings of that kind, compared with O(thresholds); the result's status is
    the worst item. Every finding is also listed in RV(findings) with what is wrong and the fix.
  - "File checks, one walk of each root of O(paths): C(world_writable) files and directories (directories with the
    sticky bit, like C(/tmp), are the kind C(sticky_world_writable), for information by default: only their owners
    may delete files there); C(suid_sgid), setuid and setgid files not in the allowlist; C(secret_permissions),
    files matching O(secret_patterns) whose mode gives more than O(secret_mode). Files ending in C(.pem), C(.crt)
    or C(.cer) count as secrets only when they hold a private key, so public certificates are left alone."
  - "The walk never follows symlinks (neither in the tree nor for a fix), so symlink loops and links out of the
    roots are harmless; it goes down by directory descriptors and does not enter another filesystem with
    O(one_filesystem). A root given as a symlink is resolved once. A directory or file that cannot be read is a
    finding of kind C(unreadable), with a warning, and the rest is audited."
  - "C(accounts): accounts of O(passwd_file) with a login shell and not in O(allowed_login_accounts)
    (C(login_shell), for information by default), and accounts with UID 0 other than root (C(uid0), critical)."
  - "C(sshd): the settings of O(sshd_policy) as sshd reads O(sshd_config): keywords in any case, C(Include) globs
    read in place (relative ones from the directory of O(sshd_config)), the first value of a keyword wins, and
    C(Match) blocks (up to the next Match or the end of their file) reported apart. A keyword not set is
    compared with OpenSSH's default. A missing O(sshd_config) skips the check with a note."
  - "C(ports): TCP sockets listening and UDP sockets bound, from C(/proc/net/tcp), C(tcp6), C(udp), C(udp6),
    that O(allowed_ports) does not list, with the process holding each when it can be seen."
  - "C(auth_log): sshd C(Failed password) and C(Invalid user) lines of O(auth_log_paths), with the top sources.
    C(access_log): 401 and 403 answers in combined access logs (O(access_log_paths)), counted by the same scanner
    as M(caretaker.maintenance.log_scan). Both read plain, gzip and zstd files and take O(since)."
  - "C(integrity): SHA-256, mode and owner of every file (and the target of every symlink) under
    O(integrity_paths), compared with the baseline in O(baseline_file): files added, changed and removed since.
    O(update_baseline=true) accepts the current state and writes it (mode 0600, atomically)."
  - "C(updates): pending security updates, counted with package names: C(apt-get -s upgrade) (packages whose new
    version comes from a C(*-security) suite) or C(dnf updateinfo list --security) from the cached metadata.
    Nothing is installed and the package lists are not refreshed. Without an answering package manager the item
    is V(unknown) with a note."
  - Read-only unless O(fix=true) (modes of secrets files) or O(update_baseline=true) (the baseline file); no
    other file is written, and no file outside O(paths) and O(baseline_file) is touched.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.status.fail_on
attributes:
  check_mode:
    support: full
    description:
      - Audits the same way; with O(fix) lists the exact modes it would set (RV(fixed)) and with O(update_baseline)
        says whether it would write the baseline, reporting C(changed) as the real run would, and changes nothing.
  diff_mode:
    support: full
    description:
      - With O(fix), the path and mode of each secrets file before and after. With O(update_baseline), the
        checksums of the files that differ between the old baseline and the new one.
options:
  checks:
    description:
      - Which checks to run. Unset, every check whose input is given runs (the file checks need O(paths),
        C(access_log) needs O(access_log_paths), C(integrity) needs O(integrity_paths)), and the others are
        V(ok) items saying they were not checked.
      - A check named here whose input is missing fails the task.
    type: list
    elements: str
    choices: [world_writable, suid_sgid, secrets, accounts, sshd, ports, auth_log, access_log, integrity, updates]
  paths:
    description:
      - Roots of the file checks, absolute paths, for example V(/srv/app), V(/etc), V(/home), V(/usr/local/bin).
        Each must exist.
    type: list
    elements: path
    default: []
  exclude_paths:
    description: Absolute paths not entered by the file checks and the integrity check.
    type: list
    elements: path
    default: []
  one_filesystem:
    description: Do not enter directories on another filesystem than their root (as C(find -xdev)).
    type: bool
    default: true
  secret_patterns:
    description:
      - Shell globs of secrets files, matched case-sensitively against the file name, or, for a pattern with a
        C(/), against the end of the path below the root (V(config/private/*) matches
        C(app/config/private/token.json)). A C(*) matches across C(/) too.
    type: list
    elements: str
    default: ['.env', '.env.*', '*.pem', '*.key', id_rsa, id_dsa, id_ecdsa, id_ed25519, '*.p12', '*.pfx',
              'credentials*', .pgpass, .my.cnf, .netrc]
  secret_exclude_patterns:
    description:
      - Globs of files that match O(secret_patterns) but are no secrets (templates, public keys, and source code
        named after what it handles, such as C(credentials.py)), matched as O(secret_patterns).
    type: list
    elements: str
    default: ['*.example', '*.sample', '*.dist', '*.template', '*.pub', '*.py', '*.pyc', '*.js', '*.ts', '*.rb',
              '*.go', '*.java', '*.class', '*.php', '*.md', '*.html']
  secret_mode:
    description:
      - The most a secrets file's mode may allow, as a quoted octal string. V("0600") reports a file any group or
        other user may read or write; V("0640") allows group read (for example C(ssl-cert) keys).
    type: str
    default: '0600'
  fix:
    description:
      - Clear the permission bits of secrets files beyond O(secret_mode) (C(0644) becomes C(0600) with the default),
        through the open file after checking it is still the file audited. Needs the C(secrets) check.
    type: bool
    default: false
  suid_allowlist:
    description:
      - Setuid and setgid files that are expected, as absolute paths or globs, in addition to the built-in list.
    type: list
    elements: str
    default: []
  suid_builtin_allowlist:
    description:
      - Also allow the setuid and setgid programs Debian, Ubuntu and RHEL ship (C(passwd), C(su), C(sudo),
        C(mount), C(pkexec), C(ssh-keysign), ... under C(/usr)). V(false) reports every one not in O(suid_allowlist).
    type: bool
    default: true
  passwd_file:
    description: The passwd file the C(accounts) check reads.
    type: path
    default: /etc/passwd
  allowed_login_accounts:
    description: Accounts expected to have a login shell; others with one are C(login_shell) findings.
    type: list
    elements: str
    default: [root]
  sshd_config:
    description: The sshd configuration the C(sshd) check reads. A missing file skips the check.
    type: path
    default: /etc/ssh/sshd_config
  sshd_policy:
    description:
      - sshd_config keywords and the values each may have (a list, or one value), compared case-insensitively.
      - "Default C({PermitRootLogin: [no, prohibit-password, without-password], PasswordAuthentication: [no]}).
        A policy given replaces the default."
    type: dict
  allowed_ports:
    description:
      - Sockets that may listen, each V([tcp/|udp/][ADDRESS:]PORT[-PORT]), for example V(22), V(tcp/443),
        V(udp/53), V(tcp/127.0.0.1:6379), V(tcp/[::1]:5432), V(tcp/30000-32767). Without a protocol both match;
        without an address any address matches.
    type: list
    elements: str
    default: []
  allow_loopback:
    description: Allow every socket bound to a loopback address (databases and caches kept to the host).
    type: bool
    default: false
  auth_log_paths:
    description:
      - Auth logs or globs the C(auth_log) check reads, for example V(/var/log/auth.log*).
      - Unset, C(/var/log/auth.log) (Debian, Ubuntu) or C(/var/log/secure) (RHEL) is read, and the check is
        skipped with a note when neither exists. A path given that does not exist is an V(unknown) item.
    type: list
    elements: path
  access_log_paths:
    description: Access logs in the combined format, or globs, whose 401 and 403 answers the C(access_log) check counts.
    type: list
    elements: path
    default: []
  since:
    description:
      - Count log lines at or after this time only, as an age (V(7d), V(24h)) or an ISO 8601 time, as
        M(caretaker.maintenance.log_scan) takes it. Auth log lines carry a syslog or ISO time.
    type: str
  integrity_paths:
    description:
      - Files and directories whose files the C(integrity) check records, for example V(/etc/ssh),
        V(/usr/local/bin), V(/srv/app/current). A path that is gone has its files reported as removed.
    type: list
    elements: path
    default: []
  baseline_file:
    description: JSON file keeping the integrity baseline; required with O(integrity_paths).
    type: path
  update_baseline:
    description:
      - Accept the current state as the baseline and write it (C(changed) when it differs from the file's).
        Needs the C(integrity) check. Not in check mode.
      - The changes since the old baseline are still listed in RV(findings), marked C(accepted), and the
        C(integrity) item counts none left.
    type: bool
    default: false
  package_manager:
    description: Which package manager the C(updates) check asks; V(auto) tries apt, then dnf (or yum).
    type: str
    choices: [auto, apt, dnf]
    default: auto
  thresholds:
    description:
      - Warning and critical limits on the number of findings per kind. Each key takes a dict with C(warning)
        and/or C(critical); a limit left unset keeps its default; a kind without limits is for information.
      - "Defaults: C(world_writable), C(suid_sgid), C(secret_permissions), C(unreadable), C(sshd), C(listening_port),
        C(integrity) and C(security_updates) warn at 1; C(uid0) is critical at 1; C(sticky_world_writable),
        C(login_shell), C(failed_logins) (sshd failure lines) and C(http_auth_failures) (401 and 403 answers)
        have no limits."
    type: dict
notes:
  - Run it with C(become) to read every directory, the auth log and the process of each socket.
  - Sockets are those of the network namespace the module runs in; a container's own sockets are seen inside it.
  - The C(sshd) check reads the files, as sshd would at start; C(sshd -T) shows what a running sshd uses, including
    C(Match) evaluation for a given connection.
  - Returns the collection's common check result, RV(status), RV(msg), RV(checks) and RV(counts); C(changed) is
    true only when O(fix) changed a mode or O(update_baseline) wrote the baseline (in check mode, would).
seealso:
  - module: caretaker.maintenance.log_scan
    description: Full access-log report, including the 401/403 counts and attack probes.
  - module: ansible.builtin.file
    description: Set the modes this module reports.
'''

EXAMPLES = r'''
- name: Weekly security review of an application host, report only
  caretaker.maintenance.security_audit:
    paths: [/srv/app, /etc, /home]
    allowed_ports: [tcp/22, tcp/80, tcp/443]
    allow_loopback: true
    access_log_paths: [/var/log/nginx/access.log*]
    since: 7d
    fail_on: never
  become: true
  register: audit

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ audit.findings | map(attribute='detail') | list }}"
  when: audit.status != 'ok'

- name: Lock down the secrets files of the application (see the changes with --check --diff first)
  caretaker.maintenance.security_audit:
    checks: [secrets]
    paths: [/srv/app]
    secret_patterns: ['.env', '.env.*', '*.key', 'config/private/*']
    fix: true
  become: true

- name: Quarterly audit with the integrity baseline of the binaries and sshd, accepting the current state
  caretaker.maintenance.security_audit:
    paths: [/usr/local/bin, /srv/app]
    integrity_paths: [/usr/local/bin, /etc/ssh, /srv/app/current]
    baseline_file: /var/lib/caretaker/security_audit/baseline.json
    update_baseline: true
    sshd_policy:
      PermitRootLogin: ['no']
      PasswordAuthentication: ['no']
      PermitEmptyPasswords: ['no']
    thresholds:
      login_shell: {warning: 1}
      failed_logins: {warning: 500}
  become: true
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: warning
msg:
  description: One line a person can act on, naming the worst items, and what was fixed or written.
  returned: always
  type: str
  sample: "2 warning of 12 security checks; world_writable: 1 paths: /srv/app/upload.sh; listening_port: 1 sockets: tcp/0.0.0.0:8080"
checks:
  description: One item per finding kind of the checks run, its value the number of findings of that kind.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The finding kind, for example V(world_writable), V(uid0), V(sshd), V(security_updates).
      type: str
    status:
      description: V(ok), V(warning), V(critical) or V(unknown).
      type: str
    value:
      description:
      - Number of findings; null when not measured. For C(secret_permissions) after a fix, and for C(integrity)
        after the baseline was written, those left (0 when every one was fixed or accepted).
      - In check mode the count before the fix or the new baseline, as the finding is still there.
      type: int
    unit:
      description: What was counted (V(paths), V(files), V(accounts), V(sockets), V(lines), V(packages), ...).
      type: str
    threshold:
      description: Limits the value was compared with.
      type: dict
      sample: {warning: 1, critical: null, direction: above}
    detail:
      description: The count in words with the first findings, or why the check could not run or was skipped.
      type: str
    check:
      description: The entry of O(checks) that made the item.
      type: str
    skipped:
      description: True when the check was not run for lack of input (the item is V(ok)).
      type: bool
      returned: for skipped items
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 10, warning: 2, critical: 0, unknown: 0}
findings:
  description: Every finding, in the order of the items.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The finding kind, as RV(checks[].name).
      type: str
    path:
      description: The file or directory, for file, integrity and unreadable findings.
      type: str
      returned: for findings about a path
    value:
      description: What the finding is about otherwise (account, C(Keyword value), socket, package, count).
      type: raw
      returned: for findings not about a path
    detail:
      description: What is wrong.
      type: str
      sample: "mode 0644 lets group and others read a secrets file; secret_mode allows at most 0600"
    fix:
      description: How to fix it.
      type: str
      sample: "chmod 0600 /srv/app/.env (fix: true does it)"
  sample:
    - kind: secret_permissions
      path: /srv/app/.env
      mode: '0644'
      detail: "mode 0644 lets group and others read a secrets file; secret_mode allows at most 0600"
      fix: "chmod 0600 /srv/app/.env (fix: true does it)"
fixed:
  description: Secrets files whose mode was changed (in check mode, would be), with C(path), C(mode_before) and C(mode_after).
  returned: always
  type: list
  elements: dict
fix_errors:
  description: Secrets files that could not be fixed, with C(path) and C(error).
  returned: when the secrets check ran
  type: list
  elements: dict
problems:
  description: Paths and lines that could not be read or understood, with C(check), C(path) and C(problem).
  returned: always
  type: list
  elements: dict
entries:
  description: Paths the file checks looked at.
  returned: when a file check ran
  type: int
sshd:
  description: C(files) read and the effective C(settings) of O(sshd_policy), each with C(value) and C(source); null when skipped.
  returned: when the sshd check ran
  type: dict
listening:
  description: Every listening socket, with C(endpoint), C(proto), C(address), C(port), C(uid) and C(allowed).
  returned: when the ports check ran
  type: list
  elements: dict
failed_logins:
  description:
    - sshd failures, C(total), C(failed_password), C(invalid_user), C(before_since), C(top_sources) and C(top_users);
      null when no auth log was found.
    - C(top_users) counts failed passwords of existing accounts only. Names of invalid users are never returned,
      since now and then one is a password typed at the user name prompt.
  returned: when the auth_log check ran
  type: dict
http_auth_failures:
  description: C(total), C(401), C(403), C(requests) and C(top_clients) of the access logs.
  returned: when the access_log check ran
  type: dict
baseline:
  description:
    - C(baseline_file), C(files) now, C(taken) (time of the baseline compared with), C(written), and the numbers
      C(added), C(changed) and C(removed).
  returned: when the integrity check ran
  type: dict
security_updates:
  description: C(manager) and C(packages) (C(name), C(candidate), origins or advisory), or C(manager) null and a C(note).
  returned: when the updates check ran
  type: dict
checks_run:
  description: The checks that ran.
  returned: always
  type: list
  elements: str
'''

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.audit import run_audit
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import AuditError
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.options import (
    argument_spec, check_options)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import exit_with_status


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not sys.platform.startswith('linux'):
        module.fail_json(msg='security_audit reads /proc and supports Linux only; this host is %s' % sys.platform)

    def run_command(argv, env):
        return module.run_command(argv, environ_update=env)

    try:
        result = run_audit(check_options(module.params), module.check_mode, run_command)
    except AuditError as exc:
        module.fail_json(msg='%s' % exc)
    unreadable = [problem for problem in result['problems'] if problem['check'] == 'files']
    if unreadable:
        module.warn('security_audit: %d paths could not be audited, for example %s: %s'
                    % (len(unreadable), unreadable[0]['path'], unreadable[0]['problem']))
    if not module._diff:
        result.pop('diff', None)
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
