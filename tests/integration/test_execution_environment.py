"""meta/execution-environment.yml through the real ansible-builder: `ansible-builder create`
writes a build context holding the Python requirements, the bindep list and this collection.
`ansible-builder build` needs the base image from a registry, which these machines cannot
reach, so the image itself is not built here (docs/awx.md)."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILDER = os.path.join(os.path.dirname(sys.executable), 'ansible-builder')
# import name -> distribution, for the libraries the modules import
DISTRIBUTIONS = {'psycopg2': 'psycopg2-binary', 'pymysql': 'PyMySQL', 'pymongo': 'pymongo', 'bson': 'pymongo',
                 'redis': 'redis', 'cryptography': 'cryptography', 'docker': 'docker', 'requests': 'requests',
                 'zstandard': 'zstandard', 'pyrage': 'pyrage'}


def requirement_names(path):
    names = []
    for line in Path(path).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line and not line.startswith('-'):
            names.append(re.split(r'[<>=!~\[ ;]', line, maxsplit=1)[0].lower())
    return names


def bindep_entries(text):
    return [line.split('#', 1)[0].strip() for line in text.splitlines() if line.split('#', 1)[0].strip()]


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    if not os.path.exists(BUILDER):
        pytest.skip('ansible-builder is not installed (requirements-dev.txt; make deps)')
    where = tmp_path_factory.mktemp('ee') / 'context'
    proc = subprocess.run([BUILDER, 'create', '-f', str(ROOT / 'meta' / 'execution-environment.yml'), '-c', str(where),
                           '--output-filename', 'Containerfile'], capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return where


def test_containerfile_installs_requirements_bindep_and_the_collection(context):
    containerfile = (context / 'Containerfile').read_text()
    assert 'FROM $EE_BASE_IMAGE AS base' in containerfile and 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    assert 'COPY _build/requirements.txt requirements.txt' in containerfile
    assert 'COPY _build/bindep.txt bindep.txt' in containerfile
    assert 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' in containerfile
    # the collection's Galaxy dependency is not fetched: the ansible package brings it
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in containerfile
    assert "pip install --no-cache-dir 'ansible>=12.3,<13'" in containerfile
    assert 'dnf install -y epel-release' in containerfile

    assert requirement_names(context / '_build' / 'requirements.txt') == requirement_names(ROOT / 'meta' / 'ee-requirements.txt')
    assert bindep_entries((context / '_build' / 'bindep.txt').read_text()) == \
        bindep_entries((ROOT / 'meta' / 'ee-bindep.txt').read_text())
    assert yaml.safe_load((context / '_build' / 'requirements.yml').read_text()) == {
        'collections': [{'name': '/build/caretaker_maintenance', 'type': 'dir'}]}


def test_the_context_holds_the_collection_from_this_checkout(context):
    copy = context / '_build' / 'caretaker_maintenance'
    galaxy = yaml.safe_load((copy / 'galaxy.yml').read_text())
    assert (galaxy['namespace'], galaxy['name']) == ('caretaker', 'maintenance')
    for name in ('meta/runtime.yml', 'plugins/modules/db_backup.py', 'plugins/filter/cadence.py',
                 'roles/schedule/tasks/main.yml', 'playbooks/daily.yml'):
        assert (copy / name).read_text() == (ROOT / name).read_text(), name
    # only the collection's content: no venv, tests or demo data
    assert sorted(path.name for path in copy.iterdir()) == ['README.md', 'galaxy.yml', 'meta', 'playbooks', 'plugins', 'roles']


def test_ee_requirements_cover_requirements_txt_and_every_import():
    listed = set(requirement_names(ROOT / 'meta' / 'ee-requirements.txt'))
    assert set(requirement_names(ROOT / 'requirements.txt')) <= listed
    imported = set()
    for path in (ROOT / 'plugins').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            imported.update(name.split('.')[0] for name in names)
    third_party = {name for name in imported if name not in sys.stdlib_module_names
                   and name not in ('ansible', 'ansible_collections', '__future__')}
    assert third_party <= set(DISTRIBUTIONS), 'imports without a known distribution: %s' % sorted(third_party - set(DISTRIBUTIONS))
    assert {DISTRIBUTIONS[name].lower() for name in third_party} <= listed


def test_bindep_names_the_clients_the_modules_start():
    entries = bindep_entries((ROOT / 'meta' / 'ee-bindep.txt').read_text())
    packages = {entry.split()[0] for entry in entries}
    for package in ('postgresql-client', 'mariadb-client', 'redis-tools', 'age', 'zstd', 'postgresql', 'mariadb', 'redis'):
        assert package in packages, package
    assert all(re.search(r'\[platform:(rpm|dpkg)', entry) for entry in entries), 'every entry names its platform'
    # bindep itself (installed with ansible-builder) parses the file and checks it for this
    # machine: exit 0 when every package of the platform is installed, 1 when some are missing.
    bindep = os.path.join(os.path.dirname(sys.executable), 'bindep')
    proc = subprocess.run([bindep, '--brief', '--file', str(ROOT / 'meta' / 'ee-bindep.txt')],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode in (0, 1) and not proc.stderr, proc.stderr
    missing = set(proc.stdout.split())
    assert missing <= packages, missing
