"""Task results as the collection's modules return them (shapes from their RETURN blocks),
after Ansible's callback cleaning, for the report tests."""

import copy
import datetime

T0 = datetime.datetime(2026, 11, 23, 2, 0, 0, tzinfo=datetime.timezone.utc)
PASSWORD = 'S3cr3t-Pa55w0rd-xyzzy'

RESOURCE = {
    'changed': False, 'status': 'warning', 'msg': '1 warning of 2 resource checks; disk /: 83.1 % used',
    'counts': {'ok': 1, 'warning': 1, 'critical': 0, 'unknown': 0},
    'checks': [
        {'name': 'disk /', 'status': 'warning', 'value': 83.1, 'unit': 'percent',
         'threshold': {'warning': 80.0, 'critical': 90.0, 'direction': 'above'}, 'detail': '83.1 % used'},
        {'name': 'memory', 'status': 'ok', 'value': 41.0, 'unit': 'percent',
         'threshold': {'warning': 85.0, 'critical': 95.0, 'direction': 'above'}, 'detail': None},
    ],
    'invocation': {'module_args': {'checks': ['disk', 'memory'], 'fail_on': 'never'}},
}

HEALTH_REPORT = {
    'changed': False, 'status': 'warning', 'msg': 'web1 is warning',
    'checks': copy.deepcopy(RESOURCE['checks']) + [
        {'name': 'service nginx', 'status': 'ok', 'value': 'running', 'unit': None, 'threshold': None,
         'detail': 'active'}],
    'lines': ['web1 is warning (3 checks)'],
}


def backup_item(index, database, size, sha):
    path = '/var/backups/caretaker/postgresql-127.0.0.1-5432-%s/postgresql-127.0.0.1-5432-%s-20261123T020000Z.pgdump.zst' \
        % (database, database)
    return {
        'changed': True, 'path': path, 'manifest': path + '.manifest.json',
        'series': 'postgresql-127.0.0.1-5432-%s' % database, 'sha256': sha, 'size': size,
        'estimated_size': size * 3, 'free_bytes': 10 ** 11, 'required_free_bytes': size * 6,
        'removed_temp_files': [], 'msg': 'wrote %s' % path,
        'manifest_content': {'artifact': path.rsplit('/', 1)[1], 'series': 'postgresql-127.0.0.1-5432-%s' % database,
                             'engine': 'postgresql', 'size': size, 'duration_seconds': 12.5, 'counts': {}},
        'invocation': {'module_args': {'login_password': PASSWORD, 'database': database}},
        'item': index, 'ansible_loop_var': 'item', '_ansible_item_label': 'postgresql/%s' % database,
    }


BACKUP_LOOP = {
    'changed': True, 'msg': 'All items completed',
    'results': [backup_item(0, 'appdb', 123456789, 'a' * 64), backup_item(1, 'billing', 5242880, 'b' * 64)],
}


def verify_item(backup, status='ok'):
    return {
        'changed': True, 'status': status, 'verified': status == 'ok', 'path': backup['path'],
        'msg': 'all 3 backup checks ok' if status == 'ok' else '1 critical of 3 backup checks; checksum: changed',
        'counts': {'ok': 3, 'warning': 0, 'critical': 0, 'unknown': 0},
        'checks': [{'name': 'checksum', 'status': status, 'value': backup['sha256'], 'unit': None, 'threshold': None,
                    'detail': 'matches the manifest' if status == 'ok' else 'the artifact changed since it was written'}],
        # The verify loop runs over the backup results themselves: the whole dict is the item.
        'item': copy.deepcopy(backup), 'ansible_loop_var': 'item', '_ansible_item_label': backup['path'].rsplit('/', 1)[1],
    }


VERIFY_LOOP = {
    'changed': True, 'msg': 'All items completed', 'failed': True,
    'results': [verify_item(BACKUP_LOOP['results'][0]),
                dict(verify_item(BACKUP_LOOP['results'][1], 'critical'), failed=True)],
}

