"""db_check against real PostgreSQL, MariaDB, Redis and the MongoDB wire server,
through real ansible-playbook runs."""

import threading
import time

import pytest

from tests.support.playbook import run_module

MODULE = 'caretaker.maintenance.db_check'


def by_signal(result):
    return dict((item['signal'], item) for item in result['checks'])


@pytest.fixture(params=['postgresql', 'mysql', 'redis', 'mongodb'])
def healthy(request):
    fixture = {'postgresql': 'pg_server', 'mysql': 'mysql_server', 'redis': 'redis_server',
               'mongodb': 'mongo_server'}[request.param]
    return request.getfixturevalue(fixture)


EXPECTED_SIGNALS = {
    'postgresql': {'latency', 'version', 'connections', 'long_queries', 'database_size'},
    'mysql': {'latency', 'version', 'connections', 'long_queries', 'uptime'},
    'redis': {'latency', 'version', 'memory', 'connections', 'rejected_connections', 'hit_ratio'},
    'mongodb': {'latency', 'version', 'connections'},
}


def test_healthy_server_is_ok(healthy):
    result, run = run_module(MODULE, healthy.target())
    assert run.returncode == 0, result
    assert result['status'] == 'ok', result['msg']
    assert result['changed'] is False
    signals = by_signal(result)
    assert set(signals) == EXPECTED_SIGNALS[healthy.engine]
    assert all(item['status'] == 'ok' for item in result['checks'])
    assert signals['latency']['value'] > 0
    assert signals['version']['value']
    assert signals['connections']['value'] is not None
    assert signals['latency']['name'].startswith('%s@127.0.0.1:%d' % (healthy.engine, healthy.port))
    if healthy.password:
        assert healthy.password not in run.stdout + run.stderr


def test_versions_are_the_real_servers(pg_server, mysql_server, redis_server):
    result = run_module(MODULE, {'targets': [pg_server.target(), mysql_server.target(), redis_server.target()]})[0]
    versions = [item['value'] for item in result['checks'] if item['signal'] == 'version']
    assert versions[0].startswith('15.')
    assert 'MariaDB' in versions[1]
    assert versions[2].startswith('7.')


@pytest.mark.parametrize('engine', ['postgresql', 'mysql', 'redis', 'mongodb'])
def test_stopped_server_is_critical_and_fails_the_task(engine, stopped_target):
    target = stopped_target(engine)
    result, run = run_module(MODULE, dict(target, connect_timeout=2))
    assert run.returncode != 0
    assert result['failed'] is True
    assert result['status'] == 'critical'
    [item] = result['checks']
    assert item['signal'] == 'reachable' and item['status'] == 'critical'
    assert '127.0.0.1:%d' % target['login_port'] in item['name']
    assert '127.0.0.1:%d' % target['login_port'] in result['msg']
    assert item['detail'].startswith('cannot connect: ')
    assert 'Traceback' not in run.stdout


def test_fail_on_never_reports_without_failing(stopped_target):
    result, run = run_module(MODULE, dict(stopped_target('redis'), fail_on='never', connect_timeout=2))
    assert run.returncode == 0
    assert result['status'] == 'critical' and not result.get('failed')
    assert result['msg'].startswith('1 critical of 1 datastore checks; redis@127.0.0.1:')


@pytest.mark.parametrize('fixture', ['pg_server', 'mysql_server', 'redis_server'])
def test_wrong_password_is_critical_without_the_password(fixture, request):
    server = request.getfixturevalue(fixture)
    wrong = 'Wr0ng-' + server.password[::-1]
    result, run = run_module(MODULE, dict(server.target(), login_password=wrong, fail_on='never'))
    assert result['status'] == 'critical'
    [item] = result['checks']
    assert item['signal'] == 'reachable'
    assert '127.0.0.1:%d' % server.port in result['msg']
    assert any(word in item['detail'].lower() for word in ('password', 'denied', 'auth', 'wrongpass'))
    output = run.stdout + run.stderr
    assert wrong not in output and server.password not in output


def _hold_query(connect, sql, ready):
    """Run a slow statement in a thread on its own connection."""
    conn = connect()
    ready.set()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    except Exception:  # cancelled at the end of the test
        pass
    finally:
        conn.close()


def test_long_running_postgres_query_is_reported(pg_server):
    import psycopg2
    ready = threading.Event()

    def connect():
        return psycopg2.connect(host='127.0.0.1', port=pg_server.port, user='postgres',
                                password=pg_server.password, dbname=pg_server.database)

    worker = threading.Thread(target=_hold_query, args=(connect, 'SELECT pg_sleep(60) /* held-open */', ready))
    worker.start()
    try:
        ready.wait(10)
        time.sleep(2.5)
        result = run_module(MODULE, dict(pg_server.target(), long_query_seconds=2, fail_on='never'))[0]
        item = by_signal(result)['long_queries']
        assert item['value'] == 1 and item['status'] == 'warning'
        assert 'pg_sleep(60)' in item['queries'][0]['query']
        assert item['queries'][0]['seconds'] >= 2
        assert result['status'] == 'warning'
    finally:
        admin = connect()
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%held-open%'"
                        " AND pid <> pg_backend_pid()")
        admin.close()
        worker.join(10)


