# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sshd_config read as sshd reads it, and compared with a policy.

- Keywords are case-insensitive; ``Keyword value`` and ``Keyword=value`` both work; a value
  may be in double quotes; a line starting with ``#`` is a comment.
- The first value of a keyword wins: later lines for the same keyword are ignored.
- ``Include`` takes globs (a relative one is relative to the directory of the main file, which
  for /etc/ssh/sshd_config is /etc/ssh as sshd has it), read in sorted order at the place of the
  Include line, up to 16 levels deep.
- ``Match`` starts a block that lasts until the next Match line or the end of the file it is in;
  its lines apply to the matching connections only, so they are reported apart from the
  global values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import os
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import finding

MAX_DEPTH = 16
_LINE = re.compile(r'^\s*([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*?)\s*$')

# What OpenSSH 9 uses when a keyword is not set (lower-case keyword: value).
DEFAULTS = {
    'permitrootlogin': 'prohibit-password',
    'passwordauthentication': 'yes',
    'permitemptypasswords': 'no',
    'pubkeyauthentication': 'yes',
    'kbdinteractiveauthentication': 'yes',
    'challengeresponseauthentication': 'yes',
    'x11forwarding': 'no',
    'allowtcpforwarding': 'yes',
    'allowagentforwarding': 'yes',
    'maxauthtries': '6',
    'logingracetime': '120',
    'usepam': 'no',
    'permituserenvironment': 'no',
    'gatewayports': 'no',
    'loglevel': 'info',
    'port': '22',
}

DEFAULT_POLICY = {
    'PermitRootLogin': ['no', 'prohibit-password', 'without-password'],
    'PasswordAuthentication': ['no'],
}


class SshdConfigError(Exception):
    """The main sshd_config cannot be read (the text says why and what to do)."""

    def __init__(self, text, missing=False):
        super(SshdConfigError, self).__init__(text)
        self.missing = missing


class Setting(object):
    __slots__ = ('keyword', 'name', 'value', 'path', 'line', 'match')

    def __init__(self, keyword, name, value, path, line, match):
        self.keyword = keyword      # lower case
        self.name = name            # as written
        self.value = value          # first argument, unquoted
        self.path = path
        self.line = line
        self.match = match          # the Match line's criteria, or None for a global setting

    @property
    def where(self):
        return '%s line %d' % (self.path, self.line)


def _first_argument(text):
    text = text.strip()
    if text.startswith('"'):
        end = text.find('"', 1)
        return text[1:end] if end > 0 else text[1:]
    return text.split(None, 1)[0] if text else ''


def _arguments(text):
    args = []
    for match in re.finditer(r'"([^"]*)"|(\S+)', text):
        if match.group(2) is not None and match.group(2).startswith('#'):
            break
        args.append(match.group(1) if match.group(1) is not None else match.group(2))
    return args


class SshdConfig(object):
    """Every setting of a main file and its includes, in the order sshd reads them."""

    def __init__(self, path):
        self.path = path
        self.base = os.path.dirname(os.path.abspath(path))
        self.settings = []
        self.files = []
        self.problems = []

    def load(self):
        try:
            with open(self.path) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            if exc.errno == errno.EACCES:
                raise SshdConfigError('cannot read %s: permission denied; run the task with become: true' % self.path)
            raise SshdConfigError('cannot read %s: %s' % (self.path, exc.strerror), missing=exc.errno == errno.ENOENT)
        self.parse(text, self.path, None, 0)
        return self

    def parse(self, text, path, match, depth):
        """Read ``text`` (the content of ``path``) with ``match`` the block it starts in."""
        self.files.append(path)
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            found = _LINE.match(line)
            if not found:
                self.problems.append(('%s line %d' % (path, number), 'not a keyword and value: %r' % line[:80]))
                continue
            name, rest = found.group(1), found.group(2)
            keyword = name.lower()
            if keyword == 'match':
                criteria = ' '.join(_arguments(rest))
                match = None if criteria.lower() == 'all' else criteria
                continue
            if keyword == 'include':
                self._include(_arguments(rest), path, number, match, depth)
                continue
            self.settings.append(Setting(keyword, name, _first_argument(rest), path, number, match))

    def _include(self, patterns, path, number, match, depth):
        if depth + 1 >= MAX_DEPTH:
            self.problems.append(('%s line %d' % (path, number), 'Include nested more than %d deep: not read'
                                  % MAX_DEPTH))
            return
        for pattern in patterns:
            if not os.path.isabs(pattern):
                pattern = os.path.join(self.base, pattern)
            for name in sorted(glob.glob(pattern)):
                try:
                    with open(name) as handle:
                        text = handle.read()
                except (IOError, OSError) as exc:
                    self.problems.append((name, 'cannot read the included file: %s' % exc.strerror))
                    continue
                # A Match block in an included file ends with that file.
                self.parse(text, name, match, depth + 1)

    def effective(self, keyword):
        """The global setting sshd uses for ``keyword`` (the first one), or None when unset."""
        keyword = keyword.lower()
        for setting in self.settings:
            if setting.keyword == keyword and setting.match is None:
                return setting
        return None

    def overrides(self, keyword):
        """The first setting of ``keyword`` in each Match block."""
        keyword = keyword.lower()
        seen = set()
        found = []
        for setting in self.settings:
            if setting.keyword == keyword and setting.match is not None and (setting.path, setting.match) not in seen:
                seen.add((setting.path, setting.match))
                found.append(setting)
        return found


def audit_sshd(config, policy):
    """(findings, effective settings) for ``policy``, {keyword: [allowed values]}."""
    findings = []
    settings = {}
    for name, allowed in sorted(policy.items()):
        allowed_lower = [('%s' % value).lower() for value in allowed]
        keyword = name.lower()
        setting = config.effective(keyword)
        if setting is None:
            value = DEFAULTS.get(keyword)
            settings[name] = {'value': value, 'source': 'sshd default' if value is not None else None}
            if value is None:
                findings.append(finding(
                    'sshd', '%s is not set in %s and its default is not known to the audit' % (name, config.path),
                    'set %s %s in %s, before any Include line' % (name, allowed[0], config.path),
                    value='%s (not set)' % name, keyword=name, allowed=allowed))
            elif value not in allowed_lower:
                findings.append(finding(
                    'sshd', '%s is not set, so sshd uses its default %s; the policy allows %s'
                    % (name, value, ', '.join(allowed)),
                    'set %s %s in %s, before any Include line' % (name, allowed[0], config.path),
                    value='%s %s' % (name, value), keyword=name, allowed=allowed, source='sshd default'))
        else:
            settings[name] = {'value': setting.value, 'source': setting.where}
            if setting.value.lower() not in allowed_lower:
                findings.append(finding(
                    'sshd', '%s is %s (%s, the first value sshd reads); the policy allows %s'
                    % (name, setting.value, setting.where, ', '.join(allowed)),
                    'change %s to %s; setting it again later in the file has no effect, the first value wins'
                    % (setting.where, '%s %s' % (setting.name, allowed[0])),
                    value='%s %s' % (name, setting.value), keyword=name, allowed=allowed, source=setting.where))
        for override in config.overrides(keyword):
            if override.value.lower() not in allowed_lower:
                findings.append(finding(
                    'sshd', '%s is %s for connections matching "Match %s" (%s); the policy allows %s'
                    % (name, override.value, override.match, override.where, ', '.join(allowed)),
                    'change %s to %s %s, or remove it from the Match block'
                    % (override.where, override.name, allowed[0]),
                    value='%s %s' % (name, override.value), keyword=name, allowed=allowed, source=override.where,
                    match=override.match))
    return findings, settings
