# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File permission findings from one walk of each root: world-writable paths, setuid and
setgid files, and secrets files others may read (with the optional fix)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import stat

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import finding, octal
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.walk import (
    FILE_FLAGS, ChangeError, chmod_entry, walk)

DEFAULT_SECRET_PATTERNS = ('.env', '.env.*', '*.pem', '*.key', 'id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519',
                           '*.p12', '*.pfx', 'credentials*', '.pgpass', '.my.cnf', '.netrc')
# Templates, public keys, and source code named after what it handles (credentials.py).
DEFAULT_SECRET_EXCLUDES = ('*.example', '*.sample', '*.dist', '*.template', '*.pub', '*.py', '*.pyc', '*.js',
                           '*.ts', '*.rb', '*.go', '*.java', '*.class', '*.php', '*.md', '*.html')
# Files with these endings hold a secret only when they hold a private key: certificates
# (fullchain.pem, ca.crt) are public.
PEM_SUFFIXES = ('.pem', '.crt', '.cer')
PEM_SCAN_BYTES = 1 << 20

# Setuid and setgid programs a Debian, Ubuntu or RHEL family host ships.
DEFAULT_SUID_ALLOWLIST = (
    '/usr/bin/passwd', '/usr/bin/chfn', '/usr/bin/chsh', '/usr/bin/gpasswd', '/usr/bin/newgrp', '/usr/bin/su',
    '/usr/bin/sudo', '/usr/bin/mount', '/usr/bin/umount', '/usr/bin/pkexec', '/usr/bin/crontab',
    '/usr/bin/chage', '/usr/bin/expiry', '/usr/bin/wall', '/usr/bin/write', '/usr/bin/write.ul', '/usr/bin/at',
    '/usr/bin/ssh-agent', '/usr/bin/fusermount', '/usr/bin/fusermount3', '/usr/bin/newuidmap',
    '/usr/bin/newgidmap', '/usr/bin/dotlockfile', '/usr/bin/bsd-write', '/usr/bin/locate', '/usr/bin/plocate',
    '/usr/sbin/unix_chkpwd', '/usr/sbin/pam_timestamp_check', '/usr/sbin/pam-tmpdir-helper',
    '/usr/lib/openssh/ssh-keysign', '/usr/libexec/openssh/ssh-keysign',
    '/usr/lib/dbus-1.0/dbus-daemon-launch-helper', '/usr/libexec/dbus-daemon-launch-helper',
    '/usr/lib/polkit-1/polkit-agent-helper-1', '/usr/libexec/polkit-agent-helper-1',
    '/usr/lib/x86_64-linux-gnu/utempter/utempter', '/usr/libexec/utempter/utempter',
    '/usr/sbin/mount.nfs', '/usr/sbin/mount.cifs', '/usr/lib/eject/dmcrypt-get-device',
    '/usr/lib/mysql/plugin/auth_pam_tool_dir/auth_pam_tool',
)


def matches(patterns, name, rel):
    """Whether a file matches one of ``patterns``: a pattern with a slash is matched against
    the end of the path below the root (config/private/* matches app/config/private/x), any
    other against the file name."""
    for pattern in patterns:
        if '/' not in pattern:
            if fnmatch.fnmatchcase(name, pattern):
                return True
        elif fnmatch.fnmatchcase(rel, pattern.lstrip('/')) or fnmatch.fnmatchcase(rel, '*/' + pattern.lstrip('/')):
            return True
    return False


def _holds_private_key(path, entry):
    """Whether a PEM-like file holds a private key; True when it cannot be read (assume the worst)."""
    try:
        fd = os.open(path, FILE_FLAGS)
    except OSError:
        return True
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (entry.st.st_dev, entry.st.st_ino):
            return True
        data = os.read(fd, PEM_SCAN_BYTES)
    except OSError:
        return True
    finally:
        os.close(fd)
    return b'PRIVATE KEY' in data


