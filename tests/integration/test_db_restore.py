"""db_restore against artifacts made by the standard tools and real servers, through real
ansible-playbook runs; restored data is compared row by row with the source."""

import datetime
import io
import os
import tarfile

import bson
import pytest
import yaml

from tests.support import artifacts, servers
from tests.support.backup_sources import redis_value
from tests.support.playbook import assert_ansible_doc_renders, ROOT, run_module, run_tasks

MODULE = 'caretaker.maintenance.db_restore'


@pytest.fixture(scope='module')
def age_key(tmp_path_factory):
    return artifacts.age_keygen(tmp_path_factory.mktemp('keys'))


def redis_client(server, db):
    import redis
    return redis.Redis(host=server.host, port=server.port, password=server.password, db=db)


# --- one source, artifact and comparison per engine ---------------------------------


class PostgreSQLCase:
    fixture = 'pg_server'

    def __init__(self, server, tmp_path, age_key):
        self.server, self.tmp_path, self.age_key = server, tmp_path, age_key
        counts = artifacts.seed_postgresql(server, 'restore_src')
        self.artifact = artifacts.pg_artifact(server, tmp_path / 'dest', 'restore_src', counts, recipient=age_key.recipient)
        self.source = artifacts.pg_rows(server, 'restore_src')

    def args(self, target, **extra):
        return dict(self.server.target(), path=str(self.artifact.path), identity_file=str(self.age_key.identity_file),
                    target_database=target, **extra)

    def rows(self, target):
        return artifacts.pg_rows(self.server, target)

    def exists(self, target):
        return artifacts.pg_exists(self.server, target)

    def drop(self, target):
        artifacts.pg_drop(self.server, target)

    def indexes(self, target):
        conn = artifacts.pg_connect(self.server, target)
        with conn.cursor() as cur:
            cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'shop'")
            names = sorted(row[0] for row in cur.fetchall())
        conn.close()
        return names


class MySQLCase(PostgreSQLCase):
    fixture = 'mysql_server'

    def __init__(self, server, tmp_path, age_key):
        self.server, self.tmp_path, self.age_key = server, tmp_path, age_key
        counts = artifacts.seed_mysql(server, 'restore_src')
        self.artifact = artifacts.mysql_artifact(server, tmp_path / 'dest', 'restore_src', counts, tmp_path)
        self.source = artifacts.my_rows(server, 'restore_src')

    def args(self, target, **extra):
        return dict(self.server.target(), path=str(self.artifact.path), target_database=target, **extra)

    def rows(self, target):
        return artifacts.my_rows(self.server, target)

    def exists(self, target):
        return target in artifacts.my_databases(self.server, target)

    def drop(self, target):
        artifacts.my_query(self.server, 'DROP DATABASE IF EXISTS `%s`' % target)


class MongoDBCase(PostgreSQLCase):
    fixture = 'mongo_server'

    def __init__(self, server, tmp_path, age_key):
        self.server, self.tmp_path, self.age_key = server, tmp_path, age_key
        self.source = artifacts.mongo_documents()
        self.artifact = artifacts.mongo_artifact(tmp_path / 'dest', 'restore_src', tmp_path, collections=self.source,
                                                 port=server.port, compression='zstd', recipient=age_key.recipient)

    def rows(self, target):
        db = artifacts.mongo_client(self.server)[target]
        # Sorted here: nx-27017 orders integer _id values as text.
        return dict((name, sorted(db[name].find(), key=lambda doc: doc['_id'])) for name in sorted(db.list_collection_names()))

    def exists(self, target):
        return target in artifacts.mongo_client(self.server).list_database_names()

    def drop(self, target):
        artifacts.mongo_client(self.server).drop_database(target)


