# -*- coding: utf-8 -*-
"""Markdown, HTML and the SVG chart from a realistic report; history and the trend;
the files on disk (names, modes, atomic writes, latest.*)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import stat
from html.parser import HTMLParser

import pytest

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import history, markdown, page, store
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.chart import size_chart
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.text import human_bytes, threshold_text

from tests.support import report_results as rr


class Page(HTMLParser):
    """Collects tags, attributes and visible text of an HTML page."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.tags = []
        self.attrs = []
        self.text = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag in ('style', 'title'):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ('style', 'title') and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def parse(html):
    parsed = Page()
    parsed.feed(html)
    return parsed


def later(minutes):
    return rr.T0 + datetime.timedelta(minutes=minutes)


def test_markdown_has_every_section_with_hosts_statuses_and_figures():
    text = markdown.render(rr.report())
    assert text.startswith('# Run report: daily\n')
    for heading in ('## Hosts', '## Failures', '## Skipped hosts', '## Checks', '### Checks on web1 (warning)',
                    '## Backups', '## Backups verified', '## Space freed', '## Data retention', '## Optimisation'):
        assert '\n%s\n' % heading in text, heading
    assert '| web1 | warning | warning | 5 | 1 | 0 | 0 | 2 | 0 | 0 |' in text
    assert '| db2 | unreachable |' in text
    assert '| cache1 | skipped |' in text
    assert '| disk / | warning | 83.1 percent | warn \\>= 80, crit \\>= 90 | 83.1 % used |' in text
    assert '117.7 MiB' in text and 'a' * 64 in text and '12.5 s' in text
    assert '| appdb | critical |' not in text
    assert 'Rows acted on: anonymize 7, archive 1200, delete 310.' in text
    assert '| db1 | postgresql@127.0.0.1:5432/appdb | public.events | vacuum | done |' in text
    assert '1.1 MiB freed in total.' in text
    assert 'Connection refused' in text
    assert rr.PASSWORD not in text


def test_markdown_table_cells_are_escaped_to_one_line():
    assert markdown.cell('a | b\nc <x> `y` *z*') == 'a \\| b c \\<x\\> \\`y\\` \\*z\\*'
    assert markdown.cell('log_cleanup') == 'log_cleanup'


def test_html_is_self_contained_and_shows_the_statuses():
    html = page.render(rr.report())
    parsed = parse(html)
    assert 'script' not in parsed.tags and 'link' not in parsed.tags and 'img' not in parsed.tags
    for name, value in parsed.attrs:
        assert not (name in ('src', 'href') and value), (name, value)
    assert 'url(' not in html and '@import' not in html
    assert "default-src 'none'" in html
    text = ' '.join(parsed.text)
    for word in ('web1', 'db1', 'db2', 'cache1', 'warning', 'critical', 'unreachable', 'skipped', 'failed'):
        assert word in text, word
    assert re.search(r'<span class="st st-warning">warning</span>', html)
    assert re.search(r'<span class="st st-failed banner">failed</span>', html)
    assert rr.PASSWORD not in html


def test_html_escapes_what_the_results_say():
    report = rr.report()
    report['checks'][0]['detail'] = '<script>alert(1)</script>'
    report['hosts']['web1']['name'] = 'web1'
    html = page.render(report)
    assert '<script>' not in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in html


def test_trend_covers_earlier_runs_of_the_same_playbook(tmp_path):
    first = rr.report(started=later(0), backup_sizes=(100 * 2 ** 20, 5 * 2 ** 20))
    second = rr.report(started=later(60), backup_sizes=(110 * 2 ** 20, 6 * 2 ** 20))
    store.write_report(str(tmp_path), first)
    store.write_report(str(tmp_path), second)
    other = rr.report(started=later(90))
    other['playbook'] = 'health'
    store.write_report(str(tmp_path), other)
    (tmp_path / '20261123T023000Z-daily.json').write_text('{not json')
    current = rr.report(started=later(120), backup_sizes=(120 * 2 ** 20, 7 * 2 ** 20))
    earlier = history.load_history(str(tmp_path), 'daily', 9)
    assert [r['started'] for r in earlier] == ['2026-11-23T02:00:00Z', '2026-11-23T03:00:00Z']
    trend = history.build_trend(earlier, current)
    assert [run['started'] for run in trend['runs']] == ['2026-11-23T02:00:00Z', '2026-11-23T03:00:00Z',
                                                         '2026-11-23T04:00:00Z']
    assert trend['hosts']['web1'] == ['warning', 'warning', 'warning']
    assert trend['hosts']['db2'] == ['unreachable'] * 3
    appdb = [b for b in trend['backups'] if b['series'].endswith('appdb')][0]
    assert appdb['host'] == 'db1' and appdb['sizes'] == [100 * 2 ** 20, 110 * 2 ** 20, 120 * 2 ** 20]
    assert history.load_history(str(tmp_path), 'daily', 1)[0]['started'] == '2026-11-23T03:00:00Z'
    html = page.render(current, trend)
    assert '<svg' in html and html.count('<polyline') == 2
    assert 'db1 postgresql-127.0.0.1-5432-appdb, this run: 120.0 MiB' in html
    text = markdown.render(current, trend)
    assert '## Status history' in text and '| host | 11-23 02:00 | 11-23 03:00 | this run |' in text
    assert '| db1 | postgresql-127.0.0.1-5432-appdb | 100.0 MiB | 110.0 MiB | 120.0 MiB |' in text


