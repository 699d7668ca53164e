# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report as Markdown (GitHub tables), for a ticket, a chat message or a wiki."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import sections as s
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import text as t

# Underscores stay: GitHub does not emphasise inside words, and names and paths read better.
_SPECIAL = re.compile(r'([\\`*\[\]<>|])')


def cell(value):
    """Text safe in a table cell: one line, Markdown and HTML characters escaped."""
    value = ' '.join(str(value).split())
    return _SPECIAL.sub(r'\\\1', value)


def table(columns, rows):
    lines = ['| ' + ' | '.join(cell(c) for c in columns) + ' |', '|' + '---|' * len(columns)]
    for row in rows:
        lines.append('| ' + ' | '.join(cell(c) for c in row) + ' |')
    return lines


def render(report, trend=None):
    lines = ['# Run report: %s' % cell(report['playbook']), '']
    lines.append('**%s**' % cell(t.headline(report)))
    lines.append('')
    lines.append('- Started: %s' % report['started'])
    lines.append('- Finished: %s (%s)' % (report['finished'], t.seconds(report.get('duration_seconds'))))
    lines.append('- Status: %s' % (report['status'] or 'no checks'))
    if report['check_mode']:
        lines.append('- Check mode: nothing was changed; figures are what would be done')
    if report['totals'].get('censored'):
        lines.append('- Results hidden by no_log: %d' % report['totals']['censored'])
    lines.append('')
    for section in s.build(report, trend):
        lines.append('%s %s' % ('#' * section['level'], cell(section['title'])))
        lines.append('')
        if section['note']:
            lines.append(cell(section['note']))
            lines.append('')
        if section['columns'] and section['rows']:
            lines.extend(table(section['columns'], section['rows']))
            lines.append('')
    return '\n'.join(lines).rstrip() + '\n'
