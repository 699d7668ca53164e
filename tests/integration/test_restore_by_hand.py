"""The README's "Restore without this collection" commands, run as written, against db_backup artifacts.

The lines come from README.md itself, so the README and this test cannot drift. Each one runs
in bash (with -e and pipefail, so a failing stage fails the line) in a directory that holds
artifacts made by db_backup under the very names the README uses, with the Debian age and zstd
and the database clients. The clients find their server where the README says they do: PGHOST,
PGPORT, PGUSER and PGPASSWORD in the environment, a 0600 ~/.my.cnf in a temporary HOME. age reads
a passphrase only from a terminal, so the passphrase line runs under a pty that answers it.

Two things cannot run as written on this machine. mongorestore is not packaged for Debian 12:
the MongoDB line runs up to it, and load_mongodump() below loads the extracted directory into
nx-27017 as ``mongorestore --dir`` would. /var/lib/redis/dump.rdb is the system Redis's file: the
Redis line writes to a temp directory's dump.rdb instead, which a throwaway redis-server loads.
What comes back is compared with the source row by row, document by document and key by key.
"""

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import bson
import pytest
from bson import json_util

from tests.support import age_cli, backup_data as data
from tests.support.backup_sources import (
    by_id, index_keys, mongo_client, mongo_fill, rdb_server, redis_client, redis_fill, redis_state)
from tests.support.playbook import run_module

README = Path(__file__).resolve().parents[2] / 'README.md'
SECTION = '## Restore without this collection'
MODULE = 'caretaker.maintenance.db_backup'
BASH = shutil.which('bash')
TARGET = 'appdb_restored'  # the README's target database
REDIS_FILE = '/var/lib/redis/dump.rdb'
PASSPHRASE = 'a restore passphrase with "quotes" and $dollars'
# One word that picks out each line of the README's block.
LINE_WORDS = ('A=', 'sha256sum', 'pg_restore', 'psql', 'mysql', 'mongorestore', '.rdb')

pytestmark = pytest.mark.skipif(not (age_cli.AGE and shutil.which('zstd') and shutil.which('jq')),
                                reason='the README commands need age, zstd and jq (apt-get install age zstd jq)')


