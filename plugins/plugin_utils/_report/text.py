# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How report values read, shared by the Markdown and HTML renderers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


def human_bytes(size):
    """1536 -> '1.5 KiB'; None -> ''. Negative sizes keep their sign."""
    if size is None:
        return ''
    sign = '-' if size < 0 else ''
    size = abs(float(size))
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            return '%s%d %s' % (sign, size, unit) if unit == 'B' else '%s%.1f %s' % (sign, size, unit)
        size /= 1024
    return ''  # not reached


def number(value):
    """A measured value as text: floats to at most 2 decimals, dicts and lists as JSON."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return ('%.2f' % value).rstrip('0').rstrip('.') if value != int(value) else '%d' % value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def value_text(check):
    text = number(check.get('value'))
    if text and check.get('unit'):
        text += ' ' + str(check['unit'])
    return text


def threshold_text(threshold):
    """{'warning': 80, 'critical': 90, 'direction': 'above'} -> 'warn >= 80, crit >= 90'."""
    if not isinstance(threshold, dict):
        return number(threshold)
    sign = '<=' if threshold.get('direction') == 'below' else '>='
    parts = []
    for key, word in (('warning', 'warn'), ('critical', 'crit')):
        if threshold.get(key) is not None:
            parts.append('%s %s %s' % (word, sign, number(threshold[key])))
    return ', '.join(parts)


def seconds(value):
    if value is None:
        return ''
    return '%.1f s' % value


def where(row):
    """Task name, with the loop item when there is one."""
    if row.get('item'):
        return '%s [%s]' % (row.get('task') or '', row['item'])
    return row.get('task') or ''


def stats_line(stats):
    if not stats:
        return ''
    return 'ok=%(ok)d changed=%(changed)d failed=%(failures)d unreachable=%(unreachable)d skipped=%(skipped)d ' \
           'rescued=%(rescued)d ignored=%(ignored)d' % stats


def plural(count, word):
    """'1 backup', '2 backups'."""
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def headline(report):
    """One line: the run's hosts by state, and the failed tasks."""
    totals = report['totals']
    by_count = sorted(totals['states'].items(), key=lambda kv: -kv[1])
    states = ', '.join('%d %s' % (count, state) for state, count in by_count)
    text = plural(totals['hosts'], 'host')
    if states:
        text += ': ' + states
    if totals['failed_tasks']:
        text += '; ' + plural(totals['failed_tasks'], 'failed task')
    if report.get('check_mode'):
        text += ' (check mode)'
    return text


def verified_text(value):
    return {None: 'not verified', 'ok': 'ok'}.get(value, str(value))
