# -*- coding: utf-8 -*-
"""The report model on realistic results: what each module's shape turns into, loops,
failures, no_log and secrets."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
from pathlib import Path

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report import markdown
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.model import Collector, failure_message
from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.scrub import (
    HIDDEN, item_label, scrub, scrub_text)

from tests.support import report_results as rr


def by_host(rows, host):
    return [row for row in rows if row['host'] == host]


def test_hosts_get_state_status_and_stats():
    report = rr.report()
    assert list(report['hosts']) == ['cache1', 'db1', 'db2', 'web1']
    states = dict((name, host['state']) for name, host in report['hosts'].items())
    assert states == {'web1': 'warning', 'db1': 'failed', 'db2': 'unreachable', 'cache1': 'skipped'}
    assert report['hosts']['web1']['status'] == 'warning'
    # db1's worst check is the ignored http failure and the failed verification: critical
    assert report['hosts']['db1']['status'] == 'critical'
    assert report['hosts']['db2']['status'] is None
    assert report['hosts']['db1']['stats'] == rr.STATS['db1']
    assert report['skipped_hosts'] == ['cache1']
    assert report['status'] == 'critical'
    assert report['failed'] is True
    assert report['started'] == '2026-11-23T02:00:00Z' and report['finished'] == '2026-11-23T02:03:00Z'
    assert report['duration_seconds'] == 180.0
    assert report['playbooks'] == ['/srv/caretaker/playbooks/daily.yml']


def test_checks_keep_value_unit_threshold_and_health_report_adds_only_new_items():
    report = rr.report()
    web = by_host(report['checks'], 'web1')
    assert [(c['name'], c['task']) for c in web] == [
        ('disk /', 'Check disk, memory'), ('memory', 'Check disk, memory'), ('service nginx', 'Combine the checks')]
    disk = web[0]
    assert disk['status'] == 'warning' and disk['value'] == 83.1 and disk['unit'] == 'percent'
    assert disk['threshold'] == {'warning': 80.0, 'critical': 90.0, 'direction': 'above'}
    assert disk['play'] == 'Health'
    assert [(r['task'], r['status'], r['checks']) for r in by_host(report['results'], 'web1')] == [
        ('Check disk, memory', 'warning', 2), ('Combine the checks', 'warning', 3)]
    assert report['totals']['checks'] == {'ok': 3, 'warning': 1, 'critical': 2, 'unknown': 0}


def test_the_same_item_from_two_runs_of_a_check_module_is_listed_twice():
    run = Collector(rr.T0)
    loop = {'results': [dict(copy.deepcopy(rr.RESOURCE), item=n, ansible_loop_var='item') for n in (1, 2)]}
    run.add_result('web1', 'resources', loop, action='resource_check', is_loop=True)
    report = run.report(rr.T0, 'health')
    assert [(c['name'], c['item']) for c in report['checks']] == [
        ('disk /', '1'), ('memory', '1'), ('disk /', '2'), ('memory', '2')]


def test_backups_from_a_loop_with_size_sha_duration_and_verification():
    report = rr.report()
    backups = report['backups']
    assert [(b['series'], b['size'], b['sha256'], b['duration_seconds'], b['engine']) for b in backups] == [
        ('postgresql-127.0.0.1-5432-appdb', 123456789, 'a' * 64, 12.5, 'postgresql'),
        ('postgresql-127.0.0.1-5432-billing', 5242880, 'b' * 64, 12.5, 'postgresql')]
    assert backups[0]['item'] == 'postgresql/appdb'
    assert backups[0]['path'].endswith('appdb-20261123T020000Z.pgdump.zst')
    assert [b['verified'] for b in backups] == ['ok', 'critical']
    assert [(v['status'], v['verified']) for v in report['verifications']] == [('ok', True), ('critical', False)]
    assert report['totals']['backups'] == 2
    assert report['totals']['backup_bytes'] == 123456789 + 5242880
    assert (report['totals']['verified_ok'], report['totals']['verified_failed']) == (1, 1)


def test_failed_loop_items_are_failures_with_their_label_and_message():
    report = rr.report()
    verify = [f for f in report['failures'] if f['task'] == 'Verify the new backups']
    assert len(verify) == 1
    assert verify[0]['item'].startswith('postgresql-127.0.0.1-5432-billing-')
    assert verify[0]['msg'] == '1 critical of 3 backup checks; checksum: changed'
    assert verify[0]['ignored'] is False and verify[0]['kind'] == 'failed'
    http = [f for f in report['failures'] if f['task'] == 'Probe HTTP endpoints'][0]
    assert http['ignored'] is True
    unreachable = [f for f in report['failures'] if f['host'] == 'db2'][0]
    assert unreachable['kind'] == 'unreachable' and 'Connection refused' in unreachable['msg']
    assert report['totals']['failed_tasks'] == 2 and report['totals']['ignored_failures'] == 1


def test_bytes_freed_from_log_cleanup_and_backup_prune():
    report = rr.report()
    assert [(c['host'], c['module'], c['bytes_freed'], c['compressed'], c['deleted']) for c in report['cleanups']] == [
        ('web1', 'log_cleanup', 1180000, 2, 1), ('db1', 'backup_prune', 4096, None, 2)]
    assert report['totals']['bytes_freed'] == 1184096


def test_retention_rules_with_matched_and_affected_per_action():
    report = rr.report()
    rules = [(r['rule'], r['table'], r['action'], r['matched'], r['affected'], r['item']) for r in report['retention']]
    assert rules == [('finished jobs', 'public.jobs', 'archive', 1200, 1200, 'appdb'),
                     ('sessions', 'public.sessions', 'delete', 310, 310, 'appdb'),
                     ('old users', 'public.users', 'anonymize', 7, 7, 'appdb')]
    assert report['totals']['rows_by_action'] == {'archive': 1200, 'delete': 310, 'anonymize': 7}
    assert report['totals']['rows_affected'] == 1517


def test_optimisation_operations_and_reclaimed_bytes():
    report = rr.report()
    ops = [(o['target'], o['table'], o['operation'], o['status'], o['size_before'], o['size_after'])
           for o in report['optimizations']]
    assert ops == [('postgresql@127.0.0.1:5432/appdb', 'public.events', 'vacuum', 'done', 23019520, 1941504),
                   ('postgresql@127.0.0.1:5432/appdb', 'public.users', 'reindex', 'skipped', 8192, None)]
    assert report['totals']['operations_done'] == 1
    assert report['totals']['reclaimed_bytes'] == 23019520 - 1941504


def test_db_optimize_in_a_loop_is_read_per_item():
    run = Collector(rr.T0)
    loop = {'results': [dict(copy.deepcopy(rr.OPTIMIZE), item=0, ansible_loop_var='item', _ansible_item_label='appdb')]}
    run.add_result('db1', 'optimise', loop, action='caretaker.maintenance.db_optimize', is_loop=True)
    report = run.report(rr.T0, 'weekly')
    assert [(o['item'], o['table']) for o in report['optimizations']] == [('appdb', 'public.events'),
                                                                          ('appdb', 'public.users')]


def test_censored_results_count_and_leave_nothing_else():
    run = Collector(rr.T0)
    run.add_result('web1', 'secret ok', copy.deepcopy(rr.CENSORED))
    run.add_result('web1', 'secret failed', dict(rr.CENSORED, failed=True), outcome='failed')
    loop = {'changed': False, 'results': [dict(rr.CENSORED, _ansible_no_log=True, failed=True),
                                          {'_ansible_no_log': True, 'status': 'ok', 'checks': [], 'msg': rr.PASSWORD}]}
    run.add_result('web1', 'secret loop', loop, outcome='failed', is_loop=True)
    report = run.report(rr.T0, 'x')
    assert report['hosts']['web1']['censored'] == 4
    assert [(f['task'], f['msg']) for f in report['failures']] == [
        ('secret failed', 'output hidden by no_log'), ('secret loop', 'output hidden by no_log')]
    assert report['results'] == [] and report['checks'] == []
    assert rr.PASSWORD not in json.dumps(report)


def test_no_password_or_invocation_reaches_the_report():
    report = rr.report()
    text = json.dumps(report)
    assert rr.PASSWORD not in text
    assert 'invocation' not in text and 'module_args' not in text
    detail = [c for c in report['checks'] if c['name'] == 'api /health'][0]['detail']
    assert detail == 'HTTP 503 from https://%s@api.example.test/health' % HIDDEN


def test_scrub_hides_secret_keys_at_any_depth_and_drops_invocation():
    value = {'login_password': rr.PASSWORD, 'nested': [{'api_token': 'abc', 'Secret': 'x', 'name': 'db1'}],
             'invocation': {'module_args': {}}, '_ansible_no_log': False, 'passphrase_file': '/etc/key',
             'token_valid': True, 'password': None, 'item': {'login_password': rr.PASSWORD}}
    assert scrub(value) == {'login_password': HIDDEN, 'nested': [{'api_token': HIDDEN, 'Secret': HIDDEN, 'name': 'db1'}],
                            'passphrase_file': HIDDEN, 'token_valid': True, 'password': None}


def test_scrub_text_masks_credentials_in_words():
    assert scrub_text('postgresql://app:%s@db1/app' % rr.PASSWORD) == 'postgresql://%s@db1/app' % HIDDEN
    assert rr.PASSWORD not in scrub_text('mysqldump --password=%s failed' % rr.PASSWORD)
    assert rr.PASSWORD not in scrub_text('login_password: "%s"' % rr.PASSWORD)
    assert scrub_text('Authorization: Bearer abcdefghijklmnop') == 'Authorization: Bearer %s' % HIDDEN
    assert scrub_text('HTTP 503 from /health') == 'HTTP 503 from /health'


def test_item_label_never_shows_a_dict():
    assert item_label({'_ansible_item_label': 'appdb', 'item': 0}, 0) == 'appdb'
    assert item_label({'item': 3}, 3) == '3'
    assert item_label({'item': {'login_password': rr.PASSWORD}}, 2) == 'item 2'
    assert item_label({'_ansible_item_label': {'name': 'x'}, 'item': {}}, 1) == 'item 1'
    assert item_label({'_ansible_no_log': True, 'item': 'secret-value'}, 4) == 'item 4'


def test_failure_message_falls_back_to_stderr_then_rc():
    assert failure_message({'msg': 'it broke'}) == 'it broke'
    assert failure_message({'stderr': 'warning: x\nerror: disk full\n', 'rc': 1}) == 'error: disk full'
    assert failure_message({'rc': 3}) == 'exited with rc 3'
    assert len(failure_message({'msg': 'x' * 5000})) < 2100


def test_results_without_a_known_shape_add_nothing_but_the_host():
    run = Collector(rr.T0)
    run.add_result('web1', 'debug', {'msg': 'hello', 'changed': False})
    run.add_result('web1', 'odd', 'not a dict')
    run.add_result('web1', 'bad status', {'status': 'fine', 'checks': []})
    report = run.report(rr.T0, 'x')
    assert report['hosts']['web1']['state'] == 'ok'
    assert report['checks'] == [] and report['results'] == [] and report['failures'] == []
    assert report['status'] is None


def test_check_mode_backups_have_no_size():
    run = Collector(rr.T0, check_mode=True)
    run.add_result('db1', 'backup', {'changed': True, 'path': '/b/x.pgdump', 'series': 'x', 'msg': 'would write'},
                   action='caretaker.maintenance.db_backup')
    report = run.report(rr.T0, 'daily')
    assert report['check_mode'] is True
    assert [(b['path'], b['size'], b['sha256']) for b in report['backups']] == [('/b/x.pgdump', None, None)]
    assert report['totals']['backups'] == 0


def test_a_backup_kept_as_fresh_is_listed_but_not_counted_as_taken():
    run = Collector(rr.T0)
    run.add_result('db1', 'backup', {'changed': True, 'path': '/b/new.pgdump', 'series': 'x', 'size': 100},
                   action='caretaker.maintenance.db_backup')
    run.add_result('db1', 'backup', {'changed': False, 'path': '/b/old.rdb', 'series': 'y', 'size': 40,
                                     'skipped_reason': 'old.rdb is 1h00m old, newer than skip_if_newer_than 20h'},
                   action='caretaker.maintenance.db_backup')
    report = run.report(rr.T0, 'daily')
    assert [b['path'] for b in report['backups']] == ['/b/new.pgdump', '/b/old.rdb']
    assert report['totals']['backups'] == 1 and report['totals']['backup_bytes'] == 100
    assert report['totals']['backups_kept'] == 1
    text = markdown.render(report)
    assert '| taken |' in text and '| kept, fresh |' in text
    assert '1 backup taken, 100 B. 1 backup kept' in text


def test_docs_list_every_top_level_key_of_the_json():
    docs = (Path(__file__).resolve().parents[5] / 'docs' / 'reports.md').read_text()
    table = docs.split('## The JSON', 1)[1].split('\n## ', 1)[0]
    documented = set()
    for line in table.splitlines():
        if line.startswith('| `'):
            documented.update(re.findall(r'`([a-z_]+)`', line.split(' | ', 1)[0]))
    assert documented == set(rr.report())
    stats = ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored')
    for key in rr.report()['totals']:
        assert '`%s`' % key in table or key in stats, key


def test_a_failed_backup_is_a_failure_not_a_backup():
    run = Collector(rr.T0)
    failed = {'failed': True, 'changed': False, 'path': '/b/x.pgdump', 'series': 'x',
              'msg': 'pg_dump exited 1: connection refused'}
    run.add_result('db1', 'backup', failed, outcome='failed', action='caretaker.maintenance.db_backup')
    report = run.report(rr.T0, 'daily')
    assert report['backups'] == []
    assert [(f['task'], f['msg']) for f in report['failures']] == [('backup', 'pg_dump exited 1: connection refused')]
