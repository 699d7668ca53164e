#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: db_optimize
short_description: Vacuum, analyze, optimise, check, compact and reindex the tables of a datastore that need it
version_added: 0.1.0
description:
  - Runs the upkeep operations of the runbooks on one PostgreSQL, MySQL/MariaDB, MongoDB or Redis server, table by
    table, and reports per table and operation what ran, how long it took and the size before and after, or why it was
    skipped.
  - "PostgreSQL: V(vacuum) (C(VACUUM), with C(ANALYZE) in the same pass when V(analyze) is listed too), V(vacuum_full)
    (C(VACUUM FULL): it rewrites the table under an B(ACCESS EXCLUSIVE lock, which blocks every read and write of the
    table until it ends), so it only runs when listed), V(analyze) (C(ANALYZE)) and V(reindex) (C(REINDEX TABLE
    CONCURRENTLY) on PostgreSQL 12 and later, which keeps the table usable; plain C(REINDEX TABLE), which blocks writes,
    on older servers or with O(concurrently=false)). The connection is in autocommit mode: C(VACUUM) cannot run in a
    transaction."
  - "MySQL and MariaDB: V(check) (C(CHECK TABLE)), V(repair) (C(REPAIR TABLE), only for the MyISAM, ARCHIVE, CSV and
    Aria engines; InnoDB tables are skipped with the reason), V(optimize) (C(OPTIMIZE TABLE); InnoDB rebuilds the table
    online and analyzes it) and V(analyze) (C(ANALYZE TABLE))."
  - "MongoDB: V(validate), V(compact) and V(reindex) (C(reIndex)) per collection. A server that refuses a command
    (C(reIndex) on a replica set member, C(compact) on some hosted tiers) or answers without the command's result
    skips that collection with the server's reason; nothing fails for it."
  - "Redis: V(memory_purge) (C(MEMORY PURGE), which hands the allocator's unused dirty pages back to the system;
    jemalloc only) and O(maxmemory_policy) (C(CONFIG SET), with O(config_rewrite) also C(CONFIG REWRITE))."
  - Every name in O(tables) is looked up in the catalog before anything runs; an unknown name, or a name with a quote,
    semicolon, backslash or control character, fails the task with nothing run. Names reach the server only as
    quoted identifiers (psycopg2 C(sql.Identifier), backticks after the lookup in C(information_schema)) or as command
    values (MongoDB).
  - With O(only_if_needed), each operation runs only on the tables whose figures reach O(thresholds); every skipped
    table says why. The plan is made from one reading of the statistics before the first operation, so check mode
    lists exactly what the real run would do.
  - With O(max_duration), no new table is started once the budget is spent; the tables left are listed in RV(left).
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
options:
  operations:
    description:
      - The operations to run, in any order; on each table they run in the order check, repair, optimize, analyze (MySQL),
        vacuum_full, vacuum, analyze, reindex (PostgreSQL) and validate, compact, reindex (MongoDB).
      - "Per engine: PostgreSQL V(vacuum), V(vacuum_full), V(analyze), V(reindex); MySQL V(check), V(repair),
        V(optimize), V(analyze); MongoDB V(validate), V(compact), V(reindex); Redis V(memory_purge). An operation of
        another engine fails the task before anything runs."
      - "Unset: what the weekly runbooks do, PostgreSQL V([vacuum, analyze]), MySQL V([analyze, optimize]),
        MongoDB V([validate]), Redis V([memory_purge])."
      - May be empty for Redis when only O(maxmemory_policy) is to be set.
      - Operations done by another one's command are reported as done by it (RV(results[].done_by)) - V(analyze) with
        V(vacuum) or with V(optimize), V(vacuum) and V(reindex) with V(vacuum_full).
    type: list
    elements: str
    choices: [analyze, check, compact, memory_purge, optimize, reindex, repair, vacuum, vacuum_full, validate]
  tables:
    description:
      - The tables (MongoDB collections) to work on. Unset or empty means every table.
      - "PostgreSQL: C(schema.table), or C(table) in O(schema) (default C(public)); every table means the ordinary tables
        and materialized views of the database connected to, in O(schema) or in every user schema."
      - "MySQL and MariaDB: C(database.table), or C(table) in O(database); every table means the base tables of
        O(database), or of every user database when it is unset."
      - "MongoDB: a collection of O(database) (dots belong to the name, as in C(fs.files)), or C(database.collection)
        when O(database) is unset; every table means every collection of O(database), or of every user database."
      - Names are matched as the catalog spells them (case matters). Views, sequences and other kinds are refused.
      - Does not apply to Redis.
    type: list
    elements: str
    aliases: [collections]
  schema:
    description:
      - PostgreSQL only. The schema of unqualified names in O(tables) (default C(public)), and the only schema worked on
        when O(tables) is unset (default every user schema).
    type: str
  only_if_needed:
    description:
      - Run each operation only on the tables that need it by O(thresholds), and skip the others with the figures that
        were compared.
      - "Needs: PostgreSQL V(vacuum), V(vacuum_full) and V(reindex) by dead rows (C(pg_stat_user_tables); indexes bloat
        with the same churn, and there is no cheap exact measure of index bloat), V(analyze) by rows changed since the
        last analyze (a table never analyzed that has rows always needs it); MySQL V(optimize) by C(data_free) against
        the table's space (C(information_schema.TABLES)), V(analyze) by InnoDB's count of rows changed since its
        statistics were computed (tables without that counter are analyzed anyway); MongoDB V(compact) by
        C(freeStorageSize) and V(reindex) by the indexes' reusable bytes (a server that reports neither, such as a
        wire-protocol server without WiredTiger, skips them with that reason); Redis V(memory_purge) by the
        fragmentation ratio and bytes."
      - V(check), V(repair) and V(validate) always run when listed.
    type: bool
    default: false
  thresholds:
    description:
      - The limits O(only_if_needed) compares with. A table needs an operation when both its share and its amount reach
        the limits. Unset keys keep their defaults.
      - The defaults are not given by the runbooks, which optimise every table weekly; they are set where the work
        starts to pay off and stay quiet on small tables.
    type: dict
    suboptions:
      dead_percent:
        description:
          - PostgreSQL dead rows, percent of live and dead rows. Default V(10), half of autovacuum's default
            scale factor (20 %), so a weekly run catches what autovacuum has not reached yet.
        type: float
      dead_rows:
        description: PostgreSQL dead rows, at least. Default V(1000), so small tables are left to autovacuum.
        type: int
      modified_percent:
        description: Rows changed since the statistics were computed, percent of the rows. Default V(10), the share at
          which PostgreSQL's autoanalyze and InnoDB's automatic recalculation act.
        type: float
      modified_rows:
        description: Rows changed since the statistics were computed, at least. Default V(1000).
        type: int
      free_percent:
        description: MySQL C(data_free) (MongoDB reusable storage) as a percent of the table's space. Default V(10).
        type: float
      free_mib:
        description: MySQL C(data_free) (MongoDB reusable storage) in MiB, at least. Default V(10); InnoDB keeps a few
          MiB free in every tablespace, which a rebuild does not return.
        type: float
      fragmentation_ratio:
        description: Redis C(mem_fragmentation_ratio) (resident over used memory). Default V(1.5), where Redis's
          documentation calls fragmentation significant.
        type: float
      fragmentation_mib:
        description: Redis resident memory beyond the used memory, in MiB, at least. Default V(100), Redis's own
          C(active-defrag-ignore-bytes); a small server's ratio is high without anything to gain.
        type: float
  max_duration:
    description:
      - Time budget. Before each table the time since the first table started is compared with it; once it is spent,
        no new table is started and the tables left are listed in RV(left) with status V(left). A table already started
        finishes all its operations, so a run can exceed the budget by one table's work.
      - Seconds as a number (V(600)), or a text with the units C(d), C(h), C(m) (minutes here) and C(s), such as V(30m)
        or V(1h30m).
      - Unset means no limit. Check mode starts nothing and leaves nothing.
    type: raw
  lock_timeout:
    description:
      - Seconds an operation waits for its table's lock. A table whose lock another session holds longer is skipped
        with that reason (the next run tries again) instead of queueing the application's queries behind the
        operation's own lock request.
      - PostgreSQL C(lock_timeout); MySQL C(lock_wait_timeout) and C(innodb_lock_wait_timeout) (whole seconds, at
        least 1). Not used for MongoDB and Redis.
    type: float
    default: 5
  concurrently:
    description:
      - PostgreSQL V(reindex) with C(CONCURRENTLY) on servers that support it (12 and later). With V(false), or on older
        servers, C(REINDEX TABLE) blocks writes to the table while it runs.
    type: bool
    default: true
  maxmemory_policy:
    description:
      - Redis only. Set C(maxmemory-policy) with C(CONFIG SET) when it differs. Check mode and diff mode show the
        current and the new policy.
    type: str
    choices: [allkeys-lfu, allkeys-lru, allkeys-random, noeviction, volatile-lfu, volatile-lru, volatile-random, volatile-ttl]
  config_rewrite:
    description:
      - Redis only. After changing O(maxmemory_policy), save the running configuration to the server's config file with
        C(CONFIG REWRITE), so the policy survives a restart. Runs only when this task changed the policy.
      - A server started without a config file cannot save it; the task then fails before changing anything and says so.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Reads the catalog and the statistics as the real run does and returns the plan (status V(would_run) or
        V(skipped), with the command and the reason for each table and operation); runs nothing and changes nothing.
  diff_mode:
    support: partial
    description:
      - Shows the change of Redis's C(maxmemory-policy) as before and after. The operations change no setting to compare.
