# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis: check RDB artifacts with redis-check-rdb and restore them by key replay.

A live server cannot load an RDB through the protocol, so the RDB is loaded into a
throwaway redis-server started here (a child of this process, listening only on a unix
socket in a 0700 temp directory, no TCP port), and its keys are copied into the target
logical database with DUMP / PTTL / RESTORE, which keeps every type and TTL exactly.
The restore test uses the same throwaway server and compares its keyspace with the
manifest; it is stopped by its process id and its directory removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import signal
import subprocess
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    SCRATCH_PREFIX, Restorer, RestoreError, find_tool, with_database, write_private_file, write_stream)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.redis import RedisEngine

try:
    import redis
except ImportError:
    redis = None  # RedisEngine.require_driver() reports the missing redis-py

_PACKAGE = 'the Redis server programs (Debian: redis-server)'
_SOCKET_WAIT = 30
_BATCH = 500


def db_number(key):
    """3 for a manifest count key 'db3' or '3', else None."""
    match = re.match(r'^(?:db)?(\d+)$', '%s' % key)
    return int(match.group(1)) if match else None


def _tail(path, lines=8):
    try:
        with open(path, 'r') as handle:
            return ' | '.join(line.strip() for line in handle.read().splitlines()[-lines:])
    except OSError:
        return '(no log)'


