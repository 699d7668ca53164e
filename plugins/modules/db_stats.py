#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: db_stats
short_description: Sizes, growth, index, vacuum, slow query, cache and connection statistics of a datastore
version_added: 0.1.0
description:
  - Reads the statistics an operator reviews weekly or monthly from one PostgreSQL, MySQL/MariaDB,
    MongoDB or Redis server, returns them in RV(stats), and turns the ones worth an alert into status
    items (V(ok), V(warning), V(critical), V(unknown)) with thresholds; the result's status is the worst item.
  - "C(sizes): databases and the O(top) largest tables (collections) with their table and index sizes.
    PostgreSQL lists every database of the cluster and the tables of the database connected to; MySQL the
    user schemas and the tables of O(database), or of every user schema when it is unset (InnoDB estimates,
    which C(ANALYZE TABLE) refreshes); MongoDB every user database and its collections; Redis the keys,
    expiring keys and average TTL per logical database."
  - "C(growth): change of the total size (Redis: key count), per database and per table since the last run,
    from O(snapshot_file). The first run records the baseline."
  - "C(vacuum), PostgreSQL only: dead and live rows, last (auto)vacuum and (auto)analyze per table, and the tables
    that were never analyzed."
  - "C(indexes): unused indexes (PostgreSQL C(pg_stat_user_indexes); MySQL and MariaDB C(performance_schema) index
    I/O since the server started; MongoDB C($indexStats)) and indexes that duplicate another or are a leading
    part of a bigger ordered index on the same table. Unique and primary-key indexes are never called unused or covered."
  - "C(slow_queries): statements whose mean time reaches O(slow_query_min_ms): PostgreSQL C(pg_stat_statements),
    MySQL and MariaDB C(performance_schema) statement digests, MongoDB the profiler's C(system.profile) in every user
    database where the profiler is on (single operations, not grouped)."
  - "C(cache): buffer cache hit ratio (PostgreSQL C(pg_stat_database), InnoDB buffer pool, WiredTiger cache);
    for Redis the keyspace hit ratio. C(connections): connections in use against the maximum.
    C(memory), Redis only: used and peak memory, C(maxmemory) and its policy, fragmentation, evicted and expired keys."
  - What a server cannot tell (no C(pg_stat_statements), C(performance_schema) off, a MongoDB server without
    C($indexStats) or profiler, a section that does not apply to the engine) is a line in RV(notes) that says how
    to get it, never a failure. A query that fails (for example for lack of privileges) makes that section one
    V(unknown) item. A server that cannot be reached is one V(critical) item naming host and port.
  - Changes nothing on the server. The only write is O(snapshot_file) on the host, outside check mode.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
  - caretaker.maintenance.status
options:
  include:
    description:
      - Sections to gather. Unset gathers every section the engine has.
      - A section that does not apply to the engine (V(vacuum) on MySQL, V(memory) on PostgreSQL) is skipped with a note,
        so one list can serve every engine, for example through C(module_defaults).
      - V(growth) measures the sizes even when V(sizes) is not listed, and only then is O(snapshot_file) read and written.
    type: list
    elements: str
    choices: [sizes, growth, vacuum, indexes, slow_queries, cache, connections, memory]
  top:
    description:
      - How many rows each list in RV(stats) keeps (largest tables, fastest-growing tables, tables by dead rows, unused and
        duplicate indexes, slow queries). Items count all of them.
    type: int
    default: 10
  snapshot_file:
    description:
      - JSON file on the host that keeps this run's sizes for the next run's growth. One file serves many targets
        (entries are keyed by target); entries not refreshed for 400 days are dropped, and the 1000 largest tables of each
        target are kept. Written atomically with mode 0600 (its directory is created with mode 0700), under a lock
        file beside it (C(<snapshot_file>.lock)). Not written in check mode.
      - A file that exists but is not a db_stats snapshot is left alone; the result then has a V(warning) item.
      - Set to an empty string to keep no snapshot; there is then no C(growth) item.
    type: path
    default: ~/.cache/caretaker/db_stats.json
  slow_query_min_ms:
    description:
      - A statement whose mean execution time is at least this many milliseconds counts as slow
        (for MongoDB, an operation that took at least this long).
      - The default follows the runbooks, which review statements with a mean time over a second.
    type: float
    default: 1000
  thresholds:
    description:
      - Warning and critical limits per signal. Each key takes a dict with C(warning) and/or C(critical); a limit left
        unset keeps its default. A value exactly at a limit crosses it.
      - "C(connections): connections in use, percent of the maximum; default warning 80 (the runbooks' limit), critical 95."
      - "C(cache_hit_ratio): buffer cache hit ratio, percent, lower is worse; default warning 95. Judged only after
        1000 block or page reads; before that the item is V(ok) and says so."
      - "C(hit_ratio): Redis keyspace hit ratio, percent, lower is worse; no default limits (cache-aside lookups of
        absent keys are normal)."
      - "C(memory): Redis C(used_memory), percent of C(maxmemory); default warning 80, critical 95. Without C(maxmemory)
        the item only reports the use."
      - "C(evicted_keys): keys Redis evicted since it started; no default limits (evictions are normal for an LRU cache,
        data loss for a queue: set C(warning: 1) there)."
      - "C(dead_tuples): PostgreSQL, highest share of dead rows in a table of 1000 rows or more, percent; default
        warning 20 (autovacuum's default scale factor), critical 50."
      - "C(slow_queries): number of slow statements; default warning 1."
      - "C(unused_indexes): number of unused indexes; no default limits."
      - "C(duplicate_indexes): number of duplicate or covered indexes; default warning 1."
      - "C(database_size): MiB (PostgreSQL the database connected to; MySQL O(database) or every user schema; MongoDB
        every user database); no default limits."
      - "C(growth): change of the total size since the last run, percent; no default limits."
    type: dict
