"""A loopback webhook receiver that records every POST, as a team channel would."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """Start with ``with WebhookReceiver() as hook:``; ``hook.url(path)`` to post to,
    ``hook.posts`` the (path, parsed JSON body) pairs received, in order.
    ``hook.fail_with = 500`` makes it refuse posts, as a broken channel would."""

    def __init__(self):
        self.posts = []
        self.fail_with = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length)
                if receiver.fail_with:
                    self.send_response(receiver.fail_with)
                else:
                    receiver.posts.append((self.path, json.loads(body or b'null')))
                    self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path='/hook'):
        return 'http://127.0.0.1:%d%s' % (self.server.server_address[1], path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
