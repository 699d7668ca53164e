"""db_optimize against real PostgreSQL, MariaDB, Redis and the MongoDB wire server,
through real ansible-playbook runs: check mode, the real run, then the rerun."""

import os
import subprocess
import time

import pytest

from tests.support import servers
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

MODULE = 'caretaker.maintenance.db_optimize'


def task(args, **keywords):
    return dict({'name': 'optimize', MODULE: args}, **keywords)


def plan(result):
    """(table, operation, status) of every item, with would_run read as done."""
    return [(item['table'], item['operation'], 'done' if item['status'] == 'would_run' else item['status'])
            for item in result['results']]


def item(result, table, operation):
    [found] = [entry for entry in result['results'] if entry['table'] == table and entry['operation'] == operation]
    return found


# --- PostgreSQL helpers -----------------------------------------------------------------


def pg_connect(server, database):
    import psycopg2
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                            dbname=database)
    conn.autocommit = True
    return conn


def pg_sql(server, database, *statements):
    conn = pg_connect(server, database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
                # A backend's counts reach pg_stat_user_tables when it flushes them, which may be after a
                # later VACUUM reported its own: flush after every statement, in order.
                cur.execute('SELECT pg_stat_force_next_flush()')
    finally:
        conn.close()


def pg_value(server, database, query):
    conn = pg_connect(server, database)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchone()[0]
    finally:
        conn.close()


def pg_database(server, name, *statements):
    pg_sql(server, 'postgres', 'DROP DATABASE IF EXISTS %s' % name, 'CREATE DATABASE %s' % name)
    pg_sql(server, name, *statements)
    return dict(server.target(), database=name)


def bloated(table, rows=20000, keep=1000):
    """A table with autovacuum off for it, filled, then mostly deleted: its dead rows stay."""
    return ["CREATE TABLE %s (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)" % table,
            "INSERT INTO %s SELECT g, repeat('p', 200) FROM generate_series(1, %d) g" % (table, rows),
            'DELETE FROM %s WHERE id > %d' % (table, keep)]


def clean(table, rows=3000):
    return ["CREATE TABLE %s (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)" % table,
            "INSERT INTO %s SELECT g, repeat('c', 50) FROM generate_series(1, %d) g" % (table, rows),
            'VACUUM ANALYZE %s' % table]


def vacuum_count(server, database, table):
    return pg_value(server, database, "SELECT vacuum_count + analyze_count FROM pg_stat_user_tables WHERE relname = '%s'"
                    % table)


# --- documentation ----------------------------------------------------------------------


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('only_if_needed', 'max_duration', 'ACCESS EXCLUSIVE', 'CONCURRENTLY',
                                        'maxmemory_policy', 'config_rewrite', 'dead_percent', 'login_password'))


# --- PostgreSQL ---------------------------------------------------------------------------


def test_pg_only_if_needed_plan_real_run_and_rerun(pg_server):
    target = pg_database(pg_server, 'opt_need', *(bloated('bloated') + clean('tidy')))
    args = dict(target, operations=['vacuum', 'analyze'], only_if_needed=True)
    run = run_tasks([task(args, check_mode=True), task(args), task(args)])
    assert run.returncode == 0, run.stdout[-3000:]
    check, real, rerun = run.task(0), run.task(1), run.task(2)

    assert plan(check) == plan(real)
    assert [entry['status'] for entry in check['results']] == ['would_run', 'would_run', 'skipped', 'skipped']
    assert check['changed'] is True and check['totals']['would_run'] == 2

    vacuum, analyze = item(real, 'public.bloated', 'vacuum'), item(real, 'public.bloated', 'analyze')
    assert vacuum['status'] == 'done' and vacuum['command'] == 'VACUUM (ANALYZE) "public"."bloated"'
    assert vacuum['metrics']['dead_rows'] == 19000 and vacuum['metrics']['dead_percent'] == 95.0
    assert 'at or above 10 % and 1000 dead rows' in vacuum['reason']
    assert analyze['status'] == 'done' and analyze['done_by'] == 'vacuum' and 'never analyzed' in analyze['reason']
    # The deleted rows were the table's tail: VACUUM gives those pages back.
    assert vacuum['size_after'] < vacuum['size_before']
    assert real['totals']['reclaimed_bytes'] == vacuum['size_before'] - vacuum['size_after'] > 0
    tidy = item(real, 'public.tidy', 'vacuum')
    assert tidy['status'] == 'skipped' and tidy['command'] is None
    assert tidy['reason'] == '0 dead rows, 0 % of 3000: below 10 % or 1000 dead rows, so not needed'
    assert 'below 10 % or 1000 changed rows' in item(real, 'public.tidy', 'analyze')['reason']
    assert real['changed'] is True and real['msg'].startswith('ran vacuum 1 (public.bloated); analyze 1 (public.bloated)')
    assert pg_value(pg_server, 'opt_need', "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloated'") == 0

    assert rerun['changed'] is False and rerun['totals']['done'] == 0 and rerun['totals']['skipped'] == 4
    assert pg_server.password not in run.stdout + run.stderr


