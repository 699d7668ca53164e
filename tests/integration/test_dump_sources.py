"""The MongoDB and Redis dump sources, driven directly against real servers.

MongoDB: the tar opens with tarfile and GNU tar in mongodump's layout, every .bson decodes
to the documents inserted, the metadata is valid, and inserting it all into a fresh database
through pymongo gives back the same documents and indexes. The server is nx-27017 (a
MongoDB wire-protocol server over SQLite), so everything here is checked against it only.
Redis: the RDB passes redis-check-rdb and loads in a throwaway redis-server with every key,
value and expiry time equal, for BGSAVE and for both replication framings.
"""

import contextlib
import os
import secrets
import stat
import subprocess
import threading
import time

import bson
import pytest
from bson import json_util

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import dump_mongodb
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import DumpOptionError
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import ConnectionSpec, EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from tests.support import servers
from tests.support.artifacts import ArgvWatcher
from tests.support.backup_sources import (
    by_id, check_rdb, index_keys, mongo_client, mongo_fill, rdb_server, read_tar, redis_client, redis_fill, redis_state)


def engine_for(server, **overrides):
    options = dict(server.target(), **overrides)
    return get_engine(ConnectionSpec(**dict((key, value) for key, value in options.items() if value is not None)))


def dump_to_file(engine, path, **options):
    """Run one dump source to the end into ``path``; returns the source (closed)."""
    with engine:
        source = engine.dump_source(**options)
        with source, open(path, 'wb') as out:
            for chunk in source.chunks():
                assert isinstance(chunk, bytes)
                out.write(chunk)
    return source


# --- MongoDB -------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def mongo_data(mongo_server):
    return mongo_fill(mongo_server, 'dump_src')


def test_mongo_dump_is_mongodump_layout_and_round_trips(mongo_server, mongo_data, tmp_path):
    path = tmp_path / 'dump.tar'
    source = dump_to_file(engine_for(mongo_server, database='dump_src'), path)
    assert source.dump_format == 'mongo.tar' and source.series_database == 'dump_src'
    assert source.tool_version.startswith('pymongo ')
    assert source.counts == {'dump_src.users': 1200, 'dump_src.events': 2500, 'dump_src.empty': 0}
    files, order = read_tar(path)
    assert order == ['dump_src'] + ['dump_src/%s%s' % (name, suffix) for name in ('empty', 'events', 'users')
                                    for suffix in ('.metadata.json', '.bson')]
    for name, docs in mongo_data.items():
        assert by_id(bson.decode_all(files['dump_src/%s.bson' % name])) == by_id(docs)
        metadata = json_util.loads(files['dump_src/%s.metadata.json' % name].decode('utf-8'))
        assert metadata['collectionName'] == name and metadata['type'] == 'collection'
        assert [index['key'] for index in metadata['indexes']] == index_keys(name)

    # Restore through pymongo into a fresh database and compare everything.
    client = mongo_client(mongo_server)
    try:
        client.drop_database('dump_restored')
        target = client.dump_restored
        for name in mongo_data:
            metadata = json_util.loads(files['dump_src/%s.metadata.json' % name].decode('utf-8'))
            target.create_collection(name, **metadata.get('options', {}))
            docs = bson.decode_all(files['dump_src/%s.bson' % name])
            if docs:
                target[name].insert_many(docs)
            for index in metadata['indexes']:
                if index['name'] != '_id_':
                    target[name].create_index(list(index['key'].items()), unique=index.get('unique', False))
        for name, docs in mongo_data.items():
            assert by_id(target[name].find()) == by_id(docs)
            keys = [dict(index['key']) for index in target[name].list_indexes()]
            assert keys == index_keys(name)
        assert target.users.index_information()[[n for n in target.users.index_information() if n != '_id_'][0]]['unique']
    finally:
        client.drop_database('dump_restored')
        client.close()


@pytest.mark.usefixtures('mongo_data')
def test_mongo_tar_extracts_into_the_directory_mongorestore_reads(mongo_server, tmp_path):
    path = tmp_path / 'dump.tar'
    dump_to_file(engine_for(mongo_server, database='dump_src'), path)
    out = tmp_path / 'dump'
    out.mkdir()
    subprocess.run(['tar', '-xf', str(path), '-C', str(out)], check=True)
    found = sorted(str(item.relative_to(out)) for item in out.rglob('*') if item.is_file())
    assert found == ['dump_src/%s%s' % (name, suffix) for name in ('empty', 'events', 'users')
                     for suffix in ('.bson', '.metadata.json')]
    assert (out / 'dump_src' / 'empty.bson').stat().st_size == 0


