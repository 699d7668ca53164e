# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine name to backend class.

Each backend is imported when it is asked for: a backend imports its driver (pymongo alone
takes a tenth of a CPU second), and a module run uses one engine. The imports stay plain
statements, so Ansible still packs every backend with the modules.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ENGINE_CHOICES = ['mongodb', 'mysql', 'postgresql', 'redis']


def engine_class(name):
    """The backend class of an engine name (one of ENGINE_CHOICES)."""
    if name == 'postgresql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.postgresql import PostgreSQLEngine
        return PostgreSQLEngine
    if name == 'mysql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mysql import MySQLEngine
        return MySQLEngine
    if name == 'mongodb':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mongodb import MongoDBEngine
        return MongoDBEngine
    if name == 'redis':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.redis import RedisEngine
        return RedisEngine
    raise ValueError('engine %r is not supported: use one of %s' % (name, ', '.join(ENGINE_CHOICES)))


def get_engine(conn):
    """The backend for a ConnectionSpec."""
    return engine_class(conn.engine)(conn)
