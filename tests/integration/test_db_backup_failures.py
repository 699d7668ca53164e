"""db_backup failures leave neither artifact nor manifest nor temp file, and say why:
the server killed mid-dump, the dump tool failing, a full disk, the free-space pre-flight,
and SIGTERM to the module. Real servers, real ansible-playbook runs."""

import os
import shutil
import signal
import subprocess
import uuid

import pytest

from tests.support import backup_data as data, dump_watch, servers
from tests.support.playbook import run_module

MODULE = 'caretaker.maintenance.db_backup'
BIG_MB = 60  # random bytes: the dump runs long enough to be stopped while data flows


def unique(prefix):
    return '%s_%s' % (prefix, uuid.uuid4().hex[:8])


def private_tmp(tmp_path):
    """A TMPDIR of the test's own, so the module's option files can be looked for there alone."""
    path = tmp_path / 'tmp'
    path.mkdir(exist_ok=True)
    return {'TMPDIR': str(path)}


def assert_nothing_left(dest, series, env=None, tool=None):
    """No artifact, no manifest, no temp file; neither the dump tool nor its option file outlives the run."""
    assert dump_watch.files(series) == [], 'left in %s: %s' % (series, dump_watch.files(series))
    leftovers = [path for path in dest.rglob('*') if path.is_file()] if dest.exists() else []
    assert leftovers == []
    if tool is not None:
        assert dump_watch.state(tool) is None, 'the dump tool %d is still there' % tool
    if env is not None:
        assert list(servers.Path(env['TMPDIR']).glob('caretaker-dump-*')) == []


@pytest.fixture
def own_server(request, tmp_path_factory):
    """A server of its own, for a test that kills it."""
    engine = request.param
    start = servers.start_postgresql if engine == 'postgresql' else servers.start_mariadb
    server = start(tmp_path_factory.mktemp('doomed-' + engine))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize('own_server', ['postgresql', 'mysql'], indirect=True)
def test_server_killed_mid_dump(own_server, tmp_path):
    server = own_server
    if server.engine == 'postgresql':
        data.pg_big_table(server, server.database, 'big', BIG_MB)
        expected = ('pg_dump exited with status 1', 'server closed the connection unexpectedly')
    else:
        data.my_big_table(server, server.database, 'big', BIG_MB)
        expected = ('mariadb-dump exited with status', 'Lost connection to server during query')
    dest = tmp_path / 'b'
    series = dump_watch.series_dir(dest, server, server.database)
    env = private_tmp(tmp_path)
    run = dump_watch.BackgroundRun(dict(server.target(), dest=str(dest), free_space_factor=0), env=env)
    module_pid, tool = dump_watch.stop_dump_mid_stream(run, series)
    assert dump_watch.temp_files(series), 'no temp file while dumping'

    def kill_server():
        if server.engine == 'postgresql':
            os.killpg(server.pid, signal.SIGKILL)  # the postmaster and every backend
        else:
            os.kill(server.pid, signal.SIGKILL)
    killer = dump_watch.threading.Thread(target=kill_server)
    killer.start()
    killer.join()
    dump_watch.wait_for('the server to die', lambda: not server.alive())
    os.kill(tool, signal.SIGCONT)
    result, playbook = run.join()
    assert playbook.returncode != 0
    assert result['failed'] is True
    for text in expected:
        assert text in result['msg'], result['msg']
    assert result['msg'].startswith('%s@127.0.0.1:%d/%s: ' % (server.engine, server.port, server.database))
    assert server.password not in playbook.stdout + playbook.stderr
    assert_nothing_left(dest, series, env, tool)


@pytest.mark.parametrize('encrypted', [False, True], ids=['plain', 'age-recipient'])
def test_sigterm_to_the_module_mid_dump(pg_server, tmp_path, encrypted):
    """SIGTERM to the AnsiballZ python process: the module unwinds, kills pg_dump, removes the temp file."""
    name = unique('term')
    data.pg_create_database(pg_server, name)
    data.pg_big_table(pg_server, name, 'big', BIG_MB)
    dest = tmp_path / 'b'
    series = dump_watch.series_dir(dest, pg_server, name)
    args = dict(pg_server.target(), database=name, dest=str(dest), free_space_factor=0)
    if encrypted:
        import pyrage
        args['encryption_recipients'] = [str(pyrage.x25519.Identity.generate().to_public())]
    env = private_tmp(tmp_path)
    try:
        run = dump_watch.BackgroundRun(args, env=env)
        module_pid, tool = dump_watch.stop_dump_mid_stream(run, series)
        os.kill(module_pid, signal.SIGTERM)
        result, playbook = run.join()
        assert playbook.returncode != 0
        assert result['msg'] == 'db_backup was interrupted by SIGTERM: no artifact or manifest was kept'
        assert_nothing_left(dest, series, env, tool)
    finally:
        data.pg_drop_database(pg_server, name)


