"""The cache_maintenance role through a small playbook against a real redis-server: check mode counts,
the real run with the same counts, the summary, cache_maintenance_fail_on, and no password in the output."""

import json
import os

import pytest
import yaml

from tests.support.playbook import run_playbook
from tests.support.redis_fixtures import empty_client, own_redis

PASSWORD = 'r0le "pw" $USER \'x\' y'
DAY_MS = 86400 * 1000


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    with own_redis(tmp_path_factory.mktemp('redis-cache-role'), PASSWORD) as srv:
        yield srv


@pytest.fixture
def r(server):
    with empty_client(server) as client:
        yield client


def fill(r):
    seconds, _micros = r.time()
    now = seconds * 1000
    for i in range(12):
        r.set('analytics:%d' % i, 'x')
    r.set('analytics:kept', 'x', ex=9000)
    for i in range(4):
        r.set('sess:%d' % i, json.dumps({'lastActivity': now - (40 * DAY_MS if i < 3 else 0)}))
    # An app with its own prefix on BullMQ: 3 old completed jobs, one recent, one active.
    for i in range(1, 5):
        finished = now - (2 * DAY_MS if i < 4 else 1000)
        r.hset('app:emails:%d' % i, mapping={'timestamp': finished, 'finishedOn': finished})
        r.zadd('app:emails:completed', {str(i): finished})
    r.hset('app:emails:5', mapping={'timestamp': now})
    r.lpush('app:emails:active', '5')
    r.set('app:emails:id', 5)


@pytest.fixture
def play(tmp_path, server):
    def run(check=False, **variables):
        variables.setdefault('cache_maintenance_instances', [dict(
            server.target(), name='cache-1', delete_without_ttl=['analytics:*'],
            idle_sessions=[{'pattern': 'sess:*', 'idle_for': '30d'}],
            queues=[{'name': 'emails', 'prefix': 'app', 'flavour': 'bullmq'}])])
        vars_path = tmp_path / 'vars.json'
        fd = os.open(vars_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(variables, handle)
        playbook = tmp_path / 'cache.yml'
        playbook.write_text(yaml.safe_dump([{'name': 'cache upkeep', 'hosts': 'localhost', 'gather_facts': False,
                                             'roles': ['caretaker.maintenance.cache_maintenance']}]))
        result = run_playbook(playbook, check=check, extra_args=['-e', '@%s' % vars_path])
        assert PASSWORD not in result.stdout + result.stderr
        assert 'r0le' not in result.stdout + result.stderr
        return result
    return run


def task_result(run, name):
    for task in run.data['plays'][0]['tasks']:
        if task['task']['name'].endswith(name):
            return task['hosts']['localhost']
    raise AssertionError('no task %r ran' % name)


def summary(result):
    return [(item['delete_without_ttl'][0]['affected'], item['idle_sessions'][0]['affected'],
             item['queues'][0]['clean'][0]['affected']) for item in result['results']]


def test_role_check_mode_then_real_run(play, r):
    fill(r)
    size = r.dbsize()
    planned = play(check=True)
    assert planned.returncode == 0, planned.stdout[-3000:]
    cleaned = task_result(planned, 'Clean up each Redis server')
    assert summary(cleaned) == [(12, 3, 3)] and cleaned['changed'] is False
    assert r.dbsize() == size

    done = play()
    assert done.returncode == 0, done.stdout[-3000:]
    cleaned = task_result(done, 'Clean up each Redis server')
    assert summary(cleaned) == [(12, 3, 3)] and cleaned['changed'] is True
    assert cleaned['results'][0]['item'] == 0  # the loop item is an index, never the dict with the password
    shown = task_result(done, 'Show one line per Redis server')['msg']
    assert shown == [cleaned['results'][0]['msg']] and shown[0].startswith('delete 12 keys without a TTL')
    assert r.keys('analytics:[0-9]*') == [] and r.exists('analytics:kept', 'sess:3', 'app:emails:4', 'app:emails:5') == 4

    again = play()
    assert summary(task_result(again, 'Clean up each Redis server')) == [(0, 0, 0)]


def test_role_fails_when_status_reaches_fail_on(play, r, server):
    fill(r)
    instances = [dict(server.target(), name='cache-1', queues=[{'name': 'emails', 'prefix': 'app', 'clean': []}],
                      queue_thresholds={'completed': {'warning': 2}})]
    warned = play(cache_maintenance_instances=instances, cache_maintenance_fail_on='warning')
    assert warned.returncode != 0
    failed = task_result(warned, 'Fail when the queue counts or memory reach cache_maintenance_fail_on')
    assert failed['failed'] is True and 'are warning' in failed['msg']
    passed = play(cache_maintenance_instances=instances)  # default critical
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert r.zcard('app:emails:completed') == 4


def test_role_with_no_instances_does_nothing(play):
    run = play(cache_maintenance_instances=[])
    assert run.returncode == 0, run.stdout[-3000:]
    assert task_result(run, 'Clean up each Redis server')['results'] == []
    assert task_result(run, 'Fail when the queue counts or memory reach cache_maintenance_fail_on').get('skipped') is True