def test_pg_vacuum_full_reindex_and_analyze(pg_server):
    target = pg_database(pg_server, 'opt_ops', *(bloated('shrink', 5000, 250) + bloated('idx', 2000) + clean('stats')
                                                 + ['CREATE INDEX idx_pad ON idx (pad)']))
    before_index = pg_value(pg_server, 'opt_ops', "SELECT pg_relation_filenode('idx_pad')")
    stats_before = vacuum_count(pg_server, 'opt_ops', 'stats')
    run = run_tasks([
        task(dict(target, operations=['vacuum_full', 'reindex'], tables=['shrink'])),
        task(dict(target, operations=['reindex', 'analyze'], tables=['public.idx', 'stats'])),
    ])
    assert run.returncode == 0, run.stdout[-3000:]
    full, reindex = run.task(0), run.task(1)

    vacuum_full = item(full, 'public.shrink', 'vacuum_full')
    assert vacuum_full['status'] == 'done' and vacuum_full['command'] == 'VACUUM (FULL) "public"."shrink"'
    # VACUUM FULL rewrites the table: the 250 live rows of 5000 need a fraction of the space.
    assert vacuum_full['size_after'] * 5 < vacuum_full['size_before']
    assert item(full, 'public.shrink', 'reindex')['done_by'] == 'vacuum_full'

    rebuilt = item(reindex, 'public.idx', 'reindex')
    assert rebuilt['status'] == 'done' and rebuilt['command'] == 'REINDEX TABLE CONCURRENTLY "public"."idx"'
    assert pg_value(pg_server, 'opt_ops', "SELECT pg_relation_filenode('idx_pad')") != before_index

    assert item(reindex, 'public.stats', 'analyze')['command'] == 'ANALYZE "public"."stats"'
    assert item(reindex, 'public.idx', 'analyze')['status'] == 'done'
    assert vacuum_count(pg_server, 'opt_ops', 'stats') == stats_before + 1


def test_pg_bad_and_unknown_names_run_nothing(pg_server):
    target = pg_database(pg_server, 'opt_names', *bloated('good'))
    count = vacuum_count(pg_server, 'opt_names', 'good')
    run = run_tasks([
        task(dict(target, operations=['vacuum'], tables=['good', 'good; DROP TABLE good']), ignore_errors=True),
        task(dict(target, operations=['vacuum'], tables=['good', 'nope', 'other.nada']), ignore_errors=True),
    ])
    semicolon, unknown = run.task(0), run.task(1)
    for result in (semicolon, unknown):
        assert result['failed'] is True and result['changed'] is False and result['results'] == []
    assert semicolon['msg'] == (
        "tables[1] 'good; DROP TABLE good' holds a quote, semicolon, backslash or control character: give the plain "
        "name (table, or schema.table / database.table) as the catalog spells it; nothing was run")
    assert unknown['msg'] == (
        'tables: nope, other.nada are not in database opt_names: check the spelling (case matters; schema.table, or '
        'a name in schema public); nothing was run')
    assert vacuum_count(pg_server, 'opt_names', 'good') == count
    assert pg_value(pg_server, 'opt_names', 'SELECT count(*) FROM good') == 1000