def test_a_host_new_in_this_run_has_no_earlier_states():
    earlier = rr.report()
    del earlier['hosts']['web1']
    trend = history.build_trend([earlier], rr.report(started=later(5)))
    assert trend['hosts']['web1'] == [None, 'warning']
    assert set(trend['hosts']) == set(rr.report()['hosts'])


def test_no_trend_section_for_a_first_run():
    report = rr.report()
    trend = history.build_trend([], report)
    assert '## Status history' not in markdown.render(report, trend)
    assert '<svg' not in page.render(report, trend)


def test_chart_scales_points_and_skips_gaps():
    svg = size_chart(['a', 'b', 'c'], [{'name': 'db1 appdb', 'sizes': [1000, None, 2000]},
                                       {'name': 'db1 billing', 'sizes': [None, None, 10]}])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.count('<circle') == 3 and svg.count('<polyline') == 1
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert ys[0] > ys[1]  # the bigger backup is drawn higher
    assert size_chart(['a'], [{'name': 'x', 'sizes': [1]}]) == ''
    assert size_chart(['a', 'b'], [{'name': 'x', 'sizes': [None, None]}]) == ''


def test_files_names_modes_and_latest_links(tmp_path):
    directory = tmp_path / 'reports'
    report = rr.report()
    paths, warnings = store.write_report(str(directory), report)
    assert warnings == []
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert sorted(os.listdir(directory)) == ['20261123T020000Z-daily.html', '20261123T020000Z-daily.json',
                                             '20261123T020000Z-daily.md', 'latest.html', 'latest.json', 'latest.md']
    for path in paths.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.readlink(str(directory / 'latest.json')) == '20261123T020000Z-daily.json'
    assert json.loads((directory / 'latest.json').read_text())['playbook'] == 'daily'
    # the same playbook again in the same second: a new name, latest moves on
    again, _warnings = store.write_report(str(directory), report)
    assert os.path.basename(again['json']) == '20261123T020000Z-daily-2.json'
    assert os.readlink(str(directory / 'latest.html')) == '20261123T020000Z-daily-2.html'
    assert [name for name in os.listdir(directory) if name.startswith('.')] == []


def test_latest_as_copies_and_none(tmp_path):
    report = rr.report()
    store.write_report(str(tmp_path / 'copy'), report, latest='copy')
    latest = tmp_path / 'copy' / 'latest.md'
    assert not latest.is_symlink() and latest.read_text() == (tmp_path / 'copy' / '20261123T020000Z-daily.md').read_text()
    assert stat.S_IMODE(os.stat(latest).st_mode) == 0o600
    store.write_report(str(tmp_path / 'none'), report, latest='none')
    assert not (tmp_path / 'none' / 'latest.json').exists()


def test_an_existing_directory_is_made_private(tmp_path):
    directory = tmp_path / 'open'
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    store.write_report(str(directory), rr.report())
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_a_failed_write_leaves_no_reserved_or_temp_file(tmp_path, monkeypatch):
    def broken(path, data, mode=0o600):
        raise OSError('disk full')
    monkeypatch.setattr(store, 'atomic_write', broken)
    with pytest.raises(OSError):
        store.write_report(str(tmp_path), rr.report())
    assert os.listdir(tmp_path) == []


def test_slug_and_names():
    assert history.slug('daily+weekly') == 'daily+weekly'
    assert history.slug('../../etc/passwd') == 'etc_passwd'
    assert history.slug('') == 'playbook'
    assert history.report_names('/nonexistent/dir', 'daily') == []


def test_text_helpers():
    assert human_bytes(0) == '0 B' and human_bytes(1536) == '1.5 KiB' and human_bytes(-2048) == '-2.0 KiB'
    assert human_bytes(None) == ''
    assert threshold_text({'warning': 20, 'critical': 10, 'direction': 'below'}) == 'warn <= 20, crit <= 10'
    assert threshold_text(None) == ''
