# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read of an artifact for backup_verify: the SHA-256 of the file is computed from the
bytes the decoder reads (HashedStream), and the decoded stream can feed two readers at once,
the restore and the format check (Tee), so a restore test decodes the artifact once. Also
the decode and format items that come out of that read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import queue
import threading

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import pipeline
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    ArtifactError, DecodedStream, MissingLibrary, RestoreError, compression_of)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import CRITICAL, OK, check_item

# Decoded chunks (up to 1 MiB each) waiting for the slower reader: bounds the memory.
TEE_DEPTH = 8
_SIDE_WAIT = 60


class ChecksumMismatch(ArtifactError):
    """The file read is not the one the manifest describes."""


class HashingReader(object):
    """The artifact's file, counted and hashed as the decoder reads it (read and readline)."""

    def __init__(self, path):
        try:
            self._handle = open(path, 'rb')
        except (IOError, OSError) as exc:
            raise ArtifactError('%s cannot be read: %s' % (path, exc.strerror or exc))
        self._hash = hashlib.sha256()
        self.size = 0
        self._digest = None

    def _seen(self, data):
        self._hash.update(data)
        self.size += len(data)
        return data

    def read(self, size=-1):
        return self._seen(self._handle.read(size))

    def readline(self, size=-1):
        return self._seen(self._handle.readline(size))

    def finish(self):
        """(size, sha256 hex) of the whole file: reads what the decoder left, once."""
        if self._digest is None:
            while self.read(pipeline.READ_SIZE):
                pass
            self._digest = (self.size, self._hash.hexdigest())
            self.close()
        return self._digest

    def close(self):
        self._handle.close()


class HashedStream(DecodedStream):
    """DecodedStream whose file is hashed while it is decoded: ``finish()`` gives the checksum."""

    def _open(self, path, identity_file, passphrase_file):
        self.reader = HashingReader(path)
        return pipeline.open_artifact(path, identity_file, passphrase_file, handle=self.reader)

    def finish(self):
        return self.reader.finish()

    def close(self):
        super(HashedStream, self).close()
        self.reader.close()


def _layer_mismatch(path, manifest, stream):
    """Where the file (its header, its name) and the manifest disagree on the layers."""
    declared = (manifest.get('encryption') or {}).get('type')
    expected = {None: None, 'age-x25519': 'x25519', 'age-scrypt': 'scrypt'}.get(declared, declared)
    if expected != stream.encryption:
        return 'the manifest says encryption %s but the file is %s' % (
            declared or 'none', 'age ' + stream.encryption if stream.encryption else 'not encrypted')
    if (manifest.get('compression') or 'none') != compression_of(path):
        return 'the manifest says compression %s but the file name says %s' % (manifest.get('compression'), compression_of(path))
    return None


def open_stream(path, manifest, keys):
    """(HashedStream, None), or (None, the decode item) when decoding cannot even start."""
    try:
        stream = HashedStream(path, keys.get('identity_file'), keys.get('passphrase_file'))
    except MissingLibrary:
        raise
    except ArtifactError as exc:
        return None, check_item('decode', CRITICAL, None, detail='%s' % exc)
    mismatch = _layer_mismatch(path, manifest, stream)
    if mismatch:
        stream.close()
        return None, check_item('decode', CRITICAL, None, detail=mismatch)
    return stream, None


def decode_items(stream, error, format_result, manifest):
    """The decode item, and the format item when the whole stream decoded."""
    if error is not None:
        return [check_item('decode', CRITICAL, stream.bytes_out, 'bytes', detail='%s' % error)]
    ok, detail = format_result
    return [check_item('decode', OK, stream.bytes_out, 'bytes',
                       detail='%d bytes decoded through %s, authenticated to the end' % (stream.bytes_out, stream.layers())),
            check_item('format', OK if ok else CRITICAL, manifest.get('dump_format'), detail=detail)]


def check_format(restorer, chunks, manifest):
    """(ok, detail) of the format check; it reads the chunks to their end even when it fails early,
    so the decode verdict covers the whole stream."""
    try:
        return restorer.check_format(chunks, manifest)
    except (RestoreError, EngineError, OSError) as exc:
        for _chunk in chunks:
            pass
        return False, '%s' % exc


