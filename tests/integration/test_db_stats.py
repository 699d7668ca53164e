"""db_stats against real PostgreSQL, MariaDB, Redis and the MongoDB wire server,
through real ansible-playbook runs."""

import json
import os
import stat

import pytest

from tests.support import servers
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

MODULE = 'caretaker.maintenance.db_stats'


def items(result):
    return dict((item['signal'], item) for item in result['checks'])


def notes(result, section):
    return [note for note in result['notes'] if note.startswith(section + ':')]


# --- servers of this file -------------------------------------------------------


@pytest.fixture(scope='module')
def pg(tmp_path_factory):
    """PostgreSQL with pg_stat_statements preloaded (the shared pg_server has it not)."""
    server = servers.start_postgresql(tmp_path_factory.mktemp('pg-stats'),
                                      settings={'shared_preload_libraries': 'pg_stat_statements'})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='module')
def maria(tmp_path_factory):
    """MariaDB with performance_schema on (the shared mysql_server has it off)."""
    server = servers.start_mariadb(tmp_path_factory.mktemp('maria-stats'), settings={'performance_schema': 'ON'})
    try:
        yield server
    finally:
        server.stop()


def pg_sql(server, database, *statements):
    import psycopg2
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                            dbname=database)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
            # Statistics reach the shared views when a backend flushes them; make it now.
            cur.execute('SELECT pg_stat_force_next_flush()')
            cur.execute('SELECT 1')
    finally:
        conn.close()


def pg_database(server, name):
    pg_sql(server, 'postgres', 'CREATE DATABASE %s' % name)
    return dict(server.target(), database=name)


def my_sql(server, *statements, database=None):
    import pymysql
    conn = pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                           database=database or server.database, autocommit=True)
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()
    finally:
        conn.close()


# --- documentation ----------------------------------------------------------------


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('snapshot_file', 'slow_query_min_ms', 'include', 'login_password', 'fail_on',
                                        'cache_hit_ratio', 'dead_tuples'))


# --- PostgreSQL ----------------------------------------------------------------------


def test_pg_sizes_list_the_largest_tables_first(pg):
    target = pg_database(pg, 'sizedb')
    pg_sql(pg, 'sizedb',
           "CREATE TABLE big AS SELECT g AS id, repeat('b', 1000) AS pad FROM generate_series(1, 3000) g",
           "CREATE TABLE mid AS SELECT g AS id, repeat('m', 1000) AS pad FROM generate_series(1, 600) g",
           "CREATE TABLE tiny AS SELECT g AS id FROM generate_series(1, 5) g")
    result, run = run_module(MODULE, dict(target, top=2, include=['sizes'], snapshot_file=''))
    assert run.returncode == 0, result
    assert result['changed'] is False
    sizes = result['stats']['sizes']
    assert [row['name'] for row in sizes['tables']] == ['public.big', 'public.mid']
    assert sizes['tables_total'] == 3 and sizes['tables_of'] == 'sizedb'
    big, mid = sizes['tables']
    assert big['size_bytes'] > 3000 * 1000 > mid['size_bytes'] > 600 * 1000
    sizes_of_databases = [row['size_bytes'] for row in sizes['databases']]
    assert sizes_of_databases == sorted(sizes_of_databases, reverse=True) and len(sizes_of_databases) == 2
    item = items(result)['database_size']
    assert item['bytes'] == dict((row['name'], row['size_bytes']) for row in sizes['databases'])['sizedb']
    assert 'largest table public.big' in item['detail']
    assert result['sections'] == ['sizes'] and set(items(result)) == {'database_size'}
    assert pg.password not in run.stdout + run.stderr


