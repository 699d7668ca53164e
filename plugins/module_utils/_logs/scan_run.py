# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_scan: read the files once, block by block, and turn the figures into check items.

Read-only: the only file written is the state file, atomically with mode 0600, and not
in check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_combined import CombinedScanner
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_parallel import (
    MIN_PARALLEL_BYTES, scan_parallel)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_read import (
    LineBlocks, ReadError, as_read_error, find_files)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_state import (
    ScanState, StateError, entry_for, plan_reads)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_text import JsonScanner, TextScanner
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_time import format_epoch
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    UNKNOWN, WARNING, check_item, measured_item, summarize)


HAS_FORK = hasattr(os, 'fork')
# Formats whose lines stand alone, so a file can be cut anywhere between lines.
PARALLEL_FORMATS = ('combined', 'json')


def make_scanner(opts):
    if opts.format == 'combined':
        return CombinedScanner(top=opts.top, slow_seconds=opts.slow_request_seconds,
                               time_unit=opts.request_time_unit, since=opts.since)
    if opts.format == 'text':
        return TextScanner(level_regex=opts.level_regex, top=opts.top, since=opts.since)
    return JsonScanner(level_fields=opts.level_fields, message_fields=opts.message_fields,
                       time_fields=opts.time_fields, top=opts.top, since=opts.since)


def _unchanged(plan, entry):
    """A compressed file read to its end before and not modified since: nothing to decompress."""
    log = plan.log
    return (plan.matched == 'inode' and log.compression is not None and entry.get('complete')
            and entry.get('size') == log.size and entry.get('mtime_ns') == log.mtime_ns)


def _parallel(opts, plan):
    log = plan.log
    return (opts.workers > 1 and opts.format in PARALLEL_FORMATS and log.compression is None and HAS_FORK
            and log.size - plan.start >= MIN_PARALLEL_BYTES)


def _read(opts, plan, scanner, keep_partial_line):
    """Scan one file from plan.start; returns a problem text or None."""
    log = plan.log
    final_partial = log.compression is not None or not keep_partial_line
    if _parallel(opts, plan):
        plan.end, problem = scan_parallel(log, plan.start, scanner, lambda: make_scanner(opts), final_partial,
                                          opts.workers)
        plan.complete = False
        return problem
    try:
        stream = log.open()
    except ReadError as exc:
        return '%s' % exc
    blocks = LineBlocks(stream, plan.start, final_partial, seekable=log.compression is None)
    problem = None
    try:
        for block in blocks:
            scanner.scan(block)
    except Exception as exc:  # pylint: disable=broad-except
        error = as_read_error(log.path, exc)
        if error is None:
            raise
        problem = '%s' % error
    finally:
        stream.close()
    plan.end = max(blocks.offset, plan.start)
    plan.complete = log.compression is not None and problem is None
    return problem


def _file_report(plan, lines, plans_by_key):
    log = plan.log
    return {
        'path': log.path,
        'compression': log.compression,
        'start': plan.start,
        'end': plan.end,
        'bytes': plan.end - plan.start,
        'lines': lines,
        'resumed': plan.matched,
        'copy_of': plans_by_key[plan.twin].log.path if plan.twin else None,
        'truncated': plan.truncated,
    }


def _read_files(opts, scanner, files, entries, keep_partial_line, problems):
    """Plan and read every file; returns the plans and the lines counted per file key."""
    readable = []
    for log in files:
        try:
            log.load_head()
        except ReadError as exc:
            problems.append((log.path, '%s' % exc))
            continue
        readable.append(log)
    plans = plan_reads(readable, entries)
    by_key = dict((plan.log.key, plan) for plan in plans)
    lines = {}
    for plan in plans:
        plan.complete = False
        if plan.twin:
            continue
        before = scanner.lines
        if _unchanged(plan, entries.get(plan.log.key, {})):
            plan.end = plan.start
            plan.complete = True
        else:
            problem = _read(opts, plan, scanner, keep_partial_line)
            if problem:
                problems.append((plan.log.path, problem))
        lines[plan.log.key] = scanner.lines - before
    for plan in plans:
        if plan.twin:
            # A copy of a file read in this run: it is where that file is.
            plan.end = plan.start = by_key[plan.twin].end
            lines[plan.log.key] = 0
    return plans, lines


def _save_state(state, plans, now):
    """Record where each file was left; returns a problem text or None."""
    new = dict((plan.log.key, entry_for(plan, plan.end, plan.complete, now)) for plan in plans)
    for plan in plans:
        for key in plan.superseded:
            if key not in new:
                state.entries.pop(key, None)
    try:
        state.save(new, now)
    except StateError as exc:
        return '%s; the next run reads these lines again' % exc
    return None


