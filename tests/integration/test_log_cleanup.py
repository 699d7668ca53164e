"""log_cleanup through real ansible-playbook runs on real files with mtimes set into the past.

The unreadable-directory test needs a module process that file permissions apply to. As
root they do not (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), and switching to another user is
no good here: the venv's Python lives under /root, which only root may read. So, as root,
ansible-playbook runs under `setpriv` with those two capabilities dropped from the bounding
and inheritable sets: still uid 0, so it reads the venv and its own temp files (owned by
root, mode 0700), but a chmod 000 directory owned by root is closed to it like to anyone
else. As a non-root user the chmod alone does it.
"""

import gzip
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
import zstandard

from tests.support.playbook import ROOT, assert_ansible_doc_renders, ansible_env, run_module, run_tasks

MODULE = 'caretaker.maintenance.log_cleanup'
DAY = 86400
LINE = '2026-11-23T10:%02d:%02d.%03dZ INFO  [api] GET /v1/items/%d 200 %dms user=%d req=%08x\n'


def text(seed, lines=120):
    return ''.join(LINE % (n % 60, (n * 7) % 60, n % 1000, seed * 1000 + n, n % 97, n % 13, seed * n) for n in range(lines))


def put(path, age_days=0.0, data=None, mode=0o644, age_seconds=0):
    """A file with realistic lines whose mtime (and atime) lie age_days in the past, counted from
    now: a fixed start time drifts by however long the suite ran before this test (a file put
    10 minutes back was 40 minutes old to the module after half an hour of other tests)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = data if data is not None else text(len(str(path))).encode()
    path.write_bytes(content)
    os.chmod(path, mode)
    moment = time.time() - age_days * DAY - age_seconds
    os.utime(path, (moment - 3600, moment))
    return content


def snapshot(root):
    """{relative path: (kind, size, mtime_ns)} of everything under root, symlinks not followed."""
    found = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            kind = 'link' if stat.S_ISLNK(st.st_mode) else 'dir' if stat.S_ISDIR(st.st_mode) else 'file'
            found[os.path.relpath(path, root)] = (kind, 0 if kind == 'dir' else st.st_size, st.st_mtime_ns)
    return found


def rel(items, root, key='path'):
    return sorted(os.path.relpath(item[key], str(root)) for item in items)


@pytest.fixture
def logs(tmp_path):
    """A log directory: fresh, 40-day-old and 100-day-old logs, rotated ones, old and young archives,
    a log whose .gz exists already, a file no pattern matches, and a sub-directory."""
    root = tmp_path / 'logs'
    data = {}
    data['app.log'] = put(root / 'app.log', 0.5)                       # live
    data['app.log.1'] = put(root / 'app.log.1', 40, mode=0o640)        # compress
    data['app.log.2'] = put(root / 'app.log.2', 45)                    # compress
    data['worker.log'] = put(root / 'worker.log', 35, mode=0o600)      # compress
    data['app.log.3'] = put(root / 'app.log.3', 100)                   # past both: delete directly
    data['api.log.gz'] = put(root / 'api.log.gz', 95, gzip.compress(b'old archive\n'))
    data['api.log.1.gz'] = put(root / 'api.log.1.gz', 20, gzip.compress(b'young archive\n'))
    data['dup.log'] = put(root / 'dup.log', 50)                        # dup.log.gz exists: skip
    data['dup.log.gz'] = put(root / 'dup.log.gz', 10, gzip.compress(b'keep me\n'))
    data['notes.txt'] = put(root / 'notes.txt', 300)                   # no pattern matches
    data['sub/deep.log'] = put(root / 'sub' / 'deep.log', 60)          # only with recurse
    os.chown(root / 'worker.log', 65534, 65534)
    return root, data


def test_check_mode_equals_real_run_gzip_keeps_bytes_mode_owner_mtime_then_idempotent(logs):
    root, data = logs
    args = {'paths': [str(root)], 'compress_after_days': 30, 'delete_after_days': 90}
    before = snapshot(root)

    checked, run = run_module(MODULE, args, check=True, diff=True)
    assert run.returncode == 0, checked
    assert snapshot(root) == before                                    # check mode changes nothing
    assert checked['changed'] is True
    assert rel(checked['compressed'], root) == ['app.log.1', 'app.log.2', 'worker.log']
    assert rel(checked['deleted'], root) == ['api.log.gz', 'app.log.3']
    assert [item['reason'] for item in checked['deleted']] == [
        'older than delete_after_days (90)', 'older than delete_after_days (90): deleted without compressing first']
    assert checked['skipped_files'] == [{'path': str(root / 'dup.log'), 'reason': 'dup.log.gz exists already: not overwritten'}]
    assert checked['errors'] == []
    assert all(item['bytes_after'] < item['bytes_before'] / 3 for item in checked['compressed'])
    diff_text = checked['diff'][0]['before'] + checked['diff'][0]['after']
    assert 'app.log.1 (%d bytes)' % len(data['app.log.1']) in diff_text and 'app.log.1.gz (' in diff_text

    done, run = run_module(MODULE, args)
    assert run.returncode == 0, done
    for key in ('changed', 'compressed', 'deleted', 'skipped_files', 'errors', 'bytes_freed', 'roots'):
        assert done[key] == checked[key], key
    freed = sum(len(data[name]) for name in ('api.log.gz', 'app.log.3'))
    freed += sum(item['bytes_before'] - item['bytes_after'] for item in done['compressed'])
    assert done['bytes_freed'] == freed
    assert done['msg'].startswith('compressed 3 files') and checked['msg'].startswith('would compress 3 files')

    for name in ('app.log.1', 'app.log.2', 'worker.log'):
        archive = root / (name + '.gz')
        assert not (root / name).exists()
        assert gzip.decompress(archive.read_bytes()) == data[name]
        assert before[name][2] == archive.stat().st_mtime_ns              # mtime kept
        assert os.path.getsize(archive) == [item['bytes_after'] for item in done['compressed']
                                            if item['archive'] == str(archive)][0]
        assert not subprocess.run(['gzip', '-t', str(archive)], check=False).returncode
    assert stat.S_IMODE((root / 'app.log.1.gz').stat().st_mode) == 0o640  # mode kept
    assert stat.S_IMODE((root / 'worker.log.gz').stat().st_mode) == 0o600
    if os.geteuid() == 0:
        assert (root / 'worker.log.gz').stat().st_uid == 65534             # owner kept
    assert (root / 'dup.log.gz').read_bytes() == data['dup.log.gz']        # not overwritten
    assert (root / 'dup.log').read_bytes() == data['dup.log']
    for name in ('app.log', 'api.log.1.gz', 'notes.txt', 'sub/deep.log'):
        assert (root / name).read_bytes() == data[name], name
    assert not [name for name in os.listdir(root) if name.startswith('.')]  # no temp files left

    again, run = run_module(MODULE, args)
    assert run.returncode == 0, again
    assert again['changed'] is False and again['compressed'] == [] and again['deleted'] == []


def test_zstd_recurse_decompresses_to_the_original(logs):
    root, data = logs
    done, run = run_module(MODULE, {'paths': [str(root)], 'compress_after_days': 30, 'compression': 'zstd',
                                    'recurse': True, 'workers': 2})
    assert run.returncode == 0, done
    assert rel(done['compressed'], root) == ['app.log.1', 'app.log.2', 'app.log.3', 'dup.log', 'sub/deep.log',
                                             'worker.log']
    for name in ('app.log.1', 'app.log.3', 'dup.log', 'sub/deep.log'):
        archive = root / (name + '.zst')
        assert zstandard.ZstdDecompressor().decompress(archive.read_bytes()) == data[name]
        assert not subprocess.run(['zstd', '-q', '-t', str(archive)], check=False).returncode
    assert stat.S_IMODE((root / 'app.log.1.zst').stat().st_mode) == 0o640
    assert (root / 'api.log.gz').exists()                                 # no delete_after_days: archives stay


def test_symlinks_are_never_followed_nor_their_targets_touched(tmp_path):
    root = tmp_path / 'logs'
    outside = tmp_path / 'outside'
    secret = put(outside / 'target.log', 200)
    put(outside / 'other.log', 200)
    put(root / 'own.log', 200)
    root.mkdir(exist_ok=True)
    os.symlink(outside / 'target.log', root / 'link.log')
    os.symlink(outside, root / 'linkdir')
    outside_before = snapshot(outside)

    done, run = run_module(MODULE, {'paths': [str(root)], 'compress_after_days': 1, 'recurse': True,
                                    'max_total_size': '1'})
    assert run.returncode == 0, done
    assert rel(done['compressed'], root) == ['own.log']
    assert done['skipped_files'] == [{'path': str(root / 'link.log'), 'reason': 'symlink: never followed'}]
    assert snapshot(outside) == outside_before
    assert (outside / 'target.log').read_bytes() == secret
    assert os.path.islink(root / 'link.log') and os.path.islink(root / 'linkdir')
    assert all(str(outside) not in item['path'] for item in done['compressed'] + done['deleted'])


def _holder(path, mode):
    """A live child process holding ``path`` open in ``mode`` until its stdin closes."""
    code = 'import sys; f = open(sys.argv[1], sys.argv[2]); print("ready", flush=True); sys.stdin.read()'
    child = subprocess.Popen([sys.executable, '-c', code, str(path), mode], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'ready'
    return child


def test_open_for_writing_and_min_idle_are_skipped(tmp_path):
    root = tmp_path / 'logs'
    put(root / 'written.log', 0)
    put(root / 'read.log', 0)
    put(root / 'recent.log', age_seconds=10 * 60)
    idle = put(root / 'idle.log', age_seconds=2 * 3600)
    writer = _holder(root / 'written.log', 'a')
    reader = _holder(root / 'read.log', 'r')
    try:
        for name in ('written.log', 'read.log'):
            put(root / name, 5, data=(root / name).read_bytes())        # old mtime, same inode, still open
        args = {'paths': [str(root)], 'compress_after_days': 0, 'min_idle': 30}
        checked, run = run_module(MODULE, args, check=True)
        assert run.returncode == 0, checked
        done, run = run_module(MODULE, args)
        assert run.returncode == 0, done
        assert writer.poll() is None
    finally:
        for child in (writer, reader):
            child.stdin.close()
            child.wait(timeout=30)
    assert done['skipped_files'] == checked['skipped_files']
    assert [item['path'] for item in done['skipped_files']] == [str(root / 'recent.log'), str(root / 'written.log')]
    assert done['skipped_files'][0]['reason'] == 'modified within the last min_idle (30 minutes)'
    assert done['skipped_files'][1]['reason'].startswith('open for writing by pid %d (python' % writer.pid)
    assert rel(done['compressed'], root) == rel(checked['compressed'], root) == ['idle.log', 'read.log']
    assert gzip.decompress((root / 'idle.log.gz').read_bytes()) == idle
    assert (root / 'written.log').exists() and (root / 'recent.log').exists()


def _run_without_dac_override(tasks):
    """run_tasks, but the module process is subject to file permissions even as root (see the docstring)."""
    play = [{'name': 'test', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    with tempfile.TemporaryDirectory(prefix='caretaker-play-') as tmp:
        path = os.path.join(tmp, 'play.yml')
        with open(path, 'w') as handle:
            json.dump(play, handle)
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=' + sys.executable, path]
        if os.geteuid() == 0:
            caps = '-dac_override,-dac_read_search'
            probe = subprocess.run(['setpriv', '--inh-caps=' + caps, '--bounding-set=' + caps, 'true'],
                                   capture_output=True, check=False)
            if probe.returncode:
                pytest.skip('running as root and setpriv cannot drop CAP_DAC_OVERRIDE here: %s' % probe.stderr)
            cmd = ['setpriv', '--inh-caps=' + caps, '--bounding-set=' + caps, '--'] + cmd
        proc = subprocess.run(cmd, cwd=str(ROOT), env=ansible_env(), capture_output=True, text=True, check=False,
                              timeout=300)
    data = json.loads(proc.stdout)
    return proc.returncode, data['plays'][0]['tasks'][0]['hosts']['localhost']


def test_unreadable_directory_and_file_are_errors_the_rest_is_processed(tmp_path):
    root = tmp_path / 'logs'
    put(root / 'a' / 'old.log', 40)
    put(root / 'b' / 'old.log', 40)
    locked = put(root / 'locked' / 'old.log', 40)
    sealed = put(root / 'sealed.log', 40)
    os.chmod(root / 'locked', 0)
    os.chmod(root / 'sealed.log', 0)
    try:
        code, done = _run_without_dac_override([{'name': 'clean', MODULE: {
            'paths': [str(root)], 'compress_after_days': 30, 'recurse': True}}])
    finally:
        os.chmod(root / 'locked', 0o755)
    assert code == 0, done
    assert done['errors'] == [
        {'path': str(root / 'locked'), 'error': 'cannot read directory: Permission denied'},
        {'path': str(root / 'sealed.log'), 'error': 'cannot compress: Permission denied'}]
    assert rel(done['compressed'], root) == ['a/old.log', 'b/old.log']
    assert (root / 'locked' / 'old.log').read_bytes() == locked
    os.chmod(root / 'sealed.log', 0o644)
    assert (root / 'sealed.log').read_bytes() == sealed
    assert not [name for name in os.listdir(root) if name.startswith('.')]
    assert any('could not be processed' in warning for warning in done.get('warnings', []))


def test_size_cap_deletes_oldest_archives_never_live_logs(tmp_path):
    root = tmp_path / 'logs'
    live = put(root / 'app.log', 0.2, data=b'L' * 5000)
    archives = {}
    for age in (10, 20, 30, 40, 50):
        archives[age] = put(root / ('app.log.%d.gz' % age), age, data=os.urandom(2000))
    put(root / 'recent.log.gz', age_seconds=60, data=os.urandom(2000))  # within min_idle: never deleted
    other = tmp_path / 'other'                                           # a second root, under its cap
    put(other / 'old.log.1.gz', 200, data=os.urandom(3000))
    put(other / 'old.log.2.gz', 300, data=os.urandom(3000))
    # 5000 live + 6 x 2000 = 17000 bytes; a cap of 10K (10240) needs 4 archives gone, but the
    # newest is protected by min_idle, so the four oldest go: 50, 40, 30, 20 days.
    args = {'paths': [str(root), str(other)], 'max_total_size': '10K'}
    checked, run = run_module(MODULE, args, check=True)
    assert run.returncode == 0, checked
    done, run = run_module(MODULE, args)
    assert run.returncode == 0, done
    assert done['deleted'] == checked['deleted']
    assert [os.path.basename(item['path']) for item in done['deleted']] == [
        'app.log.50.gz', 'app.log.40.gz', 'app.log.30.gz', 'app.log.20.gz']
    assert done['bytes_freed'] == 8000
    assert done['roots'] == [{'path': str(root), 'bytes_before': 17000, 'bytes_after': 9000,
                              'max_total_size': 10240, 'within_limit': True},
                             {'path': str(other), 'bytes_before': 6000, 'bytes_after': 6000,
                              'max_total_size': 10240, 'within_limit': True}]
    assert sorted(os.listdir(other)) == ['old.log.1.gz', 'old.log.2.gz']
    assert sorted(os.listdir(root)) == ['app.log', 'app.log.10.gz', 'recent.log.gz']
    assert (root / 'app.log').read_bytes() == live

    tight, run = run_module(MODULE, {'paths': [str(root)], 'max_total_size': '1K'})
    assert run.returncode == 0, tight
    assert [os.path.basename(item['path']) for item in tight['deleted']] == ['app.log.10.gz']
    assert tight['skipped_files'] == [{'path': str(root / 'recent.log.gz'),
                                       'reason': 'over max_total_size but modified within the last min_idle (60 minutes)'}]
    assert tight['roots'][0]['within_limit'] is False
    assert any('over max_total_size 1K' in warning for warning in tight['warnings'])
    assert (root / 'app.log').read_bytes() == live


def test_system_paths_and_bad_input_fail_before_anything_changes(tmp_path):
    root = tmp_path / 'logs'
    data = put(root / 'old.log', 100)
    os.symlink('/etc', tmp_path / 'etc-link')
    cases = [
        ({'paths': ['/'], 'compress_after_days': 1}, 'paths: / is a system directory; log_cleanup refuses it unless allow_system_paths=true'),
        ({'paths': ['/etc'], 'compress_after_days': 1}, 'paths: /etc is inside the system tree /etc; log_cleanup refuses it unless allow_system_paths=true'),
        ({'paths': [str(tmp_path / 'etc-link')], 'delete_after_days': 1}, 'allow_system_paths=true'),
        ({'paths': [str(root)], 'compress_after_days': 30, 'delete_after_days': 7}, 'set delete_after_days to 30 or more'),
        ({'paths': [str(root)], 'max_total_size': 'lots'}, "max_total_size 'lots' is not a size"),
        ({'paths': [str(root)]}, 'set at least one of compress_after_days, delete_after_days and max_total_size'),
        ({'paths': [str(root / 'nope')], 'compress_after_days': 1}, 'is not a directory; create it or remove it from paths'),
        ({'paths': [str(root), str(root / 'sub')], 'compress_after_days': 1, 'recurse': True}, 'is inside'),
        ({'paths': [str(root)], 'patterns': ['logs/*.log'], 'compress_after_days': 1}, 'without "/"'),
    ]
    (root / 'sub').mkdir()
    run = run_tasks([{'name': 'case %d' % n, MODULE: args, 'ignore_errors': True} for n, (args, message) in enumerate(cases)])
    for n, (args, message) in enumerate(cases):
        result = run.task(n)
        assert result.get('failed') is True, (args, result)
        assert message in result['msg'], (args, result['msg'])
    assert (root / 'old.log').read_bytes() == data and sorted(os.listdir(root)) == ['old.log', 'sub']


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ['compress_after_days', 'delete_after_days', 'max_total_size', 'min_idle',
                                        'allow_system_paths', 'workers', 'bytes_freed'])


def test_examples_use_only_documented_options():
    source = (ROOT / 'plugins' / 'modules' / 'log_cleanup.py').read_text()
    namespace = {}
    exec(compile(source.split('\nimport time')[0], 'log_cleanup', 'exec'), namespace)  # the doc strings only
    options = set(yaml.safe_load(namespace['DOCUMENTATION'])['options'])
    examples = [task[MODULE] for task in yaml.safe_load(namespace['EXAMPLES']) if MODULE in task]
    assert len(examples) == 3
    for args in examples:
        assert set(args) <= options, set(args) - options
