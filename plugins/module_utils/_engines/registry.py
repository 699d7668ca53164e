# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine name to backend class."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mongodb import MongoDBEngine
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mysql import MySQLEngine
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.postgresql import PostgreSQLEngine
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.redis import RedisEngine

ENGINES = {
    'postgresql': PostgreSQLEngine,
    'mysql': MySQLEngine,
    'mongodb': MongoDBEngine,
    'redis': RedisEngine,
}

ENGINE_CHOICES = sorted(ENGINES)


def get_engine(conn):
    """The backend for a ConnectionSpec."""
    try:
        return ENGINES[conn.engine](conn)
    except KeyError:
        raise ValueError('engine %r is not supported: use one of %s' % (conn.engine, ', '.join(ENGINE_CHOICES)))