class RedisCase(PostgreSQLCase):
    fixture = 'redis_server'

    def __init__(self, server, tmp_path, age_key):
        self.server, self.tmp_path, self.age_key = server, tmp_path, age_key
        self.artifact = artifacts.redis_artifact(tmp_path / 'dest', tmp_path, compression='zstd', recipient=age_key.recipient)

    def rows(self, target):
        client = redis_client(self.server, int(target))
        return dict((key, client.dump(key)) for key in sorted(client.keys('*')))

    def exists(self, target):
        return bool(redis_client(self.server, int(target)).dbsize())

    def drop(self, target):
        redis_client(self.server, int(target)).flushdb()


CASES = {'postgresql': PostgreSQLCase, 'mysql': MySQLCase, 'mongodb': MongoDBCase, 'redis': RedisCase}
TARGETS = {'postgresql': 'restore_dst', 'mysql': 'restore_dst', 'mongodb': 'restore_dst', 'redis': '7'}


@pytest.fixture(params=sorted(CASES))
def case(request, tmp_path, age_key):
    cls = CASES[request.param]
    made = cls(request.getfixturevalue(cls.fixture), tmp_path, age_key)
    made.engine = request.param
    made.target = TARGETS[request.param]
    made.drop(made.target)
    artifacts.mark_verified(made.artifact)
    yield made
    made.drop(made.target)


def expected_rows(case):
    if case.engine == 'mongodb':
        return dict((name, sorted(docs, key=lambda doc: doc['_id'])) for name, docs in sorted(case.source.items()))
    if case.engine == 'redis':
        return None
    return case.source


def test_round_trip_row_by_row(case):
    result, run = run_module(MODULE, case.args(case.target))
    assert run.returncode == 0, result['msg']
    assert result['changed'] is True and result['target_existed'] is (case.engine == 'redis')
    assert result['counts_differ'] == {} and result['counts']
    assert result['path'] == str(case.artifact.path) and result['selected'] == 'named by path'
    restored = case.rows(case.target)
    if case.engine == 'redis':
        client = redis_client(case.server, int(case.target))
        assert client.get('session:1') == b'alice' and client.get('bin') == b'\x00\xff\x10'
        assert client.hgetall('user:1') == {b'name': b'alice', b'age': b'30'}
        assert client.lrange('queue', 0, -1) == [b'a', b'b', b'c']
        assert 0 < client.ttl('expiring') <= 86400 and client.ttl('counter') == -1
        assert len(restored) == artifacts.redis_counts()['db0']
    else:
        assert restored == expected_rows(case)
    if case.engine == 'postgresql':
        assert case.indexes(case.target) == ['orders_pkey', 'orders_user']
    if case.engine == 'mongodb':
        index_keys = [spec['key'] for spec in artifacts.mongo_client(case.server)[case.target].users.list_indexes()]
        assert {'email': 1} in [dict(key) for key in index_keys]
    # Run again: the target is no longer empty, so it is refused and left as it is.
    again, run = run_module(MODULE, case.args(case.target))
    assert run.returncode != 0 and again['changed'] is False
    assert 'is not empty' in again['msg'] and 'set clean: true' in again['msg']
    assert case.rows(case.target) == restored


def test_clean_replaces_a_non_empty_target(case):
    assert run_module(MODULE, case.args(case.target))[0]['changed'] is True
    if case.engine == 'postgresql':
        conn = artifacts.pg_connect(case.server, case.target)
        with conn.cursor() as cur:
            cur.execute('CREATE TABLE stray (x int)')
            cur.execute('DELETE FROM shop.orders WHERE user_id > 5')
            cur.execute('DELETE FROM users WHERE id > 5')
        conn.close()
    elif case.engine == 'mysql':
        artifacts.my_query(case.server, 'CREATE TABLE stray (x int)', database=case.target)
    elif case.engine == 'mongodb':
        artifacts.mongo_client(case.server)[case.target].stray.insert_one({'x': 1})
    else:
        redis_client(case.server, int(case.target)).set('stray', 'x')
    plan, run = run_module(MODULE, case.args(case.target, clean=True), check=True)
    assert run.returncode == 0 and plan['changed'] is True
    assert plan['msg'].startswith('would replace the contents of existing')
    result, run = run_module(MODULE, case.args(case.target, clean=True))
    assert run.returncode == 0, result['msg']
    assert result['cleaned'] is True and result['target_objects_before'] > 0 and result['counts_differ'] == {}
    if case.engine == 'redis':
        assert redis_client(case.server, int(case.target)).get('stray') is None
    else:
        assert case.rows(case.target) == expected_rows(case)


