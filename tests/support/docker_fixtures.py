"""Generators behind the Docker fixtures of the role tests: an engine of their own with an empty
data root (the roles prune and restart whatever the engine holds), the base image, and a
Containers helper; each skips the test with the reason when docker cannot run here.

    @pytest.fixture(scope='module')
    def engine():
        yield from docker_fixtures.fresh_engine()

    @pytest.fixture(scope='module')
    def made(engine):
        yield from docker_fixtures.containers(engine)
"""

import pytest

from tests.support import docker_engine as de


def fresh_engine():
    try:
        engine = de.start_engine(fresh=True)
    except de.DockerUnavailable as exc:
        pytest.skip('docker cannot run here: %s' % exc)
    try:
        yield engine
    finally:
        engine.stop()


def containers(engine):
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
