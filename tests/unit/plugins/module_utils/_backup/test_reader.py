# -*- coding: utf-8 -*-
"""Reading artifacts back (restore_common.DecodedStream over pipeline.open_artifact) when
they were made by the standard command-line tools: age, zstd and gzip."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import textwrap

import pyrage
import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import restore_common
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import ArtifactError, DecodedStream
from tests.support.artifacts import age_keygen, flip_byte, run_pipeline, truncate

PAYLOAD = b''.join(b'line %06d of a dump, some text to compress\n' % n for n in range(40000)) + os.urandom(200000)
SUFFIX = {'zstd': '.zst', 'gzip': '.gz', 'none': ''}


@pytest.fixture(scope='module')
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp('keys')
    return age_keygen(base), age_keygen(base, 'other.txt')


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / 'dump.bin'
    path.write_bytes(PAYLOAD)
    return path


def encode(plain, directory, compression, recipient=None):
    """An artifact named as docs/backups.md says, made by the CLI tools."""
    stages = {'zstd': [['zstd', '-q', '-c']], 'gzip': [['gzip', '-c']], 'none': []}[compression]
    if recipient:
        stages.append(['age', '-r', recipient])
    out = directory / ('s-20261123T020000Z.sql%s%s' % (SUFFIX[compression], '.age' if recipient else ''))
    run_pipeline(plain, stages, out)
    return str(out)


def decode(path, **kwargs):
    with DecodedStream(path, **kwargs) as stream:
        return b''.join(stream), stream


@pytest.mark.parametrize('compression', ['zstd', 'gzip', 'none'])
@pytest.mark.parametrize('encrypted', [True, False])
def test_round_trip_of_cli_made_files(plain, tmp_path, keys, compression, encrypted):
    key = keys[0]
    out = encode(plain, tmp_path, compression, key.recipient if encrypted else None)
    data, stream = decode(out, identity_file=str(key.identity_file) if encrypted else None)
    assert data == PAYLOAD
    assert stream.bytes_out == len(PAYLOAD)
    assert stream.encryption == ('x25519' if encrypted else None)
    assert stream.compression == compression


@pytest.mark.parametrize('compression', ['zstd', 'gzip'])
def test_concatenated_frames_or_members_are_one_stream(plain, tmp_path, compression):
    """pzstd writes several zstd frames; `cat a.gz b.gz` is a valid gzip stream."""
    single = encode(plain, tmp_path, compression)
    both = tmp_path / ('both-20261123T020000Z.sql' + SUFFIX[compression])
    both.write_bytes(open(single, 'rb').read() * 2)
    assert decode(str(both))[0] == PAYLOAD * 2


@pytest.mark.parametrize('compression', ['zstd', 'gzip'])
def test_a_truncated_compressed_stream_is_an_error(plain, tmp_path, compression):
    out = encode(plain, tmp_path, compression)
    truncate(out, 7)
    with pytest.raises(ArtifactError, match='truncated'):
        decode(out)


def test_a_damaged_zstd_stream_is_an_error(plain, tmp_path):
    out = encode(plain, tmp_path, 'zstd')
    flip_byte(out)
    with pytest.raises(ArtifactError, match='zstd'):
        decode(out)


@pytest.mark.parametrize('damage', ['truncate', 'flip'])
def test_damaged_age_files_fail_authentication(plain, tmp_path, keys, damage):
    out = encode(plain, tmp_path, 'none', keys[0].recipient)
    truncate(out, 5) if damage == 'truncate' else flip_byte(out)
    with pytest.raises(ArtifactError, match='truncated or corrupt|corrupt at chunk'):
        decode(out, identity_file=str(keys[0].identity_file))


def test_wrong_identity(plain, tmp_path, keys):
    out = encode(plain, tmp_path, 'zstd', keys[0].recipient)
    with pytest.raises(ArtifactError, match='no identity in the identity file matches'):
        decode(out, identity_file=str(keys[1].identity_file))


def test_a_missing_key_names_the_option(plain, tmp_path, keys):
    out = encode(plain, tmp_path, 'zstd', keys[0].recipient)
    with pytest.raises(ArtifactError, match='set identity_file'):
        DecodedStream(out)
    scrypt = tmp_path / 'p-20261123T020000Z.sql.age'
    scrypt.write_bytes(pyrage.passphrase.encrypt(b'x', 'pw'))
    with pytest.raises(ArtifactError, match='set passphrase_file'):
        DecodedStream(str(scrypt))


def test_identity_file_errors_never_echo_the_secret(plain, tmp_path, keys):
    out = encode(plain, tmp_path, 'none', keys[0].recipient)
    secret = open(str(keys[0].identity_file)).read().split('AGE-SECRET-KEY-1')[1].split()[0]
    bad = tmp_path / 'bad.txt'
    bad.write_text('AGE-SECRET-KEY-1%sXX\n' % secret)
    with pytest.raises(ArtifactError) as info:
        decode(out, identity_file=str(bad))
    assert secret not in str(info.value) and 'line 1' in str(info.value)


def test_passphrase_artifacts_made_by_pyrage(tmp_path):
    path = tmp_path / 'p-20261123T020000Z.sql.age'
    path.write_bytes(pyrage.passphrase.encrypt(PAYLOAD, 'correct horse'))
    good = tmp_path / 'pass.txt'
    good.write_text('correct horse\n')
    bad = tmp_path / 'wrong.txt'
    bad.write_text('wrong\n')
    data, stream = decode(str(path), passphrase_file=str(good))
    assert data == PAYLOAD and stream.encryption == 'scrypt'
    with pytest.raises(ArtifactError, match='wrong passphrase'):
        decode(str(path), passphrase_file=str(bad))


def test_closing_early_closes_the_file(plain, tmp_path, keys):
    out = encode(plain, tmp_path, 'zstd', keys[0].recipient)
    fds = len(os.listdir('/proc/self/fd'))
    with DecodedStream(out, identity_file=str(keys[0].identity_file)) as stream:
        assert next(iter(stream))
    assert len(os.listdir('/proc/self/fd')) == fds


def test_loose_permissions(tmp_path):
    path = tmp_path / 'key'
    path.write_text('x')
    os.chmod(str(path), 0o600)
    assert restore_common.loose_permissions(str(path)) is None
    os.chmod(str(path), 0o644)
    assert restore_common.loose_permissions(str(path)) == '0644'


def test_memory_stays_constant_for_a_gibibyte_of_zeros(tmp_path, keys):
    """1 GiB of zeros compresses to ~33 KB: the worst case for output per input byte."""
    out = tmp_path / 'z-20261123T020000Z.sql.zst.age'
    run_pipeline(['head', '-c', str(1 << 30), '/dev/zero'], [['zstd', '-q', '-c', '-3'], ['age', '-r', keys[0].recipient]], out)
    script = textwrap.dedent('''
        import sys
        from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import DecodedStream
        total = 0
        with DecodedStream(sys.argv[1], identity_file=sys.argv[2]) as stream:
            for chunk in stream:
                total += len(chunk)
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
        peak = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]
        print(total, peak)
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(['.venv/collections', '.']))
    proc = subprocess.run([sys.executable, '-c', script, str(out), str(keys[0].identity_file)], capture_output=True,
                          text=True, check=True, env=env)
    total, peak_kib = map(int, proc.stdout.split())
    assert total == 1 << 30
    assert peak_kib < 120 * 1024, 'peak RSS %d KiB for 1 GiB decoded' % peak_kib