def test_check_mode_says_what_would_happen_and_changes_nothing(case):
    result, run = run_module(MODULE, case.args(case.target), check=True)
    assert run.returncode == 0, result['msg']
    assert result['changed'] is True and result['path'] == str(case.artifact.path)
    assert result['target_objects_before'] == 0
    assert 'would restore into' in result['msg'] and case.target in result['msg']
    assert case.artifact.path.name in result['msg']
    assert not case.exists(case.target)


@pytest.fixture
def mysql_case(request, tmp_path, age_key):
    made = MySQLCase(request.getfixturevalue('mysql_server'), tmp_path, age_key)
    made.target = 'restore_refusals'
    made.drop(made.target)
    yield made
    made.drop(made.target)


def test_an_unverified_artifact_is_refused_unless_allowed(mysql_case):
    result, run = run_module(MODULE, mysql_case.args(mysql_case.target))
    assert run.returncode != 0 and result['changed'] is False
    assert 'is not verified: it was never verified' in result['msg'] and 'allow_unverified: true' in result['msg']
    assert not mysql_case.exists(mysql_case.target)
    artifacts.mark_verified(mysql_case.artifact, outcome='failed')
    result = run_module(MODULE, mysql_case.args(mysql_case.target))[0]
    assert 'its last verification' in result['msg'] and 'says failed' in result['msg']
    result, run = run_module(MODULE, mysql_case.args(mysql_case.target, allow_unverified=True))
    assert run.returncode == 0 and result['verified'] is False
    assert mysql_case.rows(mysql_case.target) == mysql_case.source


def test_a_corrupt_artifact_is_refused_even_when_unverified_is_allowed(mysql_case):
    artifacts.mark_verified(mysql_case.artifact)
    artifacts.flip_byte(mysql_case.artifact.path)
    for extra in ({}, {'allow_unverified': True}):
        result, run = run_module(MODULE, mysql_case.args(mysql_case.target, **extra))
        assert run.returncode != 0 and result['changed'] is False
        assert 'is corrupt' in result['msg'] and 'restore another backup' in result['msg']
    assert not mysql_case.exists(mysql_case.target)


def test_an_artifact_without_manifest_is_refused(mysql_case):
    mysql_case.artifact.manifest_path.unlink()
    result = run_module(MODULE, mysql_case.args(mysql_case.target, allow_unverified=True))[0]
    assert 'never restored' in result['msg'] and result['changed'] is False


def test_a_system_database_is_refused(mysql_case):
    artifacts.mark_verified(mysql_case.artifact)
    result = run_module(MODULE, mysql_case.args('mysql', clean=True))[0]
    assert 'is a system database' in result['msg'] and result['changed'] is False


