# -*- coding: utf-8 -*-
"""Reading blocks of whole lines: offsets, partial last lines, overlong lines, compression."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import io
import os

import pytest
import zstandard

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import scan_read
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_parallel import line_starts
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_read import LineBlocks, find_files


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(scan_read, 'BLOCK_SIZE', 7)
    monkeypatch.setattr(scan_read, 'MAX_LINE', 10)


def read_all(data, start=0, final_partial=True):
    blocks = LineBlocks(io.BytesIO(data), start, final_partial, seekable=True)
    out = b''.join(blocks)
    return out, blocks


@pytest.mark.usefixtures('small_blocks')
def test_blocks_hold_whole_lines_and_offsets_are_exact():
    data = b'one\ntwo\nthree\nfour\n'
    out, blocks = read_all(data)
    assert out == data and blocks.offset == len(data)
    out, blocks = read_all(data, start=4)
    assert out == b'two\nthree\nfour\n' and blocks.offset == len(data)


@pytest.mark.usefixtures('small_blocks')
def test_partial_last_line():
    data = b'one\ntwo\nthr'
    out, blocks = read_all(data, final_partial=False)
    assert out == b'one\ntwo\n' and blocks.offset == 8
    out, blocks = read_all(data, final_partial=True)
    assert out == b'one\ntwo\nthr\n' and blocks.offset == len(data)


@pytest.mark.usefixtures('small_blocks')
def test_overlong_lines_are_cut_and_counted_once():
    data = b'short\n' + b'x' * 35 + b'\nafter\n' + b'y' * 12 + b'\n'
    out, blocks = read_all(data)
    assert out.split(b'\n')[:-1] == [b'short', b'x' * 10, b'after', b'y' * 10]
    assert blocks.offset == len(data) and blocks.cut_lines == 2


def test_compressed_files_are_known_by_their_first_bytes(tmp_path):
    text = b''.join(b'line %d\n' % number for number in range(500))
    (tmp_path / 'plain.log').write_bytes(text)
    (tmp_path / 'rotated.1').write_bytes(gzip.compress(text))          # no .gz suffix
    (tmp_path / 'other.log.2').write_bytes(zstandard.ZstdCompressor().compress(text))
    files, problems = find_files([str(tmp_path / '*')])
    assert problems == []
    kinds = {}
    for log in files:
        log.load_head()
        kinds[os.path.basename(log.path)] = log.compression
        assert log.head == text[:scan_read.FINGERPRINT_BYTES]
        stream = log.open()
        try:
            assert b''.join(LineBlocks(stream, 7, True, seekable=log.compression is None)) == text[7:]
        finally:
            stream.close()
    assert kinds == {'plain.log': None, 'rotated.1': 'gzip', 'other.log.2': 'zstd'}


def test_find_files_once_each_oldest_first(tmp_path):
    (tmp_path / 'b.log').write_text('b\n')
    (tmp_path / 'a.log').write_text('a\n')
    os.utime(str(tmp_path / 'b.log'), (1000, 1000))
    os.symlink(str(tmp_path / 'a.log'), str(tmp_path / 'link.log'))
    (tmp_path / 'dir.log').mkdir()
    files, problems = find_files([str(tmp_path / '*.log'), str(tmp_path / 'a.log'), str(tmp_path / 'dir.log')])
    assert [os.path.basename(log.path) for log in files] == ['b.log', 'a.log']
    assert problems == [(str(tmp_path / 'dir.log'), 'is a directory; give files or a glob such as %s'
                         % os.path.join(str(tmp_path / 'dir.log'), '*.log'))]


def test_line_starts_cut_between_lines(tmp_path):
    path = tmp_path / 'x.log'
    data = b''.join(b'%d %s\n' % (number, b'z' * (number % 13)) for number in range(1000))
    path.write_bytes(data)
    starts = line_starts(str(path), 0, len(data), 4)
    assert len(starts) == 4 and starts[0] == 0
    for start in starts[1:]:
        assert data[start - 1:start] == b'\n'
    assert line_starts(str(path), 0, 20, 4)[0] == 0
