# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a run's report files: ``<UTC start>-<playbook>.{json,md,html}`` in a 0700
directory, each 0600 and written atomically (temp file, fsync, rename), then ``latest.*``
pointing at them. A second run of the playbook in the same second gets ``-2``, ``-3``..."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import atomic_write, ensure_private_dir
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import markdown, page
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.history import STAMP, report_names, slug

EXTENSIONS = ('json', 'md', 'html')
LATEST_CHOICES = ('symlink', 'copy', 'none')


def prepare_dir(directory):
    """Create the reports directory 0700 (tightening one we own); returns warnings."""
    try:
        ensure_private_dir(directory)
    except PermissionError:
        if not os.path.isdir(directory):
            raise
        return ['report_dir %s is not ours to make private (mode 0700); reports are written into it as it is'
                % directory]
    return []


def reserve_stem(directory, started, label):
    """A name no other report has, reserved by creating its empty JSON file exclusively."""
    base = '%s-%s' % (started.astimezone(datetime.timezone.utc).strftime(STAMP), slug(label))
    for attempt in range(1, 1000):
        stem = base if attempt == 1 else '%s-%d' % (base, attempt)
        try:
            fd = os.open(os.path.join(directory, stem + '.json'), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return stem
    raise OSError('no free report name for %s in %s' % (base, directory))


def _link_latest(directory, name, ext, data, latest):
    link = os.path.join(directory, 'latest.' + ext)
    if latest == 'symlink':
        tmp = os.path.join(directory, '.latest.%s.%d.tmp' % (ext, os.getpid()))
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(name, tmp)
            os.replace(tmp, link)
            return
        except OSError:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    if os.path.islink(link):
        os.unlink(link)
    atomic_write(link, data)


def write_report(directory, report, trend=None, latest='symlink'):
    """Write the three files; returns ({ext: path}, warnings)."""
    contents = {
        'md': markdown.render(report, trend).encode('utf-8'),
        'html': page.render(report, trend).encode('utf-8'),
        # Last, so a reader of the history never meets a run whose other files are missing.
        'json': (json.dumps(report, indent=1, default=str, ensure_ascii=False) + '\n').encode('utf-8'),
    }
    warnings = prepare_dir(directory)
    stem = reserve_stem(directory, datetime.datetime.strptime(report['started'], '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc), report['playbook'])
    paths = {}
    try:
        for ext in ('md', 'html', 'json'):
            paths[ext] = os.path.join(directory, '%s.%s' % (stem, ext))
            atomic_write(paths[ext], contents[ext])
    except Exception:
        json_path = os.path.join(directory, stem + '.json')
        if os.path.exists(json_path) and os.path.getsize(json_path) == 0:
            os.unlink(json_path)
        raise
    if latest != 'none':
        for ext in EXTENSIONS:
            _link_latest(directory, os.path.basename(paths[ext]), ext, contents[ext], latest)
    return paths, warnings


def prune_reports(directory, label, keep):
    """Delete the oldest reports of ``label`` beyond the newest ``keep`` (0: keep all), each
    with its Markdown and HTML; returns the failures as text. Other labels' reports and the
    latest.* links are never touched."""
    failed = []
    if not keep or keep < 1:
        return failed
    for name in report_names(directory, label)[:-keep]:
        stem = name[:-len('.json')]
        # The JSON last: while it exists the run still counts as a report of its label.
        for ext in ('md', 'html', 'json'):
            path = os.path.join(directory, '%s.%s' % (stem, ext))
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed.append('%s: %s' % (path, exc.strerror or exc))
    return failed