def test_pg_growth_between_two_runs(pg, tmp_path):
    target = pg_database(pg, 'growdb')
    pg_sql(pg, 'growdb', "CREATE TABLE events AS SELECT g AS id, repeat('e', 200) AS body FROM generate_series(1, 100) g",
           'CREATE TABLE quiet (id int)')
    path = tmp_path / 'state' / 'db_stats.json'
    args = dict(target, include=['growth'], snapshot_file=str(path))
    first = run_module(MODULE, args)[0]
    assert first['snapshot'] == {'path': str(path), 'written': True, 'previous_at': None}
    assert 'growth' not in first['stats'] and 'growth' not in items(first)
    assert any('this run is the baseline' in note for note in notes(first, 'growth'))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert list(json.loads(path.read_text())['targets']) == [first['target']]

    pg_sql(pg, 'growdb', "INSERT INTO events SELECT g, repeat('e', 200) FROM generate_series(1, 5000) g")
    second = run_module(MODULE, args)[0]
    growth = second['stats']['growth']
    assert second['snapshot']['previous_at'] == growth['previous_at'] and second['snapshot']['written']
    assert growth['unit'] == 'bytes' and growth['change'] > 5000 * 200
    assert growth['tables'][0]['name'] == 'public.events' and growth['tables'][0]['change'] > 5000 * 200
    assert 'public.quiet' not in [row['name'] for row in growth['tables']]  # unchanged tables are left out
    assert growth['databases'][0]['name'] == 'growdb'
    item = items(second)['growth']
    assert item['value'] > 0 and item['change'] == growth['change']
    assert 'most growth: public.events' in item['detail']
    assert 'sizes' not in second['stats'] and second['changed'] is False


def test_pg_unused_and_duplicate_indexes_and_dead_rows(pg):
    target = pg_database(pg, 'maintdb')
    pg_sql(pg, 'maintdb',
           "CREATE TABLE items (id int PRIMARY KEY, a int, b int, c text)",
           "INSERT INTO items SELECT g, g % 50, g % 7, 'c' || g FROM generate_series(1, 2000) g",
           'CREATE INDEX items_a ON items (a)',
           'CREATE INDEX items_a_b ON items (a, b)',
           'CREATE INDEX items_b ON items (b)',
           'CREATE INDEX items_b_copy ON items (b)',
           'CREATE INDEX items_c ON items (c)',
           'ANALYZE items',
           'SET enable_seqscan = off', 'SET enable_bitmapscan = off',
           "SELECT * FROM items WHERE c = 'c42'",
           'CREATE TABLE churn (id int) WITH (autovacuum_enabled = false)',
           'INSERT INTO churn SELECT generate_series(1, 2000)',
           'DELETE FROM churn WHERE id <= 1200')
    result = run_module(MODULE, dict(target, include=['indexes', 'vacuum'], fail_on='never'))[0]
    indexes = result['stats']['indexes']
    duplicate = dict((row['name'], row) for row in indexes['duplicate'])
    assert set(duplicate) == {'items_a', 'items_b_copy'}
    assert (duplicate['items_a']['kind'], duplicate['items_a']['covered_by']) == ('covered', 'items_a_b')
    assert (duplicate['items_b_copy']['kind'], duplicate['items_b_copy']['covered_by']) == ('duplicate', 'items_b')
    assert duplicate['items_b_copy']['definition'].startswith('CREATE INDEX items_b_copy')
    unused = set(row['name'] for row in indexes['unused'])
    assert unused == {'items_a', 'items_a_b', 'items_b', 'items_b_copy'}  # not items_c (used), not the primary key
    assert indexes['unused_total'] == 4 and indexes['unused_since']
    checks = items(result)
    assert checks['duplicate_indexes']['status'] == 'warning' and checks['duplicate_indexes']['value'] == 2
    assert checks['unused_indexes']['status'] == 'ok' and checks['unused_indexes']['value'] == 4

    dead = checks['dead_tuples']
    assert dead['status'] == 'critical' and dead['value'] == 60.0 and dead['table'] == 'public.churn'
    vacuum = dict((row['name'], row) for row in result['stats']['vacuum']['tables'])
    assert result['stats']['vacuum']['tables'][0]['name'] == 'public.churn'  # most dead rows first
    assert (vacuum['public.churn']['live_rows'], vacuum['public.churn']['dead_rows']) == (800, 1200)
    assert vacuum['public.churn']['last_autovacuum'] is None and vacuum['public.items']['last_analyze']
    assert result['stats']['vacuum']['never_analyzed'] == ['public.churn']
    assert result['status'] == 'critical' and 'dead_tuples' in result['msg'] and not result.get('failed')


def test_pg_stat_statements_not_loaded_is_a_note(pg_server):
    result, run = run_module(MODULE, dict(pg_server.target(), include=['slow_queries']))
    assert run.returncode == 0
    [note] = notes(result, 'slow_queries')
    assert 'shared_preload_libraries' in note and 'CREATE EXTENSION pg_stat_statements in database appdb' in note
    assert result['checks'] == [] and 'slow_queries' not in result['stats']
    assert result['status'] == 'ok'


