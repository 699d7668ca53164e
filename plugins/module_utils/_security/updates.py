# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pending security updates: apt simulates an upgrade (``apt-get -s upgrade``) and the
packages whose new version comes from a ``*-security`` suite are counted; dnf lists
``updateinfo --security``. Nothing is installed and the package lists are not refreshed:
the answer is as fresh as the host's last ``apt-get update`` or dnf metadata refresh."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

# Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
_APT_INST = re.compile(r'^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^\[]*?)\s*\[[^\]]*\]\)')
# FEDORA-2024-1a2b3c Important/Sec. openssl-libs-1:3.1.4-2.fc39.x86_64
_DNF_LINE = re.compile(r'^\S+\s+\S*Sec\.?\s+(\S+)$')
_NEVRA = re.compile(r'^(.+)-(?:\d+:)?[^-]+-[^-]+\.[^.]+$')
ENV = {'LANG': 'C', 'LC_ALL': 'C', 'LANGUAGE': 'C'}
PATH_DIRS = ('/usr/bin', '/bin', '/usr/sbin', '/sbin')


def parse_apt_simulation(text):
    """[{name, installed, candidate, origins}] of the security upgrades in apt-get -s output."""
    packages = []
    for line in text.splitlines():
        found = _APT_INST.match(line)
        if not found:
            continue
        origins = [origin.strip() for origin in found.group(4).split(',') if origin.strip()]
        if not any('-security' in origin for origin in origins):
            continue
        packages.append({'name': found.group(1), 'installed': found.group(2), 'candidate': found.group(3),
                         'origins': origins})
    return packages


def parse_dnf_security(text):
    """[{name, candidate, advisory, severity}] from dnf updateinfo list --security output."""
    packages = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3 or not _DNF_LINE.match(line.strip()):
            continue
        nevra = fields[2]
        name_match = _NEVRA.match(nevra)
        name = name_match.group(1) if name_match else nevra
        if name not in packages:
            packages[name] = {'name': name, 'candidate': nevra, 'advisory': fields[0],
                              'severity': fields[1].split('/')[0]}
    return [packages[name] for name in sorted(packages)]


def _find(program):
    for directory in PATH_DIRS:
        path = os.path.join(directory, program)
        if os.access(path, os.X_OK):
            return path
    return None


def pending_security_updates(run_command, manager='auto'):
    """{'manager', 'packages'} or {'manager': None, 'note'}; ``run_command(argv, env)`` returns
    (rc, stdout, stderr), as AnsibleModule.run_command does."""
    notes = []
    for name in (('apt', 'dnf') if manager == 'auto' else (manager,)):
        if name == 'apt':
            program = _find('apt-get')
            if program is None:
                notes.append('apt-get not found')
                continue
            rc, out, err = run_command([program, '-s', '-q', '-o', 'Debug::NoLocking=1', 'upgrade'], ENV)
            if rc != 0:
                notes.append('apt-get -s upgrade failed (rc %d): %s' % (rc, (err or out).strip()[-300:]))
                continue
            return {'manager': 'apt', 'packages': parse_apt_simulation(out)}
        program = _find('dnf') or _find('yum')
        if program is None:
            notes.append('dnf not found')
            continue
        rc, out, err = run_command([program, '-q', '-C', 'updateinfo', 'list', '--security', '--available'], ENV)
        if rc != 0:
            notes.append('%s updateinfo failed (rc %d): %s' % (os.path.basename(program), rc,
                                                               (err or out).strip()[-300:]))
            continue
        return {'manager': os.path.basename(program), 'packages': parse_dnf_security(out)}
    return {'manager': None, 'note': '; '.join(notes) or 'no package manager answered'}
