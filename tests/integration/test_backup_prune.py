"""backup_prune through real ansible-playbook runs on generated destinations (tests/support/backup_tree.py).

The artifacts are fake bytes with valid manifests: retention never reads artifact contents.
"""

import datetime
import os
import shutil

import pytest
import yaml

from tests.support import backup_tree as tree
from tests.support.backup_tree import MYSQL_SERIES, PG_SERIES, utc
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

MODULE = 'caretaker.maintenance.backup_prune'
GFS = dict(keep_daily=7, keep_weekly=4, keep_monthly=12, keep_yearly=1)
# The survivors of a year of dailies (2025-11-24 to 2026-11-23) under GFS, worked out by hand:
# 7 days, the Sundays closing ISO weeks 47, 46 and 45, the last day of each month back to
# December 2025; the newest backup is also week 48, November 2026 and 2026.
GFS_SURVIVORS = [utc(2025, 12, 31, 2)] + [utc(2026, month, day, 2) for month, day in (
    (1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 8), (11, 15),
    (11, 17), (11, 18), (11, 19), (11, 20), (11, 21), (11, 22), (11, 23))]


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def sizes(dest):
    return dict((path, os.lstat(os.path.join(dest, path)).st_size) for path in tree.files(dest)
                if os.path.isfile(os.path.join(dest, path)))


def names(items):
    return sorted(os.path.basename(item['path']) for item in items)


def kept_reasons(result, series):
    return dict((os.path.basename(item['path']), item['reasons']) for item in result['series'][series]['kept'])


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / 'backups')


@pytest.fixture
def year(dest):
    times = tree.daily(datetime.date(2025, 11, 24), datetime.date(2026, 11, 23))
    paths = tree.make_series(dest, PG_SERIES, times, verified=[times[-1], times[100]])
    return times, paths


def test_year_check_mode_real_run_and_idempotence(dest, year):
    times, paths = year
    before = sizes(dest)
    doomed = [path for moment, path in zip(times, paths) if moment not in GFS_SURVIVORS]
    doomed_files = sorted(os.path.relpath(name, dest) for path in doomed for name in (path, path + '.manifest.json'))
    assert len(doomed) == 345

    checked, run = run_module(MODULE, dict(dest=dest, **GFS), check=True)
    assert run.returncode == 0, checked
    assert sizes(dest) == before                              # check mode deletes nothing
    assert checked['changed'] is True
    assert sorted(os.path.relpath(item['path'], dest) for item in checked['deleted']) == doomed_files
    assert checked['bytes_freed'] == sum(before[name] for name in doomed_files)
    assert checked['msg'] == 'would delete 690 files (%d bytes) in 1 of 1 series; kept 20 backups' % checked['bytes_freed']
    series = checked['series'][PG_SERIES]
    assert [item['time'] for item in series['kept']] == [moment.strftime('%Y-%m-%dT%H:%M:%SZ') for moment in GFS_SURVIVORS]
    reasons = kept_reasons(checked, PG_SERIES)
    newest = os.path.basename(paths[-1])
    assert reasons[newest] == ['daily 2026-11-23', 'weekly 2026-W48', 'monthly 2026-11', 'yearly 2026', 'newest verified']
    assert series['newest'] == series['newest_verified'] == paths[-1]

    pruned, run = run_module(MODULE, dict(dest=dest, **GFS))
    assert run.returncode == 0, pruned
    assert pruned['changed'] is True
    assert pruned['deleted'] == checked['deleted']
    assert tree.artifact_times(dest, PG_SERIES) == GFS_SURVIVORS
    assert sorted(sizes(dest)) == sorted(set(before) - set(doomed_files))

    again, run = run_module(MODULE, dict(dest=dest, **GFS))
    assert run.returncode == 0, again
    assert again['changed'] is False and again['deleted'] == [] and again['bytes_freed'] == 0
    assert kept_reasons(again, PG_SERIES)[newest] == reasons[newest]