def test_pg_stat_statements_lists_a_slow_query(pg):
    target = pg_database(pg, 'slowdb')
    before = run_module(MODULE, dict(target, include=['slow_queries']))[0]
    [note] = notes(before, 'slow_queries')
    assert 'not installed' in note and 'shared_preload_libraries' not in note

    pg_sql(pg, 'slowdb', 'CREATE EXTENSION pg_stat_statements', 'SELECT pg_sleep(0.3)')
    # top leaves room for the CREATE DATABASE statements of the other tests, slow too.
    result = run_module(MODULE, dict(target, include=['slow_queries'], slow_query_min_ms=250, top=20))[0]
    slow = result['stats']['slow_queries']
    assert slow['source'] == 'pg_stat_statements' and slow['min_ms'] == 250
    sleeps = [row for row in slow['queries'] if 'pg_sleep' in row['query']]
    assert sleeps and sleeps[0]['mean_ms'] >= 250 and sleeps[0]['database'] == 'slowdb'
    assert all(row['mean_ms'] >= 250 for row in slow['queries'])
    item = items(result)['slow_queries']
    assert item['status'] == 'warning' and item['value'] == slow['total'] >= 1
    assert notes(result, 'slow_queries') == []


def test_connections_threshold_and_fail_on(pg):
    low = {'connections': {'warning': 1}}
    run = run_tasks([
        {'name': 'warn', MODULE: dict(pg.target(), include=['connections'], thresholds=low)},
        {'name': 'fail', MODULE: dict(pg.target(), include=['connections'], thresholds=low, fail_on='warning'),
         'ignore_errors': True},
    ])
    warned, failed = run.task(0), run.task(1)
    item = items(warned)['connections']
    assert item['status'] == 'warning' and item['threshold']['warning'] == 1 and item['threshold']['critical'] == 95
    assert item['maximum'] == 20 and 1 <= item['used'] < 20
    assert warned['status'] == 'warning' and not warned.get('failed')
    assert failed['failed'] is True and failed['status'] == 'warning'
    assert warned['stats']['connections']['percent'] == item['value']


# --- MariaDB -------------------------------------------------------------------------


def test_mariadb_sizes_indexes_and_digests(maria):
    my_sql(maria,
           'CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, a INT, b INT, pad VARCHAR(1000),'
           ' KEY big_a (a), KEY big_a_b (a, b), KEY big_a2 (a), UNIQUE KEY big_b (b, id))',
           "INSERT INTO big (a, b, pad) SELECT seq % 50, seq, REPEAT('x', 900) FROM seq_1_to_3000",
           'CREATE TABLE mid (id INT PRIMARY KEY, pad VARCHAR(1000))',
           "INSERT INTO mid SELECT seq, REPEAT('y', 900) FROM seq_1_to_300",
           'CREATE TABLE tiny (id INT)',
           'ANALYZE TABLE big, mid, tiny',
           'SELECT * FROM big FORCE INDEX (big_a_b) WHERE a = 5 AND b > 10',
           'SELECT SLEEP(0.3)')
    result, run = run_module(MODULE, dict(maria.target(), top=2, slow_query_min_ms=250, fail_on='never',
                                          snapshot_file=''))
    assert run.returncode == 0, result
    sizes = result['stats']['sizes']
    assert [row['name'] for row in sizes['tables']] == ['appdb.big', 'appdb.mid'] and sizes['tables_total'] == 3
    assert sizes['tables'][0]['size_bytes'] > sizes['tables'][1]['size_bytes'] > 0
    indexes = result['stats']['indexes']
    duplicate = dict((row['name'], (row['kind'], row['covered_by'])) for row in indexes['duplicate'])
    assert duplicate == {'big_a': ('covered', 'big_a_b'), 'big_a2': ('duplicate', 'big_a')}
    assert indexes['duplicate_total'] == 2
    unused = set(row['name'] for row in indexes['unused'])
    assert {'big_a', 'big_a2'} <= unused and 'big_a_b' not in unused and 'big_b' not in unused
    slow = result['stats']['slow_queries']
    assert slow['source'] == 'performance_schema digests'
    assert any('SLEEP' in row['query'] and row['mean_ms'] >= 250 for row in slow['queries'])
    checks = items(result)
    assert checks['slow_queries']['status'] == 'warning' and checks['duplicate_indexes']['value'] == 2
    assert set(checks) == {'database_size', 'duplicate_indexes', 'unused_indexes', 'slow_queries', 'cache_hit_ratio',
                           'connections'}
    assert notes(result, 'indexes') == [] and notes(result, 'slow_queries') == []
    assert any('empty' in note for note in notes(result, 'growth'))
    assert maria.password not in run.stdout + run.stderr


