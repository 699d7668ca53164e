# -*- coding: utf-8 -*-
"""maintenance_summary on registered results shaped as the roles register them: real runs,
check mode, skipped tasks, absent results, failures and a backup kept as fresh."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.filter.summary import FilterModule

from tests.support import report_results as rr

SUMMARY = FilterModule().filters()['maintenance_summary']
APPDB = 'postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst'
BILLING = 'postgresql-127.0.0.1-5432-billing-20261123T020000Z.pgdump.zst'


def loop(*items):
    """A registered loop result, each item marked as Ansible marks loop items (its index unless
    it has an item); registered results carry no _ansible_item_label."""
    return {'changed': any(i.get('changed') for i in items), 'msg': 'All items completed',
            'results': [dict(copy.deepcopy(i), item=i.get('item', n), ansible_loop_var='item')
                        for n, i in enumerate(items)]}


def lines(host_vars, check_mode=False):
    return SUMMARY({'db1': host_vars}, ['db1'], check_mode=check_mode)['db1']


def check_mode_backups():
    """db_backup in check mode: the path it would write, no size or checksum."""
    taken = copy.deepcopy(rr.BACKUP_LOOP)
    for item in taken['results']:
        for key in ('sha256', 'size', 'manifest_content'):
            del item[key]
    return taken


def test_daily_run_counts_names_sizes_verification_and_prune():
    verified = loop(rr.verify_item(rr.BACKUP_LOOP['results'][0]), rr.verify_item(rr.BACKUP_LOOP['results'][1]))
    verified['results'][1]['checks'].append({'name': 'restore_test', 'status': 'ok', 'value': 'scratch', 'unit': None,
                                             'threshold': None, 'detail': 'restored'})
    got = lines({'backup_taken': rr.BACKUP_LOOP, 'backup_verified': verified, 'backup_pruned': rr.PRUNE,
                 'log_maintenance_cleaned': loop(rr.LOG_CLEANUP)})
    assert got == [
        'backups: took 2 backups, 122.7 MiB: %s (117.7 MiB), %s (5.0 MiB)' % (APPDB, BILLING),
        'verified: 2 of 2 backups ok, 1 restore-tested',
        'pruned: deleted 2 files, 4.0 KiB',
        'logs cleaned: compressed 2, deleted 1, freed 1.1 MiB',
    ]


def test_check_mode_says_would_and_a_skipped_verification_says_skipped():
    skipped_verify = loop({'skipped': True, 'changed': False}, {'skipped': True, 'changed': False})
    got = lines({'backup_taken': check_mode_backups(), 'backup_verified': skipped_verify, 'backup_pruned': rr.PRUNE,
                 'log_maintenance_cleaned': loop(rr.LOG_CLEANUP)}, check_mode=True)
    assert got == [
        'backups: would take 2 backups: %s, %s' % (APPDB, BILLING),
        'verified: skipped',
        'pruned: would delete 2 files, 4.0 KiB',
        'logs cleaned: would compress 2, delete 1, free 1.1 MiB',
    ]


def test_a_fresh_existing_backup_is_reported_as_skipped_not_taken():
    fresh = copy.deepcopy(rr.BACKUP_LOOP['results'][0])
    fresh.update(changed=False, skipped_reason='the newest backup is 2h old, newer than 1d')
    got = lines({'backup_taken': loop(fresh, rr.BACKUP_LOOP['results'][1])})
    assert got == ['backups: took 1 backup, 5.0 MiB: %s (5.0 MiB)' % BILLING,
                   'backups: skipped 1 backup, a fresh one exists: %s (the newest backup is 2h old, newer than 1d)'
                   % APPDB]


def test_failed_verification_is_one_line_with_its_message():
    got = lines({'backup_taken': rr.BACKUP_LOOP, 'backup_verified': rr.VERIFY_LOOP})
    assert got[1] == 'verified: 1 of 2 backups ok; %s critical: 1 critical of 3 backup checks; checksum: changed' % BILLING
    assert len(got) == 2


def test_verifications_with_checks_not_run_or_skipped_as_recent_are_counted():
    partial = rr.verify_item(rr.BACKUP_LOOP['results'][0])
    partial['skipped'] = ['restore_test: not asked for']  # backup_verify's list of checks not run
    recent = rr.verify_item(rr.BACKUP_LOOP['results'][1])
    recent.update(changed=False, skipped=[], verification_skipped=True, skipped_reason='verified 2h ago, within 1d',
                  msg='skipped: verified 2h ago, within 1d')
    got = lines({'backup_verified': loop(partial, recent)})
    assert got == ['verified: 2 of 2 backups ok, 1 verified recently and not again']


def test_failed_backup_item_gets_a_failure_line():
    failed = {'failed': True, 'changed': False, 'msg': 'pg_dump: connection refused'}
    databases = [{'engine': 'postgresql', 'database': 'billing'}, {'engine': 'postgresql', 'database': 'appdb',
                                                                   'login_password': rr.PASSWORD}]
    got = lines({'backup_taken': loop(rr.BACKUP_LOOP['results'][1], failed), 'backup_databases': databases})
    assert got[-1] == 'backups (postgresql/appdb) failed: pg_dump: connection refused'
    assert rr.PASSWORD not in ' '.join(got)


def test_absent_results_give_no_line_and_an_empty_loop_says_nothing():
    empty_loop = {'changed': False, 'skipped': True, 'skipped_reason': 'No items in the list', 'results': []}
    assert lines({}) == ['nothing ran']
    assert lines({'backup_taken': empty_loop, 'unrelated': {'changed': True}}) == ['nothing ran']
    assert lines({'security_audit_result': {'skipped': True, 'changed': False, 'skip_reason': 'Conditional result was False'}}) == [
        'security: skipped']


def test_weekly_optimise_stats_and_scans():
    scan = {'changed': False, 'status': 'warning', 'msg': '120 lines from 1 file: 3.3 % 5xx',
            'checks': [{'name': 'error_rate', 'status': 'warning', 'value': 3.3, 'unit': 'percent'}],
            'item': {'name': 'nginx', 'paths': ['/var/log/nginx/access.log']}}
    stats = {'changed': False, 'status': 'ok', 'msg': 'all 8 database stats ok', 'target': 'postgresql@x/appdb',
             'checks': [{'name': 'postgresql@x/appdb connections', 'status': 'ok', 'value': 3}]}
    got = lines({'db_maintenance_optimized': loop(rr.OPTIMIZE), 'db_maintenance_statistics': loop(stats),
                 'log_maintenance_reported': loop(scan), 'log_maintenance_scanned': {'skipped': True, 'changed': False},
                 'db_maintenance_databases': [{'name': 'pg-appdb', 'engine': 'postgresql'}]})
    assert got == [
        'logs scanned (nginx): warning - 120 lines from 1 file: 3.3 % 5xx',
        'optimise postgresql@127.0.0.1:5432/appdb: 1 operation done on 1 table (public.events), 1 skipped; '
        '20.1 MiB reclaimed',
        'stats (pg-appdb): ok - all 8 database stats ok',
    ]
    planned = copy.deepcopy(rr.OPTIMIZE)
    planned['results'][0].update(status='would_run', seconds=None, size_after=None)
    assert lines({'db_maintenance_optimized': loop(planned)}, check_mode=True) == [
        'optimise postgresql@127.0.0.1:5432/appdb: 1 operation would run on 1 table (public.events), 1 skipped']


def test_retention_rows_per_rule_and_what_was_left():
    retained = copy.deepcopy(rr.RETENTION_LOOP)
    retained['results'][0]['rules'][1].update(affected=300, left=10)
    got = lines({'db_maintenance_retained': retained})
    assert got == [
        'retention finished jobs (public.jobs, older than 90d): archived 1200 rows of 1200 matched',
        'retention sessions (public.sessions, older than 30d): deleted 300 rows of 310 matched, '
        '10 left (locked or changed meanwhile)',
        'retention old users (public.users, older than 2y): anonymised 7 rows of 7 matched',
    ]
    assert lines({'db_maintenance_retained': rr.RETENTION_LOOP}, check_mode=True)[0] == (
        'retention finished jobs (public.jobs, older than 90d): would archive 1200 rows of 1200 matched')


CACHE = {
    'changed': True, 'status': 'ok', 'msg': 'delete 12 keys ...', 'target': 'redis@127.0.0.1:6379/0',
    'checks': [{'name': 'memory', 'status': 'ok', 'value': 1.0, 'unit': 'percent'}],
    'delete_without_ttl': [{'pattern': 'analytics:*', 'scanned': 20, 'matched': 12, 'affected': 12}],
    'expire_without_ttl': [{'pattern': 'cache:*', 'seconds': 60, 'scanned': 5, 'matched': 3, 'affected': 3}],
    'idle_sessions': [{'pattern': 'sess:*', 'scanned': 9, 'matched': 4, 'affected': 4}],
    'queues': [{'name': 'mail', 'clean': [{'state': 'completed', 'matched': 40, 'affected': 40},
                                          {'state': 'failed', 'matched': 2, 'affected': 2}]}],
}

SECURITY = {
    'changed': False, 'status': 'critical', 'msg': '1 critical, 2 warning of 12 security checks',
    'checks': [{'name': 'uid0', 'status': 'critical', 'value': 1}, {'name': 'world_writable', 'status': 'warning', 'value': 2},
               {'name': 'listening_port', 'status': 'warning', 'value': 1}, {'name': 'sshd', 'status': 'ok', 'value': 0}],
    'fixed': [{'path': '/srv/app/.env', 'mode_before': '0644', 'mode_after': '0600'}],
    'baseline': {'written': True},
}


def test_cache_security_docker_and_restore():
    docker = {'check_mode': False, 'msg': 'removed 2 containers, 1 image; reclaimed 1.0 GiB', 'reclaimed_bytes': 2 ** 30}
    restore = {'changed': True, 'msg': 'restored a.pgdump.zst into new postgresql appdb_restored; counts match 2 of 2',
               'target_database': 'appdb_restored'}
    got = lines({'cache_maintenance_cleaned': loop(CACHE), 'security_audit_result': SECURITY,
                 'docker_maintenance_report': docker, 'restore_result': restore})
    assert got == [
        'cache redis@127.0.0.1:6379/0: deleted 16 keys, gave 3 keys a TTL, removed 42 jobs; ok',
        'security: critical - findings: 1 critical, 3 warning; fixed 1 secrets file; baseline written',
        'restore into appdb_restored: restored a.pgdump.zst into new postgresql appdb_restored; counts match 2 of 2',
        'docker: removed 2 containers, 1 image; reclaimed 1.0 GiB',
    ]
    assert lines({'cache_maintenance_cleaned': loop(CACHE)}, check_mode=True) == [
        'cache redis@127.0.0.1:6379/0: would delete 16 keys, give 3 keys a TTL, remove 42 jobs; ok']


def test_a_failed_restore_says_why():
    failed = {'failed': True, 'changed': False, 'msg': 'no verified backup of appdb', 'target_database': 'x'}
    assert lines({'restore_result': failed}) == ['restore failed: no verified backup of appdb']


def test_secrets_in_messages_are_masked():
    scan = {'changed': False, 'status': 'ok', 'msg': 'read https://u:%s@h/x' % rr.PASSWORD, 'checks': []}
    got = lines({'log_maintenance_scanned': loop(scan)})
    assert rr.PASSWORD not in ' '.join(got)


def test_one_block_per_host_in_the_order_given():
    hostvars = {'web1': {'log_maintenance_cleaned': loop(rr.LOG_CLEANUP)}, 'db1': {'backup_pruned': rr.PRUNE}}
    assert list(SUMMARY(hostvars, ['web1', 'db1'])) == ['web1', 'db1']


@pytest.mark.parametrize('hostvars, hosts, message', [
    (['db1'], ['db1'], 'expects hostvars'),
    ({'db1': {}}, 'db1', 'hosts must be a list'),
    ({'db1': {}}, ['db2'], 'no variables for host db2'),
])
def test_bad_input_names_the_filter(hostvars, hosts, message):
    with pytest.raises(AnsibleFilterError, match='maintenance_summary: ' + message):
        SUMMARY(hostvars, hosts)