notes:
  - C(changed) is V(true) when an operation that writes ran (in check mode, would run) or the Redis policy changed;
    V(check) and V(validate) only read, so a task of them alone reports no change.
  - An operation that fails on a table (for example C(CHECK TABLE) reporting corruption, or C(validate) finding a collection
    invalid) is reported with status V(failed); the other tables are still done and the task fails at the end, naming them.
  - Tables are done in the order of O(tables), or by name when every table is worked on.
  - "PostgreSQL: VACUUM, VACUUM FULL and ANALYZE need the table's owner, the database owner or a superuser; REINDEX the
    table's owner or a superuser (PostgreSQL 17: or the MAINTAIN privilege). Tables the login may not maintain are
    skipped with that reason."
  - "MySQL and MariaDB: C(OPTIMIZE TABLE) on InnoDB copies the table (online); it needs free disk space about the
    size of the table. The change counter for V(analyze) needs the PROCESS privilege. MyISAM and Aria tables keep no
    such counter, so V(analyze) runs on them every time (the server answers that the table is already up to date when
    nothing changed) and the task reports C(changed)."
  - "MongoDB: behaviour was checked against the nx-27017 wire-protocol server (C(validate), C(compact), C(reIndex) all
    answered there; it reports no free-space figures). On a real server, C(compact) blocks the collection on versions
    before 4.4 and C(reIndex) runs on a standalone server only."
  - The operations run without a statement time limit; O(max_duration) limits how many tables are started. MongoDB
    commands are waited for up to a day.
