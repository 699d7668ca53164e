# -*- coding: utf-8 -*-
"""log_scan's incremental reading on real files: rotation by rename, compression (gzip, zstd)
and copy-and-truncate, copies present at once, truncation, partial last lines, check mode,
the state file itself, and the parallel reading of large files. Totals are exact."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import json
import os
import shutil
import stat

import pytest
import zstandard

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import scan_run
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_options import check_options

NOW = 1715000000.0


def access_line(number, status=200):
    # The first bytes of every file differ (the number leads), as with real timestamps.
    return ('10.0.%d.%d - - [06/May/2024:12:%02d:%02d +0000] "GET /item/%d HTTP/1.1" %d 100 "-" "t" 0.0%02d\n'
            % (number // 250, number % 250, number // 60 % 60, number % 60, number, status, number % 100))


def lines(first, last, status=200):
    return ''.join(access_line(number, status) for number in range(first, last))


def write(path, text, mode='w'):
    with open(str(path), mode) as handle:
        handle.write(text)


def compress_file(path, kind):
    target = str(path) + ('.gz' if kind == 'gzip' else '.zst')
    with open(str(path), 'rb') as source:
        data = source.read()
    with open(target, 'wb') as out:
        out.write(gzip.compress(data) if kind == 'gzip' else zstandard.ZstdCompressor().compress(data))
    os.unlink(str(path))
    return target


def run(paths, state_file=None, check_mode=False, **options):
    params = dict(paths=[str(path) for path in paths], format='combined', since=None, state_file=state_file,
                  thresholds=None, top=10, slow_request_seconds=None, request_time_unit=None, level_regex=None,
                  level_field=None, message_field=None, time_field=None, workers=1, fail_on='critical')
    params.update(options)
    return scan_run.scan(check_options(params, NOW), check_mode=check_mode, now=NOW)


def by_path(result):
    return dict((os.path.basename(item['path']), item) for item in result['files'])


@pytest.mark.parametrize('kind', ['gzip', 'zstd'])
def test_rename_then_compress_counts_every_line_once(tmp_path, kind):
    log = tmp_path / 'access.log'
    state = str(tmp_path / 'state' / 'scan.json')
    pattern = str(tmp_path / 'access.log*')
    write(log, lines(0, 100))
    assert run([pattern], state)['lines'] == 100
    assert run([pattern], state)['lines'] == 0

    write(log, lines(100, 120), 'a')
    os.rename(str(log), str(tmp_path / 'access.log.1'))            # rotated: same inode
    write(log, lines(120, 150))                                     # the new file
    result = run([pattern], state)
    assert result['lines'] == 50
    files = by_path(result)
    assert files['access.log.1']['lines'] == 20 and files['access.log.1']['resumed'] == 'inode'
    assert files['access.log']['lines'] == 30 and files['access.log']['resumed'] is None

    write(tmp_path / 'access.log.1', lines(150, 160), 'a')          # written before the writer reopened
    compress_file(tmp_path / 'access.log.1', kind)                  # compressed: new inode, same content
    write(log, lines(160, 165), 'a')
    result = run([pattern], state)
    assert result['lines'] == 15
    files = by_path(result)
    compressed = 'access.log.1' + ('.gz' if kind == 'gzip' else '.zst')
    assert files[compressed]['lines'] == 10 and files[compressed]['resumed'] == 'fingerprint'
    assert files[compressed]['compression'] == kind
    assert files['access.log']['lines'] == 5
    assert run([pattern], state)['lines'] == 0
    # 165 lines were written, each counted once
    assert result['status_counts']['codes'] == {'200': 15}


def test_copytruncate(tmp_path):
    log = tmp_path / 'app.log'
    state = str(tmp_path / 'state.json')
    write(log, lines(0, 40))
    assert run([str(tmp_path / 'app.log*')], state)['lines'] == 40
    write(log, lines(40, 55), 'a')
    shutil.copyfile(str(log), str(tmp_path / 'app.log.1'))          # copy ...
    with open(str(log), 'r+') as handle:                            # ... then truncate in place
        handle.truncate(0)
    write(log, lines(55, 60), 'a')
    result = run([str(tmp_path / 'app.log*')], state)
    files = by_path(result)
    assert files['app.log.1']['lines'] == 15 and files['app.log.1']['resumed'] == 'fingerprint'
    assert files['app.log']['lines'] == 5 and files['app.log']['start'] == 0
    assert result['lines'] == 20


def test_copies_present_at_once_are_read_once(tmp_path):
    """While a rotated file is being compressed, the plain file and its .gz both exist."""
    state = str(tmp_path / 'state.json')
    rotated = tmp_path / 'access.log.1'
    write(rotated, lines(0, 30))
    with open(str(rotated), 'rb') as source, gzip.open(str(rotated) + '.gz', 'wb') as out:
        out.write(source.read())
    result = run([str(tmp_path / 'access.log*')], state)
    assert result['lines'] == 30
    files = by_path(result)
    assert files['access.log.1.gz']['copy_of'] == str(rotated) and files['access.log.1.gz']['lines'] == 0
    os.unlink(str(rotated))
    result = run([str(tmp_path / 'access.log*')], state)
    assert result['lines'] == 0 and by_path(result)['access.log.1.gz']['resumed'] == 'inode'


def test_new_files_that_are_copies_are_read_once(tmp_path):
    write(tmp_path / 'a.log', lines(0, 40))
    shutil.copyfile(str(tmp_path / 'a.log'), str(tmp_path / 'b.log'))
    result = run([str(tmp_path / '*.log')])
    assert result['lines'] == 40
    assert [item['copy_of'] for item in result['files']].count(None) == 1


def test_truncated_file_is_read_from_the_start(tmp_path):
    log = tmp_path / 'access.log'
    state = str(tmp_path / 'state.json')
    write(log, lines(0, 50))
    run([str(log)], state)
    write(log, lines(1000, 1010))               # same inode, shorter, other content
    result = run([str(log)], state)
    assert result['lines'] == 10 and result['files'][0]['start'] == 0
    write(log, lines(1010, 1200), 'a')
    with open(str(log), 'r+') as handle:        # now rewritten to a longer, different content
        handle.seek(0)
        handle.write(lines(5000, 5010))
    assert run([str(log)], state)['files'][0]['start'] == 0


def test_partial_last_line_waits_for_the_next_run(tmp_path):
    log = tmp_path / 'access.log'
    state = str(tmp_path / 'state.json')
    line = access_line(7)
    write(log, lines(0, 3) + line[:20])
    assert run([str(log)])['lines'] == 4                     # without state: read whole
    assert run([str(log)], state)['lines'] == 3              # with state: the partial line waits
    write(log, line[20:], 'a')
    result = run([str(log)], state)
    assert result['lines'] == 1 and result['unparsed'] == 0


def test_check_mode_writes_no_state(tmp_path):
    log = tmp_path / 'access.log'
    state = tmp_path / 'state' / 'scan.json'
    write(log, lines(0, 25))
    assert run([str(log)], str(state), check_mode=True)['lines'] == 25
    assert not state.exists() and not state.parent.exists()
    assert run([str(log)], str(state))['lines'] == 25
    assert stat.S_IMODE(os.stat(str(state)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(state.parent)).st_mode) == 0o700
    before = state.read_bytes()
    write(log, lines(25, 30), 'a')
    assert run([str(log)], str(state), check_mode=True)['lines'] == 5
    assert state.read_bytes() == before
    assert run([str(log)], str(state))['lines'] == 5
    entry = list(json.loads(state.read_text())['files'].values())[0]
    assert entry['offset'] == os.path.getsize(str(log)) and entry['fingerprint_bytes'] == 1024


def test_damaged_state_file_is_a_warning_and_everything_is_read(tmp_path):
    log = tmp_path / 'access.log'
    state = tmp_path / 'state.json'
    write(log, lines(0, 10))
    state.write_text('{not json')
    result = run([str(log)], str(state))
    assert result['lines'] == 10
    item = [check for check in result['checks'] if check['name'] == 'state_file'][0]
    assert item['status'] == 'warning' and 'not valid JSON' in item['detail']
    assert run([str(log)], str(state))['lines'] == 0


def test_unchanged_compressed_file_is_not_decompressed_again(tmp_path):
    state = str(tmp_path / 'state.json')
    old = tmp_path / 'access.log.2.gz'
    data = gzip.compress(lines(0, 2000).encode())
    old.write_bytes(data)
    assert run([str(tmp_path / 'access.log*')], state)['lines'] == 2000
    # Damage the end of the stream, keeping size and time: a second decompression would fail.
    info = os.stat(str(old))
    old.write_bytes(data[:-40] + b'\0' * 40)
    os.utime(str(old), ns=(info.st_atime_ns, info.st_mtime_ns))
    result = run([str(tmp_path / 'access.log*')], state)
    assert result['status'] == 'ok' and result['lines'] == 0


def test_damaged_and_missing_files_are_unknown_items_and_the_rest_is_read(tmp_path):
    good = tmp_path / 'access.log'
    write(good, lines(0, 10))
    (tmp_path / 'access.log.1.gz').write_bytes(gzip.compress(lines(10, 3000).encode())[:-600])
    result = run([str(tmp_path / 'access.log*'), str(tmp_path / 'missing.log'), str(tmp_path / 'nothing*.log')])
    assert result['status'] == 'unknown'
    items = dict((item['name'], item) for item in result['checks'] if item['signal'] == 'file')
    assert 'ends early' in items[str(tmp_path / 'access.log.1.gz')]['detail']
    assert 'no such file' in items[str(tmp_path / 'missing.log')]['detail']
    assert 'matches no file' in items[str(tmp_path / 'nothing*.log')]['detail']
    assert result['lines'] >= 10


def test_parallel_read_gives_the_same_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(scan_run, 'MIN_PARALLEL_BYTES', 1)
    log = tmp_path / 'access.log'
    probes = ''.join('10.9.9.9 - - [06/May/2024:13:00:00 +0000] "GET /x?id=%d%%27%%20or%%201=1 HTTP/1.1" 403 1 "-" "t" 2.%d\n'
                     % (n, n) for n in range(8))
    write(log, lines(0, 3000) + probes + lines(3000, 3400, status=503) + access_line(9)[:30])
    one = run([str(log)], workers=1)
    several = run([str(log)], workers=3)
    assert one['lines'] == several['lines'] == 3409
    for key in ('status_counts', 'top_clients', 'top_paths', 'probes', 'request_time', 'slow_requests', 'error_rate',
                'auth_failures', 'unparsed'):
        assert several[key] == one[key], key

    state = str(tmp_path / 'state.json')
    first = run([str(log)], state, workers=3)
    assert first['lines'] == 3408                           # the partial line waits
    write(log, access_line(9)[30:] + lines(4000, 4010), 'a')
    assert run([str(log)], state, workers=3)['lines'] == 11


def test_parallel_read_of_json_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(scan_run, 'MIN_PARALLEL_BYTES', 1)
    log = tmp_path / 'api.log'
    rows = [json.dumps({'level': 50 if n % 7 == 0 else 30, 'msg': 'order %d failed' % n, 'time': 1715000000 + n})
            for n in range(2000)]
    write(log, '\n'.join(rows[:1000] + ['garbage'] + rows[1000:]) + '\n')
    one = run([str(log)], format='json', workers=1)
    several = run([str(log)], format='json', workers=4)
    assert several['lines'] == one['lines'] == 2001 and several['unparsed'] == 1
    for key in ('levels', 'error_lines', 'top_errors'):
        assert several[key] == one[key], key
    assert one['top_errors'][0]['count'] == 286
