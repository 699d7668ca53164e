"""db_backup's skip_if_newer_than against a real PostgreSQL 15: a rerun within the window takes
no backup and reports no change, but never trusts a backup that is damaged, failed its
verification or has aged out of the window."""

import time
from pathlib import Path

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from tests.support import dump_watch
from tests.support.playbook import run_module

MODULE = 'caretaker.maintenance.db_backup'


def backups(tmp_path, pg_server):
    return [backup.path for backup in layout.list_backups(str(dump_watch.series_dir(tmp_path, pg_server, 'appdb')))]


def args_for(pg_server, tmp_path, window):
    return dict(pg_server.target(), database='appdb', dest=str(tmp_path), skip_if_newer_than=window)


def test_a_rerun_within_the_window_reuses_the_backup(pg_server, tmp_path):
    args = args_for(pg_server, tmp_path, '20h')
    first = run_module(MODULE, args)[0]
    assert first['changed'] is True and first['skipped_reason'] is None
    predicted = run_module(MODULE, args, check=True)[0]
    again = run_module(MODULE, args)[0]
    for result in (predicted, again):
        assert result['changed'] is False
        assert result['path'] == first['path'] and result['sha256'] == first['sha256']
        assert result['size'] == first['size']
        assert Path(first['path']).name in result['skipped_reason'] and '20h' in result['skipped_reason']
    assert 'no new dump would be taken' in predicted['msg'] and 'no new dump was taken' in again['msg']
    assert backups(tmp_path, pg_server) == [first['path']]


def test_a_damaged_or_failed_backup_is_not_reused(pg_server, tmp_path):
    args = args_for(pg_server, tmp_path, '20h')
    first = run_module(MODULE, args)[0]
    with open(first['path'], 'ab') as handle:
        handle.write(b'trailing bytes')
    second = run_module(MODULE, args)[0]
    assert second['changed'] is True and second['path'] != first['path']
    manifests.add_verification(second['path'], 'checksum', 'failed', 'sha256 mismatch')
    third = run_module(MODULE, args)[0]
    assert third['changed'] is True and third['path'] not in (first['path'], second['path'])
    manifests.add_verification(third['path'], 'checksum', 'ok', 'sha256 matches')
    fourth = run_module(MODULE, args)[0]
    assert fourth['changed'] is False and fourth['path'] == third['path']
    assert backups(tmp_path, pg_server) == [first['path'], second['path'], third['path']]


def test_a_backup_older_than_the_window_is_replaced(pg_server, tmp_path):
    args = args_for(pg_server, tmp_path, '1s')
    first = run_module(MODULE, args)[0]
    # Names carry whole seconds: after two seconds the first backup is out of a 1 s window.
    time.sleep(2.1)
    second = run_module(MODULE, args)[0]
    assert second['changed'] is True and second['path'] != first['path']
    assert len(backups(tmp_path, pg_server)) == 2


def test_a_window_that_is_not_an_interval_is_refused(pg_server, tmp_path):
    result, run = run_module(MODULE, args_for(pg_server, tmp_path, 'tomorrow'))
    assert run.returncode != 0
    assert "skip_if_newer_than 'tomorrow' is not an interval" in result['msg']
    assert not dump_watch.series_dir(tmp_path, pg_server, 'appdb').exists()