def test_mariadb_without_performance_schema_has_notes(mysql_server):
    my_sql(mysql_server, 'CREATE TABLE IF NOT EXISTS stats_pair (a INT, KEY one (a), KEY two (a))')
    result = run_module(MODULE, dict(mysql_server.target(), include=['indexes', 'slow_queries', 'vacuum']))[0]
    [indexes_note], [slow_note], [vacuum_note] = notes(result, 'indexes'), notes(result, 'slow_queries'), \
        notes(result, 'vacuum')
    assert 'performance_schema=ON' in indexes_note and 'unused indexes' in indexes_note
    assert 'performance_schema=ON' in slow_note and 'slow queries' in slow_note
    assert vacuum_note == 'vacuum: not available for mysql; skipped'
    assert set(items(result)) == {'duplicate_indexes'}
    assert 'unused' not in result['stats']['indexes']
    assert [row['name'] for row in result['stats']['indexes']['duplicate']] == ['two']


# --- Redis -----------------------------------------------------------------------------


def test_redis_keyspace_memory_hits_and_growth(redis_server, tmp_path):
    import redis
    clients = [redis.Redis(host=redis_server.host, port=redis_server.port, password=redis_server.password, db=db)
               for db in (5, 6)]
    try:
        clients[0].flushdb()
        clients[1].flushdb()
        clients[0].mset(dict(('k%d' % i, 'v') for i in range(30)))
        clients[1].mset(dict(('k%d' % i, 'v') for i in range(10)))
        clients[1].expire('k0', 600)
        for i in range(10):
            clients[0].get('k%d' % i)
            clients[0].get('absent%d' % i)
        path = tmp_path / 'redis-stats.json'
        args = dict(redis_server.target(), snapshot_file=str(path))
        first = run_module(MODULE, args)[0]
        keyspace = dict((row['name'], row) for row in first['stats']['sizes']['databases'])
        assert keyspace['db5']['keys'] == 30 and keyspace['db6']['keys'] == 10 and keyspace['db6']['expires'] == 1
        names = [row['name'] for row in first['stats']['sizes']['databases']]
        assert names.index('db5') < names.index('db6')  # most keys first
        checks = items(first)
        assert set(checks) == {'hit_ratio', 'connections', 'memory', 'evicted_keys'}
        cache = first['stats']['cache']
        assert cache['hits'] >= 10 and cache['misses'] >= 10 and checks['hit_ratio']['value'] == cache['hit_ratio']
        assert checks['connections']['maximum'] == 10000 and checks['connections']['used'] >= 2
        assert checks['memory']['value'] is None and 'maxmemory is not set' in checks['memory']['detail']
        assert first['stats']['memory']['used_bytes'] > 0 and checks['evicted_keys']['value'] == 0
        assert first['status'] == 'ok' and first['snapshot']['written']

        clients[1].mset(dict(('n%d' % i, 'v') for i in range(50)))
        clients[0].delete('k0')
        second = run_module(MODULE, args)[0]
        growth = second['stats']['growth']
        assert growth['unit'] == 'keys'
        changes = dict((row['name'], row['change']) for row in growth['databases'])
        assert growth['databases'][0]['name'] == 'db6' and changes['db6'] == 50 and changes['db5'] == -1
        assert 'most growth: db6 +50 keys' in items(second)['growth']['detail']
    finally:
        for client in clients:
            client.flushdb()
            client.close()


def test_check_mode_writes_no_snapshot(redis_server, tmp_path):
    path = tmp_path / 'never.json'
    result, run = run_module(MODULE, dict(redis_server.target(), include=['growth'], snapshot_file=str(path)),
                             check=True)
    assert run.returncode == 0
    assert not path.exists() and not (tmp_path / 'never.json.lock').exists()
    assert result['snapshot']['written'] is False and result['changed'] is False
    assert any('check mode' in note and str(path) in note for note in notes(result, 'growth'))


