# -*- coding: utf-8 -*-
"""The Redis wire pieces of the RDB dump source: RESP framing, INFO parsing, the sync payload
in both of its framings, and the RDB header and trailer checks. The payload tests feed the
reader through a real socket pair, in pieces, the way a master's bytes arrive."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import threading

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import dump_redis
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import DumpOptionError
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.redis_wire import (
    RawRedis, RdbCheck, ReplyError, WireError, keyspace_counts, pack, parse_info, rdb_payload)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import ConnectionSpec

RDB = b'REDIS0010' + os.urandom(300000) + b'\xff' + os.urandom(8)
MARK = b'0123456789abcdef0123456789abcdef01234567'


def feed(parts, close=True):
    """A RawRedis reading ``parts`` sent one by one from another thread."""
    ours, theirs = socket.socketpair()

    def write():
        try:
            for part in parts:
                theirs.sendall(part)
        finally:
            if close:
                theirs.close()
    thread = threading.Thread(target=write)
    thread.daemon = True
    thread.start()
    return RawRedis(ours, 5), thread


def pieces(data, size):
    return [data[index:index + size] for index in range(0, len(data), size)]


def payload(wire):
    header = wire.line()
    while not header:
        header = wire.line()
    return b''.join(rdb_payload(wire, header, 5))


def test_pack_is_resp_arrays_of_bulk_strings():
    assert pack('AUTH', 'pässword', b'\x00') == b'*3\r\n$4\r\nAUTH\r\n$9\r\np\xc3\xa4ssword\r\n$1\r\n\x00\r\n'


def test_replies():
    wire, thread = feed([b'+OK\r\n-ERR nope\r\n:42\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n$1\r\nx\r\n:1\r\n'])
    assert wire.reply() == 'OK'
    with pytest.raises(ReplyError, match='ERR nope'):
        wire.reply()
    assert wire.reply() == 42
    assert wire.reply() == b'a\r\n'
    assert wire.reply() is None
    assert wire.reply() == [b'x', 1]
    thread.join()


def test_info_and_keyspace():
    text = '# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\ndb15:keys=1,expires=0,avg_ttl=0\r\n'
    assert parse_info(text)['db0'] == 'keys=12,expires=3,avg_ttl=0'
    assert keyspace_counts(text.encode()) == {'db0': 12, 'db15': 1}
    assert keyspace_counts('# Keyspace\r\n') == {}


def test_disk_sync_payload_after_keepalive_newlines_reads_exactly_its_length():
    after = b'*1\r\n$4\r\nPING\r\n'  # the replication stream that follows must not leak into the RDB
    wire, thread = feed([b'\n', b'\n\n'] + pieces(b'$%d\r\n' % len(RDB) + RDB + after, 7001), close=False)
    assert payload(wire) == RDB
    thread.join()


def test_diskless_sync_payload_ends_at_its_mark_even_when_split():
    data = b'$EOF:' + MARK + b'\r\n' + RDB + MARK
    for size in (1, 39, 40, 41, 65536):
        wire, thread = feed(pieces(data, size) if size > 1 else [data[:-20], data[-20:]], close=False)
        assert payload(wire) == RDB
        thread.join()


def test_truncated_disk_sync_says_how_far_it_got():
    wire, thread = feed([b'$%d\r\n' % len(RDB) + RDB[:1000]])
    with pytest.raises(WireError, match='closed the connection after 1000 of %d RDB bytes' % len(RDB)):
        payload(wire)
    thread.join()


def test_diskless_sync_cut_before_its_mark_fails():
    wire, thread = feed([b'$EOF:' + MARK + b'\r\n' + RDB[:5000]])
    with pytest.raises(WireError, match='closed the connection'):
        payload(wire)
    thread.join()


def test_bad_mark_length():
    wire, thread = feed([b'$EOF:short\r\n'])
    with pytest.raises(WireError, match='5-byte end mark'):
        payload(wire)
    thread.join()


def check(data, size=4096):
    watcher = RdbCheck()
    for part in pieces(data, size):
        watcher.add(part)
    return watcher


def test_rdb_check():
    assert check(RDB).problem() is None
    assert check(RDB).version == '0010'
    assert check(RDB, 1).problem() is None
    assert 'RDB header' in check(b'HELLO' + RDB[5:]).problem()
    assert 'end-of-file opcode' in check(RDB[:-1]).problem()
    assert 'end-of-file opcode' in check(b'REDIS0010').problem()
    assert check(RDB[:-8] + b'\0' * 8).checksum_disabled
    assert not check(RDB).checksum_disabled


@pytest.mark.parametrize('options, local', [
    ({'login_host': '127.0.0.1'}, True), ({'login_host': '127.8.0.1'}, True), ({'login_host': '::1'}, True),
    ({'login_host': 'localhost'}, True), ({'login_unix_socket': '/run/redis.sock'}, True),
    ({'login_host': '10.1.2.3'}, False), ({'login_host': 'cache.example.test'}, False),
])
def test_which_targets_are_local(options, local):
    assert dump_redis.is_local(ConnectionSpec('redis', **options)) is local


def test_unreadable(tmp_path):
    assert dump_redis.unreadable(str(tmp_path / 'dump.rdb')) is None
    assert 'does not exist on this host' in dump_redis.unreadable(str(tmp_path / 'nowhere' / 'dump.rdb'))
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / 'locked.rdb'
        locked.write_bytes(b'x')
        locked.chmod(0)
        assert 'may not read' in dump_redis.unreadable(str(locked))


@pytest.mark.parametrize('options, text', [
    ({'format': 'sql'}, 'format sql is not a Redis dump format'),
    ({'redis_method': 'copy'}, 'redis_method must be one of auto, bgsave, replica'),
    ({'redis_rdb_path': 'dump.rdb'}, 'redis_rdb_path must be the absolute path'),
    ({'redis_timeout': 0}, 'redis_timeout must be a number of seconds above 0'),
])
def test_options_are_checked_before_the_server_is_asked(options, text):
    with pytest.raises(DumpOptionError, match=text):
        dump_redis.RedisDump(None, **options)
