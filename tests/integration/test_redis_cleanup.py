"""redis_cleanup against a real redis-server holding Bull and BullMQ queues, sessions and cache keys,
through real ansible-playbook runs: check mode, the real run with the same counts, then a run that
finds nothing."""

import json
import time

import pytest
import yaml

from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks
from tests.support.redis_fixtures import empty_client, own_redis

MODULE = 'caretaker.maintenance.redis_cleanup'
PASSWORD = 'pa ss "q" \'s\' $HOME $(id) \\ end'
DAY_MS = 86400 * 1000
# RESTORE ... IDLETIME gives a key this idle time, as if nobody had read it for 40 days.
FORTY_DAYS = 40 * 86400


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    with own_redis(tmp_path_factory.mktemp('redis-cleanup'), PASSWORD) as srv:
        yield srv


@pytest.fixture
def r(server):
    with empty_client(server) as client:
        yield client


def now_ms(r):
    seconds, micros = r.time()
    return seconds * 1000 + micros // 1000


def job(r, prefix, job_id, **fields):
    r.hset('%s%s' % (prefix, job_id), mapping=dict({'name': 'call', 'data': '{}'}, **fields))


def fill_bull(r, now):
    """Bull 3 queue bull:calls: 6 old and 4 recent completed, 3 old and 2 recent failed, 2 active (one of
    them, locked, also scored old in completed), 5 waiting, 2 delayed."""
    p = 'bull:calls:'
    for i in range(1, 11):
        finished = now - (2 * DAY_MS if i <= 6 else 3600 * 1000)
        job(r, p, i, timestamp=finished - 1000, processedOn=finished - 500, finishedOn=finished, returnvalue='1')
        r.zadd(p + 'completed', {str(i): finished})
        r.rpush('%s%d:logs' % (p, i), 'step one', 'step two')
    for i in range(11, 16):
        finished = now - (10 * DAY_MS if i <= 13 else 3 * DAY_MS)
        job(r, p, i, timestamp=finished - 1000, finishedOn=finished, failedReason='ECONNRESET')
        r.zadd(p + 'failed', {str(i): finished})
    for i in (16, 17):
        job(r, p, i, timestamp=now - 5000, processedOn=now - 4000)
        r.lpush(p + 'active', str(i))
        r.set('%s%d:lock' % (p, i), 'worker-token', px=30000)
    # Active again after an old completion (a retried job): scored old, but a worker holds it.
    r.zadd(p + 'completed', {'16': now - 3 * DAY_MS})
    for i in range(18, 23):
        job(r, p, i, timestamp=now)
        r.lpush(p + 'wait', str(i))
    for i in (23, 24):
        job(r, p, i, timestamp=now, delay='60000')
        r.zadd(p + 'delayed', {str(i): (now + 60000) * 0x1000 + i})
    r.set(p + 'id', 24)
    r.rpush('bull:misfiled:completed', '1')  # a list where Bull keeps a sorted set: not a Bull queue


