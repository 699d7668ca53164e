# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MongoDB backend, through pymongo."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_mongodb import MongoDBDump
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import (
    Engine, MissingDriver, Signal, percent)

try:
    import pymongo
    HAS_PYMONGO = True
    PYMONGO_IMPORT_ERROR = None
except ImportError:
    HAS_PYMONGO = False
    PYMONGO_IMPORT_ERROR = traceback.format_exc()


class MongoDBEngine(Engine):
    name = 'mongodb'
    default_port = 27017
    library = 'pymongo'

    def require_driver(self):
        if not HAS_PYMONGO:
            raise MissingDriver(self.library, self.name, PYMONGO_IMPORT_ERROR)

    def describe(self, exc):
        # pymongo appends its whole topology description; the first clause says it all.
        text = super(MongoDBEngine, self).describe(exc)
        return text.split(' (configured timeouts')[0].split(', Timeout: ')[0]

    def _connect(self):
        conn = self.conn
        timeout_ms = int(conn.connect_timeout * 1000)
        params = {
            'connectTimeoutMS': timeout_ms,
            'serverSelectionTimeoutMS': timeout_ms,
            'socketTimeoutMS': timeout_ms * 6,
            'appname': 'caretaker.maintenance',
            'directConnection': True,
        }
        if conn.user:
            params['username'] = conn.user
            params['password'] = conn.password or ''
            params['authSource'] = conn.database or 'admin'
        if conn.tls:
            params['tls'] = True
            params['tlsAllowInvalidCertificates'] = not conn.tls_verify
            params['tlsAllowInvalidHostnames'] = not conn.tls_verify
            if conn.tls_ca:
                params['tlsCAFile'] = conn.tls_ca
            if conn.tls_cert:
                params['tlsCertificateKeyFile'] = conn.tls_cert
        host = conn.unix_socket or conn.host
        client = pymongo.MongoClient(host=host, port=self.port, **params)
        # MongoClient connects lazily: ping now so "cannot connect" is reported as such.
        client.admin.command('ping')
        return client

    def _close(self):
        self.client.close()

    def command(self, name, database='admin', action=None, **kwargs):
        return self.run(action or '%s failed' % name, self.client[database].command, name, **kwargs)

    def _ping(self):
        self.client.admin.command('ping')

    def version(self):
        return self.command('buildInfo').get('version')

    def connections(self):
        info = self.command('serverStatus').get('connections') or {}
        current = info.get('current')
        available = info.get('available')
        if current is None or available is None:
            return None, None
        return int(current), int(current) + int(available)

    def health(self, long_query_seconds):
        used, maximum = self.connections()
        if used is None:
            connections = Signal('connections', None, 'percent', 'serverStatus reports no connection counts')
        else:
            connections = Signal('connections', percent(used, maximum), 'percent',
                                 '%d of %d connections in use' % (used, maximum), used=used, maximum=maximum)
        return [self.version_signal(), connections]

    def dump_source(self, **options):
        """A DumpSource for db_backup: mongodump's directory layout in one tar stream (mongo.tar).
        Options: format, database (default: the connection's; unset: every non-system database),
        collections, exclude_collections, spool_dir. Use while connected."""
        return MongoDBDump(self, **options)