seealso:
  - module: caretaker.maintenance.db_stats
  - module: caretaker.maintenance.data_retention
  - module: community.postgresql.postgresql_query
  - module: community.mysql.mysql_query
'''

EXAMPLES = r'''
- name: Weekly VACUUM (ANALYZE) of the PostgreSQL tables with 10 % dead rows or more, for at most 30 minutes
  caretaker.maintenance.db_optimize:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
    database: appdb
    operations: [vacuum, analyze]
    only_if_needed: true
    max_duration: 30m
  register: pg_optimized

- name: Show what was skipped and why
  ansible.builtin.debug:
    msg: "{{ pg_optimized.results | selectattr('status', 'eq', 'skipped') | map(attribute='reason') | list }}"

- name: VACUUM FULL of one bloated table in a maintenance window (blocks the table while it runs)
  caretaker.maintenance.db_optimize:
    engine: postgresql
    login_password: "{{ vault_pg_password }}"
    database: appdb
    operations: [vacuum_full, analyze]
    tables: [public.events]
    lock_timeout: 10

- name: OPTIMIZE and ANALYZE the runbook's MariaDB tables when 10 % and 10 MiB of them are free space
  caretaker.maintenance.db_optimize:
    engine: mysql
    login_user: root
    login_password: "{{ vault_mysql_password }}"
    database: scheduler
    operations: [analyze, optimize]
    tables: [appointments, users, services]
    only_if_needed: true