def test_latest_verified_is_chosen_from_a_directory(mysql_server, tmp_path):
    dest = tmp_path / 'dest'
    made = []
    for day, users in ((20, 10), (21, 20), (22, 30)):
        counts = artifacts.seed_mysql(mysql_server, 'restore_series', users=users, orders=5)
        moment = datetime.datetime(2026, 11, day, 2, 0, 0, tzinfo=datetime.timezone.utc)
        made.append(artifacts.mysql_artifact(mysql_server, dest, 'restore_series', counts, tmp_path, moment=moment))
    artifacts.mark_verified(made[0])
    artifacts.mark_verified(made[1])
    artifacts.mark_verified(made[2], outcome='failed')
    target = 'restore_latest'
    artifacts.my_query(mysql_server, 'DROP DATABASE IF EXISTS `%s`' % target)
    args = dict(mysql_server.target(), dest=str(dest), latest=True, target_database=target)
    args['database'] = 'restore_series'  # with engine, host and port: the series name
    args['engine'] = 'mysql'
    plan = run_module(MODULE, args, check=True)[0]
    assert plan['path'] == str(made[1].path)
    assert plan['selected'] == 'the newest verified of 3 backups of series %s' % made[1].manifest['series']
    result, run = run_module(MODULE, args)
    assert run.returncode == 0, result['msg']
    assert result['path'] == str(made[1].path) and result['counts']['users'] == 20
    assert len(artifacts.my_rows(mysql_server, target)['users']) == 20
    artifacts.my_query(mysql_server, 'DROP DATABASE `%s`' % target)
    bare = run_module(MODULE, dict(mysql_server.target(), dest=str(dest), target_database=target,
                                   series=made[0].manifest['series']))[0]
    assert 'set latest: true' in bare['msg']
    missing = run_module(MODULE, dict(mysql_server.target(), dest=str(dest), latest=True, target_database=target,
                                      series='mysql-nowhere-1-x'))[0]
    assert 'no backups of series mysql-nowhere-1-x' in missing['msg']


def test_parallel_jobs_for_postgresql_through_a_private_temp_file(pg_server, tmp_path, age_key):
    pg = PostgreSQLCase(pg_server, tmp_path, age_key)
    artifacts.mark_verified(pg.artifact)
    target = 'restore_jobs'
    pg.drop(target)
    temp_dir = tmp_path / 'work'
    temp_dir.mkdir()
    result, run = run_module(MODULE, pg.args(target, jobs=2, temp_dir=str(temp_dir)))
    assert run.returncode == 0, result['msg']
    assert result['method'] == 'pg_restore --jobs=2 from a 0600 temp file'
    assert pg.rows(target) == pg.source and result['counts_differ'] == {}
    assert os.listdir(temp_dir) == []
    pg.drop(target)


def test_a_missing_key_is_refused_before_the_target_is_touched(pg_server, tmp_path, age_key):
    pg = PostgreSQLCase(pg_server, tmp_path, age_key)
    artifacts.mark_verified(pg.artifact)
    args = pg.args('restore_nokey')
    del args['identity_file']
    result = run_module(MODULE, args)[0]
    assert 'set identity_file' in result['msg'] and not pg.exists('restore_nokey')


def test_a_wrong_key_costs_a_non_empty_target_nothing(pg_server, tmp_path, age_key):
    pg = PostgreSQLCase(pg_server, tmp_path, age_key)
    artifacts.mark_verified(pg.artifact)
    pg.drop('restore_wrongkey')
    assert run_module(MODULE, pg.args('restore_wrongkey'))[0]['changed'] is True
    other = artifacts.age_keygen(tmp_path, 'other.txt')
    result, run = run_module(MODULE, dict(pg.args('restore_wrongkey', clean=True), identity_file=str(other.identity_file)))
    assert run.returncode != 0 and result['changed'] is False
    assert 'no identity in the identity file matches' in result['msg']
    assert pg.rows('restore_wrongkey') == pg.source
    pg.drop('restore_wrongkey')