@pytest.mark.usefixtures('mongo_data')
def test_mongo_all_databases_leave_out_the_system_ones(mongo_server, tmp_path):
    client = mongo_client(mongo_server)
    client.dump_other.things.insert_one({'_id': 1})
    try:
        source = dump_to_file(engine_for(mongo_server, database=None), tmp_path / 'all.tar')
    finally:
        client.drop_database('dump_other')
        client.close()
    assert source.series_database is None
    assert source.counts['dump_other.things'] == 1 and source.counts['dump_src.users'] == 1200
    databases = set(key.split('.', 1)[0] for key in source.counts)
    assert not databases & {'admin', 'local', 'config'}
    files, _order = read_tar(tmp_path / 'all.tar')
    assert 'dump_other/things.bson' in files and not any(name.startswith('admin/') for name in files)


@pytest.mark.usefixtures('mongo_data')
def test_mongo_include_and_exclude(mongo_server, tmp_path):
    source = dump_to_file(engine_for(mongo_server, database='dump_src'), tmp_path / 'a.tar', collections=['users', 'ev*'])
    assert sorted(source.counts) == ['dump_src.events', 'dump_src.users']
    source = dump_to_file(engine_for(mongo_server, database='dump_src'), tmp_path / 'b.tar',
                          exclude_collections=['dump_src.events', 'empty'])
    assert sorted(source.counts) == ['dump_src.users']
    assert sorted(read_tar(tmp_path / 'b.tar')[0]) == ['dump_src/users.bson', 'dump_src/users.metadata.json']
    source = dump_to_file(engine_for(mongo_server, database='dump_src'), tmp_path / 'c.tar', exclude_collections=['*'])
    assert source.counts == {} and 'nothing to back up' in source.messages[0]
    assert read_tar(tmp_path / 'c.tar') == ({}, [])


@pytest.mark.usefixtures('mongo_data')
def test_mongo_option_errors_name_the_option(mongo_server):
    with engine_for(mongo_server, database='dump_src') as engine:
        with pytest.raises(DumpOptionError, match='collections nope matched no collection in dump_src'):
            engine.dump_source(collections=['nope'])
    with engine_for(mongo_server, database='no_such_db') as engine:
        with pytest.raises(EngineError, match='database no_such_db has no collections .*check database'):
            engine.dump_source()


def spool_fd_modes(spool_root):
    """Permission bits of this process's open files that live in a spool directory under spool_root."""
    modes = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink('/proc/self/fd/%s' % fd)
            if target.startswith(str(spool_root) + os.sep):
                modes.append(stat.S_IMODE(os.stat('/proc/self/fd/%s' % fd).st_mode))
        except OSError:
            continue
    return modes


@pytest.mark.usefixtures('mongo_data')
def test_mongo_spool_is_private_and_removed(mongo_server, tmp_path, monkeypatch):
    monkeypatch.setattr(dump_mongodb, 'SPOOL_MEMORY', 4096)  # every non-trivial collection goes to disk
    spool_root = tmp_path / 'spool'
    spool_root.mkdir(mode=0o755)
    dir_modes, file_modes = set(), set()
    with engine_for(mongo_server, database='dump_src') as engine:
        with engine.dump_source(spool_dir=str(spool_root)) as source:
            for _chunk in source.chunks():
                for entry in os.listdir(spool_root):
                    dir_modes.add(stat.S_IMODE(os.stat(spool_root / entry).st_mode))
                file_modes.update(spool_fd_modes(spool_root))
    assert dir_modes == {0o700} and file_modes == {0o600}
    assert os.listdir(spool_root) == []


@pytest.mark.usefixtures('mongo_data')
def test_mongo_spool_is_removed_when_the_reader_stops_early(mongo_server, tmp_path):
    spool_root = tmp_path / 'spool'
    spool_root.mkdir()
    with engine_for(mongo_server, database='dump_src') as engine:
        source = engine.dump_source(spool_dir=str(spool_root))
        chunks = source.chunks()
        next(chunks)
        assert len(os.listdir(spool_root)) == 1
        source.close()
        source.close()  # idempotent
        chunks.close()
    assert os.listdir(spool_root) == []


