"""The streaming writer and reader of _backup/pipeline.py, with real zstd, gzip and age."""

import gzip
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap

import pyrage
import pytest
import zstandard

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import crypto, pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))))


def sample(size=300000):
    """Half random, half repetitive: both compression paths get exercised."""
    half = size // 2
    return os.urandom(half) + (b'row\tvalue with \'quotes\'\n' * (size // 20))[:size - half]


def pieces(data, size=7000):
    return [data[start:start + size] for start in range(0, len(data), size)]


@pytest.fixture
def keys(tmp_path):
    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / 'identity.txt'
    identity_file.write_text('%s\n' % identity)
    passphrase_file = tmp_path / 'passphrase'
    passphrase_file.write_bytes(b'a passphrase with "quotes" and $dollars\n')
    return {'recipient': str(identity.to_public()), 'identity_file': str(identity_file),
            'passphrase_file': str(passphrase_file)}


def encryption_for(kind, keys):
    if kind == 'x25519':
        return pipeline.Encryption(recipients=[keys['recipient']])
    if kind == 'scrypt':
        return pipeline.Encryption(passphrase_file=keys['passphrase_file'])
    return None


def write(tmp_path, data, compression='zstd', kind=None, keys=None, fmt='sql', level=None):
    encryption = encryption_for(kind, keys)
    name = 'backup.' + pipeline.artifact_extension(fmt, compression, bool(encryption and encryption.enabled))
    path = str(tmp_path / name)
    size, digest = pipeline.write_artifact(iter(pieces(data)), path, compression, level, encryption)
    return path, size, digest


def read_back(path, kind=None, keys=None, **extra):
    options = {}
    if kind == 'x25519':
        options['identity_file'] = keys['identity_file']
    elif kind == 'scrypt':
        options['passphrase_file'] = keys['passphrase_file']
    return b''.join(pipeline.open_artifact(path, **dict(options, **extra)))


@pytest.mark.parametrize('compression', ['zstd', 'gzip', 'none'])
@pytest.mark.parametrize('kind', [None, 'x25519', 'scrypt'])
def test_round_trip(tmp_path, keys, compression, kind):
    data = sample()
    path, size, digest = write(tmp_path, data, compression, kind, keys)
    assert read_back(path, kind, keys) == data
    with open(path, 'rb') as handle:
        raw = handle.read()
    assert size == len(raw) == os.path.getsize(path)
    assert digest == hashlib.sha256(raw).hexdigest()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(str(tmp_path))) == sorted(['identity.txt', 'passphrase', os.path.basename(path)])


def test_layers_are_the_standard_formats(tmp_path, keys):
    """The artifact is plain zstd / gzip / age, readable by any tool, not a private format."""
    data = sample()
    path = write(tmp_path, data, 'zstd')[0]
    assert zstandard.ZstdDecompressor().decompressobj().decompress(open(path, 'rb').read()) == data
    path = write(tmp_path, data, 'gzip')[0]
    assert gzip.decompress(open(path, 'rb').read()) == data
    path = write(tmp_path, data, 'none', 'x25519', keys)[0]
    identity = pyrage.x25519.Identity.from_str(open(keys['identity_file']).read().strip())
    assert pyrage.decrypt(open(path, 'rb').read(), [identity]) == data
    path = write(tmp_path, data, 'none', 'scrypt', keys)[0]
    assert pyrage.passphrase.decrypt(open(path, 'rb').read(), 'a passphrase with "quotes" and $dollars') == data


def test_empty_dump_round_trips(tmp_path, keys):
    for compression in ('zstd', 'gzip', 'none'):
        for kind in (None, 'x25519', 'scrypt'):
            path = write(tmp_path, b'', compression, kind, keys)[0]
            assert read_back(path, kind, keys) == b''


def test_levels_change_the_output(tmp_path):
    data = sample()
    fast = write(tmp_path, data, 'zstd', level=1)[1]
    os.unlink(str(tmp_path / 'backup.sql.zst'))
    strong = write(tmp_path, data, 'zstd', level=19)[1]
    assert strong < fast


class DumpDied(Exception):
    pass


class Stop(BaseException):
    """Stands in for the Interrupted a signal handler raises."""


def failing_chunks(error, after=5):
    for index in range(after):
        yield os.urandom(50000) + b'x' * 50000
    raise error


@pytest.mark.parametrize('kind', [None, 'x25519', 'scrypt'])
@pytest.mark.parametrize('error', [DumpDied('pg_dump exited with status 1'), Stop()])
def test_a_failing_dump_leaves_nothing_and_keeps_its_error(tmp_path, keys, kind, error):
    """Also through pyrage, which wraps exceptions from Python readers in its own type."""
    path = str(tmp_path / 'backup.sql.zst')
    with pytest.raises(type(error)) as caught:
        pipeline.write_artifact(failing_chunks(error), path, 'zstd', None, encryption_for(kind, keys))
    assert caught.value is error
    assert sorted(os.listdir(str(tmp_path))) == ['identity.txt', 'passphrase']


def test_a_failing_writer_leaves_nothing(tmp_path, keys):
    """A write error (a full disk in real life) through pyrage comes out as the OSError itself."""
    path = str(tmp_path / 'backup.sql.age')

    class FullDisk(pipeline.HashingWriter):
        def write(self, data):
            self.error = OSError(28, 'No space left on device')
            raise self.error

    original = pipeline.HashingWriter
    pipeline.HashingWriter = FullDisk
    try:
        with pytest.raises(OSError, match='No space left'):
            pipeline.write_artifact(iter([b'x' * 100000]), path, 'none', None, encryption_for('x25519', keys))
    finally:
        pipeline.HashingWriter = original
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('.') or name.startswith('backup')]