def test_pg_max_duration_starts_no_new_table(pg_server):
    target = pg_database(pg_server, 'opt_budget', *(bloated('first', 3000, 100) + bloated('second', 3000, 100)
                                                    + bloated('third', 3000, 100)))
    holder = pg_connect(pg_server, 'opt_budget')
    holder.autocommit = False
    try:
        with holder.cursor() as cur:
            # VACUUM needs this lock too: the first table waits lock_timeout for it, which spends the budget.
            cur.execute('LOCK TABLE first IN SHARE UPDATE EXCLUSIVE MODE')
        result, run = run_module(MODULE, dict(target, operations=['vacuum'], tables=['first', 'second', 'third'],
                                              lock_timeout=1, max_duration=0.5))
    finally:
        holder.rollback()
        holder.close()
    assert run.returncode == 0, result
    first = item(result, 'public.first', 'vacuum')
    assert first['status'] == 'skipped' and 'could not get its lock within lock_timeout 1s' in first['reason']
    assert result['left'] == ['public.second', 'public.third']
    for name in ('public.second', 'public.third'):
        entry = item(result, name, 'vacuum')
        assert entry['status'] == 'left' and entry['reason'].startswith('max_duration 0.5s spent')
    assert result['totals']['left'] == 2 and result['changed'] is False
    assert '2 tables left by max_duration (public.second, public.third)' in result['msg']
    assert vacuum_count(pg_server, 'opt_budget', 'second') == 0


# --- MariaDB ---------------------------------------------------------------------------------


def my_sql(server, *statements, database=None):
    import pymysql
    conn = pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                           database=database, autocommit=True)
    try:
        with conn.cursor() as cur:
            rows = []
            for statement in statements:
                cur.execute(statement)
                rows = cur.fetchall()
            return rows
    finally:
        conn.close()


def data_free(server, database, table):
    return my_sql(server, "SELECT DATA_FREE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s'"
                          " AND TABLE_NAME = '%s'" % (database, table))[0][0]


def test_mariadb_only_if_needed_optimizes_the_bloated_table(mysql_server):
    db = 'opt_maria'
    # Automatic statistics off, so InnoDB's change counter holds still between the runs.
    my_sql(mysql_server, 'DROP DATABASE IF EXISTS %s' % db, 'CREATE DATABASE %s' % db)
    my_sql(mysql_server, 'CREATE TABLE %s.bloated (id INT PRIMARY KEY, pad VARCHAR(1000)) STATS_AUTO_RECALC=0' % db,
           "INSERT INTO %s.bloated SELECT seq, REPEAT('x', 1000) FROM seq_1_to_20000" % db,
           'DELETE FROM %s.bloated WHERE id > 1000' % db,
           'CREATE TABLE %s.tidy (id INT PRIMARY KEY, pad VARCHAR(100)) STATS_AUTO_RECALC=0' % db,
           "INSERT INTO %s.tidy SELECT seq, REPEAT('t', 100) FROM seq_1_to_2000" % db,
           'ANALYZE TABLE %s.tidy' % db, database=db)
    # InnoDB frees the deleted rows' pages in the background; wait until the plan cannot move.
    deadline = time.monotonic() + 30
    while data_free(mysql_server, db, 'bloated') < 20 * 1048576 and time.monotonic() < deadline:
        time.sleep(0.2)
    args = dict(mysql_server.target(), database=db, operations=['analyze', 'optimize'], only_if_needed=True)
    run = run_tasks([task(args, check_mode=True), task(args), task(args)])
    assert run.returncode == 0, run.stdout[-3000:]
    check, real, rerun = run.task(0), run.task(1), run.task(2)

    assert plan(check) == plan(real)
    optimize = item(real, 'opt_maria.bloated', 'optimize')
    assert optimize['status'] == 'done' and optimize['command'] == 'OPTIMIZE TABLE `opt_maria`.`bloated`'
    assert optimize['metrics']['data_free'] >= 20 * 1048576 and 'at or above 10 % and 10 MiB free' in optimize['reason']
    assert 'status: OK' in optimize['messages'] and 'recreate + analyze' in optimize['reason']
    assert optimize['size_after'] * 4 < optimize['size_before']
    assert data_free(mysql_server, db, 'bloated') < 10 * 1048576
    analyze = item(real, 'opt_maria.bloated', 'analyze')
    assert analyze['status'] == 'done' and analyze['done_by'] == 'optimize'
    assert analyze['metrics']['modified_rows'] >= 19000
    tidy = item(real, 'opt_maria.tidy', 'optimize')
    assert tidy['status'] == 'skipped' and tidy['reason'].endswith('below 10 % or 10 MiB free, so not needed')
    assert item(real, 'opt_maria.tidy', 'analyze')['reason'].startswith('0 rows changed since the statistics were computed')
    assert real['changed'] is True

    assert rerun['changed'] is False and [entry['status'] for entry in rerun['results']] == ['skipped'] * 4


