"""Session-wide throwaway servers for the integration tests (tests/support/servers.py)."""

from pathlib import Path

import pytest

from tests.support import servers

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "integration: talks to real servers started on 127.0.0.1"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


def _serve(start, tmp_path_factory, name):
    # start() cleans up after itself when it fails; once it has returned, the
    # finally runs at session end whatever happened to the tests in between.
    server = start(tmp_path_factory.mktemp(name))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    yield from _serve(servers.start_postgresql, tmp_path_factory, "postgresql")


@pytest.fixture(scope="session")
def mysql_server(tmp_path_factory):
    yield from _serve(servers.start_mariadb, tmp_path_factory, "mysql")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    yield from _serve(servers.start_redis, tmp_path_factory, "redis")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    yield from _serve(servers.start_mongodb, tmp_path_factory, "mongodb")


@pytest.fixture
def stopped_target():
    """Factory: stopped_target('mysql') -> target dict for a port nobody listens on."""
    return servers.unused_target
