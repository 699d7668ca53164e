# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""security_audit: run the checks asked for and turn their findings into the collection's
result, one check item per finding kind, its value the number of findings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._security import (
    accounts, files, integrity, logins, ports, sshd, updates)
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import (
    CHECKS, UNITS, finding)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    OK, UNKNOWN, check_item, measured_item, summarize)

SHOWN = 3
NEEDS = {'access_log': 'access_log_paths', 'integrity': 'integrity_paths'}
LOGIN_FIXES = {
    'failed_logins': 'block the top sources (fail2ban, a firewall), keep PasswordAuthentication no, and check '
                     'that no account has a weak password',
    'http_auth_failures': 'look at the top clients: one collecting 401s is guessing credentials; rate-limit or '
                          'block it at the proxy',
}


def _label(item):
    return item.get('path') or item.get('value')


class Audit(object):
    def __init__(self, opts, check_mode=False, run_command=None, now=None):
        self.opts = opts
        self.check_mode = check_mode
        self.run_command = run_command
        self.now = now
        self.items = []
        self.findings = []
        self.problems = []
        self.result = {}
        self.changed = False
        self.diff = []

    # --- items -----------------------------------------------------------------------------

    def measured(self, kind, found, check, detail=None, value=None, **extra):
        self.findings.extend(found)
        count = len(found) if value is None else value
        if detail is None:
            labels = [_label(item) for item in found[:SHOWN]]
            detail = '%d %s' % (count, UNITS[kind])
            if labels:
                detail += ': ' + ', '.join('%s' % label for label in labels)
                if len(found) > SHOWN:
                    detail += ' and %d more' % (len(found) - SHOWN)
        self.items.append(measured_item(kind, count, self.opts.thresholds[kind], unit=UNITS[kind], detail=detail,
                                        check=check, **extra))

    def skipped(self, kind, check, why):
        self.items.append(check_item(kind, OK, unit=UNITS[kind], threshold=self.opts.thresholds[kind],
                                     detail='not checked: %s' % why, check=check, skipped=True))

    def unknown(self, kind, check, why):
        self.items.append(check_item(kind, UNKNOWN, unit=UNITS[kind], threshold=self.opts.thresholds[kind],
                                     detail=why, check=check))

    def problem(self, check, path, text):
        self.problems.append({'check': check, 'path': path, 'problem': text})

    # --- checks ----------------------------------------------------------------------------

    def run(self):
        opts = self.opts
        if set(opts.checks) & set(('world_writable', 'suid_sgid', 'secrets')):
            self.check_files()
        for name, kinds in CHECKS:
            if name in opts.checks and name not in ('world_writable', 'suid_sgid', 'secrets'):
                getattr(self, 'check_' + name)()
            elif name in opts.not_given:
                for kind in kinds:
                    self.skipped(kind, name, '%s is empty' % NEEDS.get(name, 'paths'))
        return self.finish()

    def check_files(self):
        opts = self.opts
        audit = files.FileAudit(opts, self.check_mode).run()
        for name, kinds in CHECKS[:3]:
            if name not in opts.checks:
                continue
            for kind in kinds:
                found = audit.findings[kind]
                if kind == 'secret_permissions':
                    self._secrets_item(audit, found)
                else:
                    self.measured(kind, found, name)
        unreadable = [finding('unreadable', text, 'run the task with become: true, or list the path in exclude_paths',
                              path=path) for path, text in audit.problems]
        for path, text in audit.problems:
            self.problem('files', path, text)
        detail = '%d paths could not be audited' % len(unreadable)
        if unreadable:
            detail += ': ' + ', '.join(item['path'] for item in unreadable[:SHOWN])
        self.measured('unreadable', unreadable, 'files', detail=detail, entries=audit.entries)
        self.result['entries'] = audit.entries

    def _secrets_item(self, audit, found):
        fixed = audit.fixed
        left = len(found) - (0 if self.check_mode else len(fixed))
        detail = None
        if self.opts.fix and fixed:
            detail = '%d secrets files readable beyond secret_mode: %s; %s %d%s' % (
                len(found), ', '.join(item['path'] for item in found[:SHOWN]),
                'would fix' if self.check_mode else 'fixed', len(fixed),
                ', %d could not be fixed' % len(audit.fix_errors) if audit.fix_errors else '')
        self.measured('secret_permissions', found, 'secrets', detail=detail, value=left,
                      fixed=len(fixed) if not self.check_mode else 0,
                      would_fix=len(fixed) if self.check_mode else 0)
        self.result['fixed'] = fixed
        self.result['fix_errors'] = audit.fix_errors
        if fixed:
            self.changed = True
            self.diff.append({
                'before_header': 'modes of secrets files', 'after_header': 'modes of secrets files',
                'before': ''.join('%s %s\n' % (item['path'], item['mode_before']) for item in fixed),
                'after': ''.join('%s %s\n' % (item['path'], item['mode_after']) for item in fixed)})

    def check_accounts(self):
        path = self.opts.passwd_file
        try:
            with open(path) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            for kind in ('login_shell', 'uid0'):
                self.unknown(kind, 'accounts', 'cannot read passwd_file %s: %s' % (path, exc.strerror))
            return
        found = accounts.audit_accounts(text, path, self.opts.allowed_login_accounts)
        for where, text in found['problems']:
            self.problem('accounts', where, text)
        self.measured('login_shell', found['login_shell'], 'accounts', accounts=found['accounts'])
        self.measured('uid0', found['uid0'], 'accounts', accounts=found['accounts'])

    def check_sshd(self):
        path = self.opts.sshd_config
        try:
            config = sshd.SshdConfig(path).load()
        except sshd.SshdConfigError as exc:
            if exc.missing:
                self.skipped('sshd', 'sshd', '%s does not exist (no OpenSSH server here?); set sshd_config to its '
                                             'path if it lives elsewhere' % path)
                self.result['sshd'] = None
                return
            self.unknown('sshd', 'sshd', '%s' % exc)
            return
        for where, text in config.problems:
            self.problem('sshd', where, text)
        found, settings = sshd.audit_sshd(config, self.opts.sshd_policy)
        self.result['sshd'] = {'files': config.files, 'settings': settings}
        self.measured('sshd', found, 'sshd', files=config.files)

    def check_ports(self):
        sockets, problems = ports.read_sockets()
        for path, text in problems:
            self.problem('ports', path, text)
        if problems and not sockets:
            self.unknown('listening_port', 'ports', 'cannot read /proc/net: %s' % problems[0][1])
            return
        found, listening = ports.audit_ports(sockets, self.opts.port_rules, self.opts.allow_loopback)
        self.result['listening'] = listening
        self.measured('listening_port', found, 'ports', listening=len(listening))

    def check_auth_log(self):
        figures, read, problems = logins.count_auth_failures(self.opts.auth_log_paths, self.opts.since, self.now)
        for path, text in problems:
            self.problem('auth_log', path, text)
        self.result['failed_logins'] = figures
        if figures is None:
            self.skipped('failed_logins', 'auth_log', 'neither %s exists (sshd may log to the journal only); set '
                                                      'auth_log_paths' % ' nor '.join(logins.DEFAULT_AUTH_LOGS))
            return
        if problems and not read:
            self.unknown('failed_logins', 'auth_log', '%s: %s' % problems[0])
            return
        self._login_item('failed_logins', 'auth_log', figures, read, problems,
                         '%d sshd failures in %d files (%d failed passwords, %d invalid users)%s'
                         % (figures['total'], len(read), figures['failed_password'], figures['invalid_user'],
                            _top(figures['top_sources'], 'source')))

    def check_access_log(self):
        figures, read, problems = logins.count_http_auth_failures(self.opts.access_log_paths, self.opts.since)
        for path, text in problems:
            self.problem('access_log', path, text)
        self.result['http_auth_failures'] = figures
        if problems and not read:
            self.unknown('http_auth_failures', 'access_log', '%s: %s' % problems[0])
            return
        self._login_item('http_auth_failures', 'access_log', figures, read, problems,
                         '%d of %d requests answered 401 (%d) or 403 (%d) in %d files%s'
                         % (figures['total'], figures['requests'], figures['401'], figures['403'], len(read),
                            _top(figures['top_clients'], 'client')))

    def _login_item(self, kind, check, figures, read, problems, detail):
        if problems:
            detail += '; %d files could not be read' % len(problems)
        item_findings = []
        status = self.opts.thresholds[kind].evaluate(figures['total'])
        if status != OK:
            item_findings.append(finding(kind, detail, LOGIN_FIXES[kind], value=figures['total']))
        self.measured(kind, item_findings, check, detail=detail, value=figures['total'], files=read)

    def check_integrity(self):
        opts = self.opts
        baseline = integrity.load_baseline(opts.baseline_file)
        problems = []
        state = integrity.current_state(opts.integrity_paths, opts.baseline_file, problems, opts.one_filesystem,
                                        opts.exclude_paths)
        for path, text in problems:
            self.problem('integrity', path, text)
        info = {'baseline_file': opts.baseline_file, 'files': len(state), 'taken': None, 'written': False,
                'added': 0, 'changed': 0, 'removed': 0}
        self.result['baseline'] = info
        if baseline is None:
            found = []
            detail = 'no baseline in %s yet (%d files now)%s' % (
                opts.baseline_file, len(state), '' if opts.update_baseline else '; run with update_baseline: true')
        else:
            info['taken'] = baseline.get('taken')
            added, changed, removed = integrity.compare(baseline['files'], state)
            info.update(added=len(added), changed=len(changed), removed=len(removed))
            found = added + changed + removed
            detail = '%d added, %d changed, %d removed of %d files since the baseline of %s%s' % (
                len(added), len(changed), len(removed), len(state), baseline.get('taken'),
                ''.join(': ' + ', '.join(item['path'] for item in found[:SHOWN]) if found else ''))
        if problems:
            detail += '; %d paths could not be read (see problems)' % len(problems)
        if opts.update_baseline and (baseline is None or baseline['files'] != state
                                     or baseline.get('paths') != opts.integrity_paths):
            if not self.check_mode:
                integrity.save_baseline(opts.baseline_file, opts.integrity_paths, state)
            info['written'] = not self.check_mode
            self.changed = True
            detail += '; baseline %s with %d files' % ('would be written' if self.check_mode else 'written', len(state))
            self.diff.append(_baseline_diff(opts.baseline_file, baseline, state))
        if baseline is None and not opts.update_baseline:
            self.findings.append(finding('integrity', detail, 'run with update_baseline: true to take the baseline',
                                         path=opts.baseline_file, change='no_baseline'))
            self.items.append(check_item('integrity', 'warning', unit=UNITS['integrity'],
                                         threshold=opts.thresholds['integrity'], detail=detail, check='integrity'))
            return
        if info['written']:
            # The changes are accepted into the new baseline: listed for the record, none left.
            for item in found:
                item['accepted'] = True
            self.measured('integrity', found, 'integrity', detail=detail, value=0, accepted=len(found))
            return
        self.measured('integrity', found, 'integrity', detail=detail)

    def check_updates(self):
        pending = updates.pending_security_updates(self.run_command, self.opts.package_manager)
        self.result['security_updates'] = pending
        if pending['manager'] is None:
            self.unknown('security_updates', 'updates', 'no package manager answered: %s; leave updates out of '
                                                        'checks on hosts without apt or dnf' % pending['note'])
            return
        names = [package['name'] for package in pending['packages']]
        found = [finding('security_updates', 'security update %s available (%s)' % (
            package['candidate'], ', '.join(package.get('origins') or [package.get('advisory', '')])),
            'apt-get install --only-upgrade %s' % package['name'] if pending['manager'] == 'apt'
            else '%s upgrade --security %s' % (pending['manager'], package['name']),
            value=package['name']) for package in pending['packages']]
        self.measured('security_updates', found, 'updates', manager=pending['manager'],
                      detail='%d security updates pending (%s)%s' % (len(names), pending['manager'], ''.join(
                          ': ' + ', '.join(names[:10]) + (' and %d more' % (len(names) - 10) if len(names) > 10 else '')
                          if names else '')))

    # --- result ----------------------------------------------------------------------------

    def finish(self):
        result = summarize(self.items, what='security checks')
        extra = []
        skipped = [item['name'] for item in self.items if item.get('skipped')]
        if skipped and result['status'] == OK:
            extra.append('not checked: %s' % ', '.join(skipped))
        fixed = self.result.get('fixed') or []
        if fixed:
            extra.append('%s the mode of %d secrets files' % ('would fix' if self.check_mode else 'fixed', len(fixed)))
        baseline = self.result.get('baseline')
        if baseline and self.opts.update_baseline and self.changed and (baseline['written'] or self.check_mode):
            extra.append('%s the baseline' % ('would write' if self.check_mode else 'wrote'))
        if extra:
            result['msg'] += '; ' + '; '.join(extra)
        result.update(self.result)
        result.update(findings=self.findings, problems=self.problems, changed=self.changed,
                      checks_run=sorted(self.opts.checks))
        result.setdefault('fixed', [])
        if self.diff:
            result['diff'] = self.diff
        return result


def _top(entries, key):
    if not entries:
        return ''
    return '; top: ' + ', '.join('%s (%d)' % (entry[key], entry['count']) for entry in entries[:SHOWN])


def _baseline_diff(path, baseline, state):
    old = baseline['files'] if baseline else {}
    before = ''.join('%s %s\n' % (name, old[name].get('sha256') or old[name].get('target'))
                     for name in sorted(old) if state.get(name) != old[name])
    after = ''.join('%s %s\n' % (name, state[name].get('sha256') or state[name].get('target'))
                    for name in sorted(state) if old.get(name) != state[name])
    return {'before_header': path, 'after_header': path, 'before': before, 'after': after}


def run_audit(opts, check_mode=False, run_command=None, now=None):
    """The module's result; raises AuditError for a baseline that cannot be read or written."""
    return Audit(opts, check_mode, run_command, now).run()