class FileAudit(object):
    """Findings of the file checks over the roots; ``fix`` clears the bits of secrets files
    beyond ``secret_mode`` (not in check mode, where it reports what it would do)."""

    def __init__(self, opts, check_mode):
        self.opts = opts
        self.check_mode = check_mode
        self.findings = dict((kind, []) for kind in ('world_writable', 'sticky_world_writable', 'suid_sgid',
                                                     'secret_permissions'))
        self.fixed = []
        self.fix_errors = []
        self.problems = []
        self.entries = 0

    def run(self):
        for root in self.opts.paths:
            for entry in walk(root, self.problems, self.opts.one_filesystem, self.opts.exclude_paths):
                self.entries += 1
                self._look(entry)
        return self

    def _look(self, entry):
        checks = self.opts.checks
        if entry.is_link:
            return
        mode = entry.mode
        if 'world_writable' in checks and mode & stat.S_IWOTH and (entry.is_file or entry.is_dir):
            self._world_writable(entry, mode)
        if not entry.is_file:
            return
        if 'suid_sgid' in checks and mode & (stat.S_ISUID | stat.S_ISGID):
            self._suid(entry, mode)
        if 'secrets' in checks and mode & 0o777 & ~self.opts.secret_mode:
            self._secret(entry, mode)

    def _world_writable(self, entry, mode):
        if entry.is_dir and mode & stat.S_ISVTX:
            self.findings['sticky_world_writable'].append(finding(
                'sticky_world_writable',
                'directory mode %s: world-writable with the sticky bit, a shared directory like /tmp '
                '(only owners may delete or rename their files in it)' % octal(mode),
                'chmod o-w %s unless it is meant to be shared by every user' % entry.path,
                path=entry.path, mode=octal(mode), uid=entry.st.st_uid))
            return
        if entry.is_dir:
            detail = ('directory mode %s: world-writable without the sticky bit, anyone may create, delete or '
                      'replace files in it' % octal(mode))
            fix = 'chmod o-w %s (or chmod +t if every user must write there)' % entry.path
        else:
            detail = 'file mode %s: world-writable, anyone may change it' % octal(mode)
            fix = 'chmod o-w %s' % entry.path
        self.findings['world_writable'].append(finding(
            'world_writable', detail, fix, path=entry.path, mode=octal(mode), uid=entry.st.st_uid,
            type='directory' if entry.is_dir else 'file'))

    def _suid(self, entry, mode):
        if matches(self.opts.suid_allowlist, entry.path, entry.path):
            return
        bits = ' and '.join(name for bit, name in ((stat.S_ISUID, 'setuid'), (stat.S_ISGID, 'setgid')) if mode & bit)
        self.findings['suid_sgid'].append(finding(
            'suid_sgid',
            '%s file mode %s, owner uid %d, group gid %d, not in suid_allowlist: it runs with its %s rights'
            % (bits, octal(mode), entry.st.st_uid, entry.st.st_gid,
               'owner\'s' if mode & stat.S_ISUID else 'group\'s'),
            'chmod u-s,g-s %s if it need not run with those rights; otherwise add it to suid_allowlist' % entry.path,
            path=entry.path, mode=octal(mode), uid=entry.st.st_uid, gid=entry.st.st_gid))

    def _secret(self, entry, mode):
        opts = self.opts
        if not matches(opts.secret_patterns, entry.name, entry.rel) or matches(opts.secret_excludes, entry.name, entry.rel):
            return
        if entry.name.lower().endswith(PEM_SUFFIXES) and not _holds_private_key(entry.path, entry):
            return
        wanted = (mode & 0o7000) | (mode & 0o777 & opts.secret_mode)
        who = ' and '.join(name for bits, name in ((0o070, 'group'), (0o007, 'others'))
                           if mode & bits & ~opts.secret_mode)
        item = finding(
            'secret_permissions',
            'mode %s lets %s %s a secrets file; secret_mode allows at most %s'
            % (octal(mode), who, _access(mode & 0o077 & ~opts.secret_mode), octal(opts.secret_mode)),
            'chmod %s %s (fix: true does it)' % (octal(wanted), entry.path),
            path=entry.path, mode=octal(mode), wanted_mode=octal(wanted), uid=entry.st.st_uid,
            fixed=False)
        if opts.fix:
            self._fix(entry, item, mode, wanted & 0o777)
        self.findings['secret_permissions'].append(item)

    def _fix(self, entry, item, mode, wanted):
        change = {'path': entry.path, 'mode_before': octal(mode), 'mode_after': octal((mode & 0o7000) | wanted)}
        if not self.check_mode:
            try:
                chmod_entry(entry, wanted)
            except ChangeError as exc:
                item['fix_error'] = '%s' % exc
                self.fix_errors.append({'path': entry.path, 'error': '%s' % exc})
                return
        item['fixed'] = not self.check_mode
        self.fixed.append(change)


def _access(bits):
    words = []
    if bits & 0o044:
        words.append('read')
    if bits & 0o022:
        words.append('write')
    if bits & 0o011:
        words.append('execute')
    return '/'.join(words) or 'use'