# --- MongoDB (nx-27017 wire server) ------------------------------------------------------


def test_mongodb_sizes_and_duplicates_with_notes_for_what_it_lacks(mongo_server):
    import pymongo
    client = pymongo.MongoClient(mongo_server.host, mongo_server.port, directConnection=True)
    try:
        db = client['statsdb']
        db.big.insert_many([{'i': i, 'pad': 'x' * 800} for i in range(400)])
        db.small.insert_many([{'i': i} for i in range(5)])
        db.big.create_index('i')
        db.big.create_index([('i', 1), ('pad', 1)])
        result, run = run_module(MODULE, dict(mongo_server.target(), snapshot_file='', top=1000))  # other tests' databases share the server
    finally:
        client.drop_database('statsdb')
        client.close()
    assert run.returncode == 0, result
    tables = [row['name'] for row in result['stats']['sizes']['tables'] if row['name'].startswith('statsdb.')]
    assert tables == ['statsdb.big', 'statsdb.small']
    big = [row for row in result['stats']['sizes']['tables'] if row['name'] == 'statsdb.big'][0]
    assert big['rows'] == 400 and big['data_bytes'] > 400 * 800
    duplicate = [row for row in result['stats']['indexes']['duplicate'] if row['table'] == 'statsdb.big']
    assert len(duplicate) == 1 and duplicate[0]['kind'] == 'covered' and duplicate[0]['columns'] == ['i: 1']
    assert '$indexStats' in notes(result, 'indexes')[0]
    assert 'profiling level' in notes(result, 'slow_queries')[0]
    assert 'wiredTiger' in notes(result, 'cache')[0]
    checks = items(result)
    assert set(checks) == {'database_size', 'duplicate_indexes', 'connections'}
    assert checks['connections']['status'] == 'ok' and result['status'] == 'warning'


def test_module_defaults_action_group(redis_server, tmp_path):
    """Connection options set once for group/caretaker.maintenance.caretaker (meta/runtime.yml)."""
    defaults = {'engine': 'redis', 'login_host': '127.0.0.1', 'login_port': redis_server.port,
                'login_password': redis_server.password}
    run = run_tasks([{'name': 'stats', MODULE: {'include': ['connections'], 'snapshot_file': ''}}],
                    play_options={'module_defaults': {'group/caretaker.maintenance.caretaker': defaults}})
    result = run.task(0)
    assert not result.get('failed'), 'db_stats must be in the caretaker action group of meta/runtime.yml: %s' % (
        result.get('msg'),)
    assert result['target'] == 'redis@127.0.0.1:%d' % redis_server.port


# --- options and failures -----------------------------------------------------------------


def test_bad_thresholds_unreachable_server_and_foreign_snapshot(redis_server, stopped_target, tmp_path):
    foreign = tmp_path / 'notes.txt'
    foreign.write_text('not a snapshot\n')
    target = redis_server.target()
    run = run_tasks([
        {'name': 'thresholds', MODULE: dict(target, thresholds={'latency': {'warning': 1}}), 'ignore_errors': True},
        {'name': 'down', MODULE: dict(stopped_target('postgresql'), connect_timeout=2,
                                      snapshot_file=str(tmp_path / 'down.json')), 'ignore_errors': True},
        {'name': 'foreign', MODULE: dict(target, include=['growth'], snapshot_file=str(foreign), fail_on='never')},
    ])
    thresholds, down, foreign_run = (run.task(index) for index in range(3))
    # The other option checks are unit tests (tests/unit/test_stats_module.py).
    assert thresholds['failed'] and thresholds['msg'].startswith('thresholds.latency is not a signal of this check')
    assert 'connections' in thresholds['msg']
    assert down['failed'] and down['status'] == 'critical'
    [item] = down['checks']
    assert item['signal'] == 'reachable' and item['detail'].startswith('cannot connect: ')
    assert down['stats'] == {} and down['snapshot']['written'] is False and not (tmp_path / 'down.json').exists()
    snapshot_item = items(foreign_run)['snapshot']
    assert snapshot_item['status'] == 'warning' and 'not a db_stats snapshot' in snapshot_item['detail']
    assert foreign.read_text() == 'not a snapshot\n'
    assert redis_server.password not in run.stdout + run.stderr