def test_mariadb_check_and_repair_by_engine(mysql_server):
    db = 'opt_repair'
    my_sql(mysql_server, 'DROP DATABASE IF EXISTS %s' % db, 'CREATE DATABASE %s' % db,
           'CREATE TABLE %s.inno (id INT PRIMARY KEY) ENGINE=InnoDB' % db,
           'CREATE TABLE %s.isam (id INT PRIMARY KEY) ENGINE=MyISAM' % db,
           'CREATE TABLE %s.aria (id INT PRIMARY KEY) ENGINE=Aria' % db,
           'CREATE VIEW %s.v AS SELECT 1 AS one' % db,
           'INSERT INTO %s.isam VALUES (1), (2)' % db)
    run = run_tasks([
        task(dict(mysql_server.target(), database=db, operations=['analyze', 'repair', 'check'])),
        task(dict(mysql_server.target(), database=db, operations=['check'], tables=['v']), ignore_errors=True),
    ])
    result, view = run.task(0), run.task(1)
    assert [(entry['table'], entry['operation'], entry['status']) for entry in result['results']] == [
        ('opt_repair.aria', 'check', 'done'), ('opt_repair.aria', 'repair', 'done'), ('opt_repair.aria', 'analyze', 'done'),
        ('opt_repair.inno', 'check', 'done'), ('opt_repair.inno', 'repair', 'skipped'), ('opt_repair.inno', 'analyze', 'done'),
        ('opt_repair.isam', 'check', 'done'), ('opt_repair.isam', 'repair', 'done'), ('opt_repair.isam', 'analyze', 'done')]
    assert item(result, 'opt_repair.isam', 'check')['messages'] == ['status: OK']
    assert item(result, 'opt_repair.isam', 'repair')['command'] == 'REPAIR TABLE `opt_repair`.`isam`'
    assert 'not to InnoDB ones' in item(result, 'opt_repair.inno', 'repair')['reason']
    analyze = item(result, 'opt_repair.inno', 'analyze')
    assert analyze['command'] == 'ANALYZE TABLE `opt_repair`.`inno`' and analyze['messages'] == ['status: OK']
    assert view['failed'] and 'opt_repair.v' not in view['msg'] and 'v is a view' in view['msg']
    assert my_sql(mysql_server, 'SELECT COUNT(*) FROM %s.isam' % db)[0][0] == 2