def readme_lines():
    text = README.read_text(encoding='utf-8')
    section = text.split('\n%s\n' % SECTION, 1)[1].split('\n## ', 1)[0]
    block = section.split('```sh\n', 1)[1].split('\n```', 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def readme_line(word):
    """The one line of the README's block that holds ``word``."""
    found = [line for line in readme_lines() if word in line]
    assert len(found) == 1, 'expected one README line with %r, found %r' % (word, found)
    return found[0]


def artifact_names(line):
    """The artifact file names a README line reads (placeholders such as mysql-...-appdb-....sql.zst)."""
    names = []
    for token in line.split():
        token = re.sub(r'^[A-Z]+=', '', token.strip('"\''))
        if '$' not in token and '/' not in token and re.search(r'\.(pgdump|sql|mongo\.tar|rdb)\b', token):
            names.append(token)
    return names


def assert_named_like(readme_name, real_name, database):
    """A README name stands for real names: ``...`` for any part, X for any name, and the example's
    host, port, time and database for ours."""
    shape = re.sub(r'\d{8}T\d{6}Z', '...', readme_name).replace('-127.0.0.1-5432-', '-...-').replace('appdb', database)
    if shape.startswith('X.'):
        shape = '...' + shape[1:]
    pattern = '.+'.join(re.escape(part) for part in shape.split('...'))
    assert re.fullmatch(pattern, real_name), 'README name %s does not describe the artifact %s' % (readme_name, real_name)


def place(result, name, workdir):
    """Copy an artifact and its manifest into ``workdir`` under the README's name."""
    shutil.copyfile(result['path'], workdir / name)
    shutil.copyfile(result['manifest'], workdir / (name + '.manifest.json'))


def run_lines(lines, workdir, env):
    proc = subprocess.run([BASH, '-e', '-o', 'pipefail', '-c', '\n'.join(lines)], cwd=str(workdir), env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, 'README lines failed (%d):\n%s\n%s' % (proc.returncode, '\n'.join(lines), proc.stderr)
    return proc


def unique(prefix):
    return '%s_%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / 'restore'
    path.mkdir()
    return path


@pytest.fixture(scope='module')
def age_key(tmp_path_factory):
    """backup-key.txt, as the README calls it, and its public key."""
    path = tmp_path_factory.mktemp('keys') / 'backup-key.txt'
    proc = subprocess.run([age_cli.AGE_KEYGEN, '-o', str(path)], capture_output=True, text=True, check=True)
    return path, proc.stderr.split('Public key: ', 1)[1].split()[0]


def test_every_readme_line_is_run_here():
    lines = readme_lines()
    for line in lines:
        assert [word for word in LINE_WORDS if word in line], 'no test here runs the README line: %s' % line
    for word in LINE_WORDS:
        readme_line(word)


# --- PostgreSQL ----------------------------------------------------------------------------------

def filled_source(server, create, fill, drop):
    """A new database filled with awkward data, and no README target; both dropped afterwards."""
    name = unique('byhand')
    create(server, name)
    fill(server, name)
    drop(server, TARGET)
    yield name
    for database in (name, TARGET):
        drop(server, database)


@pytest.fixture
def pg_source(pg_server):
    yield from filled_source(pg_server, data.pg_create_database, data.pg_fill, data.pg_drop_database)


@pytest.mark.parametrize('fmt,words', [('custom', ('A=', 'sha256sum', 'pg_restore')), ('plain', ('psql',))])
def test_postgresql_restored_by_hand_with_the_age_key(pg_server, pg_source, age_key, workdir, fmt, words):
    identity, recipient = age_key
    result, run = run_module(MODULE, dict(pg_server.target(), database=pg_source, dest=str(workdir.parent / 'dest'),
                                          format=fmt, encryption_recipients=[recipient]))
    assert run.returncode == 0, result.get('msg')
    lines = [readme_line(word) for word in words]
    [name] = [name for line in lines for name in artifact_names(line)]
    assert_named_like(name, os.path.basename(result['path']), pg_source)
    place(result, name, workdir)
    shutil.copyfile(identity, workdir / 'backup-key.txt')

    run_lines(lines, workdir, data.pg_env(pg_server))
    assert data.pg_rows(pg_server, TARGET) == data.pg_rows(pg_server, pg_source)


def test_the_checksum_line_refuses_a_changed_artifact(pg_server, pg_source, age_key, workdir):
    result, run = run_module(MODULE, dict(pg_server.target(), database=pg_source, dest=str(workdir.parent / 'dest'),
                                          encryption_recipients=[age_key[1]]))
    assert run.returncode == 0, result.get('msg')
    lines = [readme_line('A='), readme_line('sha256sum')]
    [name] = artifact_names(lines[0])
    place(result, name, workdir)
    with open(workdir / name, 'r+b') as handle:
        handle.seek(-100, os.SEEK_END)
        byte = handle.read(1)
        handle.seek(-100, os.SEEK_END)
        handle.write(bytes([byte[0] ^ 1]))
    proc = subprocess.run([BASH, '-e', '-c', '\n'.join(lines)], cwd=str(workdir), capture_output=True, check=False)
    assert proc.returncode != 0


# --- MySQL / MariaDB, with a passphrase -------------------------------------------------------------

@pytest.fixture
def my_source(mysql_server):
    yield from filled_source(mysql_server, data.my_create_database, data.my_fill, data.my_drop_database)


def test_mysql_restored_by_hand_with_the_passphrase(mysql_server, my_source, workdir, monkeypatch):
    passphrase_file = workdir.parent / 'passphrase'
    passphrase_file.write_text(PASSPHRASE + '\n')
    passphrase_file.chmod(0o600)
    result, run = run_module(MODULE, dict(mysql_server.target(), database=my_source, dest=str(workdir.parent / 'dest'),
                                          encryption_passphrase_file=str(passphrase_file)))
    assert run.returncode == 0, result.get('msg')
    line = readme_line('mysql')
    [name] = artifact_names(line)
    assert_named_like(name, os.path.basename(result['path']), my_source)
    place(result, name, workdir)
    # The mysql client's own option file, where a README reader keeps the login.
    home = workdir.parent / 'home'
    home.mkdir(mode=0o700)
    with data.my_option_file(mysql_server) as option_file:
        shutil.copyfile(option_file, home / '.my.cnf')
    (home / '.my.cnf').chmod(0o600)
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.chdir(workdir)

    status, terminal = age_cli.run_with_passphrase(['-e', '-o', 'pipefail', '-c', line], PASSPHRASE.encode(),
                                                   program=BASH)
    assert status == 0, terminal
    assert 'passphrase' in terminal.lower()  # age asked, on the terminal
    assert data.my_rows(mysql_server, TARGET) == data.my_rows(mysql_server, my_source)
    assert data.my_routines(mysql_server, TARGET) == data.my_routines(mysql_server, my_source)


# --- MongoDB: the tar as the README extracts it, then what mongorestore --dir would do ---------------

def load_mongodump(client, directory):
    """Load a mongodump directory (``<db>/<file>.metadata.json`` and ``<db>/<file>.bson``) as
    ``mongorestore --dir`` does: each collection with its options, its documents and its indexes."""
    for database in sorted(path for path in Path(directory).iterdir() if path.is_dir()):
        for metadata_path in sorted(database.glob('*.metadata.json')):
            metadata = json_util.loads(metadata_path.read_text(encoding='utf-8'))
            assert metadata.get('type', 'collection') == 'collection', metadata
            collection = client[database.name].create_collection(metadata['collectionName'],
                                                                 **metadata.get('options', {}))
            with open(str(metadata_path)[:-len('.metadata.json')] + '.bson', 'rb') as handle:
                documents = list(bson.decode_file_iter(handle))
            if documents:
                collection.insert_many(documents)
            for index in metadata['indexes']:
                if index['name'] != '_id_':
                    options = dict((key, value) for key, value in index.items() if key not in ('key', 'v', 'ns'))
                    collection.create_index(list(index['key'].items()), **options)


def test_mongodb_restored_by_hand(mongo_server, workdir):
    source = unique('byhand')
    documents = mongo_fill(mongo_server, source)
    client = mongo_client(mongo_server)
    try:
        result, run = run_module(MODULE, dict(mongo_server.target(), database=source, dest=str(workdir.parent / 'dest')))
        assert run.returncode == 0, result.get('msg')
        line = readme_line('mongorestore')
        [name] = artifact_names(line)
        assert_named_like(name, os.path.basename(result['path']), source)
        place(result, name, workdir)
        client.drop_database(source)  # what comes back must come from the artifact

        extract, restore = line.split(' && mongorestore ', 1)
        assert restore == '--dir dump', 'the README runs mongorestore with other options than the loader follows'
        run_lines([extract], workdir, dict(os.environ))
        load_mongodump(client, workdir / 'dump')

        assert sorted(client[source].list_collection_names()) == sorted(documents)
        for collection, docs in documents.items():
            assert by_id(client[source][collection].find()) == by_id(docs)
            keys = [index['key'] for index in client[source][collection].list_indexes()]
            assert sorted(json_util.dumps(key) for key in keys) == sorted(json_util.dumps(key) for key in index_keys(collection))
    finally:
        client.drop_database(source)
        client.close()


# --- Redis: the RDB as the README writes it, loaded by a redis-server of its own ----------------------

def test_redis_restored_by_hand(redis_server, workdir):
    redis_fill(redis_server)
    expected = redis_state(lambda db: redis_client(redis_server, db))
    connection = dict((key, value) for key, value in redis_server.target().items() if key != 'database')
    result, run = run_module(MODULE, dict(connection, dest=str(workdir.parent / 'dest')))
    assert run.returncode == 0, result.get('msg')
    line = readme_line('.rdb')
    [name] = artifact_names(line)
    assert_named_like(name, os.path.basename(result['path']), 'all')
    place(result, name, workdir)
    assert REDIS_FILE in line
    rdb = workdir.parent / 'redis-dir' / 'dump.rdb'
    rdb.parent.mkdir()

    run_lines([line.replace(REDIS_FILE, str(rdb))], workdir, dict(os.environ))
    with rdb_server(rdb, workdir.parent / 'redis-load') as client_for:
        assert redis_state(client_for) == expected
