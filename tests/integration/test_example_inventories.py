"""Every inventory under inventories/ works with the real ansible-inventory and ansible-playbook.

- ``ansible-inventory -i <dir>/hosts.yml --list`` succeeds and lists every host;
- the example stacks have app, database and control hosts, reached over ssh by name
  (``*.example.internal``), never by an IP address, and every host has health settings;
- ``ansible-playbook --syntax-check`` passes for every cadence playbook in playbooks/ with
  each inventory;
- weekly.yml's Docker play reaches exactly the docker group of each example stack that has one.

No server is needed: nothing connects to the hosts.
"""

import ipaddress
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(path.parent for path in (REPO / 'inventories').glob('**/hosts.yml'))
EXAMPLES = [path for path in INVENTORIES if path.parent.name == 'examples']
PLAYBOOKS = sorted((REPO / 'playbooks').glob('*.yml'))
IDS = ['%s' % path.relative_to(REPO / 'inventories') for path in INVENTORIES]
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')


def _run(*argv):
    return subprocess.run([str(REPO / '.venv' / 'bin' / argv[0])] + list(argv[1:]), cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=300, check=False)


_LISTED = {}


def _listed(inventory):
    if inventory not in _LISTED:
        done = _run('ansible-inventory', '-i', str(inventory / 'hosts.yml'), '--list')
        assert done.returncode == 0, 'ansible-inventory --list failed for %s:\n%s' % (inventory, done.stderr)
        assert 'WARNING' not in done.stderr, done.stderr
        _LISTED[inventory] = json.loads(done.stdout)
    return _LISTED[inventory]


def _hosts(listed, group):
    hosts = set(listed.get(group, {}).get('hosts', []))
    for child in listed.get(group, {}).get('children', []):
        hosts |= _hosts(listed, child)
    return hosts


@pytest.mark.parametrize('inventory', INVENTORIES, ids=IDS)
def test_ansible_inventory_lists_every_host(inventory):
    listed = _listed(inventory)
    hostvars = listed['_meta']['hostvars']
    assert hostvars, 'no hosts in %s' % inventory
    assert set(hostvars) == _hosts(listed, 'all')


@pytest.mark.parametrize('inventory', EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_hosts_are_named_and_grouped(inventory):
    listed = _listed(inventory)
    hostvars = listed['_meta']['hostvars']
    for group in ('app', 'databases', 'control'):
        assert _hosts(listed, group), '%s has no %s hosts' % (inventory.name, group)
    for host, found in hostvars.items():
        address = found.get('ansible_host', '')
        assert address.endswith('.example.internal'), '%s: ansible_host %r' % (host, address)
        with pytest.raises(ValueError):
            ipaddress.ip_address(address)
        assert found.get('ansible_connection', 'ssh') == 'ssh', host
        assert any(name.startswith('health_') for name in found), '%s: %s has no health settings' % (inventory.name, host)


@pytest.mark.parametrize('inventory', INVENTORIES, ids=IDS)
def test_every_cadence_playbook_passes_syntax_check(inventory):
    assert PLAYBOOKS, 'no playbooks found'
    for playbook in PLAYBOOKS:
        done = _run('ansible-playbook', '--syntax-check', '-i', str(inventory / 'hosts.yml'), str(playbook))
        assert done.returncode == 0, '%s with %s:\n%s%s' % (playbook.name, inventory, done.stdout, done.stderr)


@pytest.mark.parametrize('inventory', EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_weekly_docker_play_reaches_the_docker_group(inventory):
    docker = _hosts(_listed(inventory), 'docker')
    done = _run('ansible-playbook', '--list-hosts', '-i', str(inventory / 'hosts.yml'), str(REPO / 'playbooks' / 'weekly.yml'))
    assert done.returncode == 0, done.stderr
    play = done.stdout.split('Weekly Docker cleanup', 1)
    assert len(play) == 2, 'weekly.yml has no Weekly Docker cleanup play:\n%s' % done.stdout
    listed = set()
    for line in play[1].splitlines()[1:]:
        if line.strip().startswith('play #'):
            break
        if line.startswith('      ') and line.strip():
            listed.add(line.strip())
    assert listed == docker, 'the Docker play reaches %s, the docker group is %s' % (sorted(listed), sorted(docker))