def test_mariadb_corrupt_table_fails_check_and_repair_mends_it(mysql_server):
    db = 'opt_broken'
    my_sql(mysql_server, 'DROP DATABASE IF EXISTS %s' % db, 'CREATE DATABASE %s' % db,
           'CREATE TABLE %s.isam (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM' % db,
           'INSERT INTO %s.isam VALUES %s' % (db, ', '.join("(%d, 'v%d')" % (n, n) for n in range(1, 2001))),
           'FLUSH TABLES %s.isam' % db)
    # Overwrite index pages of the MyISAM key file, as a crash mid-write would leave them.
    with open(os.path.join(mysql_server.datadir, db, 'isam.MYI'), 'r+b') as handle:
        handle.seek(2048)
        handle.write(b'\xff' * 4096)
    my_sql(mysql_server, 'FLUSH TABLES %s.isam' % db)
    target = dict(mysql_server.target(), database=db)
    run = run_tasks([task(dict(target, operations=['check', 'repair']), ignore_errors=True),
                     task(dict(target, operations=['check']))])
    broken, mended = run.task(0), run.task(1)
    check = item(broken, 'opt_broken.isam', 'check')
    assert broken['failed'] is True and check['status'] == 'failed'
    assert check['reason'].startswith('CHECK TABLE reports: ') and 'is corrupt' in check['reason']
    assert 'FAILED check on opt_broken.isam' in broken['msg'] and broken['totals']['failed'] == 1
    # The other operations still ran: the repair after the failed check.
    assert item(broken, 'opt_broken.isam', 'repair')['status'] == 'done' and broken['changed'] is True
    assert item(mended, 'opt_broken.isam', 'check')['status'] == 'done' and 'failed' not in mended
    assert mended['changed'] is False  # CHECK TABLE only reads
    assert my_sql(mysql_server, 'SELECT COUNT(*) FROM %s.isam' % db)[0][0] == 2000


# --- MongoDB (nx-27017) ----------------------------------------------------------------------


def test_mongodb_validate_compact_reindex(mongo_server):
    import pymongo
    client = pymongo.MongoClient(mongo_server.host, mongo_server.port, directConnection=True)
    try:
        client.drop_database('opt_mongo')
        db = client['opt_mongo']
        db.events.insert_many([{'n': n, 'pad': 'e' * 200} for n in range(500)])
        db.events.create_index('n')
        db.sessions.insert_one({'name': 'a'})
    finally:
        client.close()
    target = dict(mongo_server.target(), database='opt_mongo')
    every = ['validate', 'compact', 'reindex']
    run = run_tasks([
        task(dict(target, operations=every, tables=['events', 'sessions'])),
        task(dict(target, operations=every, only_if_needed=True), check_mode=True),
        task(dict(target, operations=['validate'], tables=['events', 'missing']), ignore_errors=True),
        task(dict(target, operations=['validate'])),
    ])
    real, needed, missing, validated = run.task(0), run.task(1), run.task(2), run.task(3)
    # validate only reads: it ran on both collections and changed nothing, so a weekly rerun is idempotent.
    assert validated['totals']['done'] == 2 and validated['changed'] is False
    assert real['changed'] is True and real['totals']['done'] == 6
    assert item(real, 'opt_mongo.events', 'validate')['valid'] is True
    assert item(real, 'opt_mongo.events', 'compact')['command'] == 'opt_mongo: {compact: "events"}'
    assert item(real, 'opt_mongo.events', 'reindex')['status'] == 'done'
    assert item(real, 'opt_mongo.sessions', 'validate')['status'] == 'done'
    # nx-27017 reports no free-space figures: only_if_needed cannot judge compact or reindex.
    assert [(entry['table'], entry['operation'], entry['status']) for entry in needed['results']] == [
        ('opt_mongo.events', 'validate', 'would_run'), ('opt_mongo.events', 'compact', 'skipped'),
        ('opt_mongo.events', 'reindex', 'skipped'), ('opt_mongo.sessions', 'validate', 'would_run'),
        ('opt_mongo.sessions', 'compact', 'skipped'), ('opt_mongo.sessions', 'reindex', 'skipped')]
    assert 'collStats has no freeStorageSize' in item(needed, 'opt_mongo.events', 'compact')['reason']
    assert missing['failed'] and missing['msg'].startswith('tables: missing is not in database opt_mongo')


