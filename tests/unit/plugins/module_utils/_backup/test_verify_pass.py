# -*- coding: utf-8 -*-
"""One read of an artifact: the file hashed while it decodes, the decoded stream shared by two
readers, and the checksum gate in front of a restore."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import zlib

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import verify_pass as vp
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.pipeline import write_artifact
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import ArtifactError

DUMP = b''.join(b'line %d of the dump\n' % number for number in range(200000))


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / 'x.sql.gz'
    size, sha256 = write_artifact([DUMP[i:i + 65536] for i in range(0, len(DUMP), 65536)], str(path), compression='gzip')
    return str(path), {'size': size, 'sha256': sha256}


def test_the_checksum_comes_from_the_read_that_decodes(artifact):
    path, manifest = artifact
    with vp.HashedStream(path) as stream:
        assert b''.join(stream) == DUMP
        assert stream.finish() == (manifest['size'], manifest['sha256'])
        assert stream.reader.size == manifest['size']  # finish() had nothing left to read


def test_finish_reads_what_a_failed_decode_left(artifact, tmp_path):
    path, manifest = artifact
    data = bytearray(open(path, 'rb').read())
    data[len(data) // 2] ^= 0xFF
    broken = tmp_path / 'broken.sql.gz'
    broken.write_bytes(bytes(data))
    with vp.HashedStream(str(broken)) as stream:
        with pytest.raises(ArtifactError):
            for _chunk in stream:
                pass
        assert stream.finish() == (len(data), hashlib.sha256(bytes(data)).hexdigest())


def test_the_gate_turns_the_end_of_a_changed_file_into_an_error(artifact, tmp_path):
    path, manifest = artifact
    with vp.HashedStream(path) as stream:
        assert b''.join(vp.gated(stream, stream, manifest)) == DUMP
    with vp.HashedStream(path) as stream:
        with pytest.raises(vp.ChecksumMismatch, match='sha256 .*, manifest 00'):
            for _chunk in vp.gated(stream, stream, dict(manifest, sha256='00')):
                pass


def test_tee_gives_both_readers_every_chunk():
    chunks = [b'%d' % number for number in range(100)]
    tee = vp.Tee(chunks, b''.join, depth=2)
    assert b''.join(tee) == b''.join(chunks)
    tee.finish()
    assert tee.result == b''.join(chunks) and tee.error is None and tee.side_error is None


def test_tee_finish_reads_on_when_the_main_reader_stops_early():
    tee = vp.Tee([b'a', b'b', b'c'], b''.join)
    assert next(iter(tee)) == b'a'
    tee.finish()
    assert tee.result == b'abc'


def test_tee_hands_the_source_error_to_both_readers():
    def source():
        yield b'a'
        raise ArtifactError('corrupt at chunk 1')

    tee = vp.Tee(source(), b''.join)
    with pytest.raises(ArtifactError):
        list(tee)
    tee.finish()
    assert '%s' % tee.error == 'corrupt at chunk 1' and tee.side_error is tee.error and tee.result is None


def test_tee_keeps_reading_when_the_side_reader_fails_early():
    def side(chunks):
        next(chunks)
        raise zlib.error('the side gave up')

    tee = vp.Tee([b'x'] * 50, side, depth=1)
    assert len(list(tee)) == 50  # a side that stopped never blocks the main reader
    tee.finish()
    assert isinstance(tee.side_error, zlib.error)


def test_tee_abort_stops_the_side_reader():
    seen = []

    def side(chunks):
        for chunk in chunks:
            seen.append(chunk)

    tee = vp.Tee(iter([b'a', b'b']), side)
    next(iter(tee))
    tee.abort(KeyboardInterrupt())
    assert isinstance(tee.side_error, KeyboardInterrupt) and seen == [b'a']


def test_tee_without_a_side_keeps_the_error():
    tee = vp.Tee(iter([b'a']), None)
    assert list(tee) == [b'a']
    assert tee.finish().error is None and tee.result is None
