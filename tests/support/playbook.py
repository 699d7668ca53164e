"""Run real ansible-playbook commands against localhost and return the JSON results.

The collection is found through ansible.cfg (collections_path = .venv/collections, where
``make`` links the checkout as ansible_collections/caretaker/maintenance).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class PlaybookRun:
    def __init__(self, proc, data):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    def task(self, index=0, host='localhost'):
        """Result of one task of the first play on one host."""
        tasks = self.data['plays'][0]['tasks']
        return tasks[index]['hosts'][host]

    @property
    def stats(self):
        return self.data.get('stats', {})


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': str(ROOT / 'ansible.cfg'),
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
        'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'PATH': os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
    })
    env.update(extra or {})
    return env


def run_playbook(playbook, inventory='localhost,', check=False, diff=False, extra_args=(), env=None, timeout=600):
    """Run a playbook file; returns PlaybookRun with the parsed JSON callback output."""
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory, str(playbook)]
    if inventory == 'localhost,':
        cmd += ['-c', 'local', '-e', 'ansible_python_interpreter=' + sys.executable]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    cmd += list(extra_args)
    proc = subprocess.run(cmd, cwd=str(ROOT), env=ansible_env(env), capture_output=True, text=True, check=False, timeout=timeout)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('ansible-playbook printed no JSON (rc %d)\nstdout:\n%s\nstderr:\n%s'
                             % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return PlaybookRun(proc, data)


def run_tasks(tasks, check=False, diff=False, play_options=None, **kwargs):
    """Run a list of task dicts in one play on localhost from a 0600 temp playbook
    (task arguments may hold passwords, so they go in a file, never on argv).
    ``play_options`` adds play keywords such as module_defaults."""
    play = [dict({'name': 'test', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}, **(play_options or {}))]
    with tempfile.TemporaryDirectory(prefix='caretaker-play-') as tmp:
        path = Path(tmp) / 'play.yml'
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(play, handle)  # JSON is YAML
        return run_playbook(path, check=check, diff=diff, **kwargs)


def run_module(module, args, check=False, diff=False, **kwargs):
    """Run one module task; returns (result dict, PlaybookRun)."""
    run = run_tasks([{'name': module, module: args}], check=check, diff=diff, **kwargs)
    return run.task(0), run


def assert_ansible_doc_renders(module, words):
    """ansible-doc renders the module's documentation, mentions each of ``words`` and warns of nothing."""
    ansible_doc = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')
    proc = subprocess.run([ansible_doc, module], cwd=str(ROOT), env=ansible_env(), capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for text in tuple(words) + ('EXAMPLES', 'RETURN VALUES'):
        assert text in proc.stdout, text
    assert 'WARNING' not in proc.stderr