# --- Redis ------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def redis_own(tmp_path_factory):
    """A Redis of this file: the tests change its maxmemory-policy and rewrite its config file."""
    server = servers.start_redis(tmp_path_factory.mktemp('redis-optimize'))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_without_config(tmp_path):
    """A Redis started with arguments only, so CONFIG REWRITE has no file to write (loopback, no password)."""
    port = servers.free_port()
    proc = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--dir', str(tmp_path),
                             '--save', '', '--appendonly', 'no'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        import redis
        client = redis.Redis(host='127.0.0.1', port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield {'engine': 'redis', 'login_host': '127.0.0.1', 'login_port': port}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def redis_policy(server):
    import redis
    client = redis.Redis(host=server.host, port=server.port, password=server.password, decode_responses=True)
    try:
        return client.config_get('maxmemory-policy')['maxmemory-policy']
    finally:
        client.close()


def test_redis_memory_purge_by_fragmentation(redis_own):
    target = redis_own.target()
    run = run_tasks([
        task(dict(target, only_if_needed=True)),
        task(dict(target, only_if_needed=True, thresholds={'fragmentation_ratio': 1, 'fragmentation_mib': 0})),
    ])
    small, purged = run.task(0), run.task(1)
    skipped = item(small, 'server', 'memory_purge')
    # A fresh server has a high ratio over a few MiB: below the default 100 MiB, nothing to gain.
    assert skipped['status'] == 'skipped' and skipped['reason'].endswith('below 1.5 and 100 MiB, so not needed')
    assert small['changed'] is False
    done = item(purged, 'server', 'memory_purge')
    assert done['status'] == 'done' and done['command'] == 'MEMORY PURGE' and done['size_after'] > 0
    assert done['metrics']['allocator'].startswith('jemalloc') and purged['changed'] is True


def test_redis_policy_check_diff_real_and_rewrite(redis_own):
    target = dict(redis_own.target(), operations=[], maxmemory_policy='allkeys-lru')
    assert redis_policy(redis_own) == 'noeviction'
    run = run_tasks([task(target, check_mode=True, diff=True), task(target), task(target),
                     task(dict(target, maxmemory_policy='allkeys-lfu', config_rewrite=True))])
    assert run.returncode == 0, run.stdout[-3000:]
    check, real, again, rewrite = (run.task(index) for index in range(4))
    assert check['changed'] is True and check['maxmemory_policy'] == {
        'before': 'noeviction', 'after': 'allkeys-lru', 'changed': True, 'rewritten': False}
    assert check['diff'] == {'before': 'maxmemory-policy: noeviction\n', 'after': 'maxmemory-policy: allkeys-lru\n'}
    assert 'would run nothing; maxmemory-policy noeviction -> allkeys-lru' in check['msg']
    # The real run found the policy check mode had left alone.
    assert real['maxmemory_policy']['before'] == 'noeviction' and real['changed'] is True
    assert 'diff' not in real
    assert again['changed'] is False and again['maxmemory_policy']['changed'] is False
    assert rewrite['maxmemory_policy'] == {'before': 'allkeys-lru', 'after': 'allkeys-lfu', 'changed': True,
                                           'rewritten': True}
    assert 'maxmemory-policy allkeys-lru -> allkeys-lfu (saved with CONFIG REWRITE)' in rewrite['msg']
    assert redis_policy(redis_own) == 'allkeys-lfu'
    with open(os.path.join(redis_own.datadir, 'redis.conf')) as handle:
        assert 'maxmemory-policy allkeys-lfu' in handle.read()


def test_redis_rewrite_without_config_file_changes_nothing(redis_without_config):
    result, run = run_module(MODULE, dict(redis_without_config, operations=[], maxmemory_policy='allkeys-lru',
                                          config_rewrite=True))
    assert run.returncode != 0 and result['failed'] is True and result['changed'] is False
    assert result['msg'].startswith('config_rewrite: the server was started without a config file')
    assert 'nothing was changed' in result['msg']
    import redis
    client = redis.Redis(host='127.0.0.1', port=redis_without_config['login_port'], decode_responses=True)
    try:
        assert client.config_get('maxmemory-policy')['maxmemory-policy'] == 'noeviction'
    finally:
        client.close()
