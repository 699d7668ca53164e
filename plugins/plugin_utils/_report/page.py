# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report as one self-contained HTML page: inline CSS and SVG, no script, no
external file, so it opens from a mail attachment or an AWX artifact as it is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from html import escape

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import sections as s
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import text as t
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.chart import size_chart

STYLE = '''
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}p.note{color:#555;margin:4px 0 8px}
table{border-collapse:collapse;margin:4px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td{overflow-wrap:break-word;max-width:520px}td.nw{white-space:nowrap}td.wa{overflow-wrap:anywhere}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:8px 0}
dl.meta dt{color:#555}dl.meta dd{margin:0}
.st{font-weight:600;border-radius:3px;padding:0 4px;white-space:nowrap}
.st-ok,.st-done{color:#14532d;background:#dcfce7}.st-warning,.st-would_run{color:#713f12;background:#fef9c3}
.st-critical,.st-failed{color:#7f1d1d;background:#fee2e2}.st-unknown,.st-unreachable{color:#fff;background:#6b21a8}
.st-skipped,.st-left,.st-none{color:#374151;background:#e5e7eb}
.banner{display:inline-block;font-size:16px;padding:4px 10px;margin:6px 0}
svg.chart{display:block;margin:6px 0 12px;font-family:inherit}
'''

# Columns whose cells stay on one line (names and figures), and those of long words (paths,
# digests) that may break anywhere; the rest wrap between words.
NOWRAP_COLUMNS = frozenset(('host', 'size', 'duration', 'freed', 'time', 'before', 'after', 'matched', 'affected',
                            'left', 'ok', 'changed', 'failed', 'unreachable', 'skipped', 'rescued', 'ignored'))
ANYWHERE_COLUMNS = frozenset(('path', 'sha256', 'value', 'detail', 'message', 'reason', 'task', 'series', 'target'))

STATUS_WORDS = ('ok', 'warning', 'critical', 'unknown', 'failed', 'unreachable', 'skipped', 'done', 'would_run',
                'left', 'none')


def status_span(word, extra=''):
    word = str(word)
    key = word.split(' ', 1)[0]
    if key not in STATUS_WORDS:
        return escape(word)
    return '<span class="st st-%s%s">%s</span>' % (key, extra, escape(word))


def _table(section):
    out = ['<table><thead><tr>%s</tr></thead><tbody>' % ''.join('<th>%s</th>' % escape(c) for c in section['columns'])]
    classes = dict((index, ' class="nw"' if column in NOWRAP_COLUMNS else ' class="wa"' if column in ANYWHERE_COLUMNS
                    else '') for index, column in enumerate(section['columns']))
    for row in section['rows']:
        cells = []
        for index, value in enumerate(row):
            shown = status_span(value) if index in section['status'] and value else escape(value)
            cells.append('<td%s>%s</td>' % (classes.get(index, ''), shown))
        out.append('<tr>%s</tr>' % ''.join(cells))
    out.append('</tbody></table>')
    return '\n'.join(out)


def _chart(trend):
    if not trend or not trend['backups'] or len(trend['runs']) < 2:
        return ''
    labels = [s.run_label(run) for run in trend['runs']]
    labels[-1] = 'this run'
    return size_chart(labels, [{'name': '%s %s' % (b['host'], b['series']), 'sizes': b['sizes']}
                               for b in trend['backups']])


def render(report, trend=None):
    title = 'Run report: %s, %s' % (report['playbook'], report['started'])
    overall = 'failed' if report['failed'] else (report['status'] or 'ok')
    body = ['<h1>Run report: %s</h1>' % escape(report['playbook']),
            '<div>%s %s</div>' % (status_span(overall, ' banner'), escape(t.headline(report))),
            '<dl class="meta">']
    meta = [('Started', report['started']),
            ('Finished', '%s (%s)' % (report['finished'], t.seconds(report.get('duration_seconds')))),
            ('Checks', report['status'] or 'no checks'),
            ('Playbooks', ', '.join(report['playbooks']))]
    if report['check_mode']:
        meta.append(('Check mode', 'nothing was changed; figures are what would be done'))
    if report['totals'].get('censored'):
        meta.append(('Hidden by no_log', str(report['totals']['censored'])))
    for key, value in meta:
        shown = status_span(value) if key == 'Checks' else escape(value)
        body.append('<dt>%s</dt><dd>%s</dd>' % (escape(key), shown))
    body.append('</dl>')
    for section in s.build(report, trend):
        level = section['level']
        body.append('<section id="%s"><h%d>%s</h%d>'
                    % (escape(section['id'], quote=True), level, escape(section['title']), level))
        if section['note']:
            body.append('<p class="note">%s</p>' % escape(section['note']))
        if section['id'] == 'backup-trend':
            body.append(_chart(trend))
        if section['columns'] and section['rows']:
            body.append(_table(section))
        body.append('</section>')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            # Nothing may load from elsewhere, even if a value slipped past the escaping.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
            '<title>%s</title><style>%s</style></head>\n<body>\n%s\n</body></html>\n'
            % (escape(title), STYLE.strip(), '\n'.join(body)))