def test_a_mongodb_artifact_of_several_databases(mongo_server, tmp_path):
    """Every database in one tar (manifest database unset): the restore test keeps them apart
    in the scratch, a restore takes the one named by source_database."""
    tar = tmp_path / 'all.tar'
    docs = {'alpha': [{'_id': n, 'v': 'a%d' % n} for n in range(5)], 'beta': [{'_id': n, 'v': 'b%d' % n} for n in range(7)]}
    with tarfile.open(tar, 'w') as archive:
        for database, items in docs.items():
            for name, data in (('%s/users.metadata.json' % database, b'{"indexes": [], "collectionName": "users"}'),
                               ('%s/users.bson' % database, b''.join(bson.encode(doc) for doc in items))):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    artifact = artifacts.write_artifact(tmp_path / 'dest', 'mongodb', '127.0.0.1', mongo_server.port, None, 'mongo.tar', tar,
                                        counts={'alpha.users': 5, 'beta.users': 7})
    verify_args = dict(mongo_server.target(), path=str(artifact.path), restore_test=True)
    verify = run_module('caretaker.maintenance.backup_verify', verify_args)[0]
    assert verify['status'] == 'ok', verify['msg']
    assert sorted(item['name'] for item in verify['checks'] if item['name'].startswith('counts ')) == [
        'counts alpha.users', 'counts beta.users']
    client = artifacts.mongo_client(mongo_server)
    assert not [name for name in client.list_database_names() if name.startswith('caretaker_verify_')]
    args = dict(mongo_server.target(), path=str(artifact.path), target_database='restore_multi')
    refused = run_module(MODULE, args)[0]
    assert 'several databases (alpha, beta): set source_database' in refused['msg'] and refused['changed'] is False
    result, run = run_module(MODULE, dict(args, source_database='beta'))
    assert run.returncode == 0, result['msg']
    assert result['counts'] == {'beta.users': 7}
    assert sorted(doc['v'] for doc in client.restore_multi.users.find()) == sorted(doc['v'] for doc in docs['beta'])
    client.drop_database('restore_multi')


def test_passwords_never_reach_a_command_line_or_the_output(pg_server, mysql_server, tmp_path, age_key):
    cases = [PostgreSQLCase(pg_server, tmp_path / 'pg', age_key), MySQLCase(mysql_server, tmp_path / 'my', age_key)]
    secrets = [pg_server.password, mysql_server.password]
    with artifacts.ArgvWatcher(secrets) as watcher:
        for made, jobs in zip(cases, (2, 1)):
            artifacts.mark_verified(made.artifact)
            made.drop('restore_argv')
            result, run = run_module(MODULE, made.args('restore_argv', jobs=jobs))
            assert run.returncode == 0, result['msg']
            assert not any(secret in run.stdout + run.stderr for secret in secrets)
            made.drop('restore_argv')
    assert watcher.samples > 0 and watcher.found == []


# --- artifacts written by db_backup itself ---------------------------------------------


def _seed_for_db_backup(engine, server):
    """(database option, read-back function) with data in the session server."""
    if engine == 'postgresql':
        artifacts.seed_postgresql(server, 'e2e_src')
        return 'e2e_src', lambda db: artifacts.pg_rows(server, db)
    if engine == 'mysql':
        artifacts.seed_mysql(server, 'e2e_src')
        return 'e2e_src', lambda db: artifacts.my_rows(server, db)
    if engine == 'mongodb':
        client = artifacts.mongo_client(server)
        client.drop_database('e2e_src')
        for name, docs in artifacts.mongo_documents().items():
            client['e2e_src'][name].insert_many(docs)
        return 'e2e_src', lambda db: dict((name, sorted(client[db][name].find(), key=lambda doc: doc['_id']))
                                          for name in sorted(client[db].list_collection_names()))
    redis_client(server, 0).mset({'e2e:a': '1', 'e2e:b': b'\x00\x01'})
    redis_client(server, 0).set('e2e:ttl', 'x', ex=3600)
    # Compare by type and value: DUMP bytes of a hash or set depend on the order its
    # table was filled, which a restore does not reproduce.
    return '0', lambda db: dict((key, redis_value(redis_client(server, int(db)), key)[:2])
                                for key in sorted(redis_client(server, int(db)).keys('*')))