def test_diff_mode_lists_what_goes_and_why_each_stays(dest):
    times = tree.daily(datetime.date(2026, 11, 1), datetime.date(2026, 11, 5))
    paths = tree.make_series(dest, PG_SERIES, times, verified=times[-1:])
    result, run = run_module(MODULE, dict(dest=dest, keep_last=2), check=True, diff=True)
    assert run.returncode == 0, result
    [diff] = result['diff']
    artifact_names = [os.path.basename(path) for path in paths]
    all_files = sorted(name + suffix for name in artifact_names for suffix in ('', '.manifest.json'))
    assert diff['before_header'] == diff['after_header'] == os.path.join(dest, PG_SERIES)
    assert diff['before'] == ''.join(name + '\n' for name in all_files)
    assert diff['after'] == ''.join(name + '\n' for name in all_files if name.startswith(tuple(artifact_names[-2:])))
    prepared = diff['prepared'].splitlines()
    assert prepared[0] == 'series %s: would delete 6 files (%d bytes), keep 2 backups' % (PG_SERIES, result['bytes_freed'])
    sizes_now = sizes(os.path.join(dest, PG_SERIES))
    assert prepared[1] == '  delete %s (%d bytes): matched no keep rule (keep_last 2)' % (
        artifact_names[0], sizes_now[artifact_names[0]])
    assert prepared[2] == '  delete %s.manifest.json (%d bytes): manifest, deleted with its artifact' % (
        artifact_names[0], sizes_now[artifact_names[0] + '.manifest.json'])
    assert prepared[-2:] == ['  keep   %s: last #2' % artifact_names[-2],
                             '  keep   %s: last #1, newest verified' % artifact_names[-1]]
    assert len(tree.files(dest)) == 11                          # nothing deleted in check mode


def test_newest_verified_and_newer_survive_an_old_series(dest):
    times = tree.daily(datetime.date(2020, 1, 1), datetime.date(2020, 1, 10))
    tree.make_series(dest, PG_SERIES, times, verified=times[:3])
    result, run = run_module(MODULE, dict(dest=dest, keep_within='1h'))
    assert run.returncode == 0, result
    assert tree.artifact_times(dest, PG_SERIES) == times[2:]
    reasons = [item['reasons'] for item in result['series'][PG_SERIES]['kept']]
    assert reasons[0] == ['newest verified']
    assert reasons[1:-1] == [['newer than newest verified']] * 6
    assert reasons[-1] == ['within 1h', 'newer than newest verified']
    assert len(result['deleted']) == 4


def test_series_without_verified_backup_keeps_everything_unless_require_verified_false(dest):
    times = tree.daily(datetime.date(2026, 11, 1), datetime.date(2026, 11, 6))
    tree.make_series(dest, PG_SERIES, times)
    result, run = run_module(MODULE, dict(dest=dest, keep_last=2))
    assert run.returncode == 0 and result['changed'] is False
    assert all(item['reasons'][-1] == 'no verified backup in this series (require_verified)'
               for item in result['series'][PG_SERIES]['kept'])
    assert result['series'][PG_SERIES]['newest_verified'] is None
    result, run = run_module(MODULE, dict(dest=dest, keep_last=2, require_verified=False))
    assert run.returncode == 0 and result['changed'] is True
    assert tree.artifact_times(dest, PG_SERIES) == times[-2:]


