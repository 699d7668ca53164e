#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: data_retention
short_description: Delete, archive or anonymise old rows in short batches, safely
version_added: 0.1.0
description:
  - Applies retention rules to tables of PostgreSQL and MySQL/MariaDB, and to MongoDB collections. Each rule
    selects the rows whose O(rules[].timestamp_column) is older than O(rules[].older_than) (and that match
    O(rules[].filter)), then deletes them, moves them into an archive table, or overwrites chosen columns.
  - Works in batches of O(rules[].batch_size) rows, oldest first, each committed on its own, with an optional
    O(rules[].pause) between batches, so locks are held for one short batch at a time and the application
    keeps writing. Rows another session holds locked are not waited for (PostgreSQL gives them 0.2 seconds);
    they are skipped with C(FOR UPDATE SKIP LOCKED) and left for the next run.
  - "PostgreSQL: one transaction per batch. The bound of the next O(rules[].batch_size) rows is read from the
    index; archive then runs C(INSERT INTO archive SELECT ... WHERE <rule> AND timestamp <= bound) and the
    C(DELETE) of the same range in one C(REPEATABLE READ) snapshot, so a row changed in between fails the batch
    instead of being deleted uncopied; delete and anonymize are one C(DELETE) or C(UPDATE). A batch that meets
    a row another session holds for more than 0.2 seconds, or that fails that way, is rolled back and redone
    with its keys picked by C(FOR UPDATE SKIP LOCKED) and a C(DELETE ... RETURNING *) feeding the archive
    C(INSERT) in one statement.
    MySQL and MariaDB: one transaction per batch that locks the keys with C(FOR UPDATE SKIP LOCKED),
    copies the rows and deletes them. Either way a batch is wholly done or not done at all: a run killed at
    any moment loses no row and duplicates none, and the next run carries on."
  - "MongoDB (no transactions on a standalone server): a batch is copied into the archive collection by C(_id)
    with upserts, then deleted from the source; a run killed between the two leaves copies that the next run
    overwrites before deleting, so the data converges with no loss and no duplicate."
  - A missing archive table is created like the source (PostgreSQL C(LIKE src INCLUDING ALL) without defaults,
    identity and generated expressions; MySQL C(CREATE TABLE archive LIKE src)); unique
    constraints other than the primary key become plain indexes there, as archived values may repeat over
    the years. A missing archive collection is created with the source's indexes, none of them unique.
    An existing archive table must have every column of the source.
  - Table, column and collection names are checked against the catalog before anything changes (a name
    with a quote, semicolon or backslash is refused before connecting) and quoted by the driver; filter
    values and new column values are passed as query parameters, never as SQL text.
  - Every rule is checked before the first one runs, so a bad rule stops the task with nothing changed.
    A rule acts on at most the rows it counted when it started (rows that turn old during the run are left
    for the next run); a second run finds nothing to do.
  - Redis is not supported, as its keys expire by TTL (C(EXPIRE)); cleaning Redis up is the job of a separate module.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
