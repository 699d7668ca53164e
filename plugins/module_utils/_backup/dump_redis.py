# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis dumps: one RDB snapshot of the whole server (every logical database).

Two ways to get it (``redis_method``):

- ``bgsave``: BGSAVE, wait until the server reports the save finished and succeeded,
  then stream its RDB file (CONFIG GET dir + dbfilename, or ``redis_rdb_path``). Needs
  the file on this host and readable. The counts come from INFO keyspace pipelined right
  behind BGSAVE: the server forks inside BGSAVE and runs the next command of the same
  client before any other client's, so they describe the snapshot itself.
- ``replica``: attach as a replica over a raw connection (AUTH, REPLCONF capa eof,
  PSYNC ? -1) and stream the RDB the server sends for the full resync, then hang up.
  Works from any host; diskless servers (repl-diskless-sync yes, the Redis 7 default)
  wait repl-diskless-sync-delay seconds (5 by default) before they start sending. The
  counts come from INFO keyspace read as soon as the server answers +FULLRESYNC, the
  moment it forks: keys written in between can make a count differ by that many.

``auto`` (the default) uses bgsave when the server is on this host (unix socket or a
loopback address, or ``redis_rdb_path`` is given) and its RDB file can be read here,
else replica. The password goes over the connection only, never on a command line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import DumpOptionError
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.redis_wire import (
    READ_SIZE, RdbCheck, ReplyError, WireError, connect, keyspace_counts, parse_info, rdb_payload)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.source import DumpSource
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError

METHODS = ('auto', 'bgsave', 'replica')
DEFAULT_TIMEOUT = 3600
# Clock slack between "BGSAVE sent" and the file's mtime (file systems round timestamps).
MTIME_SLACK = 2.0


def explain(error, commands, other):
    """The server's error text, with the fix when ACLs refused a command."""
    text = '%s' % (error,)
    if 'noperm' in text.lower():
        text += ' (give the user the %s commands, or use redis_method %s)' % (commands, other)
    return text


def is_local(conn):
    if conn.unix_socket:
        return True
    if conn.host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(u'%s' % conn.host).is_loopback
    except ValueError:
        return False


def unreadable(path):
    """Why this process cannot read ``path`` once the server has written it, or None."""
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        return 'its directory %s does not exist on this host (is the server on another host or in a container?)' % directory
    if not os.access(directory, os.X_OK):
        return 'this user may not enter its directory %s' % directory
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return 'this user may not read it'
    return None


