#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: db_check
short_description: Health of PostgreSQL, MySQL/MariaDB, MongoDB and Redis servers as one status
version_added: 0.1.0
description:
  - Connects to one or more datastores and reports each signal as an item with a status
    (V(ok), V(warning), V(critical), V(unknown)); the result's status is the worst of them.
  - "PostgreSQL: reachability and latency, server version, client connections as a percentage
    of C(max_connections), queries running longer than O(long_query_seconds), database size."
  - "MySQL and MariaDB: reachability and latency, version, C(Threads_connected) against
    C(max_connections), statements in the process list running longer than O(long_query_seconds), uptime."
  - "MongoDB: ping and latency, version, current connections against current plus available."
  - "Redis: PING and latency, version, C(used_memory) against C(maxmemory) when it is set,
    connected clients against C(maxclients), rejected connections, keyspace hit ratio."
  - A server that cannot be reached, or refuses the login, is one V(critical) item whose
    detail names host and port and the driver's error. The password never appears.
  - Read-only. Never reports C(changed).
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
  - caretaker.maintenance.status
options:
  targets:
    description:
      - Datastores to check in one task. Each item takes the connection options; any it
        leaves unset take the task-level value.
      - When empty, the task-level connection options name the single target.
      - Targets are checked in parallel, up to eight at a time; items keep the order given.
    type: list
    elements: dict
    suboptions:
      name:
        description: Label for this target's items. Defaults to C(engine@host:port/database).
        type: str
      engine:
        description: As the task-level O(engine).
        type: str
        choices: [mongodb, mysql, postgresql, redis]
      login_host:
        description: As the task-level O(login_host).
        type: str
      login_port:
        description: As the task-level O(login_port).
        type: int
      login_user:
        description: As the task-level O(login_user).
        type: str
      login_password:
        description: As the task-level O(login_password).
        type: str
      login_unix_socket:
        description: As the task-level O(login_unix_socket).
        type: str
      database:
        description: As the task-level O(database).
        type: str
      tls:
        description: As the task-level O(tls).
        type: bool
      tls_ca:
        description: As the task-level O(tls_ca).
        type: path
      tls_cert:
        description: As the task-level O(tls_cert).
        type: path
      tls_key:
        description: As the task-level O(tls_key).
        type: path
      tls_verify:
        description: As the task-level O(tls_verify).
        type: bool
      connect_timeout:
        description: As the task-level O(connect_timeout).
        type: float
      thresholds:
        description: Thresholds for this target only, over the task-level O(thresholds).
        type: dict
  long_query_seconds:
    description:
      - A query or statement running at least this many seconds counts as long-running
        (PostgreSQL C(pg_stat_activity), MySQL C(information_schema.PROCESSLIST)).
    type: int
    default: 300
  thresholds:
    description:
      - Warning and critical limits per signal. Each key takes a dict with C(warning) and/or
        C(critical); a limit left unset keeps its default. A value exactly at a limit crosses it.
      - "C(latency): round trip of a ping, milliseconds; default warning 500, critical 2000."
      - "C(connections): connections in use, percent of the maximum; default warning 80, critical 95."
      - "C(long_queries): number of queries over O(long_query_seconds); default warning 1, critical 5."
      - "C(database_size): PostgreSQL database size, MiB; no default limits."
      - "C(uptime): MySQL uptime, seconds, lower is worse (catches restarts); no default limits."
      - "C(memory): Redis C(used_memory) percent of C(maxmemory); default warning 80, critical 95."
      - "C(rejected_connections): Redis connections refused since start; default warning 1."
      - "C(hit_ratio): Redis keyspace hit ratio, percent, lower is worse; no default limits."
    type: dict
seealso:
  - module: community.postgresql.postgresql_info
  - module: community.mysql.mysql_info
'''

EXAMPLES = r'''
- name: Check the application's PostgreSQL server
  caretaker.maintenance.db_check:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
    database: appdb

- name: Check every datastore of the stack in one task, reporting without failing
  caretaker.maintenance.db_check:
    login_host: 127.0.0.1
    targets:
      - engine: postgresql
        login_password: "{{ vault_pg_password }}"
        database: appdb
      - engine: mysql
        login_user: root
        login_password: "{{ vault_mysql_password }}"
      - engine: redis
        login_password: "{{ vault_redis_password }}"
        thresholds:
          memory: {warning: 70, critical: 90}
      - engine: mongodb
        login_port: 27017
    long_query_seconds: 120
    thresholds:
      connections: {warning: 70}
    fail_on: never
  register: datastores

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ datastores.msg }}"
  when: datastores.status != 'ok'
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: warning
msg:
  description: One line a person can act on, naming the worst items.
  returned: always
  type: str
  sample: "1 warning of 9 datastore checks; postgresql@127.0.0.1:5432/appdb connections: 17 of max_connections 20 in use"
checks:
  description: One item per signal per target.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Target label and signal.
      type: str
      sample: postgresql@127.0.0.1:5432/appdb connections
    status:
      description: V(ok), V(warning), V(critical) or V(unknown).
      type: str
    value:
      description: What was measured, or null for facts such as the version.
      type: raw
    unit:
      description: Unit of RV(checks[].value).
      type: str
    threshold:
      description: Limits the value was compared with, with the direction that is bad.
      type: dict
    detail:
      description: What was measured, in words; for an unreachable server the driver's error.
      type: str
    target:
      description: Label of the target the item belongs to.
      type: str
    signal:
      description: Which signal this is (reachable, latency, version, connections, long_queries, ...).
      type: str
    queries:
      description: For RV(checks[].signal=long_queries), the long-running queries, their first 200 characters each.
      type: list
      elements: dict
      returned: for long_queries items
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 8, warning: 1, critical: 0, unknown: 0}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._db_check import DEFAULT_THRESHOLDS, run_checks
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs, targets_argument_spec)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    exit_with_status, parse_thresholds, resolve_thresholds, status_argument_spec)


def argument_spec():
    spec = connection_argument_spec()
    spec.update(targets_argument_spec(extra=dict(thresholds=dict(type='dict'))))
    spec.update(
        long_query_seconds=dict(type='int', default=300),
        thresholds=dict(type='dict'),
    )
    spec.update(status_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params['long_query_seconds'] < 1:
        module.fail_json(msg='long_query_seconds must be 1 or more, got %d' % params['long_query_seconds'])
    try:
        specs = connection_specs(params)
    except ConnectionOptionError as exc:
        module.fail_json(msg='%s' % exc)
    for conn in specs:
        try:
            get_engine(conn).require_driver()
        except MissingDriver as exc:
            module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine),
                             exception=exc.error)

    try:
        task_thresholds = parse_thresholds(DEFAULT_THRESHOLDS, params['thresholds'])
        # A target's limits are checked against the task-level ones they override.
        task_level = resolve_thresholds(DEFAULT_THRESHOLDS, task_thresholds)
        per_target = [parse_thresholds(task_level, target.get('thresholds'), 'targets[%d].thresholds' % index)
                      for index, target in enumerate(params['targets'] or [])] or [None]
    except ValueError as exc:
        module.fail_json(msg='%s' % exc)
    result = run_checks(specs, params['long_query_seconds'], task_thresholds, per_target)
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
