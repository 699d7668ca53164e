# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failed logins: sshd's "Failed password" and "Invalid user" lines of an auth log, and the
401 and 403 answers of access logs, counted by the collection's log scanner.

Files are found and read by the log scanner's reader (globs, plain, gzip or zstd), so
rotated logs such as auth.log.1 and auth.log.2.gz can be given too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
from collections import Counter

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_combined import CombinedScanner
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_read import (
    LineBlocks, ReadError, as_read_error, find_files)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_time import text_epoch

DEFAULT_AUTH_LOGS = ('/var/log/auth.log', '/var/log/secure')
TOP = 10

# "sshd[812]: Failed password for root from 203.0.113.9 port 52144 ssh2"
# "sshd[812]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2"
# "sshd[813]: Invalid user admin from 203.0.113.9 port 52150"
_AUTH = re.compile(
    br'sshd(?:-session)?\[\d+\]: (?:(Failed password) for (?:invalid user )?(\S*) from (\S+)'
    br'|(Invalid user) (\S*) from (\S+))')


class AuthCounts(object):
    """Counts of sshd failure lines, fed blocks of whole lines."""

    def __init__(self, since=None, now=None):
        self.since = since
        self.now = now
        self.failed_password = 0
        self.invalid_user = 0
        self.before_since = 0
        self.sources = Counter()
        self.users = Counter()

    def scan(self, block):
        if b'sshd' not in block:
            return
        for line in block.split(b'\n'):
            found = _AUTH.search(line)
            if not found:
                continue
            if self.since is not None:
                epoch = text_epoch(line[:48].decode('ascii', 'replace'), self.now)
                if epoch is not None and epoch < self.since:
                    self.before_since += 1
                    continue
            if found.group(1):
                self.failed_password += 1
                source = found.group(3)
                # Names of invalid users are never kept: now and then one is a password typed
                # into the user name prompt.
                if b'for invalid user ' not in line:
                    self.users[found.group(2).decode('utf-8', 'replace')] += 1
            else:
                self.invalid_user += 1
                source = found.group(6)
            self.sources[source.decode('utf-8', 'replace')] += 1

    @property
    def total(self):
        return self.failed_password + self.invalid_user

    def figures(self):
        return {
            'total': self.total,
            'failed_password': self.failed_password,
            'invalid_user': self.invalid_user,
            'before_since': self.before_since,
            'top_sources': [{'source': key, 'count': count} for key, count in self.sources.most_common(TOP)],
            'top_users': [{'user': key, 'count': count} for key, count in self.users.most_common(TOP)],
        }


def _scan_files(files, scanner, problems):
    read = []
    for log in files:
        try:
            log.load_head()
            stream = log.open()
        except ReadError as exc:
            problems.append((log.path, '%s' % exc))
            continue
        try:
            for block in LineBlocks(stream, 0, True, seekable=log.compression is None):
                scanner.scan(block)
            read.append(log.path)
        except Exception as exc:  # pylint: disable=broad-except
            error = as_read_error(log.path, exc)
            if error is None:
                raise
            problems.append((log.path, '%s' % error))
        finally:
            stream.close()
    return read


def count_auth_failures(paths, since=None, now=None):
    """(figures, files read, problems); ``paths`` None tries the usual auth logs and is
    skipped (figures None) when none exists."""
    if paths is None:
        present = [path for path in DEFAULT_AUTH_LOGS if os.path.exists(path)]
        if not present:
            return None, [], []
        paths = present
    files, problems = find_files(paths)
    scanner = AuthCounts(since=since, now=now)
    read = _scan_files(files, scanner, problems)
    return scanner.figures(), read, problems


def count_http_auth_failures(paths, since=None):
    """(figures, files read, problems) of the 401 and 403 answers in combined access logs."""
    files, problems = find_files(paths)
    scanner = CombinedScanner(top=TOP, since=since)
    read = _scan_files(files, scanner, problems)
    figures = scanner.figures()
    auth = figures['auth_failures']
    return {
        'total': auth['total'],
        '401': auth['401'],
        '403': auth['403'],
        'requests': figures['requests'],
        'top_clients': figures['top_auth_failure_clients'],
    }, read, problems
