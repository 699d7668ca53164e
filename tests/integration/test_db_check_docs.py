"""db_check's documentation renders and its EXAMPLES run as written."""

import socket

import pytest
import yaml

from tests.support import servers
from tests.support.playbook import assert_ansible_doc_renders, run_tasks

DEFAULT_PORTS = {'postgresql': 5432, 'mysql': 3306, 'redis': 6379, 'mongodb': 27017}


def _listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(('127.0.0.1', port)) == 0


def test_ansible_doc_renders():
    assert_ansible_doc_renders('caretaker.maintenance.db_check', ('long_query_seconds', 'login_password', 'fail_on',))


@pytest.fixture(scope='module')
def default_port_servers(tmp_path_factory):
    """The examples name the engines' standard ports, so start servers there."""
    busy = [engine for engine, port in DEFAULT_PORTS.items() if _listening(port)]
    if busy:
        pytest.skip('default ports already in use on this machine: %s' % ', '.join(busy))
    base = tmp_path_factory.mktemp('default-ports')
    started = servers.start_all(base, ports=DEFAULT_PORTS)
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_examples_run_as_written(default_port_servers):
    from ansible_collections.caretaker.maintenance.plugins.modules import db_check
    tasks = yaml.safe_load(db_check.EXAMPLES)
    secrets = {
        'vault_pg_password': default_port_servers['postgresql'].password,
        'vault_mysql_password': default_port_servers['mysql'].password,
        'vault_redis_password': default_port_servers['redis'].password,
    }
    run = run_tasks([{'name': 'secrets', 'ansible.builtin.set_fact': secrets, 'no_log': True}] + tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    first = run.task(1)
    assert first['status'] == 'ok'
    second = run.task(2)
    engines = sorted(set(item['target'].split('@')[0] for item in second['checks']))
    assert engines == ['mongodb', 'mysql', 'postgresql', 'redis']
    assert second['status'] == 'ok'
    for secret in secrets.values():
        assert secret not in run.stdout


def test_module_defaults_action_group(redis_server):
    """Connection options set once for the group/caretaker.maintenance.caretaker action group."""
    defaults = {'engine': 'redis', 'login_host': '127.0.0.1', 'login_port': redis_server.port,
                'login_password': redis_server.password}
    run = run_tasks([{'name': 'check', 'caretaker.maintenance.db_check': {}}],
                    play_options={'module_defaults': {'group/caretaker.maintenance.caretaker': defaults}})
    result = run.task(0)
    assert result['status'] == 'ok'
    assert result['checks'][0]['target'] == 'redis@127.0.0.1:%d' % redis_server.port
