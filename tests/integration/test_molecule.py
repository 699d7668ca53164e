"""Every molecule scenario (molecule/<name>/molecule.yml) passes `molecule test`: containers of
the host image (tests/support/docker_engine.py, ensure_host_image) as hosts, prepare,
converge, the idempotence run (changed=0), the scenario's testinfra checks, destroy.
Skips only when docker cannot run here; a molecule failure fails the test with the end of
its output."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import host_fixtures

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(path.parent.name for path in (ROOT / 'molecule').glob('*/molecule.yml'))
TIMEOUT = 900


host_engine = host_fixtures.host_engine


def molecule_env(engine, image):
    env = dict(os.environ, DOCKER_HOST=engine.base_url, CARETAKER_HOST_IMAGE=image,
               ANSIBLE_FORCE_COLOR='0', PY_COLORS='0', NO_COLOR='1')
    # molecule runs ansible-playbook and pytest (testinfra) from PATH: the ones of this venv.
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', os.defpath)
    return env


def test_scenarios_found():
    assert 'fleet' in SCENARIOS, SCENARIOS


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_molecule_scenario(scenario, host_engine, tmp_path):
    engine, image = host_engine
    log = tmp_path / ('molecule-%s.log' % scenario)
    with open(log, 'wb') as out:
        result = subprocess.run([sys.executable, '-m', 'molecule', 'test', '-s', scenario], cwd=ROOT,
                                env=molecule_env(engine, image), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
    output = log.read_text(errors='replace')
    assert result.returncode == 0, 'molecule test -s %s failed (%d); the end of its output:\n%s' % (
        scenario, result.returncode, '\n'.join(output.splitlines()[-120:]))
    # The sequence ran to the end: molecule says so only after the testinfra checks passed.
    assert 'Verifier completed successfully' in output, output[-4000:]
