# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis backend, through redis-py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_redis import RedisDump
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import (
    Engine, MissingDriver, Signal, percent)

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    HAS_REDIS = True
    REDIS_IMPORT_ERROR = None
except ImportError:
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = traceback.format_exc()


class RedisEngine(Engine):
    name = 'redis'
    default_port = 6379
    library = 'redis'

    HINTS = (
        ('hello must be called', 'the server requires a password: set login_password'),
        ('noauth', 'the server requires a password: set login_password'),
        ('invalid username-password', 'wrong login_password (or login_user for an ACL user)'),
    ) + Engine.HINTS

    def require_driver(self):
        if not HAS_REDIS:
            raise MissingDriver(self.library, self.name, REDIS_IMPORT_ERROR)

    def _connect(self):
        client = redis.Redis(**self._params())
        client.ping()  # connect and authenticate now, not on the first real command
        return client

    def binary_client(self):
        """A second client to the same server that returns bytes, for keys and values that need not be UTF-8
        (SCAN, GET of session values). The caller closes it; errors come back as EngineError."""
        self.require_driver()
        params = dict(self._params(), decode_responses=False)
        try:
            client = redis.Redis(**params)
            client.ping()
        except Exception as exc:  # drivers raise many types; all mean "cannot connect"
            raise self.error('cannot connect', exc)
        return client

    def _params(self):
        conn = self.conn
        params = {
            'username': conn.user or None,
            'password': conn.password or None,
            'db': int(conn.database or 0),
            'socket_connect_timeout': conn.connect_timeout,
            'socket_timeout': conn.connect_timeout * 6,
            'decode_responses': True,
            # redis-py 8 retries failed logins with backoff by default: a wrong password
            # would cost seconds per target. A health check wants the first answer.
            'retry': Retry(NoBackoff(), 0),
        }
        if conn.unix_socket:
            params['unix_socket_path'] = conn.unix_socket
        else:
            params['host'] = conn.host
            params['port'] = self.port
            if conn.tls:
                params['ssl'] = True
                params['ssl_cert_reqs'] = 'required' if conn.tls_verify else 'none'
                params['ssl_check_hostname'] = conn.tls_verify
                params['ssl_ca_certs'] = conn.tls_ca
                params['ssl_certfile'] = conn.tls_cert
                params['ssl_keyfile'] = conn.tls_key
        return params

    def _close(self):
        self.client.close()

    def info(self, section=None):
        return self.run('INFO failed', self.client.info, section) if section else self.run('INFO failed', self.client.info)

    def _ping(self):
        self.client.ping()

    def version(self):
        return self.info('server').get('redis_version')

    def health(self, long_query_seconds):
        info = self.info()
        signals = [self.version_signal(info.get('redis_version'))]
        used, maxmemory = int(info.get('used_memory', 0)), int(info.get('maxmemory', 0))
        if maxmemory:
            signals.append(Signal('memory', percent(used, maxmemory), 'percent',
                                  'used_memory %d of maxmemory %d bytes' % (used, maxmemory),
                                  used=used, maximum=maxmemory))
        else:
            signals.append(Signal('memory', None, 'percent',
                                  'used_memory %.1f MiB; maxmemory is not set, so no limit to compare with'
                                  % (used / 1048576.0), used=used, informational=True))
        clients, maxclients = int(info.get('connected_clients', 0)), int(info.get('maxclients', 0))
        signals.append(Signal('connections', percent(clients, maxclients), 'percent',
                              'connected_clients %d of maxclients %d' % (clients, maxclients),
                              used=clients, maximum=maxclients))
        rejected = int(info.get('rejected_connections', 0))
        signals.append(Signal('rejected_connections', rejected, 'connections',
                              '%d connections rejected since the server started' % rejected))
        hits, misses = int(info.get('keyspace_hits', 0)), int(info.get('keyspace_misses', 0))
        if hits + misses:
            signals.append(Signal('hit_ratio', percent(hits, hits + misses), 'percent',
                                  'keyspace hits %d, misses %d' % (hits, misses), hits=hits, misses=misses))
        else:
            signals.append(Signal('hit_ratio', None, 'percent', 'no key lookups since the server started',
                                  informational=True))
        return signals

    def dump_source(self, **options):
        """A DumpSource for db_backup: an RDB snapshot of the whole server, by BGSAVE or replication sync.
        Options: format, redis_method (auto, bgsave, replica), redis_rdb_path, redis_timeout. Use while connected."""
        return RedisDump(self, **options)