- name: Check every table of every database, repairing the MyISAM and Aria ones (InnoDB is skipped with the reason)
  caretaker.maintenance.db_optimize:
    engine: mysql
    login_password: "{{ vault_mysql_password }}"
    operations: [check, repair]

- name: Validate and reindex the deliveries collection
  caretaker.maintenance.db_optimize:
    engine: mongodb
    database: delivery
    operations: [validate, reindex]
    tables: [deliveries]

- name: Purge Redis's allocator pages and evict the least recently used keys when full, saved to redis.conf
  caretaker.maintenance.db_optimize:
    engine: redis
    login_password: "{{ vault_redis_password }}"
    operations: [memory_purge]
    maxmemory_policy: allkeys-lru
    config_rewrite: true
'''

RETURN = r'''
changed:
  description: Whether an operation other than V(check) and V(validate) ran (in check mode, would run) or the Redis policy changed.
  returned: always
  type: bool
msg:
  description: One line naming the tables per operation, the skipped and failed ones, the tables left and the space reclaimed.
  returned: always
  type: str
  sample: "ran vacuum 1 (public.events); analyze 1 (public.events); skipped 6 (see results[].reason); 20.1 MiB reclaimed in 0.4s"
target:
  description: Label of the server, C(engine@host:port/database).
  returned: always
  type: str
  sample: postgresql@127.0.0.1:5432/appdb
engine:
  description: The engine.
  returned: always
  type: str
  sample: postgresql
results:
  description: One item per table and operation, in the order they ran (check mode, would run).
  returned: always
  type: list
  elements: dict
  contains:
    table:
      description: C(schema.table) (PostgreSQL), C(database.table) (MySQL), C(database.collection) (MongoDB) or
        C(server) (Redis).
      type: str
      sample: public.events
    operation:
      description: The operation.
      type: str
      sample: vacuum
    status:
      description:
        - V(done) it ran; V(would_run) in check mode; V(skipped) not needed, not supported for the table or by the
          server, not allowed for the login, or its lock was held by another session; V(failed) it ran and failed;
          V(left) not started because O(max_duration) was spent.
      type: str
      sample: done
    reason:
      description: Why it ran (the figures compared) or why not; for V(failed) the error.
      type: str
      sample: "12000 dead rows, 92.3 % of 13000: at or above 10 % and 1000 dead rows"
    command:
      description: The statement or command that carries the operation out, with the identifiers as quoted for the server;
        null when it was skipped at planning.
      type: str
      sample: VACUUM (ANALYZE) "public"."events"
    done_by:
      description: The operation whose command also did this one (for example V(vacuum) for V(analyze) in C(VACUUM (ANALYZE))); else null.
      type: str
    seconds:
      description: Time the command took; null when it did not run.
      type: float
      sample: 0.42
    size_before:
      description:
        - Bytes the table held before the command (at planning for skipped ones). PostgreSQL C(pg_total_relation_size),
          MySQL data, index and free space, MongoDB storage and index size, Redis resident memory.
      type: int
      sample: 23019520
    size_after:
      description: Bytes after the command; null when it did not run.
      type: int
      sample: 1941504
    metrics:
      description:
        - The figures the need was judged by. PostgreSQL C(live_rows), C(dead_rows), C(dead_percent), C(modified_rows),
          C(analyzed), C(indexes), C(owner); MySQL C(engine), C(data_length), C(index_length), C(data_free),
          C(free_percent), C(rows), C(stats_rows), C(modified_rows); MongoDB C(documents), C(data_size), C(storage_size),
          C(index_size), C(free_storage), C(free_index_storage); Redis C(used_memory), C(used_memory_rss),
          C(fragmentation_ratio), C(fragmentation_bytes), C(allocator).
      type: dict
    messages:
      description: "What the server said: PostgreSQL notices, MySQL C(Msg_type: Msg_text) rows, MongoDB warnings."
      type: list
      elements: str
      sample: ["note: Table does not support optimize, doing recreate + analyze instead", "status: OK"]
