"""A job run the way AWX runs it: a private data directory handed to ansible-runner.

AWX (awx/main/tasks/jobs.py, RunJob) makes one directory per job:

    project/                  the project checked out at the job's revision
    requirements_collections/ collections/requirements.yml installed by the project sync
    inventory/hosts           the job's inventory, written by AWX
    env/extravars             survey answers and extra vars, passed as -e @file (0600)
    env/envvars               ANSIBLE_COLLECTIONS_PATH(S) with requirements_collections first, ...
    env/settings              runner settings (timeouts, output)
    env/cmdline               --check, --forks, -u, --limit, tags: the job template's options
    artifacts/<ident>/        what ansible-runner writes: stdout, rc, status, job_events/

and runs ansible-playbook in project/, so the project's own ansible.cfg applies. This module
lays that directory out from this checkout and runs it with ansible_runner.run. The hosts'
secrets travel only in files (inventory/hosts and env/extravars, both 0600).
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.playbook import ROOT

BIN = Path(sys.executable).parent
# AWX's defaults for ANSIBLE_COLLECTIONS_PATHS and ANSIBLE_ROLES_PATH, each behind its own
# requirements folder and the project's ansible.cfg setting (RunJob.build_env's path_vars).
_PATH_VARS = (
    ('ANSIBLE_COLLECTIONS_PATHS', 'collections_paths', 'requirements_collections',
     '~/.ansible/collections:/usr/share/ansible/collections'),
    ('ANSIBLE_COLLECTIONS_PATH', 'collections_path', 'requirements_collections',
     '~/.ansible/collections:/usr/share/ansible/collections'),
    ('ANSIBLE_ROLES_PATH', 'roles_path', 'requirements_roles',
     '~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles'),
)
# What AWX's settings add to every job's environment (awx/settings/defaults.py).
_AWX_ANSIBLE_SETTINGS = {
    'ANSIBLE_FORCE_COLOR': 'True',
    'ANSIBLE_HOST_KEY_CHECKING': 'False',
    'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'True',
    'ANSIBLE_PARAMIKO_RECORD_HOST_KEYS': 'False',
    'ANSIBLE_RETRY_FILES_ENABLED': 'False',
}


def write_private(path, data) -> Path:
    """JSON (which is YAML) to a file only its owner can read."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(data, handle, indent=1)
    return path