class RedisDump(DumpSource):
    """The ``rdb`` DumpSource. Use while the engine is connected."""

    dump_format = 'rdb'

    def __init__(self, engine, format=None, redis_method=None, redis_rdb_path=None, redis_timeout=None):
        super(RedisDump, self).__init__()
        if format not in (None, '', 'rdb'):
            raise DumpOptionError('format %s is not a Redis dump format: use rdb (an RDB snapshot, the default and '
                                  'only one) or leave format unset' % format)
        method = redis_method or 'auto'
        if method not in METHODS:
            raise DumpOptionError('redis_method must be one of %s, got %r' % (', '.join(METHODS), method))
        if redis_rdb_path is not None and not os.path.isabs(redis_rdb_path):
            raise DumpOptionError('redis_rdb_path must be the absolute path of the server\'s RDB file, got %r'
                                  % (redis_rdb_path,))
        if redis_timeout is not None and redis_timeout <= 0:
            raise DumpOptionError('redis_timeout must be a number of seconds above 0, got %r' % (redis_timeout,))
        self.engine = engine
        self.timeout = float(redis_timeout or DEFAULT_TIMEOUT)
        self.idle = max(60.0, engine.conn.connect_timeout * 12.0)
        self.server_version = engine.version()
        self.messages = []
        self.requested_method = method
        self.transfer = None  # how the RDB came: 'file', or a sync's 'disk' ($<length>) or 'diskless' ($EOF:)
        self._wire = None
        self._file = None
        self._closed = False
        self.method, self.rdb_path = self._choose(method, redis_rdb_path)
        self.tool_version = self._tool_version()

    def _tool_version(self):
        how = 'BGSAVE' if self.method == 'bgsave' else 'replication sync (PSYNC)'
        return 'redis-server %s %s' % (self.server_version, how)

    # --- which method
    def _server_rdb_path(self):
        """(path, None) from CONFIG GET, or (None, why not)."""
        def config():
            found = {}
            for name in ('dir', 'dbfilename'):
                found.update(self.engine.client.config_get(name))
            return found
        try:
            found = self.engine.run('CONFIG GET failed', config)
        except EngineError as exc:
            return None, '%s' % exc
        if not found.get('dir') or not found.get('dbfilename'):
            return None, 'CONFIG GET did not return dir and dbfilename'
        return os.path.join(found['dir'], found['dbfilename']), None

    def _choose(self, method, rdb_path):
        if method == 'replica':
            return 'replica', None
        label = self.engine.label
        path, why = (rdb_path, None) if rdb_path else self._server_rdb_path()
        if path is None:
            if method == 'bgsave':
                raise EngineError('%s: redis_method bgsave needs the path of the server\'s RDB file, but %s: set '
                                  'redis_rdb_path, or use redis_method replica' % (label, why))
            return 'replica', None
        if method == 'auto' and not rdb_path and not is_local(self.engine.conn):
            return 'replica', None
        problem = unreadable(path)
        if problem:
            if method == 'bgsave':
                raise EngineError('%s: cannot read the RDB file %s after BGSAVE: %s: run the task as a user who can '
                                  'read it (become), set redis_rdb_path, or use redis_method replica'
                                  % (label, path, problem))
            return 'replica', None
        return 'bgsave', path

    def estimated_size(self):
        """The size of the server's last RDB file when it is readable here (an RDB of the same data)."""
        if self.rdb_path:
            try:
                return os.path.getsize(self.rdb_path)
            except OSError:
                return None
        return None

    # --- the stream
    def chunks(self):
        check = RdbCheck()
        produce = self._bgsave if self.method == 'bgsave' else self._replica
        try:
            for data in produce():
                yield check.add(data)
        finally:
            self._hang_up()
        problem = check.problem()
        if problem:
            raise EngineError('%s: the RDB from %s is not usable: %s' % (self.engine.label, self.tool_version, problem))
        if check.checksum_disabled:
            self.messages.append('the RDB of %s has no checksum (rdbchecksum no on the server): corruption in it can '
                                 'only be found by loading it' % self.engine.label)

    def _open_wire(self):
        try:
            self._wire = connect(self.engine.conn, self.engine.port, self.idle)
        except WireError as exc:
            raise self.engine.error('cannot connect for the backup', exc)
        return self._wire

    def _close_wire(self):
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    def _hang_up(self):
        self._close_wire()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _bgsave(self):
        wire = self._open_wire()
        requested = time.time()
        deadline = time.monotonic() + self.timeout
        try:
            before, status = self._start_bgsave(wire, deadline)
            if status.lower().startswith('background saving scheduled'):
                self.messages.append('BGSAVE on %s was scheduled behind another child process (an AOF rewrite?): the '
                                     'key counts were read before the snapshot, so writes in between can make them '
                                     'differ from it' % self.engine.label)
            self._wait_for_save(wire, before, status, deadline)
        except WireError as exc:
            raise self.engine.error('BGSAVE failed', exc)
        self._file = self._open_saved(requested)
        if self._file is None:
            # auto picked a file that this BGSAVE did not write: the server's disk is not ours after all.
            self.messages.append('the RDB file %s was not rewritten by BGSAVE on %s, so it is not that server\'s: '
                                 'used a replication sync instead' % (self.rdb_path, self.engine.label))
            self._hang_up()
            self.method, self.rdb_path = 'replica', None
            self.tool_version = self._tool_version()
            yield from self._replica()
            return
        self._close_wire()
        self.transfer = 'file'
        while True:
            data = self._file.read(READ_SIZE)
            if not data:
                break
            yield data

    def _start_bgsave(self, wire, deadline):
        """(INFO persistence before, BGSAVE's status reply); counts set from the same moment."""
        while True:
            # SCHEDULE: behind a running AOF rewrite, save as soon as it ends instead of failing.
            wire.send(('INFO', 'persistence'), ('BGSAVE', 'SCHEDULE'), ('INFO', 'keyspace'))
            before = parse_info(wire.reply())
            try:
                status, error = wire.reply(), None
            except ReplyError as exc:
                status, error = None, exc
            keyspace = wire.reply()
            if error is None:
                self.counts = keyspace_counts(keyspace)
                return before, status
            if 'already in progress' not in ('%s' % error).lower():
                raise ReplyError(explain(error, 'bgsave and info', 'replica'))
            # Someone else's save is running: let it finish, then take a snapshot of our own.
            self._wait(wire, deadline, lambda info: info.get('rdb_bgsave_in_progress') == '0',
                       'the BGSAVE that was already running')

    def _wait_for_save(self, wire, before, status, deadline):
        started = status.lower().startswith('background saving started')

        def finished(info):
            if info.get('rdb_bgsave_in_progress') != '0':
                return False
            if started:
                return True  # ours was forked inside BGSAVE, and no save runs any more
            if 'rdb_saves' in info and 'rdb_saves' in before:  # Redis 7: counts saves as they start
                return int(info['rdb_saves']) > int(before['rdb_saves'])
            return int(info.get('rdb_last_save_time', 0)) > int(before.get('rdb_last_save_time', 0))

        info = self._wait(wire, deadline, finished, 'BGSAVE')
        if info.get('rdb_last_bgsave_status') != 'ok':
            raise EngineError('%s: BGSAVE failed on the server (rdb_last_bgsave_status:%s): its log says why, most often '
                              'no space or no write permission in its dir, or fork failing (vm.overcommit_memory)'
                              % (self.engine.label, info.get('rdb_last_bgsave_status')))

    def _wait(self, wire, deadline, done, what):
        delay = 0.02
        while True:
            info = parse_info(wire.command('INFO', 'persistence'))
            if done(info):
                return info
            if time.monotonic() + delay > deadline:
                raise EngineError('%s: %s did not finish within redis_timeout=%gs (rdb_bgsave_in_progress:%s, '
                                  'rdb_current_bgsave_time_sec:%s): raise redis_timeout for a dataset this big'
                                  % (self.engine.label, what, self.timeout, info.get('rdb_bgsave_in_progress'),
                                     info.get('rdb_current_bgsave_time_sec')))
            time.sleep(delay)
            delay = min(1.0, delay * 2)

    def _open_saved(self, requested):
        """The saved RDB file, opened; None when it was not rewritten since ``requested`` and auto may fall back."""
        try:
            handle = open(self.rdb_path, 'rb')
        except (IOError, OSError) as exc:
            raise EngineError('%s: BGSAVE finished but its RDB file %s cannot be read here: %s: set redis_rdb_path or '
                              'use redis_method replica' % (self.engine.label, self.rdb_path, exc.strerror or exc))
        # The open handle keeps this inode, whatever the server renames over the path later.
        if os.fstat(handle.fileno()).st_mtime >= requested - MTIME_SLACK:
            return handle
        handle.close()
        if self.requested_method == 'bgsave':
            raise EngineError('%s: BGSAVE finished but %s was not rewritten by it, so it is not this server\'s RDB file: '
                              'set redis_rdb_path to the file in the server\'s dir, or use redis_method replica'
                              % (self.engine.label, self.rdb_path))
        return None

    def _replica(self):
        wire = self._open_wire()
        deadline = time.monotonic() + self.timeout
        try:
            try:
                wire.command('CLIENT', 'SETNAME', 'caretaker-backup')
            except ReplyError:
                pass  # a name only helps an operator reading CLIENT LIST
            try:
                wire.command('REPLCONF', 'capa', 'eof', 'capa', 'psync2')
            except ReplyError as exc:
                raise WireError('REPLCONF: %s' % explain(exc, 'replconf and psync', 'bgsave'))
            wire.send(('PSYNC', '?', '-1'))
            reply = wire.line_until(deadline, self.idle)
            if reply.startswith(b'-'):
                raise WireError('PSYNC: %s' % explain(reply[1:].decode('utf-8', 'replace'), 'replconf and psync', 'bgsave'))
            if not reply.startswith(b'+FULLRESYNC'):
                raise WireError('PSYNC answered %r instead of +FULLRESYNC' % reply[:80].decode('utf-8', 'replace'))
            self.counts = self._keyspace()
            header = wire.line_until(deadline, self.idle)
            if not header.startswith(b'$'):
                raise WireError('the server sent %r instead of the RDB' % header[:80].decode('utf-8', 'replace'))
            self.transfer = 'diskless' if header.startswith(b'$EOF:') else 'disk'
            yield from rdb_payload(wire, header, self.idle)
        except WireError as exc:
            if '%s' % exc == 'deadline':
                raise EngineError('%s: no RDB from the server within redis_timeout=%gs: raise redis_timeout for a '
                                  'dataset this big (the server saves or forks before it sends anything)'
                                  % (self.engine.label, self.timeout))
            raise self.engine.error('replication sync failed', exc)

    def _keyspace(self):
        info = self.engine.info('keyspace')
        return dict((name, int(value.get('keys', 0))) for name, value in info.items()
                    if name.startswith('db') and isinstance(value, dict))

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._hang_up()
