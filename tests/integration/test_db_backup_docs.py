"""db_backup's documentation renders and its EXAMPLES run as written (default ports, the paths they name)."""

import os
import shutil
import socket
from pathlib import Path

import pytest
import yaml

from tests.support import servers
from tests.support.playbook import assert_ansible_doc_renders, run_tasks

EXAMPLE_DEST = Path('/var/backups/caretaker')
EXAMPLE_PASSPHRASE = Path('/etc/caretaker/backup-passphrase')


def _listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(('127.0.0.1', port)) == 0


def test_ansible_doc_renders():
    assert_ansible_doc_renders('caretaker.maintenance.db_backup', ('encryption_recipients', 'encryption_passphrase_file',
                                                                   'free_space_factor', 'login_password', 'manifest_content'))


@pytest.fixture(scope='module')
def example_host(tmp_path_factory):
    """PostgreSQL and MariaDB on their standard ports, and the paths the examples name."""
    if os.geteuid() != 0:
        pytest.skip('the examples write to /var/backups and read /etc/caretaker: run as root')
    busy = [str(port) for port in (5432, 3306) if _listening(port)]
    if busy:
        pytest.skip('default ports already in use on this machine: %s' % ', '.join(busy))
    if EXAMPLE_DEST.exists() or EXAMPLE_PASSPHRASE.parent.exists():
        pytest.skip('%s or %s already exists: not touching it' % (EXAMPLE_DEST, EXAMPLE_PASSPHRASE.parent))
    base = tmp_path_factory.mktemp('example-servers')
    started = {}
    try:
        started['postgresql'] = servers.start_postgresql(base, 5432)
        started['mysql'] = servers.start_mariadb(base, 3306)
        EXAMPLE_PASSPHRASE.parent.mkdir(mode=0o700)
        fd = os.open(str(EXAMPLE_PASSPHRASE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write('an example passphrase\n')
        yield started
    finally:
        for server in started.values():
            server.stop()
        shutil.rmtree(str(EXAMPLE_PASSPHRASE.parent), ignore_errors=True)
        shutil.rmtree(str(EXAMPLE_DEST), ignore_errors=True)


def test_examples_run_as_written(example_host):
    from ansible_collections.caretaker.maintenance.plugins.modules import db_backup
    tasks = yaml.safe_load(db_backup.EXAMPLES)
    secrets = {
        'vault_pg_password': example_host['postgresql'].password,
        'vault_mysql_password': example_host['mysql'].password,
    }
    run = run_tasks([{'name': 'secrets', 'ansible.builtin.set_fact': secrets, 'no_log': True}] + tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    pg = run.task(1)
    assert pg['changed'] is True and pg['path'].endswith('.pgdump.zst.age')
    assert pg['manifest_content']['encryption']['type'] == 'age-x25519'
    assert run.task(2)['msg'].startswith(pg['path'])
    assert run.task(3)['path'].endswith('.pgglobals.sql.gz')
    mysql = run.task(4)
    assert mysql['path'].endswith('.sql.zst.age') and mysql['manifest_content']['compression_level'] == 9
    assert mysql['manifest_content']['encryption'] == {'type': 'age-scrypt'}
    for secret in secrets.values():
        assert secret not in run.stdout
