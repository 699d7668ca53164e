"""A TCP socket listening on loopback for as long as a test needs it."""

import contextlib
import socket


@contextlib.contextmanager
def loopback_listener():
    """Yield the port of a TCP socket listening on 127.0.0.1; closed afterwards."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind(('127.0.0.1', 0))
        server.listen(1)
        yield server.getsockname()[1]
    finally:
        server.close()
