"""The db_maintenance role through weekly.yml and monthly.yml against a real PostgreSQL:
optimisation and statistics weekly, retention rules monthly (check mode first, exact counts)."""

import json
import os

import pytest

from tests.support import artifacts
from tests.support.playbook import ROOT, run_playbook


def task_result(run, name_end, host='localhost'):
    for play in run.data['plays']:
        for task in play['tasks']:
            if task['task']['name'].endswith(name_end) and host in task['hosts']:
                return task['hosts'][host]
    raise AssertionError('no task %r ran' % name_end)


@pytest.fixture
def maintained(tmp_path, pg_server):
    artifacts.seed_postgresql(pg_server, 'upkeep_src', users=40, orders=10)
    conn = artifacts.pg_connect(pg_server, 'upkeep_src')
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE events (id serial PRIMARY KEY, at timestamptz NOT NULL, kind text)")
        cur.execute("INSERT INTO events (at, kind) SELECT now() - g * interval '1 day', 'k' || g FROM generate_series(1, 400) g")
    conn.close()
    variables = {
        'db_maintenance_stats_dir': str(tmp_path / 'stats'),
        'db_maintenance_databases': [dict(pg_server.target(), database='upkeep_src', name='pg-upkeep', retention_rules=[
            {'table': 'events', 'timestamp_column': 'at', 'older_than': '6mo', 'action': 'archive'}])],
    }
    path = tmp_path / 'vars.json'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(variables, handle)

    def run(playbook, check=False):
        result = run_playbook(ROOT / 'playbooks' / playbook, check=check,
                              extra_args=['-e', '@%s' % path, '--tags', 'database'])
        assert pg_server.password not in result.stdout and pg_server.password not in result.stderr
        return result
    yield run, tmp_path
    artifacts.pg_drop(pg_server, 'upkeep_src')


def count(pg_server, table):
    conn = artifacts.pg_connect(pg_server, 'upkeep_src')
    with conn.cursor() as cur:
        cur.execute('SELECT count(*) FROM %s' % table)
        value = cur.fetchone()[0]
    conn.close()
    return value


def test_weekly_optimises_and_reports_statistics(maintained):
    run, tmp_path = maintained
    weekly = run('weekly.yml')
    assert weekly.returncode == 0, weekly.stdout[-3000:]
    optimized = task_result(weekly, 'Run the optimisations of each database')['results'][0]
    assert not optimized.get('failed')
    tables = {entry['table'] for entry in optimized['results']}
    assert {'public.users', 'shop.orders', 'public.events'} <= tables, tables  # every table planned
    stats = task_result(weekly, 'Collect the statistics of each database')['results'][0]
    assert stats['status'] in ('ok', 'warning')
    assert (tmp_path / 'stats' / 'pg-upkeep.json').exists()  # growth is measured from here next week


def test_monthly_retention_check_mode_counts_then_archives(maintained, pg_server):
    run, _tmp_path = maintained
    expected_old = 400 - 184  # older than six months: about 216 of 400 daily rows
    planned = run('monthly.yml', check=True)
    assert planned.returncode == 0, planned.stdout[-3000:]
    rule = task_result(planned, 'Apply the retention rules of each database')['results'][0]['rules'][0]
    assert count(pg_server, 'events') == 400  # nothing moved in check mode

    done = run('monthly.yml')
    assert done.returncode == 0, done.stdout[-3000:]
    applied = task_result(done, 'Apply the retention rules of each database')['results'][0]['rules'][0]
    assert applied['matched'] == rule['matched'] == applied['affected']
    assert abs(applied['matched'] - expected_old) <= 3  # calendar months vary by a few days
    assert count(pg_server, 'events') + count(pg_server, 'events_archive') == 400
    assert count(pg_server, 'events_archive') == applied['affected']


def test_weekly_sets_a_redis_maxmemory_policy_once(tmp_path, redis_server):
    """A database item's maxmemory_policy reaches db_optimize: check mode says it would change
    it and changes nothing, the real run sets it, the rerun finds it set."""
    import redis
    client = redis.Redis(host=redis_server.host, port=redis_server.port, password=redis_server.password,
                         decode_responses=True)
    before = client.config_get('maxmemory-policy')['maxmemory-policy']
    assert before != 'allkeys-lru'
    variables = {
        'db_maintenance_stats': False,
        'db_maintenance_databases': [{'name': 'cache', 'engine': 'redis', 'login_host': redis_server.host,
                                      'login_port': redis_server.port, 'login_password': redis_server.password,
                                      'operations': [], 'maxmemory_policy': 'allkeys-lru'}],
    }
    path = tmp_path / 'vars.json'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(variables, handle)
    try:
        results = []
        for check in (True, False, False):
            run = run_playbook(ROOT / 'playbooks' / 'weekly.yml', check=check, extra_args=['-e', '@%s' % path, '--tags', 'database'])
            assert run.returncode == 0, run.stdout[-3000:]
            assert redis_server.password not in run.stdout + run.stderr
            results.append(task_result(run, 'Run the optimisations of each database')['results'][0])
            if check:
                assert client.config_get('maxmemory-policy')['maxmemory-policy'] == before
        assert [result['changed'] for result in results] == [True, True, False]
        assert client.config_get('maxmemory-policy')['maxmemory-policy'] == 'allkeys-lru'
    finally:
        client.config_set('maxmemory-policy', before)
