"""db_backup against real PostgreSQL 15 and MariaDB 10.11 through real ansible-playbook runs:
round trips restored with pg_restore / psql / mariadb and compared row by row, encryption,
check mode, permissions, passwords that never show, temp-file cleanup and the series lock."""

import fcntl
import hashlib
import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.pipeline import open_artifact
from tests.support import age_cli, backup_data as data, dump_watch
from tests.support.playbook import run_module

MODULE = 'caretaker.maintenance.db_backup'
CONTRACT_KEYS = {'format_version', 'artifact', 'series', 'engine', 'host', 'port', 'database', 'dump_format',
                 'dump_tool', 'server_version', 'started_at', 'finished_at', 'duration_seconds', 'size', 'sha256',
                 'compression', 'compression_level', 'encryption', 'counts', 'verifications'}
AWKWARD_PASSWORD = 'it\'s a "pa$$word" with $HOME, spaces\\ and `ticks`'


def unique(prefix):
    return '%s_%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def pg_db(pg_server):
    """A fresh database filled with awkward data; dropped (with its restores) afterwards."""
    name = unique('bk')
    data.pg_create_database(pg_server, name)
    counts = data.pg_fill(pg_server, name)
    yield name, counts
    for suffix in ('', '_restored'):
        data.pg_drop_database(pg_server, name + suffix)


@pytest.fixture
def my_db(mysql_server):
    name = unique('bk')
    data.my_create_database(mysql_server, name)
    counts = data.my_fill(mysql_server, name)
    yield name, counts
    for suffix in ('', '_restored'):
        data.my_drop_database(mysql_server, name + suffix)


@pytest.fixture
def age_key(tmp_path):
    if not age_cli.AGE_KEYGEN:
        pytest.skip('age-keygen is not installed (apt-get install age)')
    path = tmp_path / 'backup-key.txt'
    proc = subprocess.run([age_cli.AGE_KEYGEN, '-o', str(path)], capture_output=True, text=True, check=True)
    public = [line.split(': ', 1)[1] for line in proc.stderr.splitlines() if line.startswith('Public key: ')][0]
    return str(path), public


