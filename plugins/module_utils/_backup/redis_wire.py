# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few pieces of the Redis wire protocol a backup needs that redis-py does not offer.

- ``RawRedis``: one RESP2 connection (TCP, TLS or unix socket) that can pipeline
  commands and read the status text redis-py hides (``Background saving scheduled``)
  and, after PSYNC, the replication stream's raw bytes.
- ``rdb_payload``: the RDB bulk a master sends a replica after ``+FULLRESYNC``, either
  ``$<length>\\r\\n`` + exactly length bytes (disk-based sync) or ``$EOF:<40 bytes>\\r\\n``
  + bytes up to that 40-byte mark (diskless sync), in bounded chunks.
- ``RdbCheck``: the ``REDIS00xx`` header and the EOF opcode + 8-byte checksum trailer,
  checked on the stream while it passes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import ssl
import time

READ_SIZE = 1024 * 1024
EOF_MARK_SIZE = 40
MAX_LINE = 64 * 1024
RDB_HEADER = re.compile(br'^REDIS\d{4}$')
RDB_EOF = 0xFF


class WireError(Exception):
    """The connection broke, timed out or said something unexpected."""


class ReplyError(WireError):
    """The server answered with an error reply (``-ERR ...``)."""


def pack(*args):
    out = [b'*%d\r\n' % len(args)]
    for arg in args:
        if not isinstance(arg, bytes):
            arg = ('%s' % (arg,)).encode('utf-8')
        out.append(b'$%d\r\n%s\r\n' % (len(arg), arg))
    return b''.join(out)


