#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: redis_cleanup
short_description: Clean up Redis caches, sessions and Bull/BullMQ queues, and report queue counts and memory
version_added: 0.1.0
description:
  - "Does the cache and queue upkeep of the runbooks on one Redis server: deletes keys without a TTL
    (O(delete_without_ttl)), gives keys without a TTL one (O(expire_without_ttl)), deletes idle sessions
    (O(idle_sessions)), removes old completed and failed jobs of Bull and BullMQ queues (O(queues)), and reports
    the queues' job counts, the largest keys and used memory against C(maxmemory) with thresholds."
  - Keys are found with C(SCAN) (never C(KEYS)) in batches of O(batch_size); each batch is read in one pipeline and
    acted on with one Lua script that checks each key again before it changes it (a key given a TTL, or a session
    used, since it was read is left alone). Deleted keys are C(UNLINK)ed, so their memory is freed in the
    background. O(pause) and O(max_keys_per_second) limit the load.
  - "Check mode makes the same reads and stops before the scripts: RV(delete_without_ttl[].matched) and
    RV(delete_without_ttl[].affected) (the keys the run would change) are the real run's counts on unchanged
    data, and C(changed) is V(false)."
  - "Queues: jobs of the completed and failed sets whose C(finishedOn) is older than
    O(queues[].completed_older_than) (default 24 hours) and O(queues[].failed_older_than) (default 7 days) are
    removed the way the libraries' C(cleanJobsInSet) does: one script call per batch removes each job's set
    membership, its hash and its C(<id>:logs) list (BullMQ also C(:dependencies), C(:processed), C(:failed),
    C(:unsuccessful), and an event C(cleaned) on the C(:events) stream; Bull its rate-limiter index entry). A job
    that is locked or listed in C(active) is never touched, nor a BullMQ child job its parent still waits for.
    Waiting, active and delayed jobs are never removed."
  - Bad options (a pattern matching every key without O(allow_all_keys), a negative or zero number of seconds, an
    unknown queue flavour, a queue whose keys are another flavour's) fail the task before anything is deleted,
    with a message naming the option and the fix.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
  - caretaker.maintenance.status.fail_on
options:
  engine:
    description:
      - The kind of datastore. Only Redis is supported.
    type: str
    choices: [redis]
    default: redis
  delete_without_ttl:
    description:
      - Key patterns (C(SCAN MATCH) globs such as V(analytics:*)) whose keys without a TTL are deleted, as the
        runbook's cache cleanup does for C(analytics:*). Keys with a TTL are left to expire.
      - A pattern matching every key (V(*)) needs O(allow_all_keys).
      - Bull and BullMQ keep their queues in keys without a TTL; a pattern such as V(bull:*) deletes them.
    type: list
    elements: str
    default: []
  expire_without_ttl:
    description:
      - Key patterns whose keys without a TTL are given one, so they expire by themselves.
    type: list
    elements: dict
    default: []
    suboptions:
      pattern:
        description: The C(SCAN MATCH) glob.
        type: str
        required: true
      seconds:
        description: The TTL, in seconds (V(86400)) or as a duration with the units s, m, h, d, w (V(1d)). Above zero.
        type: raw
        required: true
  idle_sessions:
    description:
      - Session keys deleted when idle for at least O(idle_sessions[].idle_for).
      - "With O(idle_sessions[].by=field) (the default), the idle time is read from a timestamp in the value: a field of
        the JSON of a string value (as connect-redis keeps C(sess:*) keys), or a field of a hash. Keys without the
        field or with a value that is no timestamp are kept and counted in C(without_field) of RV(idle_sessions)."
      - With O(idle_sessions[].by=idletime), it is Redis's C(OBJECT IDLETIME), the seconds since a command last read or
        wrote the key. It is not kept under an LFU C(maxmemory-policy); such a server fails the task before anything
        is deleted. Idle-time rules run before the others, since reading a value (by field) resets the key's idle
        time on servers before Redis 7.2 (on 7.2 and later the module reads with C(CLIENT NO-TOUCH)).
    type: list
    elements: dict
    default: []
    suboptions:
      pattern:
        description: The C(SCAN MATCH) glob of the session keys, such as V(sess:*).
        type: str
        required: true
      idle_for:
        description: Idle time from which a session is deleted, as seconds or a duration such as V(30d) or V(12h).
        type: raw
        required: true
      by:
        description: Where the idle time comes from.
        type: str
        choices: [field, idletime]
        default: field
      field:
        description:
          - With O(idle_sessions[].by=field), the timestamp field; a dotted path reaches into nested JSON
            (V(session.lastActivity)). In a hash, the first name is the hash field and the rest a path in its JSON.
        type: str
        default: lastActivity
      timestamp_unit:
        description:
          - How numbers in the field are read. V(auto) takes numbers of 1e11 and above as milliseconds (JavaScript's
            C(Date.now())) and smaller ones as seconds. Texts in ISO 8601 (V(2026-01-31T12:00:00Z)) are always read;
            without an offset they are UTC.
        type: str
        choices: [auto, ms, s]
        default: auto
  queues:
    description:
      - Bull or BullMQ queues to count and clean.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The queue name, as given to C(new Queue(name)).
        type: str
        required: true
      flavour:
        description: V(bull) for the C(bull) package (Bull 3 and 4), V(bullmq) for C(bullmq).
        type: str
        choices: [bull, bullmq]
        default: bull
      prefix:
        description: The key prefix the application gives the queue (its C(prefix) option).
        type: str
        default: bull
      clean:
        description: The sets to remove old jobs from; V([]) only counts.
        type: list
        elements: str
        choices: [completed, failed]
        default: [completed, failed]
      completed_older_than:
        description: Completed jobs that finished longer ago than this are removed; seconds or a duration.
        type: raw
        default: 24h
      failed_older_than:
        description: Failed jobs that finished longer ago than this are removed; seconds or a duration.
        type: raw
        default: 7d
      thresholds:
        description: Job count thresholds of this queue, over O(queue_thresholds).
        type: dict
  queue_thresholds:
    description:
      - "Job count thresholds per signal, a dict of V(waiting), V(active), V(delayed), V(completed) and V(failed),
        each C({warning: N, critical: N}). Defaults: waiting 1000 and 10000, failed 50 and 500, the others none."
      - Waiting counts the C(wait), C(paused) and (BullMQ) C(prioritized) jobs. Counts are taken after the cleanup
        (in check mode, as it would leave them).
    type: dict
  memory_thresholds:
    description:
      - "Used memory in percent of C(maxmemory), C({warning: N, critical: N}); default 80 and 90. A server without
        C(maxmemory) reports V(ok) with the used memory."
    type: dict
  largest_keys:
    description: How many of the largest keys to list, by C(MEMORY USAGE); V(0) lists none.
    type: int
    default: 10
  largest_keys_sample:
    description: How many keys C(SCAN) samples for RV(largest_keys).
    type: int
    default: 10000
  allow_all_keys:
    description: Allow patterns that match every key (V(*)) in O(delete_without_ttl), O(expire_without_ttl) and
      O(idle_sessions).
    type: bool
    default: false
  batch_size:
    description: Keys per C(SCAN COUNT), pipeline and script call; jobs per script call.
    type: int
    default: 500
  pause:
    description: Seconds to wait between batches.
    type: float
    default: 0
  max_keys_per_second:
    description: At most this many keys and jobs per second over the run, by pausing between batches. Unset means no limit.
    type: float
  diff_max_keys:
    description: With C(--diff), at most this many keys are listed per operation.
    type: int
    default: 50
attributes:
  check_mode:
    support: full
    description: Makes the real run's reads and returns its exact counts; changes nothing.
  diff_mode:
    support: full
    description: Lists the keys and jobs deleted or given a TTL (in check mode, that would be), at most O(diff_max_keys) per operation.
notes:
  - C(changed) is V(true) when a key was deleted or given a TTL, or a job removed.
  - O(fail_on) fails the task after the cleanup, so what was deleted stays deleted.
  - Counts are of the keys the C(SCAN) saw. Keys written while it runs may or may not be seen; a second run finds them.
    C(SCAN) may return a key twice; check mode remembers the keys it matched so each counts once (its memory grows
    with the matches), the real run needs not (a key it changed no longer matches).
  - Needs Redis 4.0 or later (C(UNLINK), C(MEMORY USAGE)). Redis Cluster is not supported.
  - "The login needs C(SCAN), C(TYPE), C(TTL), C(OBJECT), C(GET), C(HGET), C(HMGET), C(EXISTS), C(LLEN), C(LRANGE),
    C(ZCARD), C(ZRANGEBYSCORE), C(SISMEMBER), C(MEMORY USAGE), C(TIME), C(INFO) and, outside check mode, C(EVALSHA) and
    C(EVAL) with the commands the scripts run (C(UNLINK), C(EXPIRE), C(DEL), C(ZREM), C(SREM), C(HDEL), C(XADD)): ACL
    C(+@read +@write +@keyspace +@scripting +time +info +memory +ping). C(CONFIG GET) is used when allowed."
  - The scripts name keys they did not declare (the job's C(:logs) key, as the libraries' own scripts do), which
    Redis allows outside Redis Cluster.
seealso:
  - module: caretaker.maintenance.db_optimize
  - module: caretaker.maintenance.db_stats
'''

EXAMPLES = r'''
- name: Weekly cache and queue upkeep of the delivery platform's Redis
  caretaker.maintenance.redis_cleanup:
    login_host: 127.0.0.1
    login_password: "{{ vault_redis_password }}"
    delete_without_ttl: ['analytics:*']
    idle_sessions:
      - pattern: 'sess:*'
        field: lastActivity
        idle_for: 30d
    queues:
      - name: customer-calls
      - name: notifications
    queue_thresholds:
      failed: {warning: 20, critical: 200}
    max_keys_per_second: 5000
  register: cache_cleanup

- name: Show what was removed
  ansible.builtin.debug:
    msg: "{{ cache_cleanup.msg }}"

- name: Give cache keys without a TTL one day, and delete sessions nobody used for two weeks
  caretaker.maintenance.redis_cleanup:
    login_unix_socket: /run/redis/redis-server.sock
    database: "1"
    expire_without_ttl:
      - pattern: 'cache:*'
        seconds: 1d
    idle_sessions:
      - pattern: 'session:*'
        by: idletime
        idle_for: 14d

- name: Count the jobs of a BullMQ queue with its own prefix, and remove failed jobs after 30 days
  caretaker.maintenance.redis_cleanup:
    login_password: "{{ vault_redis_password }}"
    queues:
      - name: emails
        flavour: bullmq
        prefix: app
        clean: [failed]
        failed_older_than: 30d
        thresholds:
          waiting: {warning: 100, critical: 1000}
    fail_on: warning
'''

RETURN = r'''
changed:
  description: Whether a key was deleted or given a TTL, or a job removed. Always V(false) in check mode.
  returned: always
  type: bool
msg:
  description: What was done (check mode, would be done), then the status line of RV(checks).
  returned: always
  type: str
  sample: "delete 12 keys without a TTL, delete 3 idle sessions, remove 40 completed and 2 failed jobs from 2 queues; all 11 checks ok"
status:
  description: The worst status of RV(checks).
  returned: always
  type: str
  sample: ok
checks:
  description:
    - One item per queue and signal (C(<prefix>:<name> waiting), C(active), C(delayed), C(completed), C(failed), in
      jobs, with the item's C(queue) and C(signal)), a warning C(<prefix>:<name> found) for a queue with no keys, and
      one C(memory) item in percent of C(maxmemory).
  returned: always
  type: list
  elements: dict
  sample: [{name: "bull:customer-calls failed", status: ok, value: 3, unit: jobs,
            threshold: {warning: 50, critical: 500, direction: above}, detail: "3 failed jobs", queue: customer-calls,
            signal: failed}]
counts:
  description: How many RV(checks) items have each status.
  returned: always
  type: dict
  sample: {ok: 11, warning: 0, critical: 0, unknown: 0}
target:
  description: Label of the server.
  returned: always
  type: str
  sample: redis@127.0.0.1:6379/0
matched:
  description: Keys and jobs all operations matched.
  returned: always
  type: int
affected:
  description: Keys and jobs all operations deleted, gave a TTL or removed (check mode, would).
  returned: always
  type: int
delete_without_ttl:
  description: Per pattern of O(delete_without_ttl), in order.
  returned: always
  type: list
  elements: dict
  contains:
    pattern:
      description: The pattern.
      type: str
    scanned:
      description: Keys the SCAN returned for it.
      type: int
    matched:
      description: Keys without a TTL when read.
      type: int
    affected:
      description: Keys deleted (check mode, that would be; equal to RV(delete_without_ttl[].matched)).
      type: int
  sample: [{pattern: "analytics:*", scanned: 120, matched: 100, affected: 100}]
expire_without_ttl:
  description: Per rule of O(expire_without_ttl), as RV(delete_without_ttl) with the C(seconds) given.
  returned: always
  type: list
  elements: dict
  sample: [{pattern: "cache:*", seconds: 86400, scanned: 40, matched: 12, affected: 12}]
idle_sessions:
  description:
    - Per rule of O(idle_sessions), as RV(delete_without_ttl) with C(by), C(idle_for), C(idle_seconds) and, by field,
      C(field), C(without_field) (keys kept that have no such field or no timestamp in it) and C(other_types) (keys
      that are neither strings nor hashes).
  returned: always
  type: list
  elements: dict
  sample: [{pattern: "sess:*", by: field, field: lastActivity, idle_for: 30d, idle_seconds: 2592000.0, scanned: 50,
            matched: 20, affected: 20, without_field: 5, other_types: 0}]
queues:
  description: Per queue of O(queues).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The queue name.
      type: str
    prefix:
      description: The key prefix.
      type: str
    flavour:
      description: V(bull) or V(bullmq).
      type: str
    found:
      description: Whether the queue has an C(:id) or C(:meta) key or any job.
      type: bool
    counts_before:
      description: Jobs per state before the cleanup, C(wait), C(active), C(paused), C(delayed), C(completed),
        C(failed) (BullMQ also C(prioritized), C(waiting_children)) and C(waiting).
      type: dict
    counts:
      description: The same after the cleanup (check mode, as it would leave them); RV(checks) are of these.
      type: dict
    clean:
      description: Per state cleaned, C(state), C(older_than), C(older_than_seconds), C(cutoff_ms) (jobs that
        finished before this time in milliseconds are old), C(matched), C(affected) (removed; check mode, would
        be), C(kept_active) (old jobs locked or listed as active), C(kept_parent) (BullMQ children a parent waits
        for) and C(kept_recent) (jobs scored old whose C(finishedOn) is not).
      type: list
      elements: dict
  sample: [{name: customer-calls, prefix: bull, flavour: bull, found: true,
            counts_before: {wait: 2, active: 1, paused: 0, delayed: 0, completed: 40, failed: 3, waiting: 2},
            counts: {wait: 2, active: 1, paused: 0, delayed: 0, completed: 10, failed: 1, waiting: 2},
            clean: [{state: completed, older_than: 24h, older_than_seconds: 86400.0, cutoff_ms: 1767000000000,
                     matched: 30, affected: 30, kept_active: 0, kept_parent: 0, kept_recent: 0}]}]
largest_keys:
  description: The largest keys of the sample, largest first, by C(MEMORY USAGE).
  returned: always
  type: list
  elements: dict
  sample: [{key: "analytics:daily", type: hash, bytes: 1048712}]
largest_keys_sampled:
  description: Keys sampled for RV(largest_keys).
  returned: always
  type: int
memory:
  description: C(used_bytes), C(maxmemory_bytes), C(peak_bytes), C(maxmemory_policy) and C(percent) (null without
    C(maxmemory)), read after the cleanup.
  returned: always
  type: dict
  sample: {used_bytes: 1048576, maxmemory_bytes: 268435456, peak_bytes: 2097152, maxmemory_policy: noeviction,
           percent: 0.4}
paused_seconds:
  description: Seconds the run waited for O(pause) and O(max_keys_per_second).
  returned: always
  type: float
diff:
  description: With C(--diff), per operation the keys deleted (before) or given a TTL (before and after).
  returned: when diff mode is on
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.options import (
    BY_CHOICES, CLEAN_STATES, DEFAULT_OLDER_THAN, FLAVOURS, UNIT_CHOICES, CleanupOptionError, Options)
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.run import CleanupError, run
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import exit_with_status, status_argument_spec


def argument_spec():
    spec = connection_argument_spec()
    spec['engine'] = dict(type='str', choices=['redis'], default='redis')
    spec.update(status_argument_spec())
    spec.update(
        delete_without_ttl=dict(type='list', elements='str', default=[]),
        expire_without_ttl=dict(type='list', elements='dict', default=[], options=dict(
            pattern=dict(type='str', required=True),
            seconds=dict(type='raw', required=True),
        )),
        idle_sessions=dict(type='list', elements='dict', default=[], options=dict(
            pattern=dict(type='str', required=True),
            idle_for=dict(type='raw', required=True),
            by=dict(type='str', choices=list(BY_CHOICES), default='field'),
            field=dict(type='str', default='lastActivity'),
            timestamp_unit=dict(type='str', choices=list(UNIT_CHOICES), default='auto'),
        )),
        queues=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            flavour=dict(type='str', choices=list(FLAVOURS), default='bull'),
            prefix=dict(type='str', default='bull'),
            clean=dict(type='list', elements='str', choices=list(CLEAN_STATES), default=list(CLEAN_STATES)),
            completed_older_than=dict(type='raw', default=DEFAULT_OLDER_THAN['completed']),
            failed_older_than=dict(type='raw', default=DEFAULT_OLDER_THAN['failed']),
            thresholds=dict(type='dict'),
        )),
        queue_thresholds=dict(type='dict'),
        memory_thresholds=dict(type='dict'),
        largest_keys=dict(type='int', no_log=False, default=10),
        largest_keys_sample=dict(type='int', no_log=False, default=10000),
        allow_all_keys=dict(type='bool', default=False),
        batch_size=dict(type='int', default=500),
        pause=dict(type='float', default=0),
        max_keys_per_second=dict(type='float', no_log=False),
        diff_max_keys=dict(type='int', no_log=False, default=50),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    base = dict(changed=False)
    try:
        [conn] = connection_specs(module.params)
        options = Options(module.params)
        engine = get_engine(conn)
        engine.require_driver()
    except MissingDriver as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine), exception=exc.error)
    except (ConnectionOptionError, CleanupOptionError, ValueError) as exc:
        module.fail_json(msg='%s' % exc, **base)
    base.update(target=engine.label, engine=conn.engine)
    try:
        with engine:
            result = run(engine, options, module.check_mode, module._diff)
    except CleanupError as exc:
        module.fail_json(msg='%s' % exc, **dict(exc.partial, **dict(base, changed=exc.partial.get('changed', False))))
    except EngineError as exc:
        module.fail_json(msg='%s' % exc, **base)
    result.update(target=base['target'], engine=base['engine'])
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