class ThrowawayRedis(object):
    """redis-server loading one RDB file, reachable only through a private unix socket."""

    def __init__(self, workdir, rdb_name='dump.rdb'):
        self.workdir = workdir
        self.rdb_name = rdb_name
        self.socket = os.path.join(workdir, 'redis.sock')
        self.log = os.path.join(workdir, 'redis.log')
        self.proc = None

    def start(self):
        binary = find_tool('redis-server', _PACKAGE)
        conf = write_private_file(self.workdir, 'throwaway.conf', '\n'.join([
            'port 0', 'unixsocket "%s"' % self.socket, 'unixsocketperm 700',
            'dir "%s"' % self.workdir, 'dbfilename "%s"' % self.rdb_name, 'save ""', 'appendonly no',
            'daemonize no', 'databases 256', 'logfile "%s"' % self.log, '']))
        self.proc = subprocess.Popen([binary, conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.workdir, close_fds=True)
        deadline = time.monotonic() + _SOCKET_WAIT
        while True:
            if self.proc.poll() is not None:
                raise RestoreError('the throwaway redis-server could not load the RDB (exit status %d): %s'
                                   % (self.proc.returncode, _tail(self.log)))
            if os.path.exists(self.socket):
                try:
                    self.client().ping()
                    return self
                except redis.exceptions.BusyLoadingError:
                    deadline = time.monotonic() + _SOCKET_WAIT  # still loading a large RDB: keep waiting
                except redis.exceptions.ConnectionError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RestoreError('the throwaway redis-server did not answer within %ds: %s' % (_SOCKET_WAIT, _tail(self.log)))
            time.sleep(0.05)

    def client(self, db=0):
        return redis.Redis(unix_socket_path=self.socket, db=db, socket_timeout=300)

    def keyspace(self):
        """{db number: keys} of every non-empty logical database."""
        info = self.client().info('keyspace')
        return dict((int(name[2:]), int(value['keys'])) for name, value in info.items() if name.startswith('db'))

    def stop(self):
        """Stop by process id; True when the process is gone."""
        if self.proc is None:
            return True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # save "" : nothing is written on the way out
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.poll() is not None


class RedisRestorer(Restorer):
    engine = 'redis'
    what = 'keys'
    system_databases = ()
    # A scratch load checks the RDB it writes with redis-check-rdb: one decoded copy on disk, not two.
    load_checks_format = True

    def __init__(self, conn, workdir):
        super(RedisRestorer, self).__init__(conn, workdir)
        self.throwaway = None
        self.scratch = None
        self.loaded_format = None  # (ok, detail) of the RDB a scratch load wrote
        self._targets = {}

    def open(self):
        """Connections open on first use: a restore test needs no server but its own."""

    def close(self):
        for engine in self._targets.values():
            engine.close()
        self._targets = {}
        if self.throwaway is not None:
            self.throwaway.stop()

    def _target(self, database):
        if database not in self._targets:
            try:
                int(database)
            except ValueError:
                raise RestoreError('target_database must be a Redis logical database number, got %r' % database)
            engine = RedisEngine(with_database(self.conn, database))
            engine.connect()
            self._targets[database] = engine
        return self._targets[database]

    def _raw(self, engine):
        """A client of the same connection that keeps DUMP payloads as bytes."""
        pool = engine.client.connection_pool
        kwargs = dict(pool.connection_kwargs, decode_responses=False)
        return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))

    def inspect(self, database):
        keys = self._target(database).run('DBSIZE failed', self._target(database).client.dbsize)
        detail = 'logical database %s holds %d keys' % (database, keys) if keys else 'logical database %s is empty' % database
        return dict(exists=True, objects=int(keys), detail=detail)

    def create(self, database, like=None):
        if database.startswith(SCRATCH_PREFIX):
            self.scratch = database  # the throwaway server is the scratch; it starts in load()

    def clean(self, database):
        engine = self._target(database)
        engine.run('FLUSHDB failed', engine.client.flushdb)

    def drop(self, database):
        if database != self.scratch:
            raise RestoreError('only a scratch restore can be dropped')
        gone = self.throwaway.stop() if self.throwaway is not None else True
        self.throwaway = None
        for name in ('dump.rdb', 'redis.sock'):
            path = os.path.join(self.workdir, name)
            if os.path.exists(path):
                os.unlink(path)
        return gone

    def check_plan(self, database, manifest, jobs):
        if manifest.get('dump_format') != 'rdb':
            raise RestoreError('dump_format %s is not a Redis artifact: expected rdb' % manifest.get('dump_format'))
        if db_number(database) is None or '%s' % database != '%d' % db_number(database):
            raise RestoreError('target_database must be a Redis logical database number, got %r' % database)

    def spooled(self, manifest, jobs):
        return True

    def _load_throwaway(self, stream, check=False):
        path = write_stream(stream, self.workdir, 'dump.rdb')
        if check:
            self.loaded_format = self.check_rdb(path)
        self.throwaway = ThrowawayRedis(self.workdir).start()

    def source_db(self, manifest):
        value = manifest.get('source_database', manifest.get('database'))
        number = db_number(value) if value is not None else None
        return 0 if number is None else number

    def load(self, stream, database, manifest, jobs=1, privileges=False):
        self._load_throwaway(stream, check=database == self.scratch)
        if database == self.scratch:
            return 'RDB loaded into a throwaway redis-server on a private unix socket'
        source = self.source_db(manifest)
        target = self._raw(self._target(database))
        reader = self.throwaway.client(source)
        copied = 0
        try:
            cursor = 0
            while True:
                cursor, keys = reader.scan(cursor, count=_BATCH)
                copied += self._copy(reader, target, keys)
                if cursor == 0:
                    break
        except redis.exceptions.RedisError as exc:
            raise RestoreError('copying keys into logical database %s failed: %s' % (database, exc))
        finally:
            target.close()
        self.throwaway.stop()
        return 'RDB loaded into a throwaway redis-server; %d keys of its db %d copied with DUMP/RESTORE' % (copied, source)

    def _copy(self, reader, target, keys):
        if not keys:
            return 0
        pipe = reader.pipeline(transaction=False)
        for key in keys:
            pipe.dump(key)
            pipe.pttl(key)
        answers = pipe.execute()
        pipe = target.pipeline(transaction=False)
        copied = 0
        for index, key in enumerate(keys):
            payload, ttl = answers[2 * index], answers[2 * index + 1]
            if payload is None or ttl == -2:  # expired in the meantime
                continue
            pipe.restore(key, max(ttl, 0), payload)
            copied += 1
        pipe.execute()
        return copied

    def count(self, database, manifest):
        counts = manifest.get('counts') or {}
        if database == self.scratch:
            keyspace = self.throwaway.keyspace()
            return dict((key, keyspace.get(db_number(key), 0) if db_number(key) is not None else None) for key in counts)
        source = self.source_db(manifest)
        keys = self.inspect(database)['objects']
        return dict((key, keys) for key in counts if db_number(key) == source)

    def check_format(self, stream, manifest):
        if manifest.get('dump_format') != 'rdb':
            return False, 'dump_format %r is not a Redis format: expected rdb' % manifest.get('dump_format')
        path = write_stream(stream, self.workdir, 'check.rdb')
        try:
            return self.check_rdb(path)
        finally:
            os.unlink(path)

    def check_rdb(self, path):
        """(ok, detail) of redis-check-rdb on a decoded RDB file."""
        checker = find_tool('redis-check-rdb', _PACKAGE)
        proc = subprocess.run([checker, path], stdin=subprocess.DEVNULL, capture_output=True, check=False,
                              cwd=self.workdir, timeout=3600)
        output = proc.stdout.decode('utf-8', 'replace') + proc.stderr.decode('utf-8', 'replace')
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if proc.returncode == 0 and any('RDB looks OK' in line for line in lines):
            keys = [line for line in lines if 'keys read' in line]
            return True, 'redis-check-rdb: RDB looks OK%s' % ('; ' + keys[-1].split('] ', 1)[-1] if keys else '')
        return False, 'redis-check-rdb: %s' % ' | '.join(lines[-6:])
