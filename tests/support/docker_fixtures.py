"""Docker fixtures of the role tests: ``engine``, an engine of their own with an empty data root
(the roles prune and restart whatever the engine holds), and ``made``, a Containers helper on
the base image; each skips the test with the reason when docker cannot run here. A test
module takes them by name:

    engine = docker_fixtures.engine
    made = docker_fixtures.made
"""

import pytest

from tests.support import docker_engine as de


@pytest.fixture(scope='module', name='engine')
def engine_fixture():
    try:
        started = de.start_engine(fresh=True)
    except de.DockerUnavailable as exc:
        pytest.skip('docker cannot run here: %s' % exc)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope='module', name='made')
def made_fixture(engine):
    """A Containers helper on the base image, after proving a container can run (the probe is removed)."""
    import docker
    try:
        image = de.ensure_base_image(engine)
    except de.DockerUnavailable as exc:
        pytest.skip('no base image: %s' % exc)
    with de.Containers(engine, image) as made:
        try:
            made.run('probe', ['true']).wait(timeout=60)
        except docker.errors.APIError as exc:
            pytest.skip('docker cannot run a container here: %s' % exc)
        made.made.pop().remove()
        yield made


engine = engine_fixture
made = made_fixture