def fill_bullmq(r, now):
    """BullMQ queue bull:mail: 5 old and 2 recent completed (the old ones with :dependencies and
    :processed keys), 2 old failed plus one a waiting parent still depends on, 1 recent failed, 1 active,
    3 waiting, 2 prioritized, 1 parent in waiting-children; meta and an events stream."""
    p = 'bull:mail:'
    r.hset(p + 'meta', mapping={'opts.maxLenEvents': 10000, 'version': 'bullmq:5.34.0'})
    r.xadd(p + 'events', {'event': 'added', 'jobId': '1'})
    for i in range(1, 8):
        finished = now - (3 * DAY_MS if i <= 5 else 60 * 1000)
        job(r, p, i, timestamp=finished - 100, processedOn=finished - 50, finishedOn=finished, atm='1')
        r.zadd(p + 'completed', {str(i): finished})
        if i <= 5:
            r.rpush('%s%d:logs' % (p, i), 'sent')
            r.sadd('%s%d:dependencies' % (p, i), 'bull:other:1')
            r.hset('%s%d:processed' % (p, i), 'bull:other:2', '"ok"')
    for i in (8, 9, 10, 11):
        finished = now - (8 * DAY_MS if i <= 10 else DAY_MS)
        job(r, p, i, timestamp=finished - 100, finishedOn=finished, failedReason='smtp down')
        r.zadd(p + 'failed', {str(i): finished})
    # Job 10 is the child a parent in waiting-children still waits for: removing it would strand the parent.
    r.hset(p + '10', 'parentKey', p + '20')
    job(r, p, 20, timestamp=now)
    r.sadd(p + '20:dependencies', p + '10')
    r.zadd(p + 'waiting-children', {'20': now})
    job(r, p, 12, timestamp=now, processedOn=now)
    r.lpush(p + 'active', '12')
    r.set(p + '12:lock', 'token', px=30000)
    for i in (13, 14, 15):
        job(r, p, i, timestamp=now)
        r.lpush(p + 'wait', str(i))
    for i in (16, 17):
        job(r, p, i, timestamp=now, priority='5')
        r.zadd(p + 'prioritized', {str(i): 5 * 0x100000000 + i})
    r.set(p + 'id', 20)