totals:
  description: Counts of the RV(results) per status, the tables, time and space.
  returned: always
  type: dict
  contains:
    tables:
      description: Tables considered.
      type: int
    tables_acted_on:
      description: Tables on which an operation ran (check mode, would run).
      type: int
    done:
      description: Operations done.
      type: int
    would_run:
      description: Operations that would run (check mode).
      type: int
    skipped:
      description: Operations skipped.
      type: int
    failed:
      description: Operations that failed.
      type: int
    left:
      description: Operations left by O(max_duration).
      type: int
    seconds:
      description: Time the commands took, in total.
      type: float
    size_before:
      description: Bytes of the tables acted on, before. Not in check mode.
      type: int
    size_after:
      description: Bytes of the tables acted on, after. Not in check mode.
      type: int
    reclaimed_bytes:
      description: C(size_before) minus C(size_after). Not in check mode.
      type: int
  sample: {tables: 7, tables_acted_on: 1, done: 2, would_run: 0, skipped: 12, failed: 0, left: 0, seconds: 0.42,
           size_before: 23019520, size_after: 1941504, reclaimed_bytes: 21078016}
left:
  description: Tables not started because O(max_duration) was spent, in plan order.
  returned: always
  type: list
  elements: str
  sample: [public.orders, public.sessions]
max_duration:
  description: The budget in seconds, or null.
  returned: always
  type: float
  sample: 1800.0
only_if_needed:
  description: Whether only the tables that need an operation were worked on.
  returned: always
  type: bool
maxmemory_policy:
  description: Redis, when O(maxmemory_policy) is set. The policy before and after, whether it changed (check mode, would
    change) and whether C(CONFIG REWRITE) saved it.
  returned: when maxmemory_policy is set
  type: dict
  sample: {before: noeviction, after: allkeys-lru, changed: true, rewritten: false}
diff:
  description: With C(--diff), Redis's C(maxmemory-policy) before and after.
  returned: when diff mode is on and maxmemory_policy is set
  type: dict
  sample: {before: "maxmemory-policy: noeviction\n", after: "maxmemory-policy: allkeys-lru\n"}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize import planner
from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    ALL_OPERATIONS, MAXMEMORY_POLICIES, OptimizeError, check_options)


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        operations=dict(type='list', elements='str', choices=ALL_OPERATIONS),
        tables=dict(type='list', elements='str', aliases=['collections']),
        schema=dict(type='str'),
        only_if_needed=dict(type='bool', default=False),
        thresholds=dict(type='dict', options=dict(
            dead_percent=dict(type='float'),
            dead_rows=dict(type='int'),
            modified_percent=dict(type='float'),
            modified_rows=dict(type='int'),
            free_percent=dict(type='float'),
            free_mib=dict(type='float'),
            fragmentation_ratio=dict(type='float'),
            fragmentation_mib=dict(type='float'),
        )),
        max_duration=dict(type='raw'),
        lock_timeout=dict(type='float', default=5),
        concurrently=dict(type='bool', default=True),
        maxmemory_policy=dict(type='str', choices=MAXMEMORY_POLICIES),
        config_rewrite=dict(type='bool', default=False),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    base = dict(changed=False, results=[], left=[])
    try:
        [conn] = connection_specs(module.params)
        options = check_options(module.params)
        engine = get_engine(conn)
        engine.require_driver()
    except MissingDriver as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine), exception=exc.error)
    except (ConnectionOptionError, OptimizeError, ValueError) as exc:
        module.fail_json(msg='%s' % exc, **base)
    base.update(target=engine.label, engine=conn.engine)
    try:
        with engine:
            backend = planner.backend_for(engine, options)
            try:
                result = planner.run(backend, options, check_mode=module.check_mode)
            finally:
                backend.close()
    except (OptimizeError, EngineError) as exc:
        base.update(getattr(exc, 'partial', None) or {})
        module.fail_json(msg='%s' % exc, **base)
    result.update(target=engine.label, engine=conn.engine)
    result['msg'] = planner.message(result, module.check_mode)
    policy = result.get('maxmemory_policy')
    if module._diff and policy:
        result['diff'] = dict(before='maxmemory-policy: %s\n' % policy['before'],
                              after='maxmemory-policy: %s\n' % policy['after'])
    if result['totals']['failed']:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
