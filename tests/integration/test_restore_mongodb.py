"""MongoDB backups restored through real ansible-playbook runs against nx-27017: empty
collections and indexes survive the round trip, an artifact of every database restores
database by database, a target that is not empty is refused before anything changes,
and a restore test leaves no scratch database behind.

The servers are this file's own, so a dump of every database holds only what it seeds."""

import io
import tarfile

import bson
import pytest
from bson import json_util

from tests.support import artifacts, servers
from tests.support.backup_sources import by_id
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

BACKUP, VERIFY, RESTORE = ('caretaker.maintenance.%s' % name for name in ('db_backup', 'backup_verify', 'db_restore'))
SCRATCH = 'caretaker_verify_'


def _serve(tmp_path_factory, name):
    server = servers.start_mongodb(tmp_path_factory.mktemp(name))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    yield from _serve(tmp_path_factory, 'mongo-source')


@pytest.fixture(scope='module')
def spare(tmp_path_factory):
    """A second server: the new machine a whole backup is restored onto."""
    yield from _serve(tmp_path_factory, 'mongo-spare')


def client_of(server):
    return artifacts.mongo_client(server)


def connection(server):
    """Connection options without a database: db_backup then dumps every database."""
    return dict((key, value) for key, value in server.target().items() if key != 'database')


def snapshot(server, prefix=''):
    """{database: {collection: documents by _id}} of the non-system databases."""
    client = client_of(server)
    return dict((db, dict((name, by_id(client[db][name].find())) for name in sorted(client[db].list_collection_names())))
                for db in sorted(client.list_database_names()) if db not in ('admin', 'local', 'config') and db.startswith(prefix))


def index_keys(server, database):
    db = client_of(server)[database]
    return dict((name, sorted(json_util.dumps(index['key']) for index in db[name].list_indexes()))
                for name in sorted(db.list_collection_names()))


def scratch_left(server):
    return [name for name in client_of(server).list_database_names() if name.startswith(SCRATCH)]


def drop_all(server):
    client = client_of(server)
    for name in client.list_database_names():
        if name not in ('admin', 'local', 'config'):
            client.drop_database(name)


def seed_two_databases(server):
    """alpha: users (unique index), an empty audit collection with an index and an empty notes
    collection without one (an index would create it on its own); beta: orders."""
    client = client_of(server)
    alpha, beta = client.alpha, client.beta
    alpha.users.insert_many([{'_id': n, 'email': 'u%d@example.test' % n, 'big': bson.Int64(n * 10 ** 12)} for n in range(1, 31)])
    alpha.users.create_index([('email', 1)], unique=True)
    alpha.create_collection('audit')
    alpha.audit.create_index([('at', -1)])
    alpha.create_collection('notes')
    beta.orders.insert_many([{'_id': bson.ObjectId(), 'user': n % 7, 'total': n * 1.5, 'items': ['x'] * (n % 3)} for n in range(45)])
    beta.orders.create_index([('user', 1), ('total', -1)])
    return snapshot(server)


def backup_task(server, dest, **extra):
    return {'name': 'backup', BACKUP: dict(connection(server), dest=str(dest), **extra), 'register': 'backup'}


def add_member(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def hand_made_artifact(tmp_path, port, collections, counts):
    """An artifact of every database from {(database, collection): (options, documents)}."""
    tar = tmp_path / 'hand.tar'
    with tarfile.open(tar, 'w') as archive:
        for (database, name), (options, docs) in collections.items():
            meta = {'options': options, 'indexes': [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}], 'collectionName': name}
            add_member(archive, '%s/%s.metadata.json' % (database, name), json_util.dumps(meta).encode())
            add_member(archive, '%s/%s.bson' % (database, name), b''.join(bson.encode(doc) for doc in docs))
    return artifacts.write_artifact(tmp_path / 'dest', 'mongodb', '127.0.0.1', port, None, 'mongo.tar', tar, counts=counts)


def test_a_database_with_an_empty_collection_and_indexes_round_trips(source, tmp_path):
    """db_backup -> backup_verify with a restore test -> db_restore, in one playbook."""
    drop_all(source)
    before = seed_two_databases(source)
    run = run_tasks([
        backup_task(source, tmp_path / 'dest', database='alpha'),
        {'name': 'verify', VERIFY: dict(connection(source), path='{{ backup.path }}', restore_test=True), 'ignore_errors': True},
        {'name': 'restore', RESTORE: dict(connection(source), path='{{ backup.path }}', target_database='alpha_copy',
                                          allow_unverified=True), 'ignore_errors': True},
    ])
    backup, verify, restored = run.task(0), run.task(1), run.task(2)
    assert backup['manifest_content']['counts'] == {'alpha.users': 30, 'alpha.audit': 0, 'alpha.notes': 0}
    counts = dict((item['name'], (item['status'], item['value'])) for item in verify['checks'] if item['name'].startswith('counts '))
    assert counts == {'counts alpha.audit': ('ok', 0), 'counts alpha.notes': ('ok', 0), 'counts alpha.users': ('ok', 30)}
    assert verify['status'] == 'ok', verify['msg']
    assert not restored.get('failed'), restored['msg']
    assert restored['counts'] == {'alpha.users': 30, 'alpha.audit': 0, 'alpha.notes': 0} and restored['counts_differ'] == {}
    assert '3 collections created (2 empty), 30 documents inserted, 2 indexes created' in restored['method']
    assert snapshot(source, 'alpha_copy')['alpha_copy'] == before['alpha']
    # nx-27017 names indexes itself, so the keys are compared, not the names.
    assert index_keys(source, 'alpha_copy') == index_keys(source, 'alpha')
    assert scratch_left(source) == []


