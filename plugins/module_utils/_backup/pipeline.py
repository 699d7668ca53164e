# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The streaming artifact writer and reader (docs/backups.md, docs/backup-encryption.md).

Writer: dump chunks -> compress (zstd, gzip or none) -> encrypt (age, optional) ->
SHA-256 while writing -> AtomicFile (temp file in the destination, fsync, rename).
Memory stays constant: every stage holds at most a chunk or two, whatever the dump size.
Reader: ``open_artifact`` yields the decrypted, decompressed dump in bounded chunks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import os
import traceback
import zlib

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import crypto
from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import AtomicFile

try:
    import zstandard
    HAS_ZSTANDARD = True
    ZSTANDARD_IMPORT_ERROR = None
except ImportError:
    HAS_ZSTANDARD = False
    ZSTANDARD_IMPORT_ERROR = traceback.format_exc()

READ_SIZE = 1024 * 1024
# zstd compresses in worker threads of libzstd (outside the GIL), one per CPU up to 4, so that
# compression runs beside the dump tool, encryption, hashing and writing instead of after them.
# 2 MiB jobs keep each worker's buffers at a few MiB (libzstd's default job is 4 windows, 8 MiB
# at level 3, and 70 MiB more for two workers). Above level 9 the windows and jobs grow to
# hundreds of MiB, so those levels compress in line, in constant memory.
ZSTD_MAX_THREADS = 4
ZSTD_JOB_SIZE = 2 * 1024 * 1024
ZSTD_MAX_THREADED_LEVEL = 9

# name -> (artifact suffix, default level, lowest level, highest level)
COMPRESSIONS = {
    'zstd': ('zst', 3, 1, 22),
    'gzip': ('gz', 6, 1, 9),
    'none': (None, None, None, None),
}


class PipelineError(ValueError):
    """Settings or an artifact the pipeline cannot use; the text names the option or file."""


def compression_level(compression, level):
    """The level to use: the default when unset, checked against the algorithm's range."""
    if compression not in COMPRESSIONS:
        raise PipelineError('compression must be one of %s, got %r' % (', '.join(sorted(COMPRESSIONS)), compression))
    suffix, default, lowest, highest = COMPRESSIONS[compression]
    if compression == 'none':
        if level is not None:
            raise PipelineError('compression_level %s makes no sense with compression none: unset it' % level)
        return None
    if compression == 'zstd' and not HAS_ZSTANDARD:
        raise crypto.MissingLibrary('zstandard', ZSTANDARD_IMPORT_ERROR)
    if level is None:
        return default
    if not lowest <= level <= highest:
        raise PipelineError('compression_level for %s must be %d to %d, got %d' % (compression, lowest, highest, level))
    return level


def artifact_extension(dump_format, compression, encrypted):
    """``pgdump.zst.age``, ``sql.gz``, ``sql``: dump format + compression + encryption."""
    parts = [dump_format, COMPRESSIONS[compression][0], 'age' if encrypted else None]
    return '.'.join(part for part in parts if part)


class Encryption(object):
    """What to encrypt to: age X25519 recipients or a passphrase (never both)."""

    def __init__(self, recipients=None, passphrase_file=None):
        self.recipient_keys = [key.strip() for key in recipients or []]
        self.recipients = None
        self.passphrase = None
        if self.recipient_keys and passphrase_file:
            raise PipelineError('encryption_recipients and encryption_passphrase_file are mutually exclusive '
                                '(age allows a passphrase only as the single recipient): choose one')
        if recipients is not None and not self.recipient_keys and not passphrase_file:
            raise PipelineError('encryption_recipients is an empty list: give age public keys (age1...) or leave it unset')
        if self.recipient_keys:
            self.recipients = crypto.parse_recipients(self.recipient_keys)
        elif passphrase_file:
            crypto.require_cryptography()
            self.passphrase = crypto.read_passphrase_file(passphrase_file)

    @property
    def enabled(self):
        return bool(self.recipients or self.passphrase)

    def describe(self):
        """The manifest's ``encryption`` value: never a secret."""
        if self.recipients:
            return {'type': 'age-x25519', 'recipients': list(self.recipient_keys)}
        if self.passphrase:
            return {'type': 'age-scrypt'}
        return None


class ChunkReader(object):
    """A file-like ``read(n)`` over an iterator of bytes chunks.

    pyrage and zstandard pull through it. An exception from the iterator (the dump tool's
    error, a signal) is kept in ``error`` because pyrage turns it into its own type.
    """

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b''
        self._offset = 0
        self.error = None

    def readable(self):
        return True

    def read(self, size=-1):
        # The whole body is guarded: a signal handler may raise at any line, even the first.
        try:
            while self._offset >= len(self._pending):
                try:
                    self._pending = next(self._chunks)
                except StopIteration:
                    return b''
                self._offset = 0
            if size is None or size < 0:
                size = len(self._pending) - self._offset
            start = self._offset
            self._offset = min(len(self._pending), start + size)
            return self._pending[start:self._offset]
        except BaseException as exc:
            self.error = self.error or exc
            raise


