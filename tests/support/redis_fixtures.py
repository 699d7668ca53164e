"""A redis-server of its own for a test module, and a client that empties it before each test."""

import contextlib

from tests.support import servers


@contextlib.contextmanager
def own_redis(base_dir, password):
    """A redis-server started with ``password`` in ``base_dir``; stopped by its pid at the end."""
    server = servers.start_redis(base_dir, password=password)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def empty_client(server):
    """A redis-py client (bytes) of ``server``, after FLUSHALL, with maxmemory unset again at the end."""
    import redis
    client = redis.Redis(host=server.host, port=server.port, password=server.password)
    client.flushall()
    client.config_set('maxmemory-policy', 'noeviction')
    try:
        yield client
    finally:
        client.config_set('maxmemory', 0)
        client.close()
