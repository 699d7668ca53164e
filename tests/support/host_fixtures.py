"""The fixture of the tests on the host image: ``host_engine``, (engine, tag) of the engine
start_engine() gives (a running one, or a dockerd of ours stopped by pid at the end) and the
host image in it (tests/support/docker_engine.py, ensure_host_image). It skips the test with
the reason only when docker cannot run here. A test module takes it by name:

    host_engine = host_fixtures.host_engine
"""

import pytest

from tests.support import docker_engine as de


@pytest.fixture(scope='module', name='host_engine')
def host_engine_fixture():
    try:
        engine = de.start_engine()
    except de.DockerUnavailable as exc:
        pytest.skip('docker cannot run here: %s' % exc)
    try:
        try:
            image = de.ensure_host_image(engine)
        except de.DockerUnavailable as exc:
            pytest.skip('no host image: %s' % exc)
        yield engine, image
    finally:
        engine.stop()


host_engine = host_engine_fixture