def decode_and_format(stream, manifest, restorer):
    """The decode and format items from one pass over the decoded stream."""
    try:
        result = check_format(restorer, iter(stream), manifest)
    except MissingLibrary:
        raise
    except ArtifactError as exc:
        return decode_items(stream, exc, None, manifest)
    return decode_items(stream, None, result, manifest)


def checksum_problems(size, sha256, manifest):
    """What differs between the file read and the manifest, in words (empty when they agree)."""
    problems = []
    if manifest.get('size') is not None and size != manifest['size']:
        problems.append('size %d bytes, manifest %d' % (size, manifest['size']))
    if sha256 != manifest.get('sha256'):
        problems.append('sha256 %s, manifest %s' % (sha256, manifest.get('sha256')))
    return problems


def gated(chunks, stream, manifest):
    """The chunks, then ChecksumMismatch instead of the end when the file is not the manifest's:
    a restore reader is killed before it sees the end of a changed artifact's stream."""
    yield from chunks
    problems = checksum_problems(*stream.finish(), manifest=manifest)
    if problems:
        raise ChecksumMismatch('the artifact changed since it was written (%s): the restore was stopped before the end '
                               'of the stream' % '; '.join(problems))


_END = object()


class _Failed(object):
    def __init__(self, error):
        self.error = error


class Tee(object):
    """Iterating a Tee yields the chunks of ``chunks`` and hands each one, through a bounded
    queue, to ``side`` (a function of an iterator of chunks) running in a thread: two readers
    of one decode. The source's error reaches both readers. Without ``side`` there is no
    thread: the Tee only keeps the source's error and lets ``finish()`` read to the end. ``finish()`` pumps what the main
    reader left (it may stop early) and waits for ``side``: its return value is ``result``,
    what it raised ``side_error``, what the source raised ``error``.
    """

    def __init__(self, chunks, side, depth=TEE_DEPTH):
        self._source = iter(chunks)
        self._queue = queue.Queue(depth)
        self._side = side
        self._ended = False  # the source is done (end or error); set on the main thread
        self._closed = False  # the side has taken the end; set on the side thread
        self.error = self.result = self.side_error = None
        self._thread = None
        if side is not None:
            self._thread = threading.Thread(target=self._run_side)
            self._thread.daemon = True  # never keeps the module alive after a signal
            self._thread.start()

    def _put(self, item, timeout=None):
        if self._thread is not None:
            self._queue.put(item, timeout=timeout)

    # -- the side thread
    def _take(self):
        item = self._queue.get()
        if item is _END or isinstance(item, _Failed):
            self._closed = True
        return item

    def _side_chunks(self):
        while not self._closed:
            item = self._take()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _run_side(self):
        try:
            self.result = self._side(self._side_chunks())
        except BaseException as exc:  # handed to the main thread by finish()
            self.side_error = exc
        finally:
            while not self._closed:  # the side stopped early: keep taking, so the main thread never blocks
                self._take()

    # -- the main thread
    def _end(self, item):
        self._ended = True
        self._put(item)

    def _pump(self):
        """The next chunk, also handed to the side; _END when the source is done."""
        if self._ended:
            return _END
        try:
            chunk = next(self._source)
        except StopIteration:
            self._end(_END)
            return _END
        except BaseException as exc:
            self.error = exc
            self._end(_Failed(exc))
            raise
        self._put(chunk)
        return chunk

    def __iter__(self):
        while True:
            chunk = self._pump()
            if chunk is _END:
                return
            yield chunk

    def finish(self):
        """Pump the rest of the source (errors are kept in ``error``), then wait for the side."""
        try:
            while self._pump() is not _END:
                pass
        except Exception:  # pylint: disable=broad-except
            pass  # kept in self.error by _pump
        if self._thread is not None:
            self._thread.join()
        return self

    def abort(self, error):
        """Stop the side on an exception of the main thread (a signal): it sees ``error``."""
        if not self._ended:
            self._ended = True
            try:
                self._put(_Failed(error), timeout=_SIDE_WAIT)
            except queue.Full:
                pass
        if self._thread is not None:
            self._thread.join(_SIDE_WAIT)