def test_max_age_refuses_the_stalled_series_and_prunes_the_others(dest):
    start = now().replace(microsecond=0)
    stalled = [start - datetime.timedelta(days=days, minutes=30) for days in (9, 8, 7, 6, 5)]
    fresh = [start - datetime.timedelta(days=days, hours=1) for days in (4, 3, 2, 1, 0)]
    tree.make_series(dest, PG_SERIES, stalled, verified=stalled)
    tree.make_series(dest, MYSQL_SERIES, fresh, verified=fresh)
    pg_before = sizes(os.path.join(dest, PG_SERIES))

    result, run = run_module(MODULE, dict(dest=dest, keep_last=1, max_age='2d'))
    assert run.returncode != 0 and result['failed'] is True
    assert result['msg'].startswith('series %s: newest backup %s-%s.pgdump.zst is 5d0h old, older than max_age 2d: '
                                    'nothing deleted in this series' % (PG_SERIES, PG_SERIES, tree.stamp(stalled[-1])))
    assert sizes(os.path.join(dest, PG_SERIES)) == pg_before
    assert result['series'][PG_SERIES]['refused'] and result['series'][PG_SERIES]['deleted'] == []
    assert all(item['reasons'][-1].startswith('refused: series %s' % PG_SERIES)
               for item in result['series'][PG_SERIES]['kept'])
    # The decision: the other series are pruned all the same, and the failed result says so.
    assert 'other series: deleted 8 files' in result['msg']
    assert result['changed'] is True
    assert tree.artifact_times(dest, MYSQL_SERIES) == fresh[-1:]
    assert result['series'][MYSQL_SERIES]['refused'] is None


def test_max_age_with_a_selected_fresh_series_passes(dest):
    fresh = [now().replace(microsecond=0) - datetime.timedelta(hours=hours) for hours in (50, 26, 2)]
    tree.make_series(dest, MYSQL_SERIES, fresh, verified=fresh)
    tree.make_series(dest, PG_SERIES, [utc(2020, 1, 1)], verified=[utc(2020, 1, 1)])
    result, run = run_module(MODULE, dict(dest=dest, series=[MYSQL_SERIES], keep_last=2, max_age='1d'))
    assert run.returncode == 0, result
    assert list(result['series']) == [MYSQL_SERIES]
    assert tree.artifact_times(dest, MYSQL_SERIES) == fresh[1:]


def test_unmanifested_artifacts_kept_unless_asked(dest):
    times = tree.daily(datetime.date(2026, 11, 1), datetime.date(2026, 11, 10))
    tree.make_series(dest, PG_SERIES, times[:8], verified=[times[7]])
    older = tree.make_backup(dest, PG_SERIES, times[0] + datetime.timedelta(hours=3), manifest=False)
    broken = tree.make_backup(dest, PG_SERIES, times[1] + datetime.timedelta(hours=3))
    with open(broken + '.manifest.json', 'w') as handle:
        handle.write('{not json')
    writing = tree.make_backup(dest, PG_SERIES, times[9], manifest=False)   # newer than the newest verified
    series_dir = os.path.join(dest, PG_SERIES)
    temp = os.path.join(series_dir, '.%s-%s.pgdump.zst.x1y2.tmp' % (PG_SERIES, tree.stamp(times[9] + datetime.timedelta(hours=1))))
    foreign = os.path.join(series_dir, 'other-20200101T000000Z.sql')
    for path in (temp, foreign):
        with open(path, 'w') as handle:
            handle.write('keep me')

    result, run = run_module(MODULE, dict(dest=dest, keep_last=1))
    assert run.returncode == 0, result
    reasons = kept_reasons(result, PG_SERIES)
    assert reasons[os.path.basename(older)] == ['no manifest: incomplete or foreign', 'set prune_unmanifested to delete it']
    assert reasons[os.path.basename(broken)][0].startswith('manifest unreadable: manifest %s.manifest.json' % broken)
    assert reasons[os.path.basename(foreign)] == ['not named for series %s' % PG_SERIES, 'never deleted']
    assert os.path.basename(temp) not in reasons
    assert len(result['deleted']) == 14    # 7 complete backups, artifact + manifest
    for path in (older, broken, broken + '.manifest.json', writing, temp, foreign):
        assert os.path.exists(path)

    result, run = run_module(MODULE, dict(dest=dest, keep_last=1, prune_unmanifested=True))
    assert run.returncode == 0, result
    assert names(result['deleted']) == sorted([os.path.basename(older), os.path.basename(broken),
                                               os.path.basename(broken) + '.manifest.json'])
    assert kept_reasons(result, PG_SERIES)[os.path.basename(writing)] == [
        'no manifest: incomplete or foreign',
        'not older than the newest verified backup: may be a backup still getting its manifest']
    newest = '%s-%s.pgdump.zst' % (PG_SERIES, tree.stamp(times[7]))
    assert sorted(os.listdir(series_dir)) == sorted([os.path.basename(temp), os.path.basename(foreign),
                                                     os.path.basename(writing), newest, newest + '.manifest.json'])


