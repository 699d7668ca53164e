"""A stand-in for the stack's API: /health answers like a detailed health endpoint and
every request is written to an nginx-style combined access log."""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    server_version = 'demo-api/1.0'
    access_log = None
    alerts_log = None

    def do_GET(self):
        start = time.monotonic()
        if self.path in ('/health', '/health/detailed'):
            status, body = 200, {'status': 'healthy', 'uptime': round(time.monotonic() - STARTED, 1)}
        else:
            status, body = 404, {'error': 'not found'}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self._log(status, len(payload), time.monotonic() - start)

    def do_POST(self):
        """/hooks/alerts stands in for a team channel: each alert is appended to a file."""
        start = time.monotonic()
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(min(length, 1 << 20))
        if self.path == '/hooks/alerts' and self.alerts_log:
            with open(self.alerts_log, 'ab') as handle:
                handle.write(body.replace(b'\n', b' ') + b'\n')
            status = 204
        else:
            status = 404
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()
        self._log(status, 0, time.monotonic() - start)

    def _log(self, status, size, seconds):
        line = '%s - - [%s] "%s" %d %d "-" "%s" %.3f\n' % (
            self.client_address[0], time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime()),
            self.requestline, status, size, self.headers.get('User-Agent', '-'), seconds)
        with open(self.access_log, 'a') as handle:
            handle.write(line)

    def log_message(self, *args):  # the access log above replaces stderr logging
        pass


STARTED = time.monotonic()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--access-log', required=True)
    parser.add_argument('--alerts-log')
    args = parser.parse_args()
    Handler.access_log = args.access_log
    Handler.alerts_log = args.alerts_log
    ThreadingHTTPServer(('127.0.0.1', args.port), Handler).serve_forever()


if __name__ == '__main__':
    main()