class HashingWriter(object):
    """Counts and hashes every byte on its way into the artifact's temp file."""

    def __init__(self, target):
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0
        self.error = None

    def writable(self):
        return True

    def write(self, data):
        try:
            self._target.write(data)
            self._hash.update(data)
            self.size += len(data)
            return len(data)
        except BaseException as exc:
            self.error = self.error or exc
            raise

    def flush(self):
        try:
            return None
        except BaseException as exc:  # a signal handler may raise even here
            self.error = self.error or exc
            raise

    def hexdigest(self):
        return self._hash.hexdigest()


def zstd_threads(level, cpus=None):
    """libzstd worker threads for ``level``: 0 (compress in line) on one CPU or above
    ZSTD_MAX_THREADED_LEVEL, else one per usable CPU up to ZSTD_MAX_THREADS."""
    if cpus is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
    if cpus < 2 or level > ZSTD_MAX_THREADED_LEVEL:
        return 0
    return min(cpus, ZSTD_MAX_THREADS)


def zstd_compressor(level):
    """A zstd compressor writing one frame with a checksum, threaded as zstd_threads() says."""
    threads = zstd_threads(level)
    if not threads:
        return zstandard.ZstdCompressor(level=level, write_checksum=True)
    params = zstandard.ZstdCompressionParameters.from_level(level, threads=threads, job_size=ZSTD_JOB_SIZE,
                                                            write_checksum=1)
    return zstandard.ZstdCompressor(compression_params=params)


def _compressed(chunks, compression, level):
    if compression == 'none':
        compressor = None
    elif compression == 'zstd':
        compressor = zstd_compressor(level).compressobj()
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip container
    for chunk in chunks:
        data = compressor.compress(chunk) if compressor else chunk
        if data:
            yield data
    if compressor:
        tail = compressor.flush()
        if tail:
            yield tail


def _encrypted_to(chunks, writer, encryption):
    if encryption is None or not encryption.enabled:
        for chunk in chunks:
            writer.write(chunk)
    elif encryption.passphrase:
        encryptor = crypto.PassphraseEncryptor(encryption.passphrase)
        writer.write(encryptor.header())
        for chunk in chunks:
            sealed = encryptor.update(chunk)
            if sealed:
                writer.write(sealed)
        writer.write(encryptor.finalize())
    else:
        reader = ChunkReader(chunks)
        try:
            crypto.encrypt_to_recipients(reader, writer, encryption.recipients)
        except Exception as exc:  # pyrage wraps what our reader or writer raised; raise the original
            original = reader.error or writer.error
            if original is not None:
                raise original
            raise crypto.CryptoError('age encryption failed: %s' % exc)
        if reader.error is not None or writer.error is not None:
            raise reader.error or writer.error


def write_artifact(chunks, path, compression='zstd', level=None, encryption=None):
    """Write ``chunks`` to ``path`` through compression and encryption, atomically.

    Returns (size, sha256 hex) of the file written. On any exception the temp file is
    removed and nothing appears under ``path``.
    """
    level = compression_level(compression, level)
    with AtomicFile(path) as target:
        writer = HashingWriter(target)
        _encrypted_to(_compressed(chunks, compression, level), writer, encryption)
        target.commit()
    return writer.size, writer.hexdigest()


# --- reading ----------------------------------------------------------------------------

class ArtifactError(ValueError):
    """An artifact that cannot be read back; the text names the file and the reason."""


def _layers(path):
    """(encrypted, compression) from the artifact's name (docs/backups.md)."""
    name = path.rsplit('/', 1)[-1]
    encrypted = name.endswith('.age')
    if encrypted:
        name = name[:-4]
    for compression, (suffix, _default, _low, _high) in COMPRESSIONS.items():
        if suffix and name.endswith('.' + suffix):
            return encrypted, compression
    return encrypted, 'none'


