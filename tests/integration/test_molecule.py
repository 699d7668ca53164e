"""Every molecule scenario (molecule/<name>/molecule.yml) passes `molecule test`: containers of
the host image (tests/support/docker_engine.py, ensure_host_image) as hosts, prepare,
converge, the idempotence run (changed=0), the scenario's testinfra checks, destroy.
Skips only when docker cannot run here; a molecule failure fails the test with the end of
its output. The scenarios run at the same time (their hosts have names of their own): most
of a converge is waiting on docker exec and the servers, not CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import host_fixtures

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(path.parent.name for path in (ROOT / 'molecule').glob('*/molecule.yml'))
TIMEOUT = 1200

host_engine = host_fixtures.host_engine


def molecule_env(engine, image):
    env = dict(os.environ, DOCKER_HOST=engine.base_url, CARETAKER_HOST_IMAGE=image,
               ANSIBLE_FORCE_COLOR='0', PY_COLORS='0', NO_COLOR='1')
    # molecule runs ansible-playbook and pytest (testinfra) from PATH: the ones of this venv.
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', os.defpath)
    return env


@pytest.fixture(scope='module', name='runs')
def runs_fixture(host_engine, tmp_path_factory):
    """{scenario: (process, log path)}, every `molecule test` started at once."""
    engine, image = host_engine
    logs = tmp_path_factory.mktemp('molecule')
    started = {}
    try:
        for scenario in SCENARIOS:
            log = logs / ('%s.log' % scenario)
            with open(log, 'wb') as out:
                started[scenario] = (subprocess.Popen(
                    [sys.executable, '-m', 'molecule', 'test', '-s', scenario], cwd=ROOT,
                    env=molecule_env(engine, image), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT), log)
        yield started
    finally:
        for process, _log in started.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=120)


def test_scenarios_found():
    assert 'fleet' in SCENARIOS, SCENARIOS


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_molecule_scenario(scenario, runs):
    process, log = runs[scenario]
    returncode = process.wait(timeout=TIMEOUT)
    output = log.read_text(errors='replace')
    assert returncode == 0, 'molecule test -s %s failed (%d); the end of its output:\n%s' % (
        scenario, returncode, '\n'.join(output.splitlines()[-120:]))
    # The sequence ran to the end: molecule says so only after the testinfra checks passed.
    assert 'Verifier completed successfully' in output, output[-4000:]