notes:
  - C(changed) is always V(false), also when O(snapshot_file) is written. The snapshot is the module's own bookkeeping,
    like a cache, so a scheduled statistics run never shows as a change; RV(snapshot.written) tells whether it was written.
  - Statistics that count since a reset (index scans, statement digests, hit ratios, evicted keys) start over when the
    server restarts or its statistics are reset; C(unused_since) in RV(stats.indexes) says since when indexes were watched.
attributes:
  check_mode:
    support: full
    description: Reads the same statistics in check mode; does not write O(snapshot_file) and adds a note saying so.
seealso:
  - module: caretaker.maintenance.db_check
  - module: community.postgresql.postgresql_info
  - module: community.mysql.mysql_info
'''

EXAMPLES = r'''
- name: Weekly statistics of the application's PostgreSQL database
  caretaker.maintenance.db_stats:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
    database: appdb
    top: 5
    snapshot_file: /var/lib/caretaker/db_stats.json
  register: pg_stats

- name: Show the largest tables and what grew
  ansible.builtin.debug:
    msg:
      - "{{ pg_stats.stats.sizes.tables | map(attribute='name') | list }}"
      - "{{ pg_stats.stats.growth | default('first run: baseline recorded') }}"

- name: MariaDB slow statements over half a second and index use, warning earlier on connections
  caretaker.maintenance.db_stats:
    engine: mysql
    login_user: root
    login_password: "{{ vault_mysql_password }}"
    database: appdb
    include: [indexes, slow_queries, connections]
    slow_query_min_ms: 500
    thresholds:
      connections: {warning: 70}
    fail_on: never
  register: mysql_stats

- name: Redis memory, keyspace and evictions, where any eviction is data loss
  caretaker.maintenance.db_stats:
    engine: redis
    login_password: "{{ vault_redis_password }}"
    thresholds:
      evicted_keys: {warning: 1}
    snapshot_file: /var/lib/caretaker/db_stats.json
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
  sample: >-
    1 warning of 8 database stats; postgresql@127.0.0.1:5432/appdb duplicate_indexes: 1 indexes duplicate or covered
    by another index: orders_customer_idx (covered by orders_customer_created_idx)
checks:
  description: One item per signal; the signals are the keys of O(thresholds), plus C(reachable) and C(snapshot).
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
      description: What was measured.
      type: raw
    unit:
      description: Unit of RV(checks[].value).
      type: str
    threshold:
      description: Limits the value was compared with, with the direction that is bad.
      type: dict
    detail:
      description: What was measured, in words, naming the worst table, index or statement.
      type: str
    target:
      description: Label of the target.
      type: str
    signal:
      description: Which signal this is; a section name for a section whose queries failed.
      type: str
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 7, warning: 1, critical: 0, unknown: 0}
target:
  description: Label of the target, C(engine@host:port/database). Also the key of its entry in O(snapshot_file).
  returned: always
  type: str
  sample: postgresql@127.0.0.1:5432/appdb
engine:
  description: The engine.
  returned: always
  type: str
  sample: postgresql
