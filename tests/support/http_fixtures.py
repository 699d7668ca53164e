"""A loopback HTTP(S) server standing in for an application, for http_check's tests and benchmark.

Routes (any method):
  /health               200 "ok"
  /health/detailed      200 JSON detailed health; 401 when the server has a token and the
                        request lacks "Authorization: Bearer <token>"
  /degraded             200 JSON health with status "degraded"
  /                     200 HTML, <title>Demo Shop</title>
  /old-home             301 to /
  /redirect             302 to /health
  /redirect-loop        302 to itself
  /redirect-to?url=U    302 to U (another origin, for the secret-header test)
  /slow?ms=N            200 "ok" after N milliseconds
  /fail                 500
  /wrong                200 "maintenance mode"
  /notjson              200 "not json" as application/json
  /big?bytes=N          200 with N bytes
  /echo                 200 JSON of the method, headers and body received
  /graphql              POST: 200 {"data": {"health": "ok"}}
  /status/N             status N
  /e/N?ms=M             200 "ok" after M milliseconds (the benchmark's 200 endpoints)

Every request is counted, with the most requests ever in flight at once, so a test can
check the concurrency bound and that bad options fail before anything is sent.

The TLS variant uses a private CA made with ``cryptography`` (make_ca) and a server
certificate for 127.0.0.1 and localhost.
"""

import datetime
import ipaddress
import json
import socket
import ssl
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DETAILED = {
    'status': 'healthy',
    'version': '1.4.2',
    'uptime': 86400,
    'checks': [{'name': 'database', 'status': 'up', 'latency_ms': 3},
               {'name': 'cache', 'status': 'up', 'latency_ms': 1}],
    'meta': {'build.id': 'abc123'},
}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = []  # (method, path, headers dict, body bytes)

    def enter(self, record):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.requests.append(record)

    def leave(self):
        with self.lock:
            self.in_flight -= 1

    def reset(self):
        with self.lock:
            self.max_in_flight = self.in_flight
            self.requests = []

    @property
    def count(self):
        with self.lock:
            return len(self.requests)


class Handler(BaseHTTPRequestHandler):
    server_version = 'fixture-app/1.0'

    def log_message(self, *args):  # keep test output quiet
        pass

    def _handle(self):
        body = b''
        length = int(self.headers.get('Content-Length') or 0)
        if length:
            body = self.rfile.read(length)
        parts = urlsplit(self.path)
        query = dict((key, values[0]) for key, values in parse_qs(parts.query).items())
        stats = self.server.stats
        stats.enter((self.command, self.path, dict(self.headers.items()), body))
        self._in_flight = True
        try:
            self._route(parts.path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
        finally:
            self._leave()

    def _leave(self):
        # A request stops counting before its response goes out: once the client has the
        # response it may start the next one, which must not overlap this one in the count.
        if self._in_flight:
            self._in_flight = False
            self.server.stats.leave()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def _send(self, status, payload=b'', content_type='text/plain', headers=None):
        if isinstance(payload, str):
            payload = payload.encode('utf-8')
        self._leave()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(payload)

    def _json(self, status, document):
        self._send(status, json.dumps(document), 'application/json')

    def _route(self, path, query, body):
        if path == '/health':
            return self._send(200, 'ok')
        if path == '/health/detailed':
            token = self.server.token
            if token and self.headers.get('Authorization') != 'Bearer ' + token:
                return self._json(401, {'error': 'unauthorized'})
            return self._json(200, DETAILED)
        if path == '/degraded':
            return self._json(200, dict(DETAILED, status='degraded'))
        if path == '/':
            return self._send(200, '<html><head><title>Demo Shop</title></head><body>hi</body></html>', 'text/html')
        if path == '/old-home':
            return self._send(301, '', headers={'Location': '/'})
        if path == '/redirect':
            return self._send(302, '', headers={'Location': '/health'})
        if path == '/redirect-loop':
            return self._send(302, '', headers={'Location': '/redirect-loop'})
        if path == '/redirect-to':
            return self._send(302, '', headers={'Location': query['url']})
        if path == '/slow' or path.startswith('/e/'):
            time.sleep(int(query.get('ms', 0)) / 1000.0)
            return self._send(200, 'ok')
        if path == '/fail':
            return self._send(500, 'internal error')
        if path == '/wrong':
            return self._send(200, 'maintenance mode')
        if path == '/notjson':
            return self._send(200, 'not json', 'application/json')
        if path == '/big':
            size = int(query.get('bytes', 0))
            self._leave()
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Content-Length', str(size))
            self.end_headers()
            chunk = b'a' * 65536
            while size > 0:
                self.wfile.write(chunk[:size])
                size -= len(chunk)
            return None
        if path == '/echo':
            return self._json(200, {'method': self.command, 'headers': dict(self.headers.items()),
                                    'body': body.decode('utf-8', 'replace')})
        if path == '/graphql' and self.command == 'POST':
            return self._json(200, {'data': {'health': 'ok'}})
        if path.startswith('/status/'):
            return self._send(int(path.rsplit('/', 1)[1]), 'status')
        return self._json(404, {'error': 'not found'})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's default of 5 drops SYNs under concurrent load

    def handle_error(self, request, client_address):
        # Clients that reject the certificate or give up early are what the tests do on
        # purpose; anything else still prints its traceback.
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, socket.timeout)):
            ThreadingHTTPServer.handle_error(self, request, client_address)


class AppServer:
    """The app on 127.0.0.1; ``port=0`` picks a free port. Stop it with stop()."""

    def __init__(self, port=0, tls=None, token=None):
        self.httpd = _Server(('127.0.0.1', port), Handler)
        self.httpd.stats = Stats()
        self.httpd.token = token
        self.scheme = 'http'
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls.cert), str(tls.key))
            # handshake in the request's own thread, so a failing client never stalls accept()
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True,
                                                    do_handshake_on_connect=False)
            self.scheme = 'https'
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
        self.thread.start()

    @property
    def stats(self):
        return self.httpd.stats

    def url(self, path='/'):
        return '%s://127.0.0.1:%d%s' % (self.scheme, self.port, path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class TLSFiles:
    def __init__(self, ca, cert, key):
        self.ca = ca
        self.cert = cert
        self.key = key


def make_ca(directory):
    """A private CA and a server certificate it signs for 127.0.0.1 and localhost, as PEM
    files in ``directory``: TLSFiles(ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'caretaker test CA')])
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                        x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TLSFiles(directory / 'ca.pem', directory / 'server.pem', directory / 'server.key')
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files


@contextmanager
def refused_port():
    """A loopback port that refuses connections: bound (so nothing else takes it) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


def port_is_free(port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('127.0.0.1', port))
        except OSError:
            return False
        return True
