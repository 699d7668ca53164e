# -*- coding: utf-8 -*-
"""The mongodump layout pieces of the MongoDB dump source: file names, metadata JSON and the
tar stream, checked against mongo-tools' rules, Python's tarfile and GNU tar."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import io
import json
import os
import subprocess
import tarfile
import uuid

import pytest
from bson import json_util
from bson.binary import Binary
from bson.int64 import Int64

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_mongodb import (
    MongoDBDump, collection_file_name, collection_uuid, dumped_by_mongodump, metadata_json)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import DumpOptionError
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.tar_stream import TarStream


@pytest.mark.parametrize('name, expected', [
    ('users', 'users'),
    ('with.dots-and_under~', 'with.dots-and_under~'),
    # Go's url.QueryEscape: space -> '+', everything outside [A-Za-z0-9-_.~] -> %XX of the UTF-8 bytes.
    ('a b/c$é*', 'a+b%2Fc%24%C3%A9%2A'),
    ('100%', '100%25'),
])
def test_file_names_are_query_escaped_like_mongodump(name, expected):
    assert collection_file_name(name) == expected


def test_long_names_are_truncated_with_a_hash_like_mongodump():
    name = 'n' * 300
    digest = base64.urlsafe_b64encode(hashlib.sha1(name.encode()).digest()).decode().rstrip('=')
    assert collection_file_name(name) == 'n' * 208 + '%24' + digest
    assert len(collection_file_name(name)) == 238
    # Exactly 238 escaped bytes still fit: no truncation.
    assert collection_file_name('m' * 238) == 'm' * 238


def test_metadata_is_canonical_extended_json_in_mongodump_field_order():
    raw_uuid = uuid.UUID('0123456789abcdef0123456789abcdef').bytes
    info = {'name': 'users', 'type': 'collection', 'options': {'capped': True, 'size': 4096},
            'info': {'readOnly': False, 'uuid': Binary(raw_uuid, 4)}}
    indexes = [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'},
               {'v': 2, 'key': {'email': 1, 'at': -1.0}, 'name': 'email_1_at_-1', 'expireAfterSeconds': Int64(60)}]
    text = metadata_json(info, indexes).decode('utf-8')
    assert list(json.loads(text)) == ['options', 'indexes', 'uuid', 'collectionName', 'type']
    assert '"v":{"$numberInt":"2"}' in text and '"expireAfterSeconds":{"$numberLong":"60"}' in text
    assert '"at":{"$numberDouble":"-1.0"}' in text
    back = json_util.loads(text)
    assert back['uuid'] == '0123456789abcdef0123456789abcdef'
    assert back['indexes'] == indexes and back['options'] == info['options']
    assert back['collectionName'] == 'users' and back['type'] == 'collection'


def test_metadata_leaves_out_empty_options_and_uuids_that_are_not_binary():
    info = {'name': 'c', 'options': {}, 'info': {'uuid': '00000000-0000-0000-0000-000000000000'}}
    assert json.loads(metadata_json(info, [])) == {'indexes': [], 'collectionName': 'c'}


def test_collection_uuid_forms():
    value = uuid.uuid4()
    assert collection_uuid({'info': {'uuid': value}}) == value.hex
    assert collection_uuid({'info': {'uuid': Binary(value.bytes, 3)}}) == ''
    assert collection_uuid({}) == ''


@pytest.mark.parametrize('name, dumped', [
    ('users', True), ('system.js', True), ('system.views', False), ('system.profile', False), ('systemic', True)])
def test_system_collections_like_mongodump(name, dumped):
    assert dumped_by_mongodump(name) is dumped


def _archive(tmp_path):
    tar = TarStream(mtime=1700000000)
    big = os.urandom(70000)
    spool = io.BytesIO(big + b'not part of the member')
    long_name = 'db/' + 'é' * 120 + '.bson'
    chunks = []
    chunks += list(tar.directory('db'))
    chunks += list(tar.member('db/c.metadata.json', b'{"indexes":[]}'))
    chunks += list(tar.member('db/empty.bson', b''))
    chunks += list(tar.member_from_file('db/big.bson', spool, len(big)))
    chunks += list(tar.member(long_name, b'x' * 513))
    chunks += list(tar.end())
    data = b''.join(chunks)
    assert tar.size == len(data)
    path = tmp_path / 'out.tar'
    path.write_bytes(data)
    return path, big, long_name


def test_tar_stream_reads_back_with_tarfile(tmp_path):
    path, big, long_name = _archive(tmp_path)
    assert path.stat().st_size % tarfile.RECORDSIZE == 0
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        assert [member.name for member in members] == ['db', 'db/c.metadata.json', 'db/empty.bson', 'db/big.bson', long_name]
        assert members[0].isdir() and members[0].mode == 0o700
        assert all(member.isfile() and member.mode == 0o600 for member in members[1:])
        assert archive.extractfile('db/big.bson').read() == big
        assert archive.extractfile('db/empty.bson').read() == b''
        assert archive.extractfile(long_name).read() == b'x' * 513


def test_tar_stream_extracts_with_gnu_tar(tmp_path):
    path, big, long_name = _archive(tmp_path)
    out = tmp_path / 'extracted'
    out.mkdir()
    subprocess.run(['tar', '-xf', str(path), '-C', str(out)], check=True)
    assert (out / 'db' / 'big.bson').read_bytes() == big
    assert (out / long_name).read_bytes() == b'x' * 513
    assert oct((out / 'db').stat().st_mode & 0o777) == oct(0o700)


def test_a_short_spool_is_an_error_not_a_short_member():
    tar = TarStream()
    with pytest.raises(IOError, match='ended 5 bytes early'):
        list(tar.member_from_file('db/c.bson', io.BytesIO(b'12345'), 10))


@pytest.mark.parametrize('options, text', [
    ({'format': 'pgdump'}, 'format pgdump is not a MongoDB dump format'),
    ({'spool_dir': 'relative/dir'}, 'spool_dir must be an absolute directory path'),
])
def test_options_are_checked_before_the_server_is_asked(options, text):
    with pytest.raises(DumpOptionError, match=text):
        MongoDBDump(None, **options)