def test_mongo_memory_does_not_grow_with_the_collection(mongo_server, tmp_path):
    import tracemalloc
    client = mongo_client(mongo_server)
    client.drop_database('dump_big')
    for start in range(0, 6000, 1000):
        client.dump_big.blobs.insert_many([{'_id': n, 'payload': os.urandom(10000)} for n in range(start, start + 1000)])
    try:
        with engine_for(mongo_server, database='dump_big') as engine:
            with engine.dump_source(spool_dir=str(tmp_path)) as source:
                tracemalloc.start()
                try:
                    total = sum(len(chunk) for chunk in source.chunks())
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
    finally:
        client.drop_database('dump_big')
        client.close()
    assert total > 60 * 1000 * 1000
    assert peak < 24 * 1024 * 1024, 'peak %d bytes for a %d-byte dump' % (peak, total)


def test_mongo_server_stopped_mid_dump_fails_and_leaves_nothing(tmp_path):
    server = servers.start_mongodb(tmp_path / 'server')
    try:
        client = mongo_client(server)
        client.appdb.a_first.insert_many([{'_id': n, 'x': 'y' * 100} for n in range(2000)])
        client.appdb.b_second.insert_many([{'_id': n} for n in range(10)])
        client.close()
        spool_root = tmp_path / 'spool'
        spool_root.mkdir()
        with engine_for(server, connect_timeout=1) as engine:
            with engine.dump_source(spool_dir=str(spool_root)) as source:
                chunks = source.chunks()
                seen = 0
                with pytest.raises(EngineError) as failure:
                    for chunk in chunks:
                        seen += len(chunk)
                        if seen > 100000 and server.alive():
                            server.stop()
        assert 'appdb' in str(failure.value) and 'b_second' in str(failure.value)
        assert source.counts == {'appdb.a_first': 2000} and os.listdir(spool_root) == []
    finally:
        server.stop()


# --- Redis ---------------------------------------------------------------------------------