@pytest.mark.parametrize('engine', sorted(CASES))
def test_db_backup_artifacts_verify_and_restore(engine, request, tmp_path, age_key):
    """db_backup -> backup_verify with a restore test -> db_restore of the latest verified, row by row."""
    if not (ROOT / 'plugins' / 'modules' / 'db_backup.py').exists():
        pytest.skip('db_backup is not in this tree yet')
    server = request.getfixturevalue(CASES[engine].fixture)
    database, rows = _seed_for_db_backup(engine, server)
    target = '8' if engine == 'redis' else 'e2e_copy'
    CASES[engine].drop(_Holder(server), target)
    dest = tmp_path / 'dest'
    backup_args = dict(server.target(), database=database, dest=str(dest), encryption_recipients=[age_key.recipient])
    backup, run = run_module('caretaker.maintenance.db_backup', backup_args)
    assert run.returncode == 0, backup['msg']
    key = str(age_key.identity_file)
    verify_args = dict(server.target(), path=backup['path'], identity_file=key, restore_test=True)
    verify, run = run_module('caretaker.maintenance.backup_verify', verify_args)
    assert verify['status'] == 'ok', verify['msg']
    result, run = run_module(MODULE, dict(server.target(), database=database, dest=str(dest), latest=True,
                                          identity_file=key, target_database=target))
    assert run.returncode == 0, result['msg']
    assert result['path'] == backup['path'] and result['counts_differ'] == {}
    assert rows(target) == rows(database)
    CASES[engine].drop(_Holder(server), target)


class _Holder:
    def __init__(self, server):
        self.server = server


# --- documentation -----------------------------------------------------------------


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('target_database', 'allow_unverified', 'clean', 'jobs', 'login_password',))


@pytest.fixture(scope='module')
def default_port_servers(tmp_path_factory):
    """The examples use the engines' standard ports, so start servers there."""
    ports = {'postgresql': 5432, 'mysql': 3306, 'redis': 6379}
    busy = [port for port in ports.values() if servers._port_open(port)]
    if busy:
        pytest.skip('default ports already in use on this machine: %s' % busy)
    base = tmp_path_factory.mktemp('default-ports')
    started = {}
    try:
        started['postgresql'] = servers.start_postgresql(base, port=5432)
        started['mysql'] = servers.start_mariadb(base, port=3306)
        started['redis'] = servers.start_redis(base, port=6379)
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_examples_run_as_written(default_port_servers, tmp_path, age_key):
    from ansible_collections.caretaker.maintenance.plugins.modules import db_restore
    pg, my, rd = default_port_servers['postgresql'], default_port_servers['mysql'], default_port_servers['redis']
    dest = tmp_path / 'backups'
    made = [artifacts.pg_artifact(pg, dest, 'appdb', artifacts.seed_postgresql(pg, 'appdb'), recipient=age_key.recipient),
            artifacts.mysql_artifact(my, dest, 'appdb', artifacts.seed_mysql(my, 'appdb'), tmp_path),
            artifacts.redis_artifact(dest, tmp_path, port=6379, database='0', compression='zstd')]
    for artifact in made:
        artifacts.mark_verified(artifact)
    facts = {'backup_dir': str(dest), 'backup_identity_file': str(age_key.identity_file), 'vault_pg_password': pg.password,
             'vault_mysql_password': my.password, 'vault_redis_password': rd.password}
    tasks = yaml.safe_load(db_restore.EXAMPLES)
    run = run_tasks([{'name': 'facts', 'ansible.builtin.set_fact': facts, 'no_log': True}] + tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.task(1)['method'] == 'pg_restore --jobs=4 from a 0600 temp file'
    assert artifacts.pg_rows(pg, 'appdb_restored') == artifacts.pg_rows(pg, 'appdb')
    assert run.task(2)['changed'] is True and run.task(2)['target_objects_before'] == 2
    assert run.task(3)['cleaned'] is True and run.task(3)['counts_differ'] == {}
    assert run.task(4)['target_database'] == '5' and run.task(4)['counts'] == {'db0': 7}
    for secret in (pg.password, my.password, rd.password):
        assert secret not in run.stdout