def test_symlinks_and_files_outside_dest_untouched(dest, tmp_path):
    outside = str(tmp_path / 'outside')
    old = tree.daily(datetime.date(2026, 1, 1), datetime.date(2026, 1, 5))
    tree.make_series(outside, PG_SERIES, old, verified=old[-1:])
    tree.make_series(dest, MYSQL_SERIES, old, verified=old[-1:])
    mysql_dir = os.path.join(dest, MYSQL_SERIES)
    # a series directory that is a symlink to backups outside dest
    os.symlink(os.path.join(outside, PG_SERIES), os.path.join(dest, PG_SERIES))
    # an artifact that is a symlink to a file outside, with a real manifest
    target = os.path.join(outside, PG_SERIES, os.listdir(os.path.join(outside, PG_SERIES))[0])
    linked = os.path.join(mysql_dir, '%s-20251201T020000Z.sql.zst' % MYSQL_SERIES)
    os.symlink(target, linked)
    shutil.copy(os.path.join(mysql_dir, sorted(os.listdir(mysql_dir))[1]), linked + '.manifest.json')
    # a real artifact whose manifest is a symlink to a manifest outside
    artifact = tree.make_backup(dest, MYSQL_SERIES, utc(2025, 12, 2, 2), manifest=False)
    os.symlink(target + '.manifest.json', artifact + '.manifest.json')
    outside_before = sizes(outside)
    links_before = sorted(path for path in tree.files(dest) if os.path.islink(os.path.join(dest, path)))

    result, run = run_module(MODULE, dict(dest=dest, keep_last=1, prune_unmanifested=True))
    assert run.returncode == 0, result
    assert list(result['series']) == [MYSQL_SERIES]              # the symlinked series is not followed
    assert sizes(outside) == outside_before
    assert sorted(path for path in tree.files(dest) if os.path.islink(os.path.join(dest, path))) == links_before
    assert kept_reasons(result, MYSQL_SERIES)[os.path.basename(artifact)] == ['manifest is a symlink', 'never deleted']
    assert os.path.exists(artifact)
    assert os.path.basename(linked) not in kept_reasons(result, MYSQL_SERIES)
    assert all(item['path'].startswith(mysql_dir + os.sep) for item in result['deleted'])
    assert tree.artifact_times(dest, MYSQL_SERIES) == [utc(2025, 12, 2, 2), old[-1]]

    result, run = run_module(MODULE, dict(dest=dest, series=[PG_SERIES], keep_last=1))
    assert run.returncode != 0
    assert result['msg'] == 'series %s under %s is a symlink; backup_prune never follows symlinks' % (PG_SERIES, dest)
    assert sizes(outside) == outside_before


def test_manifest_left_by_an_interrupted_prune_is_removed(dest):
    times = tree.daily(datetime.date(2026, 11, 1), datetime.date(2026, 11, 4))
    paths = tree.make_series(dest, PG_SERIES, times, verified=times)
    os.unlink(paths[0])                 # a crash between deleting the artifact and its manifest
    result, run = run_module(MODULE, dict(dest=dest, keep_last=3))
    assert run.returncode == 0, result
    assert [(os.path.basename(item['path']), item['reason']) for item in result['deleted']] == [
        (os.path.basename(paths[0]) + '.manifest.json', 'manifest without its artifact (left by an interrupted prune)')]
    assert sorted(os.listdir(os.path.join(dest, PG_SERIES))) == sorted(
        os.path.basename(path) + suffix for path in paths[1:] for suffix in ('', '.manifest.json'))