def scan(opts, check_mode=False, now=None):
    """The module's result for checked options (ScanOptions)."""
    now = time.time() if now is None else now
    scanner = make_scanner(opts)
    files, problems = find_files(opts.paths)
    items = []
    state = ScanState(opts.state_file) if opts.state_file else None
    try:
        if state is not None:
            if not check_mode:
                state.lock()
            state.load()
        plans, lines = _read_files(opts, scanner, files, state.entries if state is not None else {},
                                   state is not None, problems)
        if state is not None:
            problem = state.problem
            if not check_mode:
                problem = _save_state(state, plans, now) or problem
            if problem:
                items.append(check_item('state_file', WARNING, detail=problem, signal='state_file'))
    finally:
        if state is not None:
            state.close()

    for path, detail in problems:
        items.append(check_item(path, UNKNOWN, detail=detail, signal='file', path=path))
    figures = scanner.figures()
    scanned = sum(1 for plan in plans if not plan.twin)
    if scanned or not problems:
        items = signal_items(opts, scanner, figures) + items
    result = summarize(items, what='log checks')
    if result['status'] == 'ok':
        result['msg'] = ok_message(opts, scanner, figures, scanned)
    by_key = dict((plan.log.key, plan) for plan in plans)
    result.update(figures)
    result.update(
        format=opts.format,
        lines=scanner.lines,
        unparsed=scanner.unparsed,
        before_since=scanner.before_since,
        since=format_epoch(opts.since) if opts.since is not None else None,
        files=[_file_report(plan, lines[plan.log.key], by_key) for plan in plans],
        state_file=opts.state_file,
    )
    return result


def _rate_detail(part, whole, what, of):
    if not whole:
        return 'no %s read' % of
    return '%d of %d %s %s (%.2f %%)' % (part, whole, of, what, 100.0 * part / whole)


def signal_items(opts, scanner, figures):
    """One item per signal of the format, compared with its thresholds."""
    limits = opts.thresholds
    items = []

    def add(signal, value, unit, detail):
        items.append(measured_item(signal, value, limits[signal], unit=unit, detail=detail, signal=signal))

    unparsed_rate = round(100.0 * scanner.unparsed / scanner.lines, 3) if scanner.lines else 0.0
    if opts.format == 'combined':
        requests = figures['requests']
        add('error_rate', figures['error_rate'], 'percent',
            _rate_detail(figures['server_errors'], requests, 'answered 5xx', 'requests'))
        add('client_error_rate', figures['client_error_rate'], 'percent',
            _rate_detail(figures['client_errors'], requests, 'answered 4xx', 'requests'))
        auth = figures['auth_failures']
        add('auth_failures', auth['total'], 'requests',
            '%d answered 401, %d answered 403' % (auth['401'], auth['403']))
        probes = figures['probes']
        add('probes', probes['lines'], 'requests',
            'attack probes: ' + ', '.join('%d %s' % (probes['kinds'][kind]['count'], kind.replace('_', ' '))
                                          for kind in sorted(probes['kinds'])))
        timing = figures['request_time']
        if timing:
            slow = figures['slow_requests']
            add('slow_request_rate', slow['rate'], 'percent',
                _rate_detail(slow['count'], timing['requests'], 'took %s s or more' % slow['threshold_seconds'],
                             'timed requests'))
            add('request_time_p95', timing['p95'], 'seconds',
                '95 %% of %d timed requests within %s s (median %s s, slowest %s s)'
                % (timing['requests'], timing['p95'], timing['p50'], timing['max']))
        add('unparsed_rate', unparsed_rate, 'percent',
            _rate_detail(scanner.unparsed, scanner.lines, 'not in the combined format', 'lines'))
        return items
    levels = figures['levels']
    add('error_lines', figures['error_lines'], 'lines',
        '%d error lines of %d%s' % (figures['error_lines'], scanner.lines, _levels_text(levels)))
    add('warning_lines', figures['warning_lines'], 'lines',
        '%d warning lines of %d' % (figures['warning_lines'], scanner.lines))
    if opts.format == 'json':
        add('unparsed_rate', unparsed_rate, 'percent',
            _rate_detail(scanner.unparsed, scanner.lines, 'not JSON objects', 'lines'))
    return items


def _levels_text(levels):
    if not levels:
        return ''
    return ' (%s)' % ', '.join('%s %d' % (level, count) for level, count in sorted(levels.items(), key=lambda pair: -pair[1]))


def ok_message(opts, scanner, figures, scanned):
    where = '%d line%s from %d file%s' % (
        scanner.lines, '' if scanner.lines == 1 else 's', scanned, '' if scanned == 1 else 's')
    if opts.format == 'combined':
        text = '%s: %d requests, %.2f %% 5xx, %d 401/403, %d probes' % (
            where, figures['requests'], figures['error_rate'], figures['auth_failures']['total'],
            figures['probes']['lines'])
        if figures['request_time']:
            text += ', p95 %s s' % figures['request_time']['p95']
        return text
    return '%s: %d errors, %d warnings' % (where, figures['error_lines'], figures['warning_lines'])