PRUNE = {
    'changed': True, 'msg': 'deleted 2 files (4096 bytes) in 1 of 2 series; kept 7 backups',
    'deleted': [{'path': '/var/backups/caretaker/x/old.pgdump.zst', 'bytes': 4000, 'reason': 'matched no keep rule'},
                {'path': '/var/backups/caretaker/x/old.pgdump.zst.manifest.json', 'bytes': 96,
                 'reason': 'matched no keep rule'}],
    'bytes_freed': 4096, 'series': {},
}

LOG_CLEANUP = {
    'changed': True, 'msg': 'compressed 2 files, deleted 1 file; 1180000 bytes freed',
    'compressed': [{'path': '/var/log/app/a.log', 'archive': '/var/log/app/a.log.gz', 'bytes_before': 900000,
                    'bytes_after': 100000},
                   {'path': '/var/log/app/b.log', 'archive': '/var/log/app/b.log.gz', 'bytes_before': 200000,
                    'bytes_after': 20000}],
    'deleted': [{'path': '/var/log/app/c.log.gz', 'bytes': 200000, 'reason': 'older than delete_after_days (90)'}],
    'bytes_freed': 1180000, 'skipped_files': [], 'errors': [], 'roots': [],
}

RETENTION_LOOP = {
    'changed': True, 'msg': 'All items completed',
    'results': [{
        'changed': True, 'msg': 'archived 1200, deleted 310 rows in 2 rules (1510 matched)', 'matched': 1510,
        'affected': 1510,
        'rules': [
            {'name': 'finished jobs', 'table': 'public.jobs', 'action': 'archive', 'older_than': '90d',
             'cutoff': '2026-08-25T02:00:00Z', 'matched': 1200, 'affected': 1200, 'left': 0, 'batches': 1,
             'archive_table': 'archive.jobs', 'archive_created': False, 'seconds': 1.2},
            {'name': 'sessions', 'table': 'public.sessions', 'action': 'delete', 'older_than': '30d',
             'cutoff': '2026-10-24T02:00:00Z', 'matched': 310, 'affected': 310, 'left': 0, 'batches': 1,
             'archive_table': None, 'archive_created': False, 'seconds': 0.3},
            {'name': 'old users', 'table': 'public.users', 'action': 'anonymize', 'older_than': '2y',
             'cutoff': '2024-11-23T02:00:00Z', 'matched': 7, 'affected': 7, 'left': 0, 'batches': 1,
             'archive_table': None, 'archive_created': False, 'seconds': 0.1},
        ],
        'item': 0, 'ansible_loop_var': 'item', '_ansible_item_label': 'appdb'}],
}

OPTIMIZE = {
    'changed': True, 'target': 'postgresql@127.0.0.1:5432/appdb', 'engine': 'postgresql',
    'msg': 'ran vacuum 1 (public.events); skipped 1',
    'results': [
        {'table': 'public.events', 'operation': 'vacuum', 'status': 'done', 'reason': '12000 dead rows, 92.3 %',
         'command': 'VACUUM (ANALYZE) "public"."events"', 'done_by': None, 'seconds': 0.42,
         'size_before': 23019520, 'size_after': 1941504, 'metrics': {'dead_rows': 12000}, 'messages': []},
        {'table': 'public.users', 'operation': 'reindex', 'status': 'skipped', 'reason': 'not needed',
         'command': None, 'done_by': None, 'seconds': None, 'size_before': 8192, 'size_after': None,
         'metrics': {}, 'messages': []},
    ],
    'totals': {'tables': 2, 'tables_acted_on': 1, 'done': 1, 'would_run': 0, 'skipped': 1, 'failed': 0, 'left': 0,
               'seconds': 0.42, 'size_before': 23019520, 'size_after': 1941504, 'reclaimed_bytes': 21078016},
    'left': [], 'max_duration': None, 'only_if_needed': True,
}

