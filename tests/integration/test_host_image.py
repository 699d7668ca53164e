"""The host image of the molecule scenarios (tests/support/docker_engine.py, ensure_host_image):
one container with no network starts PostgreSQL, MariaDB, Redis, nx-27017 (the MongoDB
wire-protocol server the tests use for MongoDB) and the HTTP stand-in on its
own loopback, each server answers a query from inside, and the Python libraries the modules
import on a target are there at the versions requirements.txt asks for."""

import pytest

from tests.support import docker_engine as de
from tests.support import host_fixtures

SERVICES = ['postgresql', 'mariadb', 'redis', 'mongodb', 'http']


host_engine = host_fixtures.host_engine


@pytest.fixture(scope='module', name='host')
def host_fixture(host_engine):
    engine, image = host_engine
    with de.Containers(engine, image) as made:
        container = made.run('host', [de.HOST_ENTRYPOINT] + SERVICES)
        de.wait_for(lambda: _ready(container), timeout=120, what='the servers of the host container')
        yield container


def _ready(container):
    container.reload()
    if container.status != 'running':
        raise AssertionError('the host container stopped: %s' % container.logs().decode(errors='replace'))
    return container.exec_run(['cat', '/run/caretaker-host.ready']).exit_code == 0


def run(container, argv):
    result = container.exec_run(argv)
    output = result.output.decode(errors='replace').strip()
    assert result.exit_code == 0, output
    return output


def test_each_server_answers_on_loopback(host):
    assert run(host, ['runuser', '-u', 'postgres', '--', 'psql', '-Atc', 'select 40 + 2']) == '42'
    assert run(host, ['mariadb', '-N', '-B', '-e', 'select 40 + 2']) == '42'
    assert run(host, ['redis-cli', '-h', '127.0.0.1', 'ping']) == 'PONG'
    ping = 'import pymongo; print(pymongo.MongoClient("127.0.0.1", 27017, directConnection=True).admin.command("ping")["ok"])'
    assert run(host, ['python3', '-c', ping]) in ('1', '1.0')
    assert '"healthy"' in run(host, ['python3', '-c', 'import urllib.request; print(urllib.request.urlopen('
                                     '"http://127.0.0.1:8080/health").read().decode())'])


def test_servers_run_as_their_own_users_and_listen_on_loopback_only(host):
    users = dict(line.split(None, 1)[::-1] for line in run(host, ['ps', '-eo', 'user:20,comm']).splitlines()[1:])
    assert users.get('postgres') == 'postgres'
    assert users.get('mariadbd') == 'mysql'
    assert users.get('redis-server') == 'redis'
    # The server itself, not the runuser that started it and waits for it as root.
    mongodb = [line for line in run(host, ['ps', '-eo', 'user:20,args']).splitlines()
               if 'nx_27017' in line and 'runuser' not in line]
    assert mongodb and all(line.split()[0] == 'nobody' for line in mongodb), mongodb
    # /proc/net/tcp: local address column, state 0A = LISTEN; 0100007F is 127.0.0.1.
    listening = [line.split()[1] for line in run(host, ['cat', '/proc/net/tcp']).splitlines()[1:]
                 if line.split()[3] == '0A']
    assert listening and all(address.startswith('0100007F:') for address in listening), listening


def test_module_libraries_meet_the_requirements(host):
    versions = run(host, ['python3', '-c', 'import importlib.metadata as m; print(" ".join(m.version(n) for n in '
                          '("zstandard", "pymongo", "redis", "pyrage", "psycopg2", "PyMySQL", "cryptography")))'])
    zstandard, pymongo, redis, pyrage = versions.split()[:4]
    assert tuple(int(part) for part in zstandard.split('.')[:2]) >= (0, 22), versions
    assert int(pymongo.split('.')[0]) >= 4, versions
    assert tuple(int(part) for part in redis.split('.')[:2]) >= (4, 5), versions
    assert tuple(int(part) for part in pyrage.split('.')[:2]) >= (1, 2), versions
    run(host, ['python3', '-c', 'import pyrage, zstandard, pymongo, redis, psycopg2, pymysql, cryptography'])