class ZstdFrames(object):
    """Follows zstd frame and block headers (RFC 8878) as the compressed bytes pass.

    zstandard's stream_reader bounds its output but ends quietly on a truncated
    stream; this tells a complete stream from a cut one without decompressing twice.
    """

    def __init__(self):
        self._header = b''
        self._skip = 0
        self._in_frame = False
        self._checksum = False
        self._last_block = False
        self.frames = 0

    @property
    def complete(self):
        return self.frames > 0 and not self._in_frame and not self._header and not self._skip

    def _needed(self):
        if self._in_frame:
            return 3
        if len(self._header) < 5:
            return 5
        magic = int.from_bytes(self._header[:4], 'little')
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame: magic, size, content
            return 8
        if magic != 0xFD2FB528:
            raise ArtifactError('not zstd data (bad frame magic)')
        descriptor = self._header[4]
        single_segment = descriptor >> 5 & 1
        content_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
        return 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + content_size

    def _parsed(self):
        header, self._header = self._header, b''
        if self._in_frame:
            value = int.from_bytes(header, 'little')
            kind, size = value >> 1 & 3, value >> 3
            if kind == 3:
                raise ArtifactError('zstd data is corrupt (reserved block type)')
            self._skip = 1 if kind == 1 else size
            self._last_block = bool(value & 1)
            if self._last_block:
                self._skip += 4 if self._checksum else 0
                self._in_frame = False
                self.frames += 1
        elif int.from_bytes(header[:4], 'little') & 0xFFFFFFF0 == 0x184D2A50:
            self._skip = int.from_bytes(header[4:8], 'little')
        else:
            self._checksum = bool(header[4] >> 2 & 1)
            self._in_frame = True

    def feed(self, data):
        pos = 0
        while pos < len(data):
            if self._skip:
                step = min(self._skip, len(data) - pos)
                self._skip -= step
                pos += step
                continue
            while True:
                needed = self._needed()
                if len(self._header) >= needed or pos >= len(data):
                    break
                take = needed - len(self._header)
                self._header += data[pos:pos + take]
                pos += min(take, len(data) - pos)
            if len(self._header) >= self._needed():
                self._parsed()

    def watch(self, chunks):
        for chunk in chunks:
            self.feed(chunk)
            yield chunk


def _decompressed(chunks, compression, size):
    if compression == 'zstd':
        if not HAS_ZSTANDARD:
            raise crypto.MissingLibrary('zstandard', ZSTANDARD_IMPORT_ERROR)
        frames = ZstdFrames()
        # stream_reader bounds every read, so a tiny input cannot expand into gigabytes at once.
        reader = zstandard.ZstdDecompressor().stream_reader(ChunkReader(frames.watch(chunks)), read_size=READ_SIZE,
                                                            read_across_frames=True)
        while True:
            data = reader.read(size)
            if not data:
                break
            yield data
        if not frames.complete:
            raise ArtifactError('the zstd stream is truncated')
    elif compression == 'gzip':
        yield from _gunzipped(chunks, size)
    else:
        yield from chunks


def _gunzipped(chunks, size):
    """gzip members one after another (``cat a.gz b.gz`` is one gzip stream), output bounded by ``size``."""
    inflater = zlib.decompressobj(31)
    fed = False  # whether the current member has seen any input
    members = 0
    for chunk in chunks:
        data = chunk
        while data:
            fed = True
            out = inflater.decompress(data, size)
            if out:
                yield out
            if inflater.eof:
                data = inflater.unused_data
                inflater = zlib.decompressobj(31)
                fed = False
                members += 1
            else:
                data = inflater.unconsumed_tail
    tail = inflater.flush()
    if tail:
        yield tail
    if fed or not members:
        raise ArtifactError('the gzip stream is truncated')


def _file_chunks(handle, size):
    while True:
        data = handle.read(size)
        if not data:
            return
        yield data


def open_artifact(path, identity_file=None, passphrase_file=None, chunk_size=READ_SIZE, handle=None):
    """Yield the dump inside an artifact: decrypted and decompressed, in chunks of at most ``chunk_size``.

    Layers come from the name (``.age``, ``.zst``, ``.gz``). Raises ArtifactError for
    an unreadable, truncated or corrupt artifact, or a missing or wrong key; the
    zstd frame checksum and the age chunk tags are checked while reading. ``handle``, an
    open binary file of ``path`` (a reader that hashes what it reads, say), is read instead of
    opening the path, and left open.
    """
    encrypted, compression = _layers(path)
    try:
        identities = crypto.read_identity_file(identity_file) if identity_file else None
        passphrase = crypto.read_passphrase_file(passphrase_file, 'passphrase_file') if passphrase_file else None
        with (open(path, 'rb') if handle is None else contextlib.nullcontext(handle)) as handle:
            if encrypted:
                stream = crypto.decrypt_stream(handle, identities=identities, passphrase=passphrase)
            else:
                stream = _file_chunks(handle, chunk_size)
            yield from _decompressed(stream, compression, chunk_size)
    except (crypto.CryptoError, ArtifactError) as exc:
        raise ArtifactError('%s: %s' % (path, exc))
    except (IOError, OSError) as exc:
        raise ArtifactError('%s cannot be read: %s' % (path, exc.strerror or exc))
    except zlib.error as exc:
        raise ArtifactError('%s: gzip data is corrupt: %s' % (path, exc))
    except Exception as exc:
        if HAS_ZSTANDARD and isinstance(exc, zstandard.ZstdError):
            raise ArtifactError('%s: zstd data is corrupt or truncated: %s' % (path, exc))
        raise