def test_long_running_mysql_statement_is_reported(mysql_server):
    import pymysql
    ready = threading.Event()

    def connect():
        return pymysql.connect(host='127.0.0.1', port=mysql_server.port, user=mysql_server.user,
                               password=mysql_server.password, database=mysql_server.database)

    worker = threading.Thread(target=_hold_query, args=(connect, 'SELECT SLEEP(60) AS held_open', ready))
    worker.start()
    try:
        ready.wait(10)
        time.sleep(2.5)
        result = run_module(MODULE, dict(mysql_server.target(), long_query_seconds=2, fail_on='never'))[0]
        item = by_signal(result)['long_queries']
        assert item['value'] == 1 and item['status'] == 'warning'
        assert 'SLEEP(60)' in item['queries'][0]['query']
    finally:
        admin = connect()
        with admin.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'")
            for (pid,) in cur.fetchall():
                cur.execute('KILL QUERY %d' % pid)
        admin.close()
        worker.join(10)


@pytest.mark.parametrize('held, expected', [(0, 'ok'), (15, 'warning'), (19, 'critical')])
def test_postgres_connections_cross_warning_and_critical(pg_server, held, expected):
    """max_connections is 20: the check's own connection plus `held` others."""
    import psycopg2
    conns = [psycopg2.connect(host='127.0.0.1', port=pg_server.port, user='postgres',
                              password=pg_server.password, dbname=pg_server.database) for _unused in range(held)]
    try:
        result = run_module(MODULE, dict(pg_server.target(), fail_on='never'))[0]
    finally:
        for conn in conns:
            conn.close()
    item = by_signal(result)['connections']
    assert item['maximum'] == 20
    assert item['used'] == held + 1
    assert item['status'] == expected
    assert result['status'] == expected


def test_task_and_target_thresholds(redis_server, mysql_server):
    result = run_module(MODULE, {
        'thresholds': {'latency': {'warning': 0}},
        'targets': [
            redis_server.target(),
            dict(mysql_server.target(), thresholds={'latency': {'warning': 0, 'critical': 0}}),
        ],
        'fail_on': 'never',
    })[0]
    latency = [item for item in result['checks'] if item['signal'] == 'latency']
    assert [item['status'] for item in latency] == ['warning', 'critical']
    assert latency[1]['threshold'] == {'warning': 0, 'critical': 0, 'direction': 'above'}
    assert result['status'] == 'critical'


def test_target_limits_are_checked_against_task_limits(redis_server):
    result, run = run_module(MODULE, {
        'thresholds': {'connections': {'warning': 50, 'critical': 60}},
        'targets': [dict(redis_server.target(), thresholds={'connections': {'critical': 55}})],
    })
    assert run.returncode == 0, result.get('msg')
    item = by_signal(result)['connections']
    assert item['threshold'] == {'warning': 50, 'critical': 55, 'direction': 'above'}


def test_fail_on_warning(redis_server):
    result, run = run_module(MODULE, dict(redis_server.target(), thresholds={'latency': {'warning': 0}},
                                          fail_on='warning'))
    assert run.returncode != 0 and result['failed'] is True and result['status'] == 'warning'
    assert len(result['checks']) == 6


def test_check_mode_gives_the_same_read_only_result(redis_server):
    result, run = run_module(MODULE, redis_server.target(), check=True)
    assert run.returncode == 0
    assert result['status'] == 'ok' and result['changed'] is False
    assert len(result['checks']) == 6


@pytest.mark.parametrize('args, message', [
    ({'login_port': 1}, 'task options: engine is required: set engine to one of'),
    ({'engine': 'redis', 'thresholds': {'conections': {'warning': 1}}},
     'thresholds.conections is not a signal of this check'),
    ({'engine': 'redis', 'thresholds': {'connections': {'warning': 99}}},
     'thresholds.connections: critical 95 must be at or above warning 99.0'),
    ({'targets': [{'engine': 'redis', 'thresholds': {'latency': {'warning': 'x'}}}]},
     'targets[0].thresholds.latency.warning must be a number'),
    ({'engine': 'oracle'}, 'value of engine must be one of'),
    ({'engine': 'redis', 'long_query_seconds': 0}, 'long_query_seconds must be 1 or more'),
])
def test_bad_input_names_the_option(args, message):
    result, run = run_module(MODULE, args)
    assert run.returncode != 0
    assert message in result['msg']
    assert 'checks' not in result