def test_collections_are_created_with_the_options_of_their_metadata(source, tmp_path):
    drop_all(source)
    collections = {('opts', 'log'): ({'capped': True, 'size': 4096, 'max': 100}, [{'_id': n} for n in range(3)]),
                   ('opts', 'rules'): ({'validator': {'$jsonSchema': {'bsonType': 'object', 'required': ['a']}}}, [])}
    artifact = hand_made_artifact(tmp_path, source.port, collections, {'opts.log': 3, 'opts.rules': 0})
    result, run = run_module(RESTORE, dict(connection(source), path=str(artifact.path), target_database='opts_copy',
                                           allow_unverified=True))
    assert run.returncode == 0, result['msg']
    assert result['counts'] == {'opts.log': 3, 'opts.rules': 0} and result['counts_differ'] == {}
    assert sorted(client_of(source).opts_copy.list_collection_names()) == ['log', 'rules']


def test_capped_collection_options_survive_backup_and_restore(source, tmp_path):
    drop_all(source)
    db = client_of(source).capped_src
    db.create_collection('log', capped=True, size=4096, max=100)
    if not db.log.options().get('capped'):
        pytest.skip('nx-27017 accepts a capped collection but does not keep its options (listCollections reports '
                    'options {}), so they cannot survive a dump of it; the restore of options from metadata is '
                    'checked by test_collections_are_created_with_the_options_of_their_metadata')
    db.log.insert_many([{'_id': n} for n in range(5)])
    run = run_tasks([backup_task(source, tmp_path / 'dest', database='capped_src'),
                     {'name': 'restore', RESTORE: dict(connection(source), path='{{ backup.path }}', target_database='capped_copy',
                                                       allow_unverified=True)}])
    assert not run.task(1).get('failed'), run.task(1)['msg']
    options = client_of(source).capped_copy.log.options()
    assert options.get('capped') is True and options.get('max') == 100


def test_an_artifact_of_every_database_restores_each_under_its_own_name(source, spare, tmp_path):
    drop_all(source)
    drop_all(spare)
    before = seed_two_databases(source)
    admin_before = sorted(client_of(spare).admin.list_collection_names())
    run = run_tasks([
        backup_task(source, tmp_path / 'dest'),
        {'name': 'verify', VERIFY: dict(connection(spare), path='{{ backup.path }}', restore_test=True)},
    ])
    backup, verify = run.task(0), run.task(1)
    assert backup['manifest_content']['database'] is None
    assert sorted(backup['manifest_content']['counts']) == ['alpha.audit', 'alpha.notes', 'alpha.users', 'beta.orders']
    assert verify['status'] == 'ok', verify['msg']
    assert scratch_left(spare) == [] and snapshot(spare) == {}
    args = dict(connection(spare), path=backup['path'], target_database='*')

    planned, _run = run_module(RESTORE, args, check=True)
    assert planned['changed'] is True and planned['msg'].startswith('would restore into new mongodb *')
    assert planned['target_databases'] == {'alpha': 'alpha', 'beta': 'beta'} and planned['target_objects_before'] == 0
    assert snapshot(spare) == {}

    result, run = run_module(RESTORE, args)
    assert run.returncode == 0, result['msg']
    assert result['counts'] == {'alpha.users': 30, 'alpha.audit': 0, 'alpha.notes': 0, 'beta.orders': 45}
    assert result['counts_differ'] == {}
    assert result['target_databases'] == {'alpha': 'alpha', 'beta': 'beta'}
    assert snapshot(spare) == before  # document by document, every database
    assert index_keys(spare, 'alpha') == index_keys(source, 'alpha')
    assert index_keys(spare, 'beta') == index_keys(source, 'beta')
    assert sorted(client_of(spare).admin.list_collection_names()) == admin_before

    again, run = run_module(RESTORE, args)
    assert run.returncode != 0 and again['changed'] is False
    assert 'target_database * is not empty (database alpha holds 3 collections (audit, notes, users); database beta' in again['msg']

    one, run = run_module(RESTORE, dict(args, target_database='restored_*', source_database='beta'))
    assert run.returncode == 0, one['msg']
    assert one['counts'] == {'beta.orders': 45} and one['target_databases'] == {'beta': 'restored_beta'}
    assert snapshot(spare, 'restored_') == {'restored_beta': before['beta']}