sections:
  description: The sections gathered, in order.
  returned: always
  type: list
  elements: str
  sample: [sizes, growth, vacuum, indexes, slow_queries, cache, connections]
notes:
  description: What could not be gathered and how to get it, what check mode skipped, and first-run remarks.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      slow_queries: pg_stat_statements is not installed, so slow queries are not reported:
      run CREATE EXTENSION pg_stat_statements in database appdb
snapshot:
  description: What happened to O(snapshot_file).
  returned: always
  type: dict
  contains:
    path:
      description: The file, or null when O(snapshot_file) is empty.
      type: str
    written:
      description: Whether this run stored its sizes (never in check mode).
      type: bool
    previous_at:
      description: When the entry growth was compared with was taken (UTC), or null on the first run.
      type: str
stats:
  description: The statistics, one key per section gathered. Lists keep O(top) rows; C(*_total) counts them all.
  returned: always
  type: dict
  contains:
    sizes:
      description:
        - C(databases) (C(name), C(size_bytes); Redis C(name) such as C(db0), C(keys), C(expires), C(avg_ttl_ms)),
          C(tables) (C(name) as C(schema.table) or C(database.collection), C(size_bytes) with indexes, C(table_bytes),
          C(index_bytes), C(rows) estimate), C(tables_total), C(tables_of).
      type: dict
      returned: when sizes are gathered
      sample:
        databases: [{name: appdb, size_bytes: 9158435}]
        tables: [{name: public.orders, size_bytes: 1343488, table_bytes: 901120, index_bytes: 442368, rows: 10000}]
        tables_total: 12
        tables_of: appdb
    growth:
      description:
        - C(unit) (C(bytes), or C(keys) for Redis), C(previous_at), C(elapsed_seconds), C(total), C(previous_total),
          C(change), C(percent), C(per_day), and C(databases) and C(tables) sorted by C(change), largest growth first,
          each with C(name), C(size), C(previous), C(change) and C(new) or C(gone) when it appeared or disappeared.
      type: dict
      returned: when an earlier snapshot of the target exists
    vacuum:
      description:
        - PostgreSQL. C(tables) by dead rows (C(name), C(live_rows), C(dead_rows), C(dead_percent), C(last_vacuum),
          C(last_autovacuum), C(last_analyze), C(last_autoanalyze), counts, C(modified_since_analyze)),
          C(never_analyzed), C(stats_reset).
      type: dict
      returned: for PostgreSQL when vacuum is gathered
    indexes:
      description:
        - C(duplicate) (C(table), C(name), C(kind) V(duplicate) or V(covered), C(covered_by), C(columns), C(size_bytes),
          C(definition)) and C(duplicate_total); C(unused) (C(table), C(name), C(size_bytes), C(definition)),
          C(unused_total) and C(unused_since) when index use is known.
      type: dict
      returned: when indexes are gathered
    slow_queries:
      description:
        - C(source), C(min_ms), C(total) and C(queries) slowest first (C(query) cut to 500 characters, C(database),
          C(calls), C(mean_ms), C(max_ms), C(total_ms), C(rows)).
      type: dict
      returned: when the server records statements (see RV(notes) otherwise)
    cache:
      description: C(hit_ratio) percent, C(hits), C(misses) and C(source).
      type: dict
      returned: when the server reports cache counters
    connections:
      description: C(used), C(maximum) and C(percent).
      type: dict
      returned: when connections are gathered
    memory:
      description:
        - Redis. C(used_bytes), C(peak_bytes), C(maxmemory_bytes), C(maxmemory_policy), C(fragmentation_ratio),
          C(evicted_keys), C(expired_keys).
      type: dict
      returned: for Redis when memory is gathered
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import SECTIONS, StatsError
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.run import check_options, run_stats
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import exit_with_status, status_argument_spec


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        include=dict(type='list', elements='str', choices=list(SECTIONS)),
        top=dict(type='int', default=10),
        snapshot_file=dict(type='path', default='~/.cache/caretaker/db_stats.json'),
        slow_query_min_ms=dict(type='float', default=1000),
        thresholds=dict(type='dict'),
    )
    spec.update(status_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        options = check_options(module.params)
        [conn] = connection_specs(module.params)
        get_engine(conn).require_driver()
    except MissingDriver as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine), exception=exc.error)
    except (StatsError, ConnectionOptionError) as exc:
        module.fail_json(msg='%s' % exc)
    exit_with_status(module, run_stats(conn, options, check_mode=module.check_mode))


if __name__ == '__main__':
    main()