# --- reading damaged artifacts -------------------------------------------------------------

@pytest.mark.parametrize('compression', ['zstd', 'gzip'])
def test_truncated_compressed_artifact_is_refused(tmp_path, compression):
    path = write(tmp_path, sample(), compression)[0]
    raw = open(path, 'rb').read()
    for cut in (len(raw) - 1, len(raw) - 4, len(raw) // 2):
        with open(path, 'wb') as handle:
            handle.write(raw[:cut])
        with pytest.raises(pipeline.ArtifactError, match='truncated|corrupt'):
            read_back(path)


def test_concatenated_gzip_members_are_one_stream(tmp_path):
    """`cat a.gz b.gz` (and pigz's independent blocks) is one gzip stream: every member is read."""
    data = sample()
    path = write(tmp_path, data, 'gzip')[0]
    raw = open(path, 'rb').read()
    open(path, 'wb').write(raw + gzip.compress(b'second member') + raw)
    assert read_back(path) == data + b'second member' + data
    open(path, 'wb').write(raw + raw[:len(raw) // 2])
    with pytest.raises(pipeline.ArtifactError, match='truncated'):
        read_back(path)
    open(path, 'wb').write(b'')
    with pytest.raises(pipeline.ArtifactError, match='truncated'):
        read_back(path)


def test_corrupt_zstd_is_refused(tmp_path):
    path = write(tmp_path, sample(), 'zstd')[0]
    raw = bytearray(open(path, 'rb').read())
    raw[len(raw) // 2] ^= 0xff
    open(path, 'wb').write(bytes(raw))
    with pytest.raises(pipeline.ArtifactError, match='corrupt'):
        read_back(path)


def test_encrypted_artifact_without_key_names_the_file(tmp_path, keys):
    path = write(tmp_path, b'data', 'zstd', 'x25519', keys)[0]
    with pytest.raises(pipeline.ArtifactError, match=r'backup\.sql\.zst\.age: .*give an identity file'):
        read_back(path)


def test_missing_artifact(tmp_path):
    with pytest.raises(pipeline.ArtifactError, match='cannot be read: No such file'):
        read_back(str(tmp_path / 'gone.sql.zst'))


def test_reader_chunks_are_bounded_even_for_extreme_ratios(tmp_path):
    """1 GiB of zeros is 32 KiB of zstd: the reader still hands out chunk_size pieces."""
    path = str(tmp_path / 'zeros.sql.zst')
    block = b'\0' * (1 << 20)
    pipeline.write_artifact((block for index in range(1024)), path, 'zstd')
    assert os.path.getsize(path) < 100000
    total = 0
    for chunk in pipeline.open_artifact(path, chunk_size=1 << 20):
        assert len(chunk) <= 1 << 20
        total += len(chunk)
    assert total == 1 << 30


def test_zstd_frames_tell_complete_from_cut():
    data = sample()
    one = zstandard.ZstdCompressor(write_checksum=True).compress(data)
    two = one + zstandard.ZstdCompressor(write_checksum=False).compress(data)
    skippable = (0x184D2A50).to_bytes(4, 'little') + (3).to_bytes(4, 'little') + b'abc'
    for blob in (one, two, skippable + one):
        for cut in (len(blob), len(blob) - 1, len(blob) - 5, len(blob) // 2, 4):
            frames = pipeline.ZstdFrames()
            for start in range(0, cut, 1000):
                frames.feed(blob[start:min(cut, start + 1000)])
            assert frames.complete == (cut == len(blob) or (blob is two and cut == len(one))), (len(blob), cut)


# --- settings -----------------------------------------------------------------------------

def test_compression_levels_are_checked():
    assert pipeline.compression_level('zstd', None) == 3
    assert pipeline.compression_level('gzip', None) == 6
    assert pipeline.compression_level('none', None) is None
    with pytest.raises(pipeline.PipelineError, match='compression_level for gzip must be 1 to 9, got 12'):
        pipeline.compression_level('gzip', 12)
    with pytest.raises(pipeline.PipelineError, match='compression_level 5 makes no sense with compression none'):
        pipeline.compression_level('none', 5)


def test_zstd_threads_follow_cpus_and_level():
    assert pipeline.zstd_threads(3, cpus=1) == 0
    assert pipeline.zstd_threads(3, cpus=2) == 2
    assert pipeline.zstd_threads(3, cpus=64) == pipeline.ZSTD_MAX_THREADS
    assert pipeline.zstd_threads(pipeline.ZSTD_MAX_THREADED_LEVEL + 1, cpus=8) == 0


@pytest.mark.parametrize('threads', [0, 2])
def test_threaded_and_inline_zstd_are_one_checked_frame(tmp_path, monkeypatch, threads):
    monkeypatch.setattr(pipeline, 'zstd_threads', lambda level, cpus=None: threads)
    data = sample(3 * pipeline.ZSTD_JOB_SIZE + 12345)  # several jobs when threaded
    path, _size, _digest = write(tmp_path, data)
    with open(path, 'rb') as handle:
        blob = handle.read()
    frames = pipeline.ZstdFrames()
    frames.feed(blob)
    assert frames.complete and frames.frames == 1
    assert zstandard.ZstdDecompressor().decompressobj().decompress(blob) == data
    assert read_back(path) == data


def test_extensions_follow_the_contract():
    assert pipeline.artifact_extension('pgdump', 'zstd', True) == 'pgdump.zst.age'
    assert pipeline.artifact_extension('sql', 'gzip', False) == 'sql.gz'
    assert pipeline.artifact_extension('pgglobals.sql', 'none', False) == 'pgglobals.sql'
    assert pipeline.artifact_extension('mongo.tar', 'zstd', False) == 'mongo.tar.zst'


def test_encryption_settings(keys):
    with pytest.raises(pipeline.PipelineError, match='mutually exclusive'):
        pipeline.Encryption([keys['recipient']], keys['passphrase_file'])
    with pytest.raises(pipeline.PipelineError, match='empty list'):
        pipeline.Encryption([])
    with pytest.raises(crypto.CryptoError, match=r'encryption_recipients\[0\]'):
        pipeline.Encryption(['ssh-ed25519 AAAA'])
    assert pipeline.Encryption([keys['recipient']]).describe() == {'type': 'age-x25519', 'recipients': [keys['recipient']]}
    assert pipeline.Encryption(passphrase_file=keys['passphrase_file']).describe() == {'type': 'age-scrypt'}
    assert pipeline.Encryption().describe() is None


def test_chunk_reader_serves_any_read_size():
    reader = pipeline.ChunkReader(iter([b'abc', b'', b'defgh', b'i']))
    assert reader.read(2) == b'ab'
    assert reader.read(5) == b'c'
    assert reader.read(-1) == b'defgh'
    assert reader.read(10) == b'i'
    assert reader.read(10) == b''


# --- constant memory ----------------------------------------------------------------------

MEMORY_PROBE = textwrap.dedent('''
    import json, os, resource, sys
    sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], '.venv', 'collections')]
    from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import pipeline
    megabytes, compression, kind, path, keys = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], json.loads(sys.argv[6])
    encryption = None
    if kind == 'x25519':
        encryption = pipeline.Encryption(recipients=[keys['recipient']])
    elif kind == 'scrypt':
        encryption = pipeline.Encryption(passphrase_file=keys['passphrase_file'])
    def chunks():
        for index in range(megabytes):
            yield os.urandom(1 << 19) + bytes(1 << 19)  # half random, half zeros: about 2:1
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline.write_artifact(chunks(), path, compression, None, encryption)
    written = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    options = {}
    if kind == 'x25519':
        options['identity_file'] = keys['identity_file']
    elif kind == 'scrypt':
        options['passphrase_file'] = keys['passphrase_file']
    total = sum(len(chunk) for chunk in pipeline.open_artifact(path, **options))
    assert total == megabytes << 20
    print(json.dumps({'baseline': baseline, 'written': written, 'read': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
''')


def peak_kib(tmp_path, keys, megabytes, compression, kind):
    path = str(tmp_path / ('m%d.sql' % megabytes))
    path += '.' + pipeline.artifact_extension('x', compression, kind is not None).split('.', 1)[1] if (
        compression != 'none' or kind) else ''
    proc = subprocess.run([sys.executable, '-c', MEMORY_PROBE, ROOT, str(megabytes), compression, kind or '', path,
                           json.dumps(keys)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    os.unlink(path)
    return json.loads(proc.stdout)


@pytest.mark.parametrize('compression,kind', [('zstd', None), ('zstd', 'x25519'), ('gzip', 'scrypt')])
def test_memory_does_not_grow_with_the_dump(tmp_path, keys, compression, kind):
    """Peak RSS writing and reading 320 MiB is within a few MiB of the peak for 32 MiB."""
    small = peak_kib(tmp_path, keys, 32, compression, kind)
    large = peak_kib(tmp_path, keys, 320, compression, kind)
    assert large['written'] - small['written'] < 16 * 1024, (small, large)
    assert large['read'] - small['read'] < 16 * 1024, (small, large)
