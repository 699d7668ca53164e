# -*- coding: utf-8 -*-
"""Helpers the restorers share, and the pieces of them that need no server."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import sys

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import restore_common as rc
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_mysql import DatabaseStatementFilter
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_postgresql import tail_check
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_redis import db_number


def test_private_files_and_directories_are_owner_only(tmp_path):
    with rc.private_temp_dir(str(tmp_path)) as work:
        assert stat.S_IMODE(os.stat(work).st_mode) == 0o700
        secret = rc.write_private_file(work, 'client.cnf', 'password="x"\n')
        dump = rc.write_stream([b'a', b'b'], work, 'dump')
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600 and open(dump, 'rb').read() == b'ab'
        with pytest.raises(OSError):
            rc.write_private_file(work, 'client.cnf', 'again')  # never reuses a file someone put there
    assert not os.path.exists(work)


def test_temp_dir_must_exist(tmp_path):
    with pytest.raises(rc.RestoreError, match='temp_dir .* is not a directory'):
        with rc.private_temp_dir(str(tmp_path / 'missing')):
            pass


def test_feed_process_collects_output_and_notices_an_early_exit():
    result = rc.feed_process([sys.executable, '-c', 'import sys; print(len(sys.stdin.buffer.read()))'], [b'x' * 70000] * 3,
                             keep_stdout=True)
    assert result.returncode == 0 and result.stdout.strip() == b'210000' and not result.closed_early
    chunks = iter([b'x' * 65536] * 64)
    quitter = rc.feed_process([sys.executable, '-c', 'import sys; sys.stdin.read(1); sys.exit(3)'], chunks, drain=True)
    assert quitter.returncode == 3 and quitter.closed_early
    assert list(chunks) == []  # drained: the whole stream was still read


def test_feed_process_kills_the_program_when_the_stream_fails(tmp_path):
    marker = tmp_path / 'saw-eof'
    script = 'import sys; sys.stdin.buffer.read(); open(%r, "w").write("eof")' % str(marker)

    def failing():
        yield b'data'
        raise rc.ArtifactError('cut short')

    with pytest.raises(rc.ArtifactError):
        rc.feed_process([sys.executable, '-c', script], failing())
    assert not marker.exists()  # it never took the cut-short stream for a complete one


def test_find_tool_names_the_package():
    assert rc.find_tool(('no-such-tool-x', 'sh'), 'x').endswith('/sh')
    with pytest.raises(rc.RestoreError, match='no-such-tool-x not found on PATH: install the thing'):
        rc.find_tool('no-such-tool-x', 'the thing')


def test_count_items_compare_with_the_manifest():
    items = rc.count_items({'public.a': 3, 'public.b': 2, 'public.c': 1}, {'public.a': 3, 'public.b': 5}, 'rows')
    by_name = dict((item['name'], item) for item in items)
    assert by_name['counts public.a']['status'] == 'ok'
    assert by_name['counts public.b']['status'] == 'critical' and by_name['counts public.b']['detail'] == 'restored 5 rows, manifest 2'
    assert by_name['counts public.c']['status'] == 'critical' and 'not found' in by_name['counts public.c']['detail']


def test_strip_prefix_and_redis_db_numbers():
    assert rc.strip_prefix('appdb.users', 'appdb') == 'users'
    assert rc.strip_prefix('users', 'appdb') == 'users'
    assert rc.strip_prefix('other.users', 'appdb') == 'other.users'
    assert [db_number(key) for key in ('db0', '12', 'db', 'x1')] == [0, 12, None, None]


def test_mysql_dump_lines_that_leave_the_target_are_dropped():
    dump = [b'-- MariaDB dump\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` ;\nUS', b'E `app`;\nCREATE TABLE t (x int);\n',
            b"INSERT INTO t VALUES (1),(2);\nINSERT INTO t VALUES ('USE `x`;\\n');\n-- Dump completed on 2026\n"]
    statements = DatabaseStatementFilter(dump)
    text = b''.join(statements)
    assert b'CREATE DATABASE' not in text and b'\nUSE `app`' not in text
    assert b"INSERT INTO t VALUES ('USE `x`;\\n');" in text and text.endswith(b'-- Dump completed on 2026\n')
    assert statements.dropped == 2


def test_tail_check_reads_the_whole_stream():
    ok, detail = tail_check([b'x' * 10000, b'\n-- Dump completed on 2026-11-23\n'], b'-- Dump completed on')
    assert ok and '10033 bytes' in detail
    ok, detail = tail_check([b'CREATE TABLE t (x int);\n'], b'-- Dump completed on')
    assert not ok and 'did not finish' in detail


def test_compression_comes_from_the_name():
    assert rc.compression_of('/b/s-20261123T020000Z.pgdump.zst.age') == 'zstd'
    assert rc.compression_of('/b/s-20261123T020000Z.sql.gz') == 'gzip'
    assert rc.compression_of('/b/s-20261123T020000Z.rdb') == 'none'