def check_out_project(dest) -> Path:
    """The files git knows about (tracked, and untracked but not ignored): what AWX's
    checkout of this revision holds, without .venv or .demo."""
    dest = Path(dest)
    listed = subprocess.run(['git', 'ls-files', '-z', '-co', '--exclude-standard'], cwd=str(ROOT),
                            capture_output=True, check=True).stdout.decode().split('\0')
    for name in listed:
        source = ROOT / name
        if name and source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def sync_project(project, collections_dir) -> Path:
    """AWX's project sync: ansible-galaxy from the project directory installs
    collections/requirements.yml into the job's requirements_collections (--no-deps: the
    dependencies come from the execution environment, here the venv's ansible package)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_')}
    env['ANSIBLE_COLLECTIONS_PATH'] = str(collections_dir)
    proc = subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', '-r', 'collections/requirements.yml',
                           '-p', str(collections_dir), '--no-deps'], cwd=str(project), env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError('ansible-galaxy collection install failed:\n' + proc.stdout + proc.stderr)
    return Path(collections_dir)


def job_envvars(private_data_dir, job_id=1) -> dict:
    """env/envvars as RunJob.build_env makes them (without an execution environment, the
    container's /runner is the private data directory itself)."""
    pdd = Path(private_data_dir)
    config = configparser.ConfigParser(interpolation=None)
    config.read(pdd / 'project' / 'ansible.cfg')
    project_settings = dict(config['defaults']) if 'defaults' in config else {}
    env = dict(_AWX_ANSIBLE_SETTINGS, JOB_ID=str(job_id), INVENTORY_ID='1', MAX_EVENT_RES='700000',
               AWX_PRIVATE_DATA_DIR=str(pdd), ANSIBLE_SSH_CONTROL_PATH_DIR=str(pdd / 'cp'))
    for key, setting, folder, default in _PATH_VARS:
        paths = default.split(':')
        if setting in project_settings:
            paths = [project_settings[setting]] + paths
        env[key] = ':'.join([str(pdd / folder)] + paths)
    return env


def job_cmdline(check: bool = False, forks: int | None = None) -> str:
    """env/cmdline as RunJob.build_args writes it for a job template without credentials:
    --check for a job of type check, -u root when no machine credential names a user."""
    args = (['--check'] if check else []) + ['-u', 'root'] + (['--forks=%d' % forks] if forks else [])
    return ' '.join(args)


class Job:
    """One job's private data directory, from a synced project (``project`` and its
    ``requirements_collections``, copied as AWX copies them into every job)."""

    def __init__(self, private_data_dir, synced_project, synced_collections, job_id=1):
        self.dir = Path(private_data_dir)
        self.job_id = job_id
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copytree(synced_project, self.dir / 'project', symlinks=True)
        shutil.copytree(synced_collections, self.dir / 'requirements_collections', symlinks=True)
        (self.dir / 'cp').mkdir(mode=0o700)

    def write(self, inventory: dict, extravars: dict | None = None, check: bool = False, forks: int | None = None,
              settings: dict | None = None, envvars: dict | None = None) -> None:
        env = self.dir / 'env'
        write_private(self.dir / 'inventory' / 'hosts', inventory)
        write_private(env / 'extravars', dict({'awx_job_id': self.job_id, 'tower_job_id': self.job_id,
                                               'awx_job_launch_type': 'manual'}, **(extravars or {})))
        write_private(env / 'envvars', dict(job_envvars(self.dir, self.job_id), **(envvars or {})))
        # AWX keeps the output out of the worker's own stdout; the stdout file stays, to check it.
        write_private(env / 'settings', dict({'job_timeout': 0, 'idle_timeout': 0, 'suppress_ansible_output': True},
                                             **(settings or {})))
        (env / 'cmdline').write_text(job_cmdline(check, forks))

    def run(self, playbook: str):
        """ansible_runner.run on the directory; returns a JobRun."""
        import ansible_runner
        with _execution_environment():
            runner = ansible_runner.run(private_data_dir=str(self.dir), playbook=playbook, ident=str(self.job_id),
                                        quiet=True)
        return JobRun(runner, self.dir / 'artifacts' / str(self.job_id))


@contextlib.contextmanager
def _execution_environment():
    """The venv stands in for the execution environment: its ansible-playbook first on PATH,
    and no Ansible setting leaks in from the shell running the tests (ANSIBLE_CONFIG would
    replace the project's ansible.cfg). ansible-runner reads os.environ when it starts."""
    saved = {key: value for key, value in os.environ.items() if key.startswith('ANSIBLE_') or key == 'PATH'}
    for key in saved:
        del os.environ[key]
    os.environ['PATH'] = str(BIN) + os.pathsep + saved.get('PATH', os.defpath)
    try:
        yield
    finally:
        del os.environ['PATH']
        os.environ.update(saved)


class JobRun:
    """ansible-runner's result and the job's artifacts directory."""

    def __init__(self, runner, artifacts):
        self.status = runner.status
        self.rc = runner.rc
        self.artifacts = Path(artifacts)
        self.events = [json.loads(path.read_text()) for path in
                       sorted((self.artifacts / 'job_events').glob('*.json'), key=_event_counter)]

    @property
    def stdout(self) -> str:
        return (self.artifacts / 'stdout').read_text()

    def of(self, event: str, host: str | None = None) -> list:
        return [item for item in self.events if item.get('event') == event
                and (host is None or item.get('event_data', {}).get('host') == host)]

    def stats(self) -> dict:
        found = self.of('playbook_on_stats')
        if len(found) != 1:
            raise AssertionError('%d playbook_on_stats events' % len(found))
        return found[0]['event_data']

    def results(self, task_name_end: str, host: str) -> list:
        """event_data.res of each runner_on_ok/failed of the tasks whose name ends so, on host."""
        return [item['event_data']['res'] for item in self.events
                if item.get('event') in ('runner_on_ok', 'runner_on_failed')
                and item['event_data'].get('host') == host
                and item['event_data'].get('task', '').endswith(task_name_end)]

    def task_names(self) -> list:
        return [item['event_data']['task'] for item in self.of('playbook_on_task_start')]

    def leaked(self, secrets) -> list:
        """(file, secret index) for each artifact file that holds one of the secrets."""
        found = []
        for path in sorted(self.artifacts.rglob('*')):
            if path.is_file():
                text = path.read_text(errors='replace')
                found += [(str(path.relative_to(self.artifacts)), index) for index, secret in enumerate(secrets)
                          if secret and secret in text]
        return found


def _event_counter(path: Path) -> int:
    # job_events/<counter>-<uuid>.json
    return int(path.name.split('-', 1)[0])
