# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""health_report: one status per host from many check results, and when to alert.

The state file records two things: the host's current status (with when it began), and
what the team was last told (``alerted``). Alerts are decided by comparing the current
status with what was last told, so an alert whose webhook post failed is sent again on
the next run; ``acknowledge`` records an alert only after it was delivered.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import tempfile

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    OK, STATUSES, rank, summarize)

STATE_VERSION = 1


class ReportError(ValueError):
    """Bad input to health_report; the text names the option and the fix."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _parse_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def _format_time(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def collect_items(results, items):
    """Every item of the registered check results plus the extra items, validated."""
    collected = []
    for index, result in enumerate(results or []):
        if not isinstance(result, dict):
            raise ReportError('results[%d] must be a registered check result (a dict), got %r' % (index, result))
        if result.get('skipped') and 'checks' not in result:
            continue  # a check task that did not run (for example nothing configured)
        if 'checks' not in result:
            raise ReportError('results[%d] has no checks: register the result of a caretaker.maintenance '
                              'check module (db_check, http_check, ...)' % index)
        collected.extend(result['checks'])
    collected.extend(items or [])
    for index, item in enumerate(collected):
        if not isinstance(item, dict) or 'name' not in item or item.get('status') not in STATUSES:
            raise ReportError('item %d needs a name and a status (one of %s), got %r'
                              % (index, ', '.join(STATUSES), item))
    return collected


def _describe(item, with_status=True):
    text = '%s %s' % (item['name'], item['status']) if with_status else item['name']
    if item.get('detail'):
        text += ': %s' % item['detail']
    elif item.get('value') is not None:
        text += ': %s%s' % (item['value'], ' %s' % item['unit'] if item.get('unit') else '')
    return text


def load_state(path):
    if not path or not os.path.exists(path):
        return {}
    try:
        with open(path) as handle:
            state = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ReportError('state_file %s cannot be read (%s): fix its permissions, or remove it to start '
                          'afresh' % (path, exc))
    return state if isinstance(state, dict) else {}


def save_state(path, state):
    """Write atomically: a temp file in the same directory, fsync, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(prefix='.health-state-', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(state, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _duration(seconds):
    minutes = int(seconds // 60)
    if minutes < 60:
        return '%d min' % minutes
    if minutes < 48 * 60:
        return '%d h %d min' % (minutes // 60, minutes % 60)
    return '%d days' % (minutes // 1440)


def decide(host, current, failing, state, alert_on, remind_minutes, now):
    """Whether to alert now, and why: alert, changed, reminder, recovered, or None."""
    alerted = state.get('alerted') or {}
    told_status = alerted.get('status', OK)
    told_alerting = rank(told_status) >= rank(alert_on)
    alerting = rank(current) >= rank(alert_on)
    if alerting:
        if not told_alerting:
            return 'alert'
        if told_status != current or sorted(alerted.get('failing', [])) != sorted(failing):
            return 'changed'
        if remind_minutes and 'at' in alerted:
            if (now - _parse_time(alerted['at'])).total_seconds() >= remind_minutes * 60:
                return 'reminder'
        return None
    return 'recovered' if told_alerting else None


_TITLES = {'alert': '', 'changed': 'changed: ', 'reminder': 'still ', 'recovered': 'recovered: '}


def alert_text(host, reason, status, bad_items, since_seconds, previous):
    if reason == 'recovered':
        return '[RECOVERED] %s is %s again (was %s)' % (host, status, previous)
    head = '[%s] %s%s is %s' % (status.upper(), _TITLES[reason], host, status)
    if reason == 'reminder':
        head += ' for %s' % _duration(since_seconds)
    lines = [head + ': %d check%s not ok' % (len(bad_items), '' if len(bad_items) == 1 else 's')]
    lines.extend('- %s' % _describe(item) for item in bad_items[:10])
    if len(bad_items) > 10:
        lines.append('- and %d more' % (len(bad_items) - 10))
    return '\n'.join(lines)


def evaluate(host, results, items, state_file, alert_on, remind_minutes, now=None):
    """The combined report and the new state. Returns (report, new_state, old_state)."""
    now = now or utcnow()
    checks = collect_items(results, items)
    report = summarize(checks, what='checks of %s' % host)
    current = report['status']
    bad = [item for item in checks if item['status'] != OK]
    failing = sorted(item['name'] for item in bad)
    old = load_state(state_file)
    new = dict(old)
    new.update(version=STATE_VERSION, host=host)
    if old.get('status') != current or 'since' not in old:
        new['status'] = current
        new['since'] = _format_time(now)
    since_seconds = (now - _parse_time(new['since'])).total_seconds()
    reason = decide(host, current, failing, old, alert_on, remind_minutes, now)
    alert = {'send': reason is not None, 'reason': reason}
    if reason:
        previous = (old.get('alerted') or {}).get('status', OK)
        alert['text'] = alert_text(host, reason, current, bad, since_seconds, previous)
        alert['status'] = current
        alert['failing'] = failing
        alert['generic'] = {
            'host': host, 'status': current, 'reason': reason, 'previous_status': previous,
            'since': new['since'], 'time': _format_time(now), 'text': alert['text'],
            'failing': [dict((key, item.get(key)) for key in ('name', 'status', 'value', 'unit', 'detail'))
                        for item in bad],
        }
        alert['slack'] = {'text': alert['text']}
    report.update(host=host, alert=alert, since=new['since'],
                  lines=['%s is %s (%d checks)' % (host, current, len(checks))]
                  + ['%-8s %s' % (item['status'], _describe(item, with_status=False)) for item in checks])
    return report, new, old


def acknowledge(alert, state_file, now=None):
    """Record an alert as delivered. Returns (new_state, old_state)."""
    if not isinstance(alert, dict) or 'send' not in alert:
        raise ReportError('acknowledge takes the alert returned by health_report (register it and pass '
                          'result.alert)')
    old = load_state(state_file)
    new = dict(old)
    if alert['send']:
        new['alerted'] = {'status': alert['status'], 'failing': alert['failing'],
                          'at': _format_time(now or utcnow()), 'reason': alert['reason']}
    return new, old
