"""The throwaway servers really answer, through the drivers our modules use."""

import socket
import stat
from pathlib import Path

import psycopg2
import pymongo
import pymysql
import pytest
import redis

from tests.support import servers

PASSWORD_FIXTURES = ["pg_server", "mysql_server", "redis_server"]


def _cmdline(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _all_cmdlines():
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                yield _cmdline(proc.name)
            except OSError:
                pass  # exited while we looked


def _listening(port):
    try:
        with socket.create_connection((servers.HOST, port), timeout=1):
            return True
    except OSError:
        return False


def test_postgresql_answers(pg_server):
    conn = psycopg2.connect(host=pg_server.host, port=pg_server.port, user=pg_server.user,
                            password=pg_server.password, dbname=pg_server.database,
                            connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            assert cur.fetchone()[0].startswith("PostgreSQL 15")
    finally:
        conn.close()


def test_mysql_answers_over_tcp_with_password(mysql_server):
    conn = pymysql.connect(host=mysql_server.host, port=mysql_server.port,
                           user=mysql_server.user, password=mysql_server.password,
                           database=mysql_server.database, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            assert "MariaDB" in cur.fetchone()[0]
    finally:
        conn.close()


def test_mysql_rejects_wrong_password(mysql_server):
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        pymysql.connect(host=mysql_server.host, port=mysql_server.port,
                        user=mysql_server.user, password="wrong", connect_timeout=5)


def test_redis_answers_with_password_only(redis_server):
    client = redis.Redis(host=redis_server.host, port=redis_server.port,
                         password=redis_server.password, socket_timeout=5)
    assert client.ping() is True
    # redis-py 8 retries authentication errors with backoff (~4 s) unless told not to.
    anonymous = redis.Redis(host=redis_server.host, port=redis_server.port,
                            socket_timeout=5, retry=None)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()


def test_mongodb_answers(mongo_server):
    client = pymongo.MongoClient(mongo_server.host, mongo_server.port,
                                 directConnection=True, serverSelectionTimeoutMS=5000)
    try:
        assert client.admin.command("ping")["ok"] == 1
        collection = client[mongo_server.database]["smoke"]
        collection.insert_one({"_id": "k", "value": 42})
        assert collection.find_one({"_id": "k"})["value"] == 42
    finally:
        client.close()


@pytest.mark.parametrize("fixture", PASSWORD_FIXTURES)
def test_password_not_on_any_command_line(request, fixture):
    server = request.getfixturevalue(fixture)
    assert server.password
    assert server.password not in _cmdline(server.pid)
    assert not [line for line in _all_cmdlines() if server.password in line]


def test_target_omits_missing_values(redis_server, mongo_server):
    assert redis_server.target() == {
        "engine": "redis", "login_host": "127.0.0.1", "login_port": redis_server.port,
        "login_password": redis_server.password, "database": "0",
    }
    assert set(mongo_server.target()) == {"engine", "login_host", "login_port", "database"}


@pytest.mark.parametrize("engine", servers.ENGINES)
def test_stopped_target_points_at_nothing(stopped_target, engine):
    target = stopped_target(engine)
    assert target["engine"] == engine
    assert not _listening(target["login_port"])


def test_start_all_state_round_trip_and_stop_all(tmp_path):
    started = servers.start_all(tmp_path)
    try:
        assert set(started) == set(servers.ENGINES)
        assert all(server.alive() for server in started.values())
        path = servers.save_state(tmp_path, started)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert servers.load_state(tmp_path) == started
        servers.stop_all(tmp_path)
        for server in started.values():
            assert not Path(f"/proc/{server.pid}").exists(), server.engine
            assert not _listening(server.port), server.engine
        assert not path.exists()
        assert not Path(started["postgresql"].datadir).exists()
    finally:
        for server in started.values():
            server.stop()


def test_start_all_failure_stops_the_others(tmp_path):
    ports = {engine: servers.free_port() for engine in ("postgresql", "mysql", "mongodb")}
    with socket.socket() as busy:
        busy.bind((servers.HOST, 0))
        busy.listen()
        ports["redis"] = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="redis on 127.0.0.1"):
            servers.start_all(tmp_path, ports=ports)
    assert not [engine for engine, port in ports.items() if engine != "redis" and _listening(port)]
    assert not [line for line in _all_cmdlines() if str(tmp_path) in line]
