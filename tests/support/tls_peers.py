"""Loopback peers for cert_check: a TLS server that picks its certificate by SNI, an
SMTP server with STARTTLS, a port that never answers, and a real PostgreSQL 15 with
ssl = on.

Standard library only (socketserver + ssl) besides tests/support/certs.py. Every peer
listens on 127.0.0.1 and is stopped by the test that started it; PostgreSQL is stopped
by process id through tests/support/servers.Server.stop().
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path

from tests.support import servers
from tests.support.certs import Issued

HOST = "127.0.0.1"
IO_TIMEOUT = 10


def _server_context(issued: Issued) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # fullchain: the server sends the leaf and its intermediate, as a real one should.
    context.load_cert_chain(str(issued.fullchain), str(issued.key_path))
    return context


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, peer):
        self.peer = peer
        super().__init__(address, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(IO_TIMEOUT)
        try:
            self.server.peer.handle(self.request)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away or gave up on the handshake: its side is what is tested


class _Peer:
    """A loopback server on a thread of its own; one thread per connection."""

    def __init__(self, port: int | None = None):
        self.host = HOST
        self.port = port or 0
        self.connections = 0
        self._server = None
        self._thread = None

    def start(self):
        self._server = _TCPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


def _drain(conn) -> None:
    """Read until the client closes (or the timeout), then let the caller close."""
    while conn.recv(4096):
        pass


class TLSPeer(_Peer):
    """TLS from the first byte. ``certs`` maps an SNI name to the certificate served for
    it; ``default`` is served without SNI or for a name not in ``certs``. The names the
    clients sent are kept in ``server_names`` (None for no SNI)."""

    def __init__(self, default: Issued, certs: dict | None = None, port: int | None = None):
        super().__init__(port)
        self.server_names = []
        self._contexts = {name: _server_context(issued) for name, issued in (certs or {}).items()}
        self._context = _server_context(default)
        self._context.sni_callback = self._select

    def _select(self, tls, server_name, _context):
        self.server_names.append(server_name)
        if server_name in self._contexts:
            tls.context = self._contexts[server_name]

    def handle(self, conn):
        self.connections += 1
        with self._context.wrap_socket(conn, server_side=True) as tls:
            _drain(tls)


class SMTPPeer(_Peer):
    """A minimal ESMTP server: greeting, EHLO (with or without STARTTLS), STARTTLS, QUIT."""

    def __init__(self, issued: Issued, offer_starttls: bool = True, port: int | None = None):
        super().__init__(port)
        self.offer_starttls = offer_starttls
        self.commands = []
        self._context = _server_context(issued)

    def handle(self, conn):
        self.connections += 1
        conn.sendall(b"220 mail.example.test ESMTP caretaker-test\r\n")
        reader = conn.makefile("rb")
        stream = conn
        while True:
            line = reader.readline(1024)
            if not line:
                return
            command = line.strip().decode("ascii", "replace")
            self.commands.append(command)
            verb = command.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                extensions = ["PIPELINING", "SIZE 10240000"]
                if self.offer_starttls and stream is conn:
                    extensions.append("STARTTLS")
                reply = ["250-mail.example.test greets you"] + [f"250-{ext}" for ext in extensions[:-1]]
                reply.append(f"250 {extensions[-1]}")
                stream.sendall(("\r\n".join(reply) + "\r\n").encode("ascii"))
            elif verb == "STARTTLS" and self.offer_starttls and stream is conn:
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                stream = self._context.wrap_socket(conn, server_side=True)
                reader = stream.makefile("rb")
            elif verb == "QUIT":
                stream.sendall(b"221 2.0.0 Bye\r\n")
                stream.close()
                return
            elif verb == "NOOP":
                stream.sendall(b"250 2.0.0 OK\r\n")
            else:
                stream.sendall(b"502 5.5.2 Command not recognized\r\n")


class SilentPeer:
    """A port whose kernel completes the TCP handshake but nobody ever answers."""

    def __init__(self, port: int | None = None):
        self.host = HOST
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, port or 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]

    def stop(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- PostgreSQL 15 with ssl = on ------------------------------------------------------


def start_postgresql_tls(base_dir, issued: Issued, port: int | None = None) -> servers.Server:
    """A real PostgreSQL 15 serving ``issued`` (its fullchain) with ssl = on.

    Built from the helpers of tests/support/servers.py, the way start_postgresql() starts
    its server, plus ssl, ssl_cert_file and ssl_key_file as -c options. The key is 0600
    and owned by the user the server runs as (postgres when the tests run as root).
    """
    port = port or servers.free_port()
    password = servers._new_password()
    home = servers._fresh_dir(Path(base_dir).resolve() / "postgresql-tls")
    identity = servers._pg_identity()
    owner = None
    scratch = None
    if identity:
        # As in servers.start_postgresql: the postgres user must reach its files.
        entry = pwd.getpwnam(identity["user"])
        owner = (entry.pw_uid, entry.pw_gid)
        scratch = tempfile.mkdtemp(prefix="caretaker-pgtls-", dir="/tmp")
        os.chown(scratch, *owner)
    run_dir = Path(scratch or home)
    try:
        cert_file = _copy(issued.fullchain, run_dir / "server.crt", 0o644, owner)
        key_file = _copy(issued.key_path, run_dir / "server.key", 0o600, owner)
        datadir = run_dir / "data"
        servers._initdb(datadir, password, identity)
        log_path = home / "server.log"
        proc = servers._spawn(
            [
                servers.PG_BIN / "postgres", "-D", datadir, "-p", port, "-k", run_dir,
                "-c", f"listen_addresses={HOST}",
                "-c", "max_connections=10",
                "-c", "fsync=off",
                "-c", "ssl=on",
                "-c", f"ssl_cert_file={cert_file}",
                "-c", f"ssl_key_file={key_file}",
            ],
            log_path,
            cwd=run_dir,
            **identity,
        )
    except BaseException:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    server = servers.Server("postgresql", HOST, port, "postgres", password, "postgres", str(run_dir),
                            proc.pid, str(datadir), scratch)
    with servers._stop_on_error(server):
        probe = [servers.PG_BIN / "pg_isready", "-q", "-h", HOST, "-p", port]
        servers._wait_ready(server, log_path, lambda: servers._succeeds(probe))
    return server


def _copy(source: Path, target: Path, mode: int, owner) -> Path:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, mode)
        if owner:
            os.fchown(fd, *owner)
        handle.write(Path(source).read_bytes())
    return target