def check_written(result, dest, counts, engine, dump_format, extension):
    """The artifact, its manifest and the result agree with each other and with docs/backups.md."""
    path = Path(result['path'])
    assert result['changed'] is True
    assert path.parent.parent == Path(dest)
    assert path.name.endswith('.' + extension)
    assert layout.artifact_time(path.name) is not None
    assert result['manifest'] == str(path) + '.manifest.json'
    raw = path.read_bytes()
    assert result['size'] == len(raw)
    assert result['sha256'] == hashlib.sha256(raw).hexdigest()
    on_disk = json.loads(Path(result['manifest']).read_text())
    assert on_disk == result['manifest_content']
    assert set(on_disk) == CONTRACT_KEYS
    assert on_disk['artifact'] == path.name and on_disk['series'] == path.parent.name == result['series']
    assert on_disk['engine'] == engine and on_disk['dump_format'] == dump_format
    assert on_disk['counts'] == counts
    assert on_disk['verifications'] == []
    assert on_disk['size'] == len(raw) and on_disk['sha256'] == result['sha256']
    # Modes: directories 0700, files 0600.
    for directory in (Path(dest), path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for item in (path, Path(result['manifest'])):
        assert stat.S_IMODE(item.stat().st_mode) == 0o600
    assert dump_watch.temp_files(path.parent) == []
    [listed] = layout.list_backups(str(path.parent))
    assert listed.path == str(path) and listed.manifest == on_disk
    return on_disk


@pytest.mark.parametrize('fmt,dump_format,extension', [('custom', 'pgdump', 'pgdump.zst'), ('plain', 'sql', 'sql.zst')])
def test_postgresql_round_trip(pg_server, pg_db, tmp_path, fmt, dump_format, extension):
    name, counts = pg_db
    dest = tmp_path / 'backups'
    args = dict(pg_server.target(), database=name, dest=str(dest), format=fmt)

    predicted, run = run_module(MODULE, args, check=True)
    assert run.returncode == 0, predicted
    assert predicted['changed'] is True
    assert predicted['path'].endswith('.' + extension) and Path(predicted['path']).parent.name == predicted['series']
    assert predicted['estimated_size'] > 1000000  # pg_database_size: a few MB even when nearly empty
    assert 'would write %s' % predicted['path'] in predicted['msg']
    assert not dest.exists(), 'check mode wrote something'

    result, run = run_module(MODULE, args)
    assert run.returncode == 0, result.get('msg')
    manifest = check_written(result, dest, counts, 'postgresql', dump_format, extension)
    assert manifest['dump_tool'].startswith('pg_dump (PostgreSQL) 15.')
    assert manifest['server_version'].startswith('15.')
    assert manifest['compression'] == 'zstd' and manifest['compression_level'] == 3
    assert manifest['encryption'] is None
    assert (manifest['host'], manifest['port'], manifest['database']) == ('127.0.0.1', pg_server.port, name)

    data.pg_restore(pg_server, result['path'], name + '_restored')
    assert data.pg_rows(pg_server, name + '_restored') == data.pg_rows(pg_server, name)
    assert pg_server.password not in run.stdout + run.stderr


def test_mysql_round_trip(mysql_server, my_db, tmp_path):
    name, counts = my_db
    dest = tmp_path / 'backups'
    args = dict(mysql_server.target(), database=name, dest=str(dest), compression='gzip', compression_level=9)
    predicted, run = run_module(MODULE, args, check=True)
    assert run.returncode == 0, predicted
    assert predicted['estimated_size'] > 0 and predicted['path'].endswith('.sql.gz')
    assert not dest.exists()

    result, run = run_module(MODULE, args)
    assert run.returncode == 0, result.get('msg')
    manifest = check_written(result, dest, counts, 'mysql', 'sql', 'sql.gz')
    assert 'MariaDB' in manifest['dump_tool'] and 'MariaDB' in manifest['server_version']
    assert manifest['compression'] == 'gzip' and manifest['compression_level'] == 9

    data.my_restore(mysql_server, result['path'], name + '_restored')
    assert data.my_rows(mysql_server, name + '_restored') == data.my_rows(mysql_server, name)
    assert data.my_routines(mysql_server, name + '_restored') == {
        'triggers': ['touch'], 'routines': ['add_one'], 'events': ['nightly']}
    assert mysql_server.password not in run.stdout + run.stderr


def test_postgresql_globals(pg_server, tmp_path):
    result, run = run_module(MODULE, dict(pg_server.target(), format='globals', compression='none',
                                          dest=str(tmp_path)))
    assert run.returncode == 0, result.get('msg')
    assert result['series'] == 'postgresql-127.0.0.1-%d-_globals' % pg_server.port
    assert result['path'].endswith('.pgglobals.sql')
    assert result['estimated_size'] is None and result['required_free_bytes'] is None
    text = Path(result['path']).read_text()
    assert 'CREATE ROLE postgres;' in text
    assert result['manifest_content']['dump_tool'].startswith('pg_dumpall (PostgreSQL) 15.')
    assert result['manifest_content']['counts'] == {}


def test_encrypted_to_a_recipient_round_trip(pg_server, pg_db, tmp_path, age_key):
    """Only the public key is on the database host; the age CLI (and our reader) decrypt with the private one."""
    name, counts = pg_db
    identity, public = age_key
    result, run = run_module(MODULE, dict(pg_server.target(), database=name, dest=str(tmp_path / 'b'),
                                          encryption_recipients=[public]))
    assert run.returncode == 0, result.get('msg')
    manifest = check_written(result, tmp_path / 'b', counts, 'postgresql', 'pgdump', 'pgdump.zst.age')
    assert manifest['encryption'] == {'type': 'age-x25519', 'recipients': [public]}
    assert Path(result['path']).read_bytes().startswith(b'age-encryption.org/v1\n')

    data.pg_restore(pg_server, result['path'], name + '_restored', identity_file=identity)
    assert data.pg_rows(pg_server, name + '_restored') == data.pg_rows(pg_server, name)
    # The Debian tools read it too: age -d | zstd -d | pg_restore --list.
    listing = subprocess.run('age -d -i %s %s | zstd -dc | pg_restore --list' % (identity, result['path']),
                             shell=True, capture_output=True, text=True, check=False)
    assert listing.returncode == 0, listing.stderr
    assert 'TABLE DATA public customers' in listing.stdout


def test_encrypted_with_a_passphrase_round_trip(mysql_server, my_db, tmp_path):
    name, counts = my_db
    passphrase_file = tmp_path / 'passphrase'
    passphrase = 'a "long" passphrase with $dollars and \'quotes\''
    passphrase_file.write_text(passphrase + '\n')
    passphrase_file.chmod(0o600)
    result, run = run_module(MODULE, dict(mysql_server.target(), database=name, dest=str(tmp_path / 'b'),
                                          encryption_passphrase_file=str(passphrase_file)))
    assert run.returncode == 0, result.get('msg')
    manifest = check_written(result, tmp_path / 'b', counts, 'mysql', 'sql', 'sql.zst.age')
    assert manifest['encryption'] == {'type': 'age-scrypt'}
    assert passphrase not in run.stdout + run.stderr

    data.my_restore(mysql_server, result['path'], name + '_restored', passphrase_file=str(passphrase_file))
    assert data.my_rows(mysql_server, name + '_restored') == data.my_rows(mysql_server, name)
    if age_cli.AGE:
        # The age CLI asks for the passphrase on its terminal: answer it through a pty.
        status, terminal = age_cli.run_with_passphrase(['-d', '-o', str(tmp_path / 'dump.sql.zst'), result['path']],
                                                       passphrase.encode())
        assert status == 0, terminal
        plain = subprocess.run(['zstd', '-dc', str(tmp_path / 'dump.sql.zst')], capture_output=True, check=True).stdout
        assert plain == b''.join(open_artifact(result['path'], passphrase_file=str(passphrase_file)))
        assert b'CREATE TABLE `customers`' in plain


@pytest.mark.parametrize('engine', ['postgresql', 'mysql'])
def test_awkward_password_works_and_never_shows(engine, pg_server, mysql_server, tmp_path):
    """A login whose password has quotes, spaces, backslash and $, sampled from every process's
    command line while the dump tool runs (held at a table lock so the sample cannot miss it)."""
    server = pg_server if engine == 'postgresql' else mysql_server
    name, user = unique('pw'), unique('pwuser')
    holder = None
    if engine == 'postgresql':
        data.pg_create_database(server, name)
        with data.pg_session(server, name) as cur:
            cur.execute('CREATE ROLE %s LOGIN PASSWORD %%s' % user, (AWKWARD_PASSWORD,))
            cur.execute('CREATE TABLE t (id int PRIMARY KEY, v text)')
            cur.execute("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g")
            cur.execute('GRANT SELECT ON t TO %s' % user)
        holder = data.pg_connect(server, name)
        holder.autocommit = False
        holder.cursor().execute('LOCK TABLE t IN ACCESS EXCLUSIVE MODE')
    else:
        data.my_create_database(server, name)
        with data.my_session(server, name) as cur:
            cur.execute("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY %%s" % user, (AWKWARD_PASSWORD,))
            cur.execute("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `%s`.* TO '%s'@'127.0.0.1'"
                        % (name, user))
            cur.execute('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)')
            cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        holder = data.my_connect(server, name)
        holder.cursor().execute('LOCK TABLES t WRITE')
    dest, private_tmp = tmp_path / 'b', tmp_path / 'tmp'
    private_tmp.mkdir()
    try:
        run = dump_watch.BackgroundRun(dict(server.target(), login_user=user, login_password=AWKWARD_PASSWORD,
                                            database=name, dest=str(dest)), env={'TMPDIR': str(private_tmp)})
        module_pid = dump_watch.wait_for('the module', lambda: dump_watch.module_process(run.marker))
        dump_watch.wait_for('the dump tool', lambda: dump_watch.dump_tool_of(module_pid))
        for sample in range(20):
            assert AWKWARD_PASSWORD.encode() not in dump_watch.all_cmdlines()
        for option_file in private_tmp.glob('caretaker-dump-*'):  # mysqldump's, if it has not started writing yet
            assert stat.S_IMODE(option_file.stat().st_mode) == 0o600
    finally:
        if engine == 'postgresql':
            holder.rollback()
        holder.close()
    result, playbook = run.join()
    assert playbook.returncode == 0, result.get('msg')
    assert result['manifest_content']['counts'] == ({'public.t': 100} if engine == 'postgresql' else {'t': 2})
    assert AWKWARD_PASSWORD not in playbook.stdout + playbook.stderr
    assert list(private_tmp.glob('caretaker-dump-*')) == [], 'the option file outlived the dump'
    if engine == 'postgresql':
        data.pg_drop_database(server, name)
        with data.pg_session(server, 'postgres') as cur:
            cur.execute('DROP ROLE %s' % user)
    else:
        data.my_drop_database(server, name)
        with data.my_session(server) as cur:
            cur.execute("DROP USER '%s'@'127.0.0.1'" % user)


def test_stale_temp_files_are_listed_in_check_mode_and_removed(pg_server, tmp_path):
    args = dict(pg_server.target(), database='appdb', dest=str(tmp_path))
    series = dump_watch.series_dir(tmp_path, pg_server, 'appdb')
    series.mkdir(mode=0o700)
    stale = series / ('.%s-20260101T000000Z.pgdump.zst.abc123.tmp' % series.name)
    stale.write_bytes(b'half a dump')
    foreign = series / 'notes.txt'
    foreign.write_text('not ours')
    predicted = run_module(MODULE, args, check=True)[0]
    assert predicted['removed_temp_files'] == [str(stale)] and stale.exists()
    result = run_module(MODULE, args)[0]
    assert result['removed_temp_files'] == [str(stale)]
    assert not stale.exists() and foreign.exists()


def test_same_second_backups_get_distinct_names(pg_server, tmp_path):
    args = dict(pg_server.target(), database='appdb', dest=str(tmp_path))
    run = dump_watch.BackgroundRun(args)
    first = run_module(MODULE, args)[0]
    second = run.join()[0]
    assert not first.get('failed') or 'another db_backup of this series is running' in first['msg']
    assert not second.get('failed') or 'another db_backup of this series is running' in second['msg']
    third = run_module(MODULE, args)[0]
    fourth = run_module(MODULE, args)[0]
    names = [Path(result['path']).name for result in (first, second, third, fourth) if not result.get('failed')]
    assert len(names) == len(set(names))
    assert len(layout.list_backups(str(dump_watch.series_dir(tmp_path, pg_server, 'appdb')))) == len(names)


def test_a_running_backup_of_the_series_blocks_another(pg_server, tmp_path):
    series = dump_watch.series_dir(tmp_path, pg_server, 'appdb')
    series.mkdir(mode=0o700, parents=True)
    fd = os.open(str(series), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result, run = run_module(MODULE, dict(pg_server.target(), database='appdb', dest=str(tmp_path)))
    finally:
        os.close(fd)
    assert run.returncode != 0
    assert 'another db_backup of this series is running' in result['msg'] and str(series) in result['msg']
    assert dump_watch.files(series) == []


@pytest.mark.parametrize('options,message', [
    ({'engine': 'mysql', 'format': 'custom'}, 'format custom is not a MySQL dump format'),
    ({'format': 'directory'}, 'format directory is not a PostgreSQL dump format'),
    ({'compression_level': 30}, 'compression_level for zstd must be 1 to 22, got 30'),
    ({'dest': 'relative/dir'}, 'dest must be an absolute directory path'),
    ({'encryption_recipients': ['age1notakey']}, "encryption_recipients[0] 'age1notakey' is not an age X25519 public key"),
    ({'encryption_recipients': ['age1x'], 'encryption_passphrase_file': '/x'}, 'mutually exclusive'),
    ({'encryption_passphrase_file': '/nonexistent/pass'}, 'encryption_passphrase_file /nonexistent/pass cannot be read'),
    ({'free_space_factor': -1}, 'free_space_factor must be 0 or more'),
    ({'database': None}, 'database is required to back up PostgreSQL'),
    ({'redis_method': 'bgsave'}, 'redis_method applies only to engine redis: unset it for engine postgresql'),
])
def test_bad_options_fail_with_the_option_named(pg_server, mysql_server, tmp_path, options, message):
    server = mysql_server if options.get('engine') == 'mysql' else pg_server
    args = dict(server.target(), dest=str(tmp_path / 'b'))
    args.update(options)
    args = dict((key, value) for key, value in args.items() if value is not None)
    result, run = run_module(MODULE, args)
    assert run.returncode != 0
    assert message in result['msg']
    assert not (tmp_path / 'b').exists()