def fill_sessions(r, now):
    """sess:*: 16 idle for 40 days by lastActivity (ms, s, ISO, a hash field, a key that is not UTF-8),
    6 recent, 4 without a timestamp; idle:*: 4 idle for 40 days by OBJECT IDLETIME, 3 fresh."""
    old = now - 40 * DAY_MS
    for i in range(10):
        r.set('sess:ms:%d' % i, json.dumps({'cookie': {'path': '/'}, 'lastActivity': old, 'user': i}))
    for i in range(3):
        r.set('sess:s:%d' % i, json.dumps({'lastActivity': old // 1000}))
    r.set('sess:iso:0', json.dumps({'lastActivity': time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(old / 1000))}))
    r.hset('sess:hash:old', mapping={'lastActivity': str(old), 'user': '7'})
    r.set(b'sess:\xff\xfe', json.dumps({'lastActivity': old}))
    for i in range(5):
        r.set('sess:new:%d' % i, json.dumps({'lastActivity': now - 3600 * 1000}))
    r.hset('sess:hash:new', mapping={'lastActivity': str(now), 'user': '8'})
    r.set('sess:nofield:0', json.dumps({'cookie': {}}))
    r.set('sess:garbage', 'not json at all')
    r.set('sess:binary', b'\x80\x81\x82')
    r.hset('sess:hash:nofield', 'user', '9')
    r.set('idle:template', 'x')
    payload = r.dump('idle:template')
    for i in range(4):
        r.restore('idle:old:%d' % i, 0, payload, idletime=FORTY_DAYS)
    for i in range(3):
        r.set('idle:fresh:%d' % i, 'x')
    r.delete('idle:template')


def fill_cache(r):
    """analytics:*: 30 without a TTL and 5 with one; cache:*: 8 without a TTL and 2 with one; and keys the
    patterns must not touch."""
    for i in range(30):
        r.set('analytics:day:%d' % i, 'x' * 50)
    for i in range(5):
        r.set('analytics:ttl:%d' % i, 'x', ex=5000)
    for i in range(8):
        r.hset('cache:user:%d' % i, 'name', 'n')
    for i in range(2):
        r.set('cache:ttl:%d' % i, 'x', ex=5000)
    r.set('other:analytics:1', 'keep')
    r.set('analyticsX', 'keep')


def fill_all(r):
    now = now_ms(r)
    fill_bull(r, now)
    fill_bullmq(r, now)
    fill_sessions(r, now)
    fill_cache(r)


def full_args(server, **extra):
    return dict(server.target(), delete_without_ttl=['analytics:*'],
                expire_without_ttl=[{'pattern': 'cache:*', 'seconds': '1h'}],
                idle_sessions=[{'pattern': 'sess:*', 'idle_for': '30d'},
                               {'pattern': 'idle:*', 'by': 'idletime', 'idle_for': '30d'}],
                queues=[{'name': 'calls'}, {'name': 'mail', 'flavour': 'bullmq'}],
                batch_size=7, **extra)


def counts(result):
    """(matched, affected) of every operation, in result order."""
    rows = []
    for kind in ('delete_without_ttl', 'expire_without_ttl', 'idle_sessions'):
        rows += [(kind, entry['pattern'], entry['matched'], entry['affected']) for entry in result[kind]]
    for queue in result['queues']:
        rows += [(queue['name'], entry['state'], entry['matched'], entry['affected']) for entry in queue['clean']]
    return rows


EXPECTED = [
    ('delete_without_ttl', 'analytics:*', 30, 30),
    ('expire_without_ttl', 'cache:*', 8, 8),
    ('idle_sessions', 'sess:*', 16, 16),
    ('idle_sessions', 'idle:*', 4, 4),
    ('calls', 'completed', 6, 6),
    ('calls', 'failed', 3, 3),
    ('mail', 'completed', 5, 5),
    ('mail', 'failed', 2, 2),
]


def test_check_mode_real_run_and_rerun(server, r):
    fill_all(r)
    size = r.dbsize()
    args = full_args(server)
    check, check_run = run_module(MODULE, args, check=True)
    assert check_run.returncode == 0, check
    assert counts(check) == EXPECTED
    assert check['changed'] is False and check['matched'] == check['affected'] == 74
    assert r.dbsize() == size and r.ttl('cache:user:0') == -1  # check mode changed nothing

    real, real_run = run_module(MODULE, args)
    assert real_run.returncode == 0, real
    assert counts(real) == EXPECTED
    assert real['changed'] is True
    assert real['msg'].startswith('delete 30 keys without a TTL, set a TTL on 8 keys, delete 20 idle sessions, '
                                  'remove 11 completed and 5 failed jobs from 2 queues; all 11 checks ok')

    rerun, rerun_run = run_module(MODULE, args)
    assert rerun_run.returncode == 0, rerun
    assert [row[3] for row in counts(rerun)] == [0] * len(EXPECTED)
    assert rerun['changed'] is False and rerun['affected'] == 0
    for run in (check_run, real_run, rerun_run):
        assert PASSWORD not in run.stdout + run.stderr
        assert 'pa ss' not in run.stdout + run.stderr


def test_keys_and_sessions_left_and_removed(server, r):
    fill_all(r)
    result, run = run_module(MODULE, full_args(server))
    assert run.returncode == 0, result
    assert r.keys('analytics:day:*') == []
    assert len(r.keys('analytics:ttl:*')) == 5 and r.get('other:analytics:1') == b'keep' and r.exists('analyticsX')
    assert all(0 < r.ttl('cache:user:%d' % i) <= 3600 for i in range(8))
    assert all(3600 < r.ttl('cache:ttl:%d' % i) <= 5000 for i in range(2))  # a TTL already set stays
    left = sorted(key.decode('utf-8', 'replace') for key in r.keys('sess:*'))
    assert left == ['sess:binary', 'sess:garbage', 'sess:hash:new', 'sess:hash:nofield', 'sess:new:0', 'sess:new:1',
                    'sess:new:2', 'sess:new:3', 'sess:new:4', 'sess:nofield:0']
    sessions, idle = result['idle_sessions']
    assert sessions['without_field'] == 4 and sessions['scanned'] == 26 and sessions['other_types'] == 0
    assert idle['by'] == 'idletime' and idle['scanned'] == 7
    assert sorted(key.decode() for key in r.keys('idle:*')) == ['idle:fresh:0', 'idle:fresh:1', 'idle:fresh:2']


def test_queues_keep_active_waiting_and_recent_jobs(server, r):
    fill_all(r)
    result, run = run_module(MODULE, full_args(server))
    assert run.returncode == 0, result
    calls, mail = result['queues']
    # Bull: the six old completed and three old failed jobs are gone with their logs; job 16 is active.
    assert sorted(int(job) for job in r.zrange('bull:calls:completed', 0, -1)) == [7, 8, 9, 10, 16]
    assert sorted(int(job) for job in r.zrange('bull:calls:failed', 0, -1)) == [14, 15]
    for i in list(range(1, 7)) + [11, 12, 13]:
        assert not r.exists('bull:calls:%d' % i, 'bull:calls:%d:logs' % i), i
    for i in range(16, 25):
        assert r.exists('bull:calls:%d' % i), i
    assert r.exists('bull:calls:16:lock') and r.llen('bull:calls:active') == 2 and r.llen('bull:calls:wait') == 5
    assert calls['clean'][0]['kept_active'] == 1 and calls['clean'][0]['kept_recent'] == 0
    assert calls['counts_before']['completed'] == 11 and calls['counts']['completed'] == 5
    assert calls['counts'] == dict(wait=5, active=2, paused=0, delayed=2, completed=5, failed=2, waiting=5)
    # BullMQ: every key of an old job goes; the child its parent waits for stays, and so does the parent.
    assert sorted(int(job) for job in r.zrange('bull:mail:completed', 0, -1)) == [6, 7]
    assert sorted(int(job) for job in r.zrange('bull:mail:failed', 0, -1)) == [10, 11]
    for i in range(1, 6):
        assert not r.exists(*['bull:mail:%d%s' % (i, suffix) for suffix in ('', ':logs', ':dependencies', ':processed')])
    assert r.exists('bull:mail:10', 'bull:mail:20', 'bull:mail:12', 'bull:mail:12:lock') == 4
    assert mail['clean'][1]['kept_parent'] == 1
    assert mail['counts'] == dict(wait=3, active=1, paused=0, delayed=0, completed=2, failed=2, prioritized=2,
                                  waiting_children=1, waiting=5)
    events = [fields for _id, fields in r.xrange('bull:mail:events')]
    assert {b'event': b'cleaned', b'count': b'5'} in events and {b'event': b'cleaned', b'count': b'2'} in events
    names = dict((item['name'], item) for item in result['checks'])
    assert names['bull:mail waiting']['value'] == 5 and names['bull:calls failed']['value'] == 2
    assert names['bull:calls active']['status'] == 'ok' and names['memory']['unit'] == 'percent'


def test_diff_lists_keys_capped(server, r):
    fill_all(r)
    result, run = run_module(MODULE, full_args(server, diff_max_keys=3), check=True, diff=True)
    assert run.returncode == 0, result
    diffs = dict((entry['before_header'], entry) for entry in result['diff'])
    analytics = diffs['delete_without_ttl[0] analytics:*']
    lines = analytics['before'].splitlines()
    assert len(lines) == 4 and lines[-1] == '... and 27 more' and all(line.startswith('analytics:day:') for line in lines[:3])
    expire = diffs['expire_without_ttl[0] cache:*']
    assert expire['before'].splitlines()[0].endswith(' (no TTL)') and expire['after'].splitlines()[0].endswith(' (TTL 3600s)')
    assert diffs['queues[0] (bull:calls) old finished jobs']['before'].splitlines()[-1] == '... and 6 more'
    assert r.exists('analytics:day:0')


def test_not_utf8_key_is_deleted_and_shown_escaped(server, r):
    now = now_ms(r)
    r.set(b'sess:\xff\xfe', json.dumps({'lastActivity': now - 40 * DAY_MS}))
    r.set('sess:fresh', json.dumps({'lastActivity': now}))
    result, run = run_module(MODULE, dict(server.target(), idle_sessions=[{'pattern': 'sess:*', 'idle_for': 30 * 86400}],
                                          largest_keys=0), diff=True)
    assert run.returncode == 0, result
    assert result['diff'][0]['before'] == 'sess:\\xff\\xfe\n'
    assert r.keys('sess:*') == [b'sess:fresh']


@pytest.mark.parametrize('args, message', [
    (dict(delete_without_ttl=['*']),
     "delete_without_ttl[0] '*' matches every key, so it would delete the whole database: give a narrower pattern "
     "such as analytics:*, or set allow_all_keys: true if that is really meant"),
    (dict(idle_sessions=[{'pattern': '**', 'idle_for': '1d'}]),
     "idle_sessions[0].pattern '**' matches every key"),
    (dict(expire_without_ttl=[{'pattern': 'cache:*', 'seconds': -60}]),
     'expire_without_ttl[0].seconds -60 is negative: give seconds above zero (86400 for a day) or a duration'),
    (dict(idle_sessions=[{'pattern': 'sess:*', 'idle_for': '30 days'}]),
     "idle_sessions[0].idle_for '30 days' is not an interval"),
    (dict(queues=[{'name': 'calls', 'flavour': 'kue'}]), 'flavour must be one of: bull, bullmq, got: kue'),
    (dict(queues=[{'name': 'mail'}]),
     'queues[0] (bull:mail): the queue is a BullMQ queue (meta version bullmq:5.34.0): set flavour: bullmq; nothing '
     'was removed'),
    (dict(queues=[{'name': 'calls'}, {'name': 'misfiled'}]),
     'queues[1] (bull:misfiled): bull:misfiled:completed is a list, not the sorted set Bull keeps: check the queue '
     'name, prefix and flavour; nothing was removed'),
    (dict(queues=[{'name': 'calls', 'failed_older_than': 0}]), 'queues[0].failed_older_than 0 is zero'),
    (dict(queue_thresholds={'failures': {'warning': 1}}), 'queue_thresholds.failures is not a signal of this check'),
    (dict(engine='postgresql'), 'value of engine must be one of: redis, got: postgresql'),
])
def test_bad_input_fails_before_anything_is_deleted(server, r, args, message):
    fill_all(r)
    size = r.dbsize()
    result, run = run_module(MODULE, dict(dict(server.target(), delete_without_ttl=['analytics:*']), **args))
    assert result.get('failed') is True and message in result['msg'], result['msg']
    assert not result.get('changed')
    assert r.dbsize() == size and r.exists('analytics:day:0')
    assert PASSWORD not in run.stdout + run.stderr


def test_allow_all_keys_counts_every_key_without_ttl(server, r):
    fill_cache(r)
    result, run = run_module(MODULE, dict(server.target(), delete_without_ttl=['*'], allow_all_keys=True), check=True)
    assert run.returncode == 0, result
    assert result['delete_without_ttl'][0]['matched'] == 30 + 8 + 2 and result['changed'] is False


def test_idletime_under_lfu_policy_fails_first(server, r):
    fill_all(r)
    size = r.dbsize()
    r.config_set('maxmemory-policy', 'allkeys-lfu')
    result, _run = run_module(MODULE, full_args(server))
    assert result['failed'] is True and result['changed'] is False
    assert result['msg'] == ("idle_sessions[1].by idletime: maxmemory-policy is allkeys-lfu, under which Redis keeps no "
                             "idle time (OBJECT IDLETIME fails): use by: field with the session's timestamp field; "
                             "nothing was deleted")
    assert r.dbsize() == size


def test_wrong_password_names_the_option(server, r):
    result, run = run_module(MODULE, dict(server.target(), login_password='wrong $pw', delete_without_ttl=['a:*']))
    assert result['failed'] is True and 'login_password' in result['msg']
    assert 'wrong $pw' not in run.stdout + run.stderr


def test_memory_thresholds_and_fail_on(server, r):
    fill_cache(r)
    used = r.info('memory')['used_memory']
    r.config_set('maxmemory', int(used / 0.85))  # about 85 % used: above warning 80, below critical 90
    run = run_tasks([
        {'name': 'report', MODULE: dict(server.target(), fail_on='never'), 'register': 'report'},
        {'name': 'fail on warning', MODULE: dict(server.target(), fail_on='warning'), 'ignore_errors': True},
        {'name': 'stricter', MODULE: dict(server.target(), memory_thresholds={'warning': 50, 'critical': 60},
                                          fail_on='never')},
    ])
    report, failing, stricter = run.task(0), run.task(1), run.task(2)
    memory = [item for item in report['checks'] if item['name'] == 'memory'][0]
    assert memory['status'] == 'warning' and 80 <= memory['value'] < 90, memory
    assert report['status'] == 'warning' and not report.get('failed')
    assert report['memory']['maxmemory_bytes'] == int(used / 0.85)
    assert failing['failed'] is True and failing['status'] == 'warning'
    assert stricter['status'] == 'critical'


def test_queue_thresholds_per_queue(server, r):
    fill_bull(r, now_ms(r))
    result, run = run_module(MODULE, dict(server.target(), queues=[{'name': 'calls', 'clean': [], 'thresholds': {
        'waiting': {'warning': 3, 'critical': 5}}}, {'name': 'nosuch'}], queue_thresholds={'failed': {'warning': 4}},
        fail_on='never'))
    assert run.returncode == 0, result
    names = dict((item['name'], item) for item in result['checks'])
    assert names['bull:calls waiting']['status'] == 'critical' and names['bull:calls waiting']['value'] == 5
    assert names['bull:calls failed']['status'] == 'warning' and names['bull:calls failed']['value'] == 5
    assert names['bull:nosuch found']['status'] == 'warning'
    assert result['status'] == 'critical' and result['queues'][0]['clean'] == [] and result['changed'] is False
    assert r.zcard('bull:calls:completed') == 11


def test_rate_limit_pauses_and_keeps_exact_counts(server, r):
    fill_cache(r)
    result, run = run_module(MODULE, dict(server.target(), delete_without_ttl=['analytics:*'], batch_size=10,
                                          max_keys_per_second=20, largest_keys=0))
    assert run.returncode == 0, result
    assert result['delete_without_ttl'][0]['affected'] == 30 and result['paused_seconds'] > 0
    assert r.keys('analytics:day:*') == []


def test_largest_keys_by_memory_usage(server, r):
    fill_cache(r)
    r.set('big:blob', 'x' * 200000)
    r.rpush('big:list', *['item-%d' % i for i in range(5000)])
    result, run = run_module(MODULE, dict(server.target(), largest_keys=2), check=True)
    assert run.returncode == 0, result
    assert [entry['key'] for entry in result['largest_keys']] == ['big:blob', 'big:list']
    assert result['largest_keys'][0]['type'] == 'string' and result['largest_keys'][0]['bytes'] > 200000
    assert result['largest_keys_sampled'] == r.dbsize()


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('delete_without_ttl', 'expire_without_ttl', 'idle_sessions', 'queues',
                                        'max_keys_per_second', 'OBJECT IDLETIME', 'cleanJobsInSet', 'allow_all_keys',
                                        'login_password'))


def test_examples_run_in_check_mode(server, r):
    from ansible_collections.caretaker.maintenance.plugins.modules import redis_cleanup
    fill_all(r)
    r.set('app:emails:id', 1)  # the third example's queue, so it is found
    tasks = yaml.safe_load(redis_cleanup.EXAMPLES)
    examples = [task for task in tasks if MODULE in task]
    assert len(examples) == 3
    connection = ('login_host', 'login_port', 'login_password', 'login_unix_socket', 'database')
    for task in examples:
        args = dict((key, value) for key, value in task[MODULE].items() if key not in connection)
        task[MODULE] = dict(args, **server.target())
        task.pop('register', None)
        task['check_mode'] = True
    run = run_tasks(examples)
    for index in range(len(examples)):
        assert not run.task(index).get('failed'), run.task(index)['msg']
    assert r.exists('analytics:day:0')


def test_scripts_check_again_before_acting(r):
    """What the read phase saw may change before the script runs: the scripts leave such keys and jobs alone."""
    import hashlib
    from ansible_collections.caretaker.maintenance.plugins.module_utils._cache import scripts
    old = json.dumps({'lastActivity': 1}).encode()
    r.set('sess:a', old)
    r.set('sess:b', json.dumps({'lastActivity': 2}))  # used since it was read
    r.hset('sess:h', 'lastActivity', '1')
    unchanged = r.register_script(scripts.DELETE_IF_UNCHANGED)
    flags = unchanged(keys=['sess:a', 'sess:b', 'sess:h', 'sess:gone'], args=[
        'string', '', hashlib.sha1(old).hexdigest(), 'string', '', hashlib.sha1(old).hexdigest(),
        'hash', 'lastActivity', hashlib.sha1(b'1').hexdigest(), 'string', '', hashlib.sha1(old).hexdigest()])
    assert flags == [1, 0, 1, 0] and r.exists('sess:a', 'sess:b', 'sess:h') == 1

    r.set('c:1', 'x')
    r.set('c:2', 'x', ex=100)  # given a TTL since it was read
    assert r.register_script(scripts.WITHOUT_TTL)(keys=['c:1', 'c:2'], args=['60']) == [1, 0]
    assert 0 < r.ttl('c:1') <= 60 and 60 < r.ttl('c:2') <= 100

    now = now_ms(r)
    for i in (1, 2, 3):
        job(r, 'bull:q:', i, finishedOn=now - 3 * DAY_MS)
        r.zadd('bull:q:completed', {str(i): now - 3 * DAY_MS})
    r.set('bull:q:2:lock', 'token')  # a worker took job 2 again
    r.zrem('bull:q:completed', '3')  # the application removed job 3 itself
    clean = r.register_script(scripts.CLEAN_JOBS)
    flags = clean(keys=['bull:q:completed', 'bull:q:active', 'bull:q:priority', 'bull:q:limiter:index'],
                  args=['bull:q:', 'bull', now - DAY_MS, '1', '2', '3'])
    assert flags == [1, 0, 0]
    assert r.zrange('bull:q:completed', 0, -1) == [b'2'] and r.exists('bull:q:1', 'bull:q:2', 'bull:q:3') == 2


def test_error_mid_run_names_the_rule_and_keeps_what_was_done(server, r):
    """A user that may not run scripts: the first rule matches nothing, the second fails on its script."""
    fill_cache(r)
    r.execute_command('ACL', 'SETUSER', 'cleaner', 'reset', 'on', '>cleaner pw $1', '~*', '&*', '+@all', '-@scripting')
    try:
        args = dict(server.target(), login_user='cleaner', login_password='cleaner pw $1',
                    delete_without_ttl=['nothing:*', 'analytics:*'])
        result, run = run_module(MODULE, args)
    finally:
        r.execute_command('ACL', 'DELUSER', 'cleaner')
    assert result['failed'] is True and result['changed'] is False
    assert result['msg'].endswith("delete_without_ttl[1]: this user has no permissions to run the 'evalsha' command "
                                  "(allow the login what redis_cleanup runs: ACL +@read +@write +@keyspace +@scripting "
                                  "+time +info +memory +ping, or run it in check mode, which runs no script)"), result['msg']
    assert result['delete_without_ttl'] == [dict(pattern='nothing:*', matched=0, affected=0, scanned=0)]
    assert len(r.keys('analytics:day:*')) == 30
    assert 'cleaner pw $1' not in run.stdout + run.stderr


def test_documented_acl_is_enough(server, r):
    fill_all(r)
    r.execute_command('ACL', 'SETUSER', 'upkeep', 'reset', 'on', '>upkeep pw', '~*', '&*', '+@read', '+@write',
                      '+@keyspace', '+@scripting', '+time', '+info', '+memory', '+ping')
    try:
        result, run = run_module(MODULE, full_args(server, login_user='upkeep', login_password='upkeep pw'))
    finally:
        r.execute_command('ACL', 'DELUSER', 'upkeep')
    assert run.returncode == 0, result['msg']
    assert counts(result) == EXPECTED
