"""db_backup end to end for MongoDB (nx-27017) and Redis, through real ansible-playbook runs:
check mode, a real run, what the artifact holds after decompression, and a failure."""

import os

import bson
import pytest
from bson import json_util

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.pipeline import open_artifact
from tests.support.artifacts import ArgvWatcher
from tests.support.backup_sources import (
    by_id, check_rdb, index_keys, mongo_fill, rdb_server, read_tar, redis_client, redis_fill, redis_state)
from tests.support.playbook import run_module

MODULE = 'caretaker.maintenance.db_backup'


def unpack(artifact, out):
    with open(out, 'wb') as handle:
        for chunk in open_artifact(str(artifact)):
            handle.write(chunk)
    return out


def tree(path):
    return sorted(str(item.relative_to(path)) for item in path.rglob('*')) if path.exists() else []


def test_db_backup_mongodb(mongo_server, tmp_path):
    documents = mongo_fill(mongo_server, 'backup_e2e')
    dest = tmp_path / 'dest'
    args = dict(mongo_server.target(), database='backup_e2e', dest=str(dest))
    series = 'mongodb-127.0.0.1-%d-backup_e2e' % mongo_server.port

    result, _run = run_module(MODULE, args, check=True)
    assert not result.get('failed'), result.get('msg')
    assert result['series'] == series and result['path'].endswith('.mongo.tar.zst')
    assert result['estimated_size'] > 0 and tree(dest) == []

    result, _run = run_module(MODULE, args)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    manifest = result['manifest_content']
    assert manifest['dump_format'] == 'mongo.tar' and manifest['database'] == 'backup_e2e'
    assert manifest['dump_tool'].startswith('pymongo ') and manifest['verifications'] == []
    assert manifest['counts'] == {'backup_e2e.users': 1200, 'backup_e2e.events': 2500, 'backup_e2e.empty': 0}
    artifact = dest / series / manifest['artifact']
    assert oct(artifact.stat().st_mode & 0o777) == oct(0o600)

    files, _order = read_tar(unpack(artifact, tmp_path / 'dump.tar'))
    for name, docs in documents.items():
        assert by_id(bson.decode_all(files['backup_e2e/%s.bson' % name])) == by_id(docs)
        metadata = json_util.loads(files['backup_e2e/%s.metadata.json' % name].decode('utf-8'))
        assert [index['key'] for index in metadata['indexes']] == index_keys(name)


def test_db_backup_mongodb_of_a_missing_database_fails_and_keeps_nothing(mongo_server, tmp_path):
    dest = tmp_path / 'dest'
    result, _run = run_module(MODULE, dict(mongo_server.target(), database='no_such_db', dest=str(dest)))
    assert result.get('failed') and 'database no_such_db has no collections' in result['msg']
    assert not [name for name in tree(dest) if not os.path.isdir(dest / name)]


@pytest.mark.parametrize('compression, suffix', [('zstd', '.rdb.zst'), ('none', '.rdb')])
def test_db_backup_redis(redis_server, tmp_path, compression, suffix):
    counts = redis_fill(redis_server)
    expected = redis_state(lambda db: redis_client(redis_server, db))
    dest = tmp_path / 'dest'
    args = dict(redis_server.target(), dest=str(dest), compression=compression)

    result, _run = run_module(MODULE, args, check=True)
    assert not result.get('failed'), result.get('msg')
    assert result['path'].endswith(suffix) and tree(dest) == []

    with ArgvWatcher([redis_server.password]) as watcher:
        result, _run = run_module(MODULE, args)
    assert watcher.samples > 0 and watcher.found == []
    assert not result.get('failed'), result.get('msg')
    assert redis_server.password not in str(result)
    manifest = result['manifest_content']
    assert manifest['dump_format'] == 'rdb' and manifest['counts'] == counts
    assert manifest['dump_tool'].endswith(' BGSAVE')  # a loopback server with its data dir on this host
    rdb = unpack(dest / result['series'] / manifest['artifact'], tmp_path / 'dump.rdb')
    check_rdb(rdb)
    with rdb_server(rdb, tmp_path / 'load') as client_for:
        assert redis_state(client_for) == expected


def test_db_backup_passes_the_mongodb_options(mongo_server, tmp_path):
    mongo_fill(mongo_server, 'backup_e2e_opts')
    spool = tmp_path / 'spool'
    spool.mkdir()
    args = dict(mongo_server.target(), database='backup_e2e_opts', dest=str(tmp_path / 'dest'),
                collections=['users', 'events'], exclude_collections=['events'], spool_dir=str(spool))
    result, _run = run_module(MODULE, args)
    assert not result.get('failed'), result.get('msg')
    assert result['manifest_content']['counts'] == {'backup_e2e_opts.users': 1200}
    assert os.listdir(spool) == []


def test_db_backup_redis_by_replication(redis_server, tmp_path):
    counts = redis_fill(redis_server)
    redis_client(redis_server).config_set('repl-diskless-sync-delay', 0)
    try:
        result, _run = run_module(MODULE, dict(redis_server.target(), dest=str(tmp_path / 'dest'),
                                               redis_method='replica', redis_timeout=600))
    finally:
        redis_client(redis_server).config_set('repl-diskless-sync-delay', 5)
    assert not result.get('failed'), result.get('msg')
    manifest = result['manifest_content']
    assert manifest['dump_tool'].endswith(' replication sync (PSYNC)') and manifest['counts'] == counts
    check_rdb(unpack(tmp_path / 'dest' / result['series'] / manifest['artifact'], tmp_path / 'dump.rdb'))