FAILED_CHECK = {
    'changed': False, 'failed': True, 'status': 'critical',
    'msg': '1 critical of 1 http checks; api /health: HTTP 503',
    'checks': [{'name': 'api /health', 'status': 'critical', 'value': 503, 'unit': None, 'threshold': None,
                'detail': 'HTTP 503 from https://deploy:%s@api.example.test/health' % PASSWORD}],
}

CENSORED = {'changed': False, 'censored': "the output has been hidden due to the fact that 'no_log: true' was "
                                          "specified for this result"}

UNREACHABLE = {'unreachable': True, 'changed': False,
               'msg': 'Failed to connect to the host via ssh: ssh: connect to host db2 port 22: Connection refused'}

STATS = {
    'web1': {'ok': 5, 'changed': 1, 'failures': 0, 'unreachable': 0, 'skipped': 2, 'rescued': 0, 'ignored': 0},
    'db1': {'ok': 9, 'changed': 6, 'failures': 1, 'unreachable': 0, 'skipped': 0, 'rescued': 0, 'ignored': 0},
    'db2': {'ok': 0, 'changed': 0, 'failures': 0, 'unreachable': 1, 'skipped': 0, 'rescued': 0, 'ignored': 0},
    'cache1': {'ok': 0, 'changed': 0, 'failures': 0, 'unreachable': 0, 'skipped': 4, 'rescued': 0, 'ignored': 0},
}


def collect(started=T0, check_mode=False, backup_sizes=None):
    """A Collector fed the results of a realistic run over four hosts."""
    from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.model import Collector
    run = Collector(started, check_mode=check_mode)
    run.add_playbook('/srv/caretaker/playbooks/daily.yml')
    run.add_play('Daily backups')
    run.add_result('web1', 'Check disk, memory', copy.deepcopy(RESOURCE), action='caretaker.maintenance.resource_check',
                   play='Health')
    run.add_result('web1', 'Combine the checks', copy.deepcopy(HEALTH_REPORT),
                   action='caretaker.maintenance.health_report', play='Health')
    run.add_result('web1', 'Clean logs', copy.deepcopy(LOG_CLEANUP), action='caretaker.maintenance.log_cleanup',
                   play='Logs')
    run.add_result('web1', 'Post the alert', copy.deepcopy(CENSORED), action='ansible.builtin.uri', play='Health')
    backups = copy.deepcopy(BACKUP_LOOP)
    for item, size in zip(backups['results'], backup_sizes or ()):
        item['size'] = item['manifest_content']['size'] = size
    run.add_result('db1', 'Take the backups', backups, action='caretaker.maintenance.db_backup', play='Daily backups',
                   is_loop=True)
    run.add_result('db1', 'Verify the new backups', copy.deepcopy(VERIFY_LOOP), outcome='failed',
                   action='caretaker.maintenance.backup_verify', play='Daily backups', is_loop=True)
    run.add_result('db1', 'Prune old backups', copy.deepcopy(PRUNE), action='caretaker.maintenance.backup_prune',
                   play='Daily backups')
    run.add_result('db1', 'Apply the retention rules', copy.deepcopy(RETENTION_LOOP),
                   action='caretaker.maintenance.data_retention', play='Weekly', is_loop=True)
    run.add_result('db1', 'Optimise', copy.deepcopy(OPTIMIZE), action='caretaker.maintenance.db_optimize', play='Weekly')
    run.add_result('db1', 'Probe HTTP endpoints', copy.deepcopy(FAILED_CHECK), outcome='failed', ignored=True,
                   action='caretaker.maintenance.http_check', play='Health')
    run.add_result('db2', 'Gathering Facts', copy.deepcopy(UNREACHABLE), outcome='unreachable', action='gather_facts',
                   play='Health')
    run.set_stats(copy.deepcopy(STATS))
    return run


def report(started=T0, check_mode=False, backup_sizes=None, minutes=3):
    return collect(started, check_mode, backup_sizes).report(started + datetime.timedelta(minutes=minutes), 'daily')