def test_bad_input_names_the_option(dest):
    tree.make_series(dest, PG_SERIES, [utc(2026, 11, 1, 2)], verified=[utc(2026, 11, 1, 2)])
    cases = [
        (dict(dest=dest), 'no retention policy: set at least one of keep_last, keep_hourly, keep_daily, keep_weekly, '
                          'keep_monthly, keep_yearly, keep_within'),
        (dict(dest=dest, keep_daily=0), 'no retention policy'),
        (dict(dest=dest, keep_within='3 weeks'), "keep_within '3 weeks' is not a duration: use whole numbers"),
        (dict(dest=dest, keep_last=1, max_age='1x'), "max_age '1x' is not a duration"),
        (dict(dest=dest, keep_weekly=-1), 'keep_weekly must be 0 or more (0 = rule not used), got -1'),
        (dict(dest=dest, keep_last=1, series=['nope']), 'series nope not found under dest %s (series there: %s)'
                                                        % (dest, PG_SERIES)),
        (dict(dest=dest, keep_last=1, series=['../etc']), "series '../etc' is not a series name"),
        (dict(dest=dest + '/missing', keep_last=1), 'dest %s/missing is not a directory' % dest),
    ]
    run = run_tasks([{'name': 'case %d' % index, MODULE: args, 'ignore_errors': True}
                     for index, (args, expected) in enumerate(cases)])
    for index, (args, expected) in enumerate(cases):
        result = run.task(index)
        assert result['failed'] is True, args
        assert result['msg'].startswith(expected), (args, result['msg'])
    assert len(tree.files(dest)) == 3


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('keep_daily', 'keep_within', 'max_age', 'prune_unmanifested', 'require_verified',))


EXAMPLE_DEST = '/var/backups/caretaker'


@pytest.fixture
def example_dest():
    """The examples name /var/backups/caretaker: build a destination there, remove it afterwards."""
    if os.path.lexists(EXAMPLE_DEST):
        pytest.skip('%s already exists on this machine; the examples would prune it' % EXAMPLE_DEST)
    try:
        os.makedirs(EXAMPLE_DEST, 0o700)
    except OSError as exc:
        pytest.skip('cannot create %s: %s' % (EXAMPLE_DEST, exc))
    try:
        yield EXAMPLE_DEST
    finally:
        shutil.rmtree(EXAMPLE_DEST)


def test_examples_run_as_written(example_dest):
    from ansible_collections.caretaker.maintenance.plugins.modules import backup_prune
    start = now().replace(microsecond=0, minute=0, second=0)
    times = [start - datetime.timedelta(days=days, hours=1) for days in range(40, -1, -1)]
    tree.make_series(example_dest, PG_SERIES, times, verified=times[::7] + times[-2:])
    tree.make_series(example_dest, MYSQL_SERIES, times, verified=times)
    tree.make_backup(example_dest, MYSQL_SERIES, times[0] + datetime.timedelta(minutes=5), manifest=False)
    run = run_tasks(yaml.safe_load(backup_prune.EXAMPLES))
    assert run.returncode == 0, run.stdout[-3000:]
    first = run.task(0)
    assert first['changed'] is True
    assert set(first['series']) == {PG_SERIES, MYSQL_SERIES}
    assert first['msg'] == run.task(1)['msg']
    preview = run.task(2)
    assert list(preview['series']) == [PG_SERIES]
    assert all(item['path'].startswith(os.path.join(example_dest, PG_SERIES)) for item in preview['deleted'])
    assert run.task(3)['msg'][1]['reasons'][-1] == 'newest verified'
    unmanifested = '%s-%s.sql.zst' % (MYSQL_SERIES, tree.stamp(times[0] + datetime.timedelta(minutes=5)))
    last = run.task(4)
    assert unmanifested in names(last['deleted'])
    # after the first task's policy fewer than 14 backups are left in each series
    assert len(tree.artifact_times(example_dest, PG_SERIES)) == len(first['series'][PG_SERIES]['kept'])
