# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the per-engine restorers share: private temp space, feeding a decoded stream
into a client program, scratch names, comparing restored counts with the manifest,
and the Restorer interface that restore_postgresql.py, restore_mysql.py,
restore_mongodb.py and restore_redis.py implement.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import copy
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import threading

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import crypto, pipeline
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import CRITICAL, OK, check_item

SCRATCH_PREFIX = 'caretaker_verify_'
_STDERR_KEEP = 8192
_AGE_MAGIC = b'age-encryption.org/v1\n'

# pipeline.open_artifact (the db_backup engineer's reader) does the decoding; its errors.
ArtifactError = pipeline.ArtifactError
MissingLibrary = crypto.MissingLibrary


class RestoreError(Exception):
    """A restore step failed; the text says which and what to do, without secrets."""


def age_kind(path):
    """'x25519' or 'scrypt' for an age-encrypted file, None for anything else."""
    with open(path, 'rb') as handle:
        head = handle.read(512)
    if not head.startswith(_AGE_MAGIC):
        return None
    return 'scrypt' if head[len(_AGE_MAGIC):].startswith(b'-> scrypt ') else 'x25519'


def compression_of(path):
    """The compression the artifact's name declares (docs/backups.md), as the reader takes it."""
    name = path[:-len('.age')] if path.endswith('.age') else path
    return 'zstd' if name.endswith('.zst') else 'gzip' if name.endswith('.gz') else 'none'


def loose_permissions(path):
    """Mode of a key file when group or others may read it, else None."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return '%04o' % mode if mode & 0o077 else None


class DecodedStream(object):
    """The dump inside an artifact as bytes chunks (pipeline.open_artifact), counted.

    Checks first what the reader would only say less precisely: which key option is
    missing, and which library. Iterate once; close (or ``with``) stops the reader.
    """

    def __init__(self, path, identity_file=None, passphrase_file=None):
        try:
            self.encryption = age_kind(path)
        except (IOError, OSError) as exc:
            raise ArtifactError('%s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
        self.compression = compression_of(path)
        if self.encryption and not crypto.HAS_CRYPTOGRAPHY:
            raise MissingLibrary('cryptography', crypto.CRYPTOGRAPHY_IMPORT_ERROR)
        if self.compression == 'zstd' and not pipeline.HAS_ZSTANDARD:
            raise MissingLibrary('zstandard', pipeline.ZSTANDARD_IMPORT_ERROR)
        if self.encryption == 'x25519' and not identity_file:
            raise ArtifactError('the artifact is encrypted to age recipients: set identity_file to the age identity '
                                '(private key) file of one of them')
        if self.encryption == 'scrypt' and not passphrase_file:
            raise ArtifactError('the artifact is encrypted with an age passphrase: set passphrase_file')
        self.bytes_out = 0
        self._chunks = self._open(path, identity_file, passphrase_file)

    def _open(self, path, identity_file, passphrase_file):
        """The decoded chunks; verify_pass.HashedStream reads them through a hashing handle."""
        return pipeline.open_artifact(path, identity_file, passphrase_file)

    def layers(self):
        words = ['age %s decryption' % self.encryption if self.encryption else None,
                 '%s decompression' % self.compression if self.compression != 'none' else None]
        return ' and '.join(word for word in words if word) or 'a plain file'

    def __iter__(self):
        for chunk in self._chunks:
            self.bytes_out += len(chunk)
            yield chunk

    def close(self):
        self._chunks.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def scratch_name():
    return SCRATCH_PREFIX + secrets.token_hex(6)


def with_database(conn, database):
    """A copy of a ConnectionSpec pointing at another database."""
    other = copy.copy(conn)
    other.database = database
    return other


@contextlib.contextmanager
def private_temp_dir(base=None):
    """A 0700 directory for option files, decoded dumps and throwaway servers; removed after."""
    if base is not None and not os.path.isdir(base):
        raise RestoreError('temp_dir %s is not a directory: create it or leave temp_dir unset' % base)
    path = tempfile.mkdtemp(prefix='caretaker-restore-', dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private_file(directory, name, text):
    """A 0600 file (option files with passwords, dumps) created exclusively."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w' if isinstance(text, str) else 'wb') as handle:
        handle.write(text)
    return path