options:
  rules:
    description:
      - The retention rules, applied in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - A label for the rule in results and messages.
        type: str
      table:
        description:
          - The table (or MongoDB collection) to clean.
          - "PostgreSQL takes C(schema.table); without a schema, O(rules[].schema) or the first schema of the
            search path (usually C(public)). MySQL: a table of the connection's O(database). MongoDB: a collection
            of O(database)."
        type: str
        required: true
        aliases: [collection]
      schema:
        description:
          - PostgreSQL schema of O(rules[].table).
        type: str
      timestamp_column:
        description:
          - The column (MongoDB field) holding each row's time. Rows with a time before now minus
            O(rules[].older_than) match; rows where it is NULL never do.
          - "PostgreSQL: C(timestamptz), C(timestamp) or C(date); MySQL: C(DATETIME), C(TIMESTAMP) or C(DATE);
            MongoDB: BSON dates. Times without a zone are taken as UTC."
          - An index that starts with this column lets every batch start where the previous one ended;
            without one, batches go in primary key order (the result's C(batch_order) says which).
        type: str
        required: true
        aliases: [timestamp_field]
      older_than:
        description:
          - "Age of the rows to act on: whole numbers with the units C(y) (years), C(mo) or C(m) (months),
            C(w) (weeks), C(d) (days) and C(h) (hours), each at most once, for example V(2y), V(6mo), V(90d),
            V(24h) or V(1y6mo). Months and years go by the calendar."
        type: str
        required: true
      filter:
        description:
          - "Extra conditions, all of which a row must meet: a list of C({column, operator, value}). Operators:
            C(=), C(!=), C(<), C(<=), C(>), C(>=), C(like), C(not like) (one value), C(in), C(not in) (a list),
            C(is null), C(is not null) (no value). Values are passed as query parameters."
          - "MongoDB also takes a filter document, such as C({status: {$in: [completed, failed]}}), with the query
            operators C($eq $ne $gt $gte $lt $lte $in $nin $exists $type $and $or $nor $not $regex $options $all
            $elemMatch $size $mod); C(like) is SQL only."
        type: raw
      action:
        description:
          - V(delete) removes the rows.
          - V(archive) moves them into O(rules[].archive_table) (created when missing) and removes them.
          - V(anonymize) sets O(rules[].columns) to their new values and keeps the rows.
        type: str
        required: true
        choices: [delete, archive, anonymize]
      archive_table:
        description:
          - For V(archive), the table (or collection) to move the rows into. PostgreSQL takes C(schema.table).
          - Defaults to the table's name with C(_archive) appended, in the same schema or database.
        type: str
        aliases: [archive_collection]
      columns:
        description:
          - For V(anonymize) (required there), the columns to overwrite and their new values; null sets NULL.
          - "MongoDB refuses a field set to null that no document has (most likely a typo that would leave the
            data in place); a field set to a value may be new, such as a marker C(gdprAnonymized: true)."
          - Primary key columns and O(rules[].timestamp_column) cannot be changed.
          - Without O(rules[].mark_column), rows whose columns already hold all of these values do not match,
            so a second run does not touch them again.
        type: dict
      mark_column:
        description:
          - For V(anonymize), a time column set to the time of the run on every row the rule changes; rows where
            it is set do not match again. A C(timestamptz), C(timestamp), C(date), C(DATETIME) or C(TIMESTAMP)
            column (any field in MongoDB).
        type: str
        aliases: [mark_field]
      batch_size:
        description:
          - Rows per batch for this rule. Defaults to O(batch_size).
        type: int
      pause:
        description:
          - Seconds to wait between two batches of this rule. Defaults to O(pause).
        type: float
  batch_size:
    description:
      - Rows per batch, for rules that do not set their own; 1 to 100000.
      - Each batch is one short transaction; larger batches are faster in total and hold their locks longer.
    type: int
    default: 1000
  pause:
    description:
      - Seconds to wait between two batches, for rules that do not set their own. Gives replicas and the
        application room on a busy server.
    type: float
    default: 0
  lock_timeout:
    description:
      - Seconds a statement of this module may wait for a lock (for example to create the archive table)
        before it fails. Rows locked by others are skipped, not waited for.
      - "PostgreSQL C(lock_timeout); MySQL C(innodb_lock_wait_timeout) and C(lock_wait_timeout) (whole seconds)."
    type: float
    default: 5
  statement_timeout:
    description:
      - Seconds one statement (a count or a batch) may run before the server cancels it; that batch is rolled
        back and the task fails.
      - "PostgreSQL C(statement_timeout); MariaDB C(max_statement_time); MySQL C(max_execution_time) (the
        counts only); MongoDB C(maxTimeMS) of the counts and reads. For PostgreSQL and MySQL this replaces the
        query time-out that O(connect_timeout) sets; MongoDB reads also end after six times O(connect_timeout)
        (the driver's socket time-out)."
    type: float
    default: 300
attributes:
  check_mode:
    support: full
    description: Counts the rows each rule matches, exactly as the real run would at that moment, and changes nothing.
  diff_mode:
    support: full
    description: Per rule, the matching rows before and after (or after as check mode expects).
notes:
  - Every table needs a primary key (MongoDB uses C(_id)); batches are picked and acted on by it.
  - In check mode every rule is counted against the current data. When two rules touch the same rows,
    the later rule's count includes rows the earlier one would have removed.
  - A rule may act on the archive that an earlier C(archive) rule of the same task creates (archive after
    6 months, delete from the archive after 3 years). Until that archive exists, such a rule is resolved when
    its turn comes, and check mode counts it as the rows the earlier rule would move that it would then take.
    Any other unknown table or collection stops the task before any row is touched.
  - Deleting rows that other tables reference through foreign keys fails the batch (C(ON DELETE RESTRICT))
    or deletes the referencing rows too (C(ON DELETE CASCADE)), as any C(DELETE) does; triggers fire as usual.
  - MySQL archive needs transactional (InnoDB) tables on both sides; C(delete) and C(anonymize) work on any engine.
  - "MongoDB: the archive collection is written with upserts by C(_id), so an archive with a unique index on
    another field, or a document changed between its copy and its delete, are the only ways for the archive
    to differ from the source; the module checks the archive copy is there before deleting. The collection
    lives in O(database), which is required; with O(login_user), MongoDB also authenticates against that
    database, so create the maintenance user there."
  - "The MongoDB behaviour was checked against nx-27017, a MongoDB wire-protocol server over SQLite
    (see the README); it stores dates set by an update, such as O(rules[].mark_column), as strings."
requirements:
  - psycopg2 for PostgreSQL
  - PyMySQL for MySQL and MariaDB (SKIP LOCKED needs MariaDB 10.6 or MySQL 8.0; older servers wait for locks)
  - pymongo for MongoDB
seealso:
  - module: caretaker.maintenance.db_backup
  - module: community.postgresql.postgresql_query
  - module: community.mysql.mysql_query
'''

EXAMPLES = r'''
- name: Archive finished jobs after 90 days, delete old sessions, anonymise old customers
  caretaker.maintenance.data_retention:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: maintenance
    login_password: "{{ vault_pg_password }}"
    database: appdb
    batch_size: 5000
    pause: 0.2
    rules:
      - name: finished jobs
        table: jobs
        timestamp_column: finished_at
        older_than: 90d
        filter:
          - {column: status, operator: in, value: [completed, failed]}
        action: archive
        archive_table: archive.jobs
      - table: sessions
        timestamp_column: last_seen
        older_than: 30d
        action: delete
      - name: customers gone for two years
        table: customers
        timestamp_column: last_order_at
        older_than: 2y
        action: anonymize
        columns:
          email: null
          name: anonymous
          phone: null
        mark_column: anonymized_at

- name: Delete audit rows older than 6 months on MariaDB, one small batch every half second
  caretaker.maintenance.data_retention:
    engine: mysql
    login_user: maintenance
    login_password: "{{ vault_mysql_password }}"
    database: appdb
    rules:
      - table: audit_log
        timestamp_column: created_at
        older_than: 6mo
        action: delete
        batch_size: 500
        pause: 0.5

- name: Move MongoDB events older than a year into events_archive
  caretaker.maintenance.data_retention:
    engine: mongodb
    database: appdb
    rules:
      - collection: events
        timestamp_field: created_at
        older_than: 1y
        filter: {type: {$in: [click, view]}}
        action: archive

- name: See what the rules would do (exact counts, nothing changed)
  caretaker.maintenance.data_retention:
    engine: postgresql
    login_password: "{{ vault_pg_password }}"
    database: appdb
    rules:
      - table: sessions
        timestamp_column: last_seen
        older_than: 30d
        action: delete
  check_mode: true
  register: retention

- name: Show the counts
  ansible.builtin.debug:
    msg: "{{ retention.rules | map(attribute='matched') | list }}"
'''

RETURN = r'''
changed:
  description: Whether any row was deleted, archived or anonymised, or an archive table created (in check mode, would be).
  returned: always
  type: bool
msg:
  description: One line with the rows acted on per action.
  returned: always
  type: str
  sample: archived 1200, deleted 310 rows in 2 rules (1510 matched)
matched:
  description: Rows the rules matched, in total.
  returned: success
  type: int
  sample: 1510
affected:
  description: Rows deleted, archived or anonymised, in total (in check mode, the rows that would be).
  returned: success
  type: int
  sample: 1510
rules:
  description: One item per rule, in the order of O(rules). On a failure, the rules done until then.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The rule's O(rules[].name), or null.
      type: str
      sample: finished jobs
    table:
      description: The table, C(schema.table) for PostgreSQL, C(database.collection) for MongoDB.
      type: str
      sample: public.jobs
    action:
      description: delete, archive or anonymize.
      type: str
      sample: archive
    older_than:
      description: The rule's age as given.
      type: str
      sample: 90d
    cutoff:
      description: Rows with a time before this (UTC) matched.
      type: str
      sample: '2026-08-25T02:00:00Z'
    matched:
      description: Rows that matched when the rule started; the same figure in check mode and in the real run.
      type: int
      sample: 1200
    affected:
      description: Rows the rule deleted, archived or anonymised (in check mode, equal to RV(rules[].matched)).
      type: int
      sample: 1200
    left:
      description: Matched rows not acted on, because another session held them locked or they changed meanwhile.
      type: int
      sample: 0
    batches:
      description: Batches run (0 in check mode).
      type: int
      sample: 1
    batch_order:
      description: C(timestamp) when an index starts with the timestamp column, else C(primary key) (C(_id)).
      type: str
      sample: timestamp
    archive_table:
      description: For archive, the archive table (C(schema.table), C(database.collection)); else null.
      type: str
      sample: archive.jobs
    archive_created:
      description: Whether this run created the archive table (in check mode, would create it).
      type: bool
      sample: false
    seconds:
      description: How long the rule took, counting included.
      type: float
      sample: 12.4
diff:
  description: With C(--diff), the rows each rule matched before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: "archive public.jobs (finished jobs): 1200 rows older than 90d (2026-08-25T02:00:00Z)\n"
    after: "archive public.jobs (finished jobs): 0 rows older than 90d (2026-08-25T02:00:00Z); 1200 archived\n"
'''

import datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention import runner
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError, parse_rules


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        rules=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str'),
            table=dict(type='str', required=True, aliases=['collection']),
            schema=dict(type='str'),
            timestamp_column=dict(type='str', required=True, aliases=['timestamp_field']),
            older_than=dict(type='str', required=True),
            filter=dict(type='raw'),
            action=dict(type='str', required=True, choices=['delete', 'archive', 'anonymize']),
            archive_table=dict(type='str', aliases=['archive_collection']),
            columns=dict(type='dict'),
            mark_column=dict(type='str', aliases=['mark_field']),
            batch_size=dict(type='int'),
            pause=dict(type='float'),
        )),
        batch_size=dict(type='int', default=1000),
        pause=dict(type='float', default=0),
        lock_timeout=dict(type='float', default=5),
        statement_timeout=dict(type='float', default=300),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        [conn] = connection_specs(params)
        rules = parse_rules(params['rules'], conn.engine, params['batch_size'], params['pause'])
        if conn.engine == 'mongodb' and not conn.database:
            raise RuleError('database is required for MongoDB: set it to the database holding the collections')
        for option in ('lock_timeout', 'statement_timeout'):
            if params[option] <= 0:
                raise RuleError('%s must be above 0 seconds, got %s' % (option, params[option]))
        engine = get_engine(conn)
        engine.require_driver()
    except MissingDriver as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine), exception=exc.error)
    except (ConnectionOptionError, RuleError, ValueError) as exc:
        module.fail_json(msg='%s' % exc, changed=False, rules=[])

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    try:
        with engine:
            backend = runner.backend_for(engine, params['lock_timeout'], params['statement_timeout'])
            try:
                result = runner.run(backend, rules, now, check_mode=module.check_mode)
            finally:
                backend.close()
    except (RuleError, EngineError) as exc:
        partial = getattr(exc, 'partial', None)
        if not partial:
            module.fail_json(msg='%s' % exc, changed=False, rules=[])
        module.fail_json(msg='%s (until then: %s)' % (exc, runner.message(partial, module.check_mode)), **partial)
    result['msg'] = runner.message(result, module.check_mode)
    if module._diff:
        result['diff'] = runner.diff(result, module.check_mode)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