def parse_info(text):
    """INFO's ``key:value`` lines as a dict of strings."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    info = {}
    for line in text.splitlines():
        if line and not line.startswith('#') and ':' in line:
            key, value = line.split(':', 1)
            info[key] = value.strip()
    return info


def keyspace_counts(text):
    """{'db0': 12, ...} from the text of INFO keyspace."""
    counts = {}
    for key, value in parse_info(text).items():
        if re.match(r'^db\d+$', key):
            fields = dict(item.split('=', 1) for item in value.split(',') if '=' in item)
            counts[key] = int(fields.get('keys', 0))
    return counts


def _tls_context(conn):
    context = ssl.create_default_context(cafile=conn.tls_ca)
    if not conn.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if conn.tls_cert:
        context.load_cert_chain(conn.tls_cert, conn.tls_key)
    return context


def connect(conn, port, timeout):
    """A RawRedis to the server of ``conn`` (a ConnectionSpec), authenticated; the password stays in memory."""
    try:
        if conn.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(conn.connect_timeout)
            try:
                sock.connect(conn.unix_socket)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
        else:
            sock = socket.create_connection((conn.host, port), timeout=conn.connect_timeout)
            if conn.tls:
                try:
                    sock = _tls_context(conn).wrap_socket(sock, server_hostname=conn.host)
                except (OSError, ssl.SSLError):
                    sock.close()
                    raise
    except (OSError, ssl.SSLError) as exc:
        raise WireError('%s' % exc)
    wire = RawRedis(sock, timeout)
    if conn.password:
        credentials = (conn.user, conn.password) if conn.user else (conn.password,)
        try:
            wire.command('AUTH', *credentials)
        except WireError:
            wire.close()
            raise
    return wire


class RawRedis(object):
    """One RESP2 connection over a connected socket."""

    def __init__(self, sock, timeout):
        self._buffer = bytearray()
        self.sock = sock
        sock.settimeout(timeout)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def settimeout(self, seconds):
        self.sock.settimeout(max(0.001, seconds))

    def send(self, *commands):
        """Pipeline several commands (tuples) in one write."""
        try:
            self.sock.sendall(b''.join(pack(*command) for command in commands))
        except (OSError, ssl.SSLError) as exc:
            raise WireError('sending to the server failed: %s' % exc)

    def command(self, *args):
        self.send(args)
        return self.reply()

    def _fill(self):
        try:
            data = self.sock.recv(READ_SIZE)
        except socket.timeout:
            raise WireError('no answer within the read timeout')
        except (OSError, ssl.SSLError) as exc:
            raise WireError('reading from the server failed: %s' % exc)
        if not data:
            raise WireError('the server closed the connection')
        self._buffer += data

    def line(self):
        """One line without its line ending; the master's keepalive newlines give ''."""
        while True:
            end = self._buffer.find(b'\n')
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return line[:-1] if line.endswith(b'\r') else line
            if len(self._buffer) > MAX_LINE:
                raise WireError('a reply line longer than %d bytes: not a Redis server?' % MAX_LINE)
            self._fill()

    def exactly(self, size):
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def some(self, limit):
        """Up to ``limit`` bytes, whatever is buffered or arrives next (at least one)."""
        if not self._buffer:
            self._fill()
        data = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        return data

    def reply(self):
        line = self.line()
        if not line:
            raise WireError('an empty reply line')
        kind, rest = line[:1], line[1:]
        if kind == b'+':
            return rest.decode('utf-8', 'replace')
        if kind == b'-':
            raise ReplyError(rest.decode('utf-8', 'replace'))
        if kind == b':':
            return int(rest)
        if kind == b'$':
            size = int(rest)
            if size < 0:
                return None
            data = self.exactly(size + 2)
            return data[:-2]
        if kind == b'*':
            size = int(rest)
            return None if size < 0 else [self.reply() for _index in range(size)]
        raise WireError('an unexpected reply %r: not a Redis server?' % line[:40])

    def line_until(self, deadline, idle):
        """The next non-empty line, skipping keepalive newlines; WireError('deadline') past ``deadline``."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireError('deadline')
            self.settimeout(min(left, idle))
            try:
                line = self.line()
            except WireError:
                if time.monotonic() >= deadline:
                    raise WireError('deadline')
                raise
            if line:
                return line


def rdb_payload(wire, header, idle):
    """Chunks of the RDB that follows a ``$...`` bulk header line from a master."""
    wire.settimeout(idle)
    if header.startswith(b'$EOF:'):
        mark = header[5:]
        if len(mark) != EOF_MARK_SIZE:
            raise WireError('a diskless sync header with a %d-byte end mark, not %d' % (len(mark), EOF_MARK_SIZE))
        # Hold back the last 40 bytes seen: they may be the mark, which is not part of the RDB.
        held = b''
        while True:
            held += wire.some(READ_SIZE)
            if held.endswith(mark):
                if len(held) > EOF_MARK_SIZE:
                    yield held[:-EOF_MARK_SIZE]
                return
            if len(held) > EOF_MARK_SIZE:
                yield held[:-EOF_MARK_SIZE]
                held = held[-EOF_MARK_SIZE:]
    try:
        left = int(header[1:])
    except ValueError:
        raise WireError('an unexpected sync header %r' % header[:60])
    if left < 0:
        raise WireError('a negative RDB length in the sync header %r' % header[:60])
    got = 0
    while left:
        try:
            data = wire.some(min(READ_SIZE, left))
        except WireError as exc:
            raise WireError('%s after %d of %d RDB bytes' % (exc, got, got + left))
        got += len(data)
        left -= len(data)
        yield data


class RdbCheck(object):
    """Watches an RDB stream go by: its first 9 bytes, its last 9 bytes and its size."""

    def __init__(self):
        self.head = b''
        self.tail = b''
        self.size = 0

    def add(self, data):
        if len(self.head) < 9:
            self.head += data[:9 - len(self.head)]
        self.tail = (self.tail + data[-9:])[-9:]
        self.size += len(data)
        return data

    def problem(self):
        """What is wrong with the stream, or None."""
        if not RDB_HEADER.match(self.head):
            return 'it does not start with an RDB header (REDIS and a 4-digit version) but with %r' % self.head
        if self.size < 18 or bytearray(self.tail)[0] != RDB_EOF:
            return 'it does not end with the RDB end-of-file opcode and checksum (%d bytes, truncated?)' % self.size
        return None

    @property
    def checksum_disabled(self):
        return self.tail[1:] == b'\0' * 8

    @property
    def version(self):
        return self.head[5:].decode('ascii', 'replace')