def test_a_target_that_is_not_empty_is_refused_before_anything_changes(source, tmp_path):
    drop_all(source)
    before = seed_two_databases(source)
    backup = run_tasks([backup_task(source, tmp_path / 'dest')]).task(0)
    client_of(source).copy_beta.stray.insert_one({'_id': 1, 'keep': 'me'})
    state = snapshot(source)
    args = dict(connection(source), path=backup['path'], target_database='copy_*', allow_unverified=True)

    refused, run = run_module(RESTORE, args)
    assert run.returncode != 0 and refused['changed'] is False
    assert refused['msg'] == ('target_database copy_* is not empty (database copy_alpha does not exist; database copy_beta '
                              'holds 1 collection (stray)): set clean: true to replace its contents, or choose another '
                              'target_database')
    assert snapshot(source) == state  # copy_alpha, first in the artifact, was not created either

    cleaned, run = run_module(RESTORE, dict(args, clean=True))
    assert run.returncode == 0, cleaned['msg']
    assert cleaned['cleaned'] is True and cleaned['counts_differ'] == {}
    assert snapshot(source, 'copy_') == {'copy_alpha': before['alpha'], 'copy_beta': before['beta']}


def test_system_databases_and_bad_names_are_refused_or_left_alone(source, tmp_path):
    drop_all(source)
    collections = {('admin', 'planted'): ({}, [{'_id': 1}]), ('gamma', 'items'): ({}, [{'_id': n} for n in range(4)])}
    artifact = hand_made_artifact(tmp_path, source.port, collections, {'admin.planted': 1, 'gamma.items': 4})
    args = dict(connection(source), path=str(artifact.path), target_database='*', allow_unverified=True)
    result, run = run_module(RESTORE, args)
    assert run.returncode == 0, result['msg']
    assert result['target_databases'] == {'gamma': 'gamma'} and result['counts'] == {'gamma.items': 4}
    assert 'left out admin.planted' in result['method']
    assert 'planted' not in client_of(source).admin.list_collection_names()

    run = run_tasks([{RESTORE: dict(args, **extra), 'ignore_errors': True}
                     for extra in ({'source_database': 'admin'}, {'source_database': 'gama'}, {'target_database': 'a.*'})])
    refused = [run.task(index) for index in range(3)]
    assert all(result['failed'] and result['changed'] is False for result in refused)
    assert 'source_database admin is a system database' in refused[0]['msg']
    assert 'source_database gama is not in the artifact, which holds admin, gamma: check the name' in refused[1]['msg']
    assert "target_database a.* gives 'a.gamma' for database gamma, which MongoDB refuses (it holds '.')" in refused[2]['msg']
    assert snapshot(source) == {'gamma': {'items': [{'_id': n} for n in range(4)]}}


def test_a_failed_restore_test_of_every_database_drops_every_scratch(source, tmp_path):
    """The second database fails to insert (a duplicate _id) after the first was restored."""
    drop_all(source)
    collections = {('first', 'items'): ({}, [{'_id': n} for n in range(3)]),
                   ('second', 'items'): ({}, [{'_id': 1}, {'_id': 1}])}
    artifact = hand_made_artifact(tmp_path, source.port, collections, {'first.items': 3, 'second.items': 2})
    result, run = run_module(VERIFY, dict(connection(source), path=str(artifact.path), restore_test=True))
    assert run.returncode != 0 and result['status'] == 'critical'
    item = [check for check in result['checks'] if check['name'] == 'restore_test'][0]
    scratch = result['scratch_database']
    assert item['status'] == 'critical' and 'cannot insert into %s_2.items' % scratch in item['detail']
    assert item['detail'].endswith('scratch dropped') and result['scratch_dropped'] is True
    assert scratch_left(source) == []


def test_a_star_target_is_refused_for_other_engines(tmp_path, stopped_target):
    dump = tmp_path / 'dump.sql'
    dump.write_text('-- Dump completed on 2026-01-01\n')
    artifact = artifacts.write_artifact(tmp_path / 'dest', 'mysql', '127.0.0.1', 3306, 'appdb', 'sql', dump, counts={})
    result = run_module(RESTORE, dict(stopped_target('mysql'), path=str(artifact.path), target_database='*',
                                      allow_unverified=True))[0]
    assert result['changed'] is False
    assert result['msg'].startswith('target_database *: a * stands for the name of each database of a MongoDB artifact')


def test_the_documentation_says_where_each_database_goes():
    assert_ansible_doc_renders(RESTORE, ['restored_*', 'target_databases'])
    assert_ansible_doc_renders(VERIFY, ['caretaker_verify_<random>_1'])