@contextlib.contextmanager
def redis_config(server, **settings):
    """CONFIG SET for the duration of a test, then back to what it was."""
    client = redis_client(server)
    old = {}
    for name, value in settings.items():
        name = name.replace('_', '-')
        old[name] = client.config_get(name)[name]
        client.config_set(name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            client.config_set(name, value)
        client.close()


@pytest.mark.parametrize('method, diskless, transfer', [
    ('bgsave', None, 'file'),
    ('replica', 'yes', 'diskless'),
    ('replica', 'no', 'disk'),
])
def test_redis_rdb_loads_with_every_key_value_and_expiry(redis_server, tmp_path, method, diskless, transfer):
    counts = redis_fill(redis_server)
    expected = redis_state(lambda db: redis_client(redis_server, db))
    path = tmp_path / 'dump.rdb'
    settings = {} if diskless is None else {'repl_diskless_sync': diskless, 'repl_diskless_sync_delay': 0}
    with redis_config(redis_server, **settings), ArgvWatcher([redis_server.password]) as watcher:
        source = dump_to_file(engine_for(redis_server), path, redis_method=method)
    assert watcher.samples > 0 and watcher.found == []
    assert source.dump_format == 'rdb' and source.method == method and source.transfer == transfer
    version = redis_client(redis_server).info('server')['redis_version']
    assert source.tool_version == 'redis-server %s %s' % (version, 'BGSAVE' if method == 'bgsave' else 'replication sync (PSYNC)')
    assert source.counts == counts and source.messages == []
    assert path.read_bytes()[:9] == b'REDIS0010'
    check_rdb(path)
    with rdb_server(path, tmp_path / 'load') as client_for:
        assert redis_state(client_for) == expected


def test_redis_auto_uses_bgsave_for_a_local_server(redis_server):
    redis_fill(redis_server)
    with engine_for(redis_server) as engine:
        source = engine.dump_source()
        assert source.method == 'bgsave'
        assert source.rdb_path == os.path.join(redis_server.datadir, 'dump.rdb')
        source.close()


def test_redis_a_file_bgsave_did_not_write_is_refused_or_replaced_by_a_sync(redis_server, tmp_path):
    counts = redis_fill(redis_server)
    stale = tmp_path / 'stale.rdb'
    stale.write_bytes(b'REDIS0010 not this server')
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    with engine_for(redis_server) as engine:
        with pytest.raises(EngineError, match='was not rewritten by it, so it is not this server.s RDB file'):
            with engine.dump_source(redis_method='bgsave', redis_rdb_path=str(stale)) as source:
                list(source.chunks())
    with redis_config(redis_server, repl_diskless_sync_delay=0):
        source = dump_to_file(engine_for(redis_server), tmp_path / 'auto.rdb', redis_rdb_path=str(stale))
    assert source.method == 'replica' and source.counts == counts
    assert 'was not rewritten by BGSAVE' in source.messages[0]
    check_rdb(tmp_path / 'auto.rdb')


def test_redis_bgsave_wait_is_bounded(tmp_path):
    server = servers.start_redis(tmp_path / 'server')
    try:
        client = redis_client(server)
        for n in range(100):
            client.set('key%d' % n, n)
        client.config_set('rdb-key-save-delay', 100000)  # 100 ms per key: a 10 s save
        with engine_for(server) as engine:
            with engine.dump_source(redis_method='bgsave', redis_timeout=0.5) as source:
                with pytest.raises(EngineError, match=r'BGSAVE did not finish within redis_timeout=0.5s .*raise redis_timeout'):
                    list(source.chunks())
        client.close()
    finally:
        server.stop()


def test_redis_server_stopped_during_bgsave_fails(tmp_path):
    server = servers.start_redis(tmp_path / 'server')
    try:
        client = redis_client(server)
        for n in range(100):
            client.set('key%d' % n, n)
        client.config_set('rdb-key-save-delay', 100000)

        def stop_once_saving():
            watcher = redis_client(server)
            while watcher.info('persistence')['rdb_bgsave_in_progress'] != 1:
                time.sleep(0.01)
            server.stop()
        with engine_for(server) as engine:
            with engine.dump_source(redis_method='bgsave') as source:
                stopper = threading.Thread(target=stop_once_saving)
                stopper.start()
                with pytest.raises(EngineError, match='BGSAVE failed'):
                    list(source.chunks())
                stopper.join()
    finally:
        server.stop()


def test_redis_server_stopped_mid_sync_fails(tmp_path):
    server = servers.start_redis(tmp_path / 'server')
    try:
        client = redis_client(server)
        client.set('big', os.urandom(4 * 1024 * 1024))
        for n in range(200):
            client.set('key%d' % n, n)
        client.config_set('repl-diskless-sync-delay', 0)
        client.config_set('rdb-key-save-delay', 20000)  # 20 ms per key: the stream takes seconds
        with engine_for(server) as engine:
            with engine.dump_source(redis_method='replica') as source:
                with pytest.raises(EngineError, match='replication sync failed: (the server closed the connection|reading from the server failed)'):
                    for _chunk in source.chunks():
                        if server.alive():
                            server.stop()
    finally:
        server.stop()


def test_redis_bgsave_on_a_stopped_server_fails(tmp_path):
    server = servers.start_redis(tmp_path / 'server')
    try:
        with engine_for(server) as engine:
            source = engine.dump_source(redis_method='bgsave')
            server.stop()
            with source, pytest.raises(EngineError, match='cannot connect for the backup.*is the server running'):
                list(source.chunks())
    finally:
        server.stop()


def test_redis_acl_refusals_name_the_commands_and_auto_avoids_config(tmp_path):
    server = servers.start_redis(tmp_path / 'server')
    try:
        client = redis_client(server)
        redis_fill(server)
        client.config_set('repl-diskless-sync-delay', 0)
        password = secrets.token_urlsafe(12)
        for user, rules in (('nobgsave', ['-bgsave']), ('nosync', ['-psync', '-sync']), ('noconfig', ['-config'])):
            client.acl_setuser(user, enabled=True, passwords=['+' + password], keys=['*'], commands=['+@all'] + rules)
        client.close()
        with engine_for(server, login_user='nobgsave', login_password=password) as engine:
            with engine.dump_source(redis_method='bgsave') as source:
                with pytest.raises(EngineError, match='NOPERM.*give the user the bgsave and info commands, or use redis_method replica'):
                    list(source.chunks())
        with engine_for(server, login_user='nosync', login_password=password) as engine:
            with engine.dump_source(redis_method='replica') as source:
                with pytest.raises(EngineError, match='PSYNC: NOPERM.*give the user the replconf and psync commands, or use redis_method bgsave'):
                    list(source.chunks())
        with ArgvWatcher([password]) as watcher:
            source = dump_to_file(engine_for(server, login_user='noconfig', login_password=password), tmp_path / 'acl.rdb')
        assert watcher.found == []
        assert source.method == 'replica' and source.counts == {'db0': 13, 'db2': 5, 'db15': 1}
        check_rdb(tmp_path / 'acl.rdb')
    finally:
        server.stop()
