"""log_cleanup when files change between the scan and the work: real files, the library called directly."""

import gzip
import os
import stat
import time

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import cleanup_apply as apply
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import cleanup_compress as compressor
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_options import Options
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_run import Cleanup
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_walk import PathChanged, open_dir, scan

OLD = time.time() - 40 * 86400


def write_logs(directory, names, mode=0o644):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = directory / name
        path.write_bytes(('%s line\n' % name).encode() * 200)
        os.chmod(path, mode)
        os.utime(path, (OLD, OLD))


def make(tmp_path, names, mode=0o644):
    write_logs(tmp_path, names, mode)
    opts = Options({'paths': [str(tmp_path)], 'compress_after_days': 30})
    found = scan(str(tmp_path), opts)
    return opts, dict((item.name, item) for item in found.files), found


@pytest.fixture(params=['O_TMPFILE', 'named temp file'])
def temp_kind(request, monkeypatch):
    if request.param == 'named temp file':
        monkeypatch.setattr(compressor, '_TMPFILE_FLAGS', os.O_WRONLY)     # as on a filesystem without O_TMPFILE
    return request.param


def test_an_archive_appearing_after_the_scan_is_not_overwritten(tmp_path, temp_kind):
    opts, files, found = make(tmp_path, ['app.log'])
    dir_fd = open_dir(found.dirs[0])
    try:
        pending = compressor.write(dir_fd, files['app.log'], 'gzip', 6, '.gz')
        assert pending.status == 'pending' and (pending.temp is None) == (temp_kind == 'O_TMPFILE')
        (tmp_path / 'app.log.gz').write_bytes(b'someone else')
        assert compressor.flush([pending], compressor.find_syncfs()) == []
        assert compressor.publish(dir_fd, pending, 'app.log.gz') is False
    finally:
        os.close(dir_fd)
    assert (tmp_path / 'app.log.gz').read_bytes() == b'someone else'
    assert sorted(os.listdir(tmp_path)) == ['app.log', 'app.log.gz']      # no temp file left


def test_a_published_archive_is_complete_with_the_source_attributes(tmp_path, temp_kind):
    opts, files, found = make(tmp_path, ['app.log'], mode=0o640)
    dir_fd = open_dir(found.dirs[0])
    try:
        pending = compressor.write(dir_fd, files['app.log'], 'gzip', 9, '.gz')
        assert compressor.flush([pending]) == []                          # the fsync-each path
        assert compressor.publish(dir_fd, pending, 'app.log.gz') is True
    finally:
        os.close(dir_fd)
    st = os.stat(tmp_path / 'app.log.gz')
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_size) == (0o640, files['app.log'].mtime_ns, pending.size)
    assert gzip.decompress((tmp_path / 'app.log.gz').read_bytes()) == (tmp_path / 'app.log').read_bytes()
    with gzip.open(tmp_path / 'app.log.gz') as handle:
        handle.read()
        assert handle.mtime == int(files['app.log'].mtime)
    assert (tmp_path / 'app.log.gz').read_bytes()[10:18] == b'app.log\0'  # the original name, as gzip -N restores it
    assert sorted(os.listdir(tmp_path)) == ['app.log', 'app.log.gz']


def test_a_log_changed_after_the_scan_is_left_alone(tmp_path):
    opts, files, found = make(tmp_path, ['app.log'])
    with open(tmp_path / 'app.log', 'ab') as handle:
        handle.write(b'one more line\n')
    dir_fd = open_dir(found.dirs[0])
    try:
        outcome = compressor.write(dir_fd, files['app.log'], 'gzip', 6, '.gz')
    finally:
        os.close(dir_fd)
    assert (outcome.status, outcome.text) == ('skipped', 'changed since it was scanned: left as it is')
    assert sorted(os.listdir(tmp_path)) == ['app.log']


def test_a_log_written_to_after_its_archive_was_made_is_kept_and_the_archive_removed(tmp_path):
    opts, files, found = make(tmp_path, ['app.log', 'other.log'])
    dir_fd = open_dir(found.dirs[0])
    try:
        pendings = [compressor.write(dir_fd, files[name], 'gzip', 6, '.gz') for name in ('app.log', 'other.log')]
        assert [pending.status for pending in pendings] == ['pending', 'pending']
        assert compressor.flush(pendings, compressor.find_syncfs()) == []
        assert [apply._publish(dir_fd, pending, pending.item.name + '.gz') for pending in pendings] == [None, None]
        with open(tmp_path / 'app.log', 'ab') as handle:
            handle.write(b'late line\n')
        outcomes = [apply._remove_source(dir_fd, pending, '.gz') for pending in pendings]
    finally:
        os.close(dir_fd)
    assert outcomes == [('skipped', 'written to while being compressed: left as it is'), None]
    assert sorted(os.listdir(tmp_path)) == ['app.log', 'other.log.gz']
    assert gzip.decompress((tmp_path / 'other.log.gz').read_bytes()) == b'other.log line\n' * 200


def test_a_directory_swapped_for_a_symlink_is_not_entered(tmp_path):
    (tmp_path / 'logs' / 'sub').mkdir(parents=True)
    (tmp_path / 'elsewhere').mkdir()
    path = tmp_path / 'logs' / 'sub' / 'app.log'
    path.write_bytes(b'x' * 100)
    os.utime(path, (OLD, OLD))
    opts = Options({'paths': [str(tmp_path / 'logs')], 'compress_after_days': 30, 'recurse': True})
    found = scan(str(tmp_path / 'logs'), opts)
    sub = [directory for directory in found.dirs if directory.rel == ('sub',)][0]
    os.rename(tmp_path / 'logs' / 'sub', tmp_path / 'elsewhere' / 'sub')
    os.symlink(tmp_path / 'elsewhere' / 'sub', tmp_path / 'logs' / 'sub')
    try:
        open_dir(sub)
        raise AssertionError('open_dir followed a symlink')
    except PathChanged as exc:
        assert str(exc) == '%s was replaced or removed since it was scanned: not touched' % os.path.dirname(path)
    cleanup = Cleanup(opts, time.time(), check_mode=False)
    plan = cleanup.plan(found)
    assert apply.Apply(opts, False, cleanup.skipped, cleanup.errors).compress(plan.compress) == []
    assert cleanup.errors == [{'path': str(path), 'error': '%s was replaced or removed since it was scanned: not touched'
                               % os.path.dirname(path)}]
    assert os.listdir(tmp_path / 'elsewhere' / 'sub') == ['app.log']


def test_units_in_worker_processes_give_what_one_process_gives(tmp_path):
    names = ['app%02d.log' % n for n in range(40)]
    outcomes = {}
    for workers in (1, 3):
        root = tmp_path / ('w%d' % workers)
        for sub in ('a', 'b', 'c'):
            write_logs(root / sub, names)
        opts = Options({'paths': [str(root)], 'compress_after_days': 30, 'recurse': True, 'workers': workers})
        found = scan(str(root), opts)
        cleanup = Cleanup(opts, time.time(), check_mode=False)
        plan = cleanup.plan(found)
        made = apply.Apply(opts, False, cleanup.skipped, cleanup.errors).compress(plan.compress)
        outcomes[workers] = sorted((os.path.relpath(item.path, str(root)), size) for item, size, key in made)
        assert len(made) == 120 and cleanup.errors == [] and cleanup.skipped == []
        assert all(key == (os.stat(item.path + '.gz').st_dev, os.stat(item.path + '.gz').st_ino) for item, size, key in made)
        assert sorted(os.listdir(root / 'b')) == sorted(name + '.gz' for name in names)
    assert outcomes[1] == outcomes[3]