def write_stream(chunks, directory, name):
    """Decode a stream into a 0600 file in ``directory``; its path."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        for chunk in chunks:
            handle.write(chunk)
    return path


def find_tool(names, package):
    """Absolute path of the first program found, or RestoreError naming the package."""
    names = (names,) if isinstance(names, str) else names
    search = os.environ.get('PATH', os.defpath) + os.pathsep + '/usr/sbin:/usr/local/sbin'
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    raise RestoreError('%s not found on PATH: install %s on this host' % (' or '.join(names), package))


class ProcessResult(object):
    def __init__(self, returncode, stdout, stderr, closed_early):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.closed_early = closed_early

    def error_text(self):
        text = ' '.join(self.stderr.decode('utf-8', 'replace').split())
        return text[-1500:] or 'exit status %d' % self.returncode


def _collect(pipe, sink, keep_all):
    while True:
        block = pipe.read(65536)
        if not block:
            break
        sink += block
        if not keep_all and len(sink) > 2 * _STDERR_KEEP:
            del sink[:-_STDERR_KEEP]
    pipe.close()


def feed_process(argv, chunks, env=None, cwd=None, keep_stdout=False, drain=False):
    """Run ``argv`` with the chunks on its stdin.

    When the program stops reading early (it found what it needed, or failed), the rest
    of the stream is still read through when ``drain`` is set, so a damaged end of the
    artifact is still found. When reading the stream fails, the program is killed before
    its stdin is closed: it must never take a cut-short stream for a complete one.
    """
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, close_fds=True)
    stdout, stderr = bytearray(), bytearray()
    readers = [threading.Thread(target=_collect, args=(proc.stdout, stdout, keep_stdout)),
               threading.Thread(target=_collect, args=(proc.stderr, stderr, False))]
    for reader in readers:
        reader.daemon = True
        reader.start()
    closed_early = False
    try:
        for chunk in chunks:
            if closed_early:
                continue
            try:
                proc.stdin.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                closed_early = True
                if not drain:
                    break
    except BaseException:
        proc.kill()
        proc.wait()
        _close_quietly(proc.stdin)
        for reader in readers:
            reader.join()
        raise
    _close_quietly(proc.stdin)
    returncode = proc.wait()
    for reader in readers:
        reader.join()
    return ProcessResult(returncode, bytes(stdout), bytes(stderr), closed_early)


def _close_quietly(handle):
    try:
        handle.close()
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass


def strip_prefix(key, database):
    """Count keys may carry the database ('appdb.users'); restored names do not."""
    prefix = '%s.' % database
    return key[len(prefix):] if database and key.startswith(prefix) else key


def count_items(expected, restored, what):
    """One item per manifest count: the restored figure against the manifest's."""
    items = []
    for key in sorted(expected):
        want, got = expected[key], restored.get(key)
        name = 'counts %s' % key
        if got is None:
            items.append(check_item(name, CRITICAL, None, what, detail='%s not found after the restore; manifest %s %d'
                                    % (key, what, want), table=key, expected=want))
        else:
            items.append(check_item(name, OK if got == want else CRITICAL, got, what,
                                    detail='restored %d %s, manifest %d' % (got, what, want), table=key, expected=want))
    return items


def restorer_for(engine, conn, workdir):
    """The engine's restorer (imported here so a module loads only what it uses)."""
    if engine == 'postgresql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_postgresql import PostgreSQLRestorer
        return PostgreSQLRestorer(conn, workdir)
    if engine == 'mysql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_mysql import MySQLRestorer
        return MySQLRestorer(conn, workdir)
    if engine == 'mongodb':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_mongodb import MongoDBRestorer
        return MongoDBRestorer(conn, workdir)
    if engine == 'redis':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_redis import RedisRestorer
        return RedisRestorer(conn, workdir)
    raise RestoreError('engine %r cannot be restored: expected postgresql, mysql, mongodb or redis' % (engine,))


class Restorer(object):
    """Interface of the per-engine restorers. Use as a context manager (it holds an
    administrative connection). ``what`` is the unit of the counts (rows, documents, keys)."""

    engine = None
    what = 'rows'
    system_databases = ()
    # True when load() into a scratch also runs the format check, leaving (ok, detail) in loaded_format.
    load_checks_format = False
    loaded_format = None

    def __init__(self, conn, workdir):
        self.conn = conn
        self.workdir = workdir

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def open(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def inspect(self, database):
        """dict(exists=bool, objects=int, detail=str): what is in the target now."""
        raise NotImplementedError

    def create(self, database):
        raise NotImplementedError

    def clean(self, database):
        """Leave ``database`` existing and empty."""
        raise NotImplementedError

    def drop(self, database):
        """Remove ``database``; True when it is gone afterwards."""
        raise NotImplementedError

    def check_plan(self, database, manifest, jobs):
        """Raise RestoreError when the artifact cannot go into ``database`` at all (before any change)."""

    def spooled(self, manifest, jobs):
        """True when load() writes a decoded copy to the temp directory."""
        return False

    def load(self, stream, database, manifest, jobs=1, privileges=False):
        """Restore the decoded stream into ``database``; a short text of how."""
        raise NotImplementedError

    def count(self, database, manifest):
        """{manifest count key: restored count or None} for the manifest's counts."""
        raise NotImplementedError

    def check_format(self, stream, manifest):
        """(ok, detail) after reading the whole stream."""
        raise NotImplementedError