def test_dump_tool_failing_postgresql(pg_server, tmp_path):
    """A role that may read the table but not its sequence: pg_dump itself fails."""
    name, user = unique('fail'), unique('reader')
    data.pg_create_database(pg_server, name)
    with data.pg_session(pg_server, name) as cur:
        cur.execute("CREATE ROLE %s LOGIN PASSWORD 'pw-%s'" % (user, user))
        cur.execute('CREATE TABLE t (id serial PRIMARY KEY)')
        cur.execute('GRANT SELECT ON t TO %s' % user)
    dest, env = tmp_path / 'b', private_tmp(tmp_path)
    try:
        result, run = run_module(MODULE, dict(pg_server.target(), login_user=user, login_password='pw-' + user,
                                              database=name, dest=str(dest)), env=env)
    finally:
        data.pg_drop_database(pg_server, name)
        with data.pg_session(pg_server, 'postgres') as cur:
            cur.execute('DROP ROLE %s' % user)
    assert run.returncode != 0
    assert 'pg_dump exited with status 1: pg_dump: error: query failed: ERROR: permission denied for sequence t_id_seq' \
        in result['msg']
    assert 'pw-' + user not in run.stdout + run.stderr
    assert_nothing_left(dest, dump_watch.series_dir(dest, pg_server, name), env)


def test_dump_tool_failing_mysql(mysql_server, tmp_path):
    """A user with SELECT only: mariadb-dump cannot read the events and fails."""
    name, user = unique('fail'), unique('reader')
    data.my_create_database(mysql_server, name)
    with data.my_session(mysql_server, name) as cur:
        cur.execute("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY 'pw-%s'" % (user, user))
        cur.execute("GRANT SELECT ON `%s`.* TO '%s'@'127.0.0.1'" % (name, user))
        cur.execute('CREATE TABLE t (id INT)')
    dest, env = tmp_path / 'b', private_tmp(tmp_path)
    try:
        result, run = run_module(MODULE, dict(mysql_server.target(), login_user=user, login_password='pw-' + user,
                                              database=name, dest=str(dest)), env=env)
    finally:
        data.my_drop_database(mysql_server, name)
        with data.my_session(mysql_server) as cur:
            cur.execute("DROP USER '%s'@'127.0.0.1'" % user)
    assert run.returncode != 0
    assert "exited with status 2: mariadb-dump: Couldn't execute 'show events': Access denied" in result['msg']
    assert 'pw-' + user not in run.stdout + run.stderr
    assert_nothing_left(dest, dump_watch.series_dir(dest, mysql_server, name), env)


@pytest.mark.parametrize('engine', ['postgresql', 'mysql'])
def test_missing_database(engine, pg_server, mysql_server, tmp_path):
    server = pg_server if engine == 'postgresql' else mysql_server
    dest = tmp_path / 'b'
    result, run = run_module(MODULE, dict(server.target(), database='no_such_db', dest=str(dest)))
    assert run.returncode != 0
    assert result['msg'].startswith('%s@127.0.0.1:%d/no_such_db: cannot connect: ' % (engine, server.port))
    assert 'no_such_db' in result['msg'].split('cannot connect: ', 1)[1]
    assert not dest.exists()


def test_free_space_preflight(pg_server, tmp_path):
    dest = tmp_path / 'b'
    result, run = run_module(MODULE, dict(pg_server.target(), database='appdb', dest=str(dest),
                                          free_space_factor=1e9))
    assert run.returncode != 0
    assert result['msg'].startswith('not enough free space in dest %s: ' % dest)
    for text in ('free, the backup needs about', 'database appdb is', 'x free_space_factor 1e+09',
                 'lower free_space_factor'):
        assert text in result['msg']
    assert not dest.exists()
    # Check mode predicts the same failure.
    predicted, run = run_module(MODULE, dict(pg_server.target(), database='appdb', dest=str(dest),
                                             free_space_factor=1e9), check=True)
    assert run.returncode != 0
    assert predicted['msg'].startswith('not enough free space in dest %s: ' % dest)
    assert 'x free_space_factor 1e+09' in predicted['msg']


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs, mounted as root and unmounted afterwards."""
    if os.geteuid() != 0 or not shutil.which('mount'):
        pytest.skip('mounting a tmpfs needs root')
    mountpoint = tmp_path / 'tiny'
    mountpoint.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(['umount', str(mountpoint)], check=True)


def test_disk_full(pg_server, small_tmpfs):
    name = unique('full')
    data.pg_create_database(pg_server, name)
    data.pg_big_table(pg_server, name, 'big', 5)  # about 5 MB of random bytes: cannot fit in 2 MiB
    dest = small_tmpfs / 'backups'
    series = dump_watch.series_dir(dest, pg_server, name)
    try:
        # The pre-flight sees it first with the default factor...
        result, run = run_module(MODULE, dict(pg_server.target(), database=name, dest=str(dest)))
        assert run.returncode != 0 and result['msg'].startswith('not enough free space in dest %s' % dest)
        assert not dest.exists()
        # ...and with the check off, the write runs out of space.
        result, run = run_module(MODULE, dict(pg_server.target(), database=name, dest=str(dest),
                                              free_space_factor=0))
    finally:
        data.pg_drop_database(pg_server, name)
    assert run.returncode != 0
    assert result['msg'].startswith('writing %s/' % series)
    assert 'No space left on device; nothing was kept (dest %s)' % dest in result['msg']
    assert_nothing_left(dest, series)
