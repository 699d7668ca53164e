# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report as titled tables, so Markdown and HTML show the same content.

A section is ``{'id', 'title', 'level', 'note', 'columns', 'rows', 'status'}``: ``rows`` are
lists of text cells, ``status`` the indexes of the columns holding a status word (the HTML
colours those). Sections with nothing to show are left out, except hosts and failures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import text as t

STAT_COLUMNS = ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored')


def _section(ident, title, columns, rows, status=(), note=None, level=2):
    return {'id': ident, 'title': title, 'level': level, 'note': note, 'columns': list(columns),
            'rows': [[t.number(cell) if not isinstance(cell, str) else cell for cell in row] for row in rows],
            'status': tuple(status)}


def hosts_section(report):
    rows = []
    for name, host in report['hosts'].items():
        stats = host.get('stats') or {}
        counts = [str(stats.get(key, '')) for key in STAT_COLUMNS]
        rows.append([name, host['state'], host['status'] or ''] + counts)
    columns = ('host', 'state', 'checks', 'ok', 'changed', 'failed', 'unreachable', 'skipped', 'rescued', 'ignored')
    return [_section('hosts', 'Hosts', columns, rows, status=(1, 2), note=None if rows else 'No host ran a task.')]


def check_sections(report):
    sections = []
    for name in report['hosts']:
        checks = [c for c in report['checks'] if c['host'] == name]
        if not checks:
            continue
        rows = [[t.where(c), c['name'], c['status'], t.value_text(c), t.threshold_text(c.get('threshold')),
                 t.number(c.get('detail'))] for c in checks]
        sections.append(_section('checks-' + name, 'Checks on %s (%s)' % (name, report['hosts'][name]['status']),
                                 ('task', 'check', 'status', 'value', 'threshold', 'detail'), rows,
                                 status=(2,), level=3))
    if sections:
        counts = ', '.join('%d %s' % (n, status) for status, n in report['totals']['checks'].items() if n)
        sections.insert(0, _section('checks', 'Checks', (), (),
                                    note='%s: %s.' % (t.plural(len(report['checks']), 'check'), counts)))
    return sections


def backup_sections(report):
    sections = []
    if report['backups']:
        rows = [[b['host'], b.get('series') or '', b.get('path') or '',
                 'kept, fresh' if b.get('skipped_reason') else 'taken',
                 t.human_bytes(b['size']) if b['size'] is not None else ('(check mode)' if report['check_mode'] else ''),
                 b.get('sha256') or '', t.seconds(b.get('duration_seconds')), t.verified_text(b.get('verified'))]
                for b in report['backups']]
        kept = report['totals'].get('backups_kept') or 0
        note = '%s taken, %s.' % (t.plural(report['totals']['backups'], 'backup'),
                                  t.human_bytes(report['totals']['backup_bytes']))
        if kept:
            note += ' %s kept: a backup younger than skip_if_newer_than existed.' % t.plural(kept, 'backup')
        sections.append(_section('backups', 'Backups', ('host', 'series', 'path', 'run', 'size', 'sha256', 'duration',
                                                        'verified'), rows, status=(7,), note=note))
    if report['verifications']:
        rows = [[v['host'], v.get('path') or '', v.get('status') or '', v.get('msg') or '']
                for v in report['verifications']]
        sections.append(_section('verifications', 'Backups verified', ('host', 'path', 'status', 'detail'), rows,
                                 status=(2,)))
    return sections


def cleanup_section(report):
    if not report['cleanups']:
        return []
    rows = [[c['host'], t.where(c), c.get('module') or '', c['compressed'], c['deleted'], c['errors'],
             t.human_bytes(c['bytes_freed'])] for c in report['cleanups']]
    return [_section('cleanup', 'Space freed', ('host', 'task', 'module', 'compressed', 'deleted', 'errors',
                                                'freed'), rows,
                     note='%s freed in total.' % t.human_bytes(report['totals']['bytes_freed']))]


def retention_section(report):
    if not report['retention']:
        return []
    rows = [[r['host'], r.get('rule') or '', r.get('table') or '', r.get('action') or '', r.get('older_than') or '',
             r['matched'], r['affected'], r['left']] for r in report['retention']]
    by_action = report['totals']['rows_by_action']
    note = 'Rows acted on: %s.' % (', '.join('%s %d' % (a, n) for a, n in sorted(by_action.items())) or 'none')
    if report['check_mode']:
        note += ' Check mode: the rows that would be acted on.'
    return [_section('retention', 'Data retention', ('host', 'rule', 'table', 'action', 'older than', 'matched',
                                                     'affected', 'left'), rows, note=note)]


def optimization_section(report):
    if not report['optimizations']:
        return []
    rows = [[o['host'], o.get('target') or '', o.get('table') or '', o.get('operation') or '', o.get('status') or '',
             t.seconds(o.get('seconds')), t.human_bytes(o.get('size_before')), t.human_bytes(o.get('size_after')),
             o.get('reason') or ''] for o in report['optimizations']]
    totals = report['totals']
    note = '%s done, %d failed, %s reclaimed.' % (t.plural(totals['operations_done'], 'operation'),
                                                  totals['operations_failed'], t.human_bytes(totals['reclaimed_bytes']))
    return [_section('optimization', 'Optimisation', ('host', 'target', 'table', 'operation', 'status', 'time',
                                                      'before', 'after', 'reason'), rows, status=(4,), note=note)]


def failure_section(report):
    rows = [[f['host'], f.get('play') or '', t.where(f),
             f['kind'] + (' (ignored)' if f['ignored'] else '') + (' (rescued)' if f.get('rescued') else ''),
             f.get('msg') or ''] for f in report['failures']]
    return [_section('failures', 'Failures', ('host', 'play', 'task', 'kind', 'message'), rows, status=(3,),
                     note=None if rows else 'No task failed and every host was reached.')]


def skipped_section(report):
    if not report['skipped_hosts']:
        return []
    return [_section('skipped', 'Skipped hosts', ('host',), [[h] for h in report['skipped_hosts']],
                     note='Every task was skipped on these hosts.')]


def run_label(run):
    """Short column title for one run: '11-23 02:00'."""
    started = run.get('started') or ''
    label = '%s %s' % (started[5:10], started[11:16]) if len(started) >= 16 else started
    return label + (' (check)' if run.get('check_mode') else '')


def trend_sections(trend):
    if not trend or len(trend['runs']) < 2:
        return []
    labels = [run_label(run) for run in trend['runs']]
    labels[-1] = 'this run'
    sections = [_section('trend', 'Status history', ['host'] + labels,
                         [[host] + [state or '' for state in states] for host, states in trend['hosts'].items()],
                         status=range(1, len(labels) + 1),
                         note='The last %d runs of this playbook, oldest first.' % len(labels))]
    if trend['backups']:
        sections.append(_section('backup-trend', 'Backup sizes', ['host', 'series'] + labels,
                                 [[b['host'], b['series']] + [t.human_bytes(size) for size in b['sizes']]
                                  for b in trend['backups']]))
    return sections


def build(report, trend=None):
    """Every section of the report, in reading order."""
    return (hosts_section(report) + failure_section(report) + skipped_section(report) + check_sections(report)
            + backup_sections(report) + cleanup_section(report) + retention_section(report)
            + optimization_section(report) + trend_sections(trend))
