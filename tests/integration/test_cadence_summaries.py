"""The summary play at the end of daily.yml, weekly.yml and monthly.yml, against a real PostgreSQL
and redis-server: its lines carry the run's real counts (backups and their names, files cleaned,
rows that would be archived, keys that would be deleted), check mode says "would" and changes
nothing, and a run limited by --tags still ends with the summary."""

import json
import os
import sys
import time

import pytest

from tests.support import artifacts
from tests.support.playbook import ROOT, run_playbook
from tests.support.redis_fixtures import empty_client, own_redis

REDIS_PASSWORD = 'summary-redis-pw'
DAY = 86400
OLD_EVENTS = 100  # rows 300..399 days old: older than 6mo whatever the calendar says


@pytest.fixture(scope='module')
def redis_server(tmp_path_factory):
    with own_redis(tmp_path_factory.mktemp('redis-summary'), REDIS_PASSWORD) as server:
        yield server


def age(path, days):
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment))


class Stack:
    """A PostgreSQL database with an events table, a Redis with keys without a TTL, an
    application log directory and a small tree for the security review, all on localhost."""

    def __init__(self, tmp_path, pg_server, redis_server):
        self.tmp_path = tmp_path
        self.pg_server = pg_server
        self.dest = tmp_path / 'backups'
        self.logs = tmp_path / 'logs'
        artifacts.seed_postgresql(pg_server, 'summary_src', users=30, orders=20)
        conn = artifacts.pg_connect(pg_server, 'summary_src')
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE events (id serial PRIMARY KEY, at timestamptz NOT NULL, kind text)")
            cur.execute("INSERT INTO events (at, kind) SELECT now() - g * interval '1 day', 'recent'"
                        " FROM generate_series(1, 100) g")
            cur.execute("INSERT INTO events (at, kind) SELECT now() - g * interval '1 day', 'old'"
                        " FROM generate_series(300, 300 + %s - 1) g", (OLD_EVENTS,))
        conn.close()
        self.logs.mkdir()
        (self.logs / 'app.log').write_text('INFO started\nERROR payment failed\nINFO done\n')
        for name, days in (('week.log', 10), ('ancient.log', 100)):
            (self.logs / name).write_text('INFO line\n' * 50)
            age(self.logs / name, days)
        app = tmp_path / 'app'
        app.mkdir()
        (app / 'upload.sh').write_text('#!/bin/sh\n')
        os.chmod(app / 'upload.sh', 0o777)
        (tmp_path / 'passwd').write_text('root:x:0:0:root:/root:/bin/bash\n')
        (tmp_path / 'sshd_config').write_text('PermitRootLogin no\nPasswordAuthentication no\n')
        self.redis = redis_server
        pg = dict(pg_server.target(), database='summary_src')
        redis = redis_server.target()
        self.variables = {
            'backup_dest': str(self.dest),
            'backup_databases': [pg, redis],
            'backup_retention': {'keep_last': 1},
            'log_maintenance_cleanup': [{'name': 'app logs', 'paths': [str(self.logs)], 'compress_after_days': 7,
                                         'delete_after_days': 90}],
            'log_maintenance_scan': [{'name': 'app', 'paths': [str(self.logs / 'app.log')], 'format': 'text'}],
            'db_maintenance_stats_dir': str(tmp_path / 'stats'),
            'db_maintenance_databases': [dict(pg, name='pg-summary', retention_rules=[
                {'name': 'old events', 'table': 'events', 'timestamp_column': 'at', 'older_than': '6mo',
                 'action': 'archive'}])],
            'cache_maintenance_instances': [dict(redis, name='cache', delete_without_ttl=['tmp:*'])],
            'security_audit_paths': [str(app)],
            'security_audit_passwd_file': str(tmp_path / 'passwd'),
            'security_audit_sshd_config': str(tmp_path / 'sshd_config'),
            'security_audit_allow_loopback': True,
            'security_audit_allowed_ports': ['0-65535'],
            'security_audit_updates': False,
            'security_audit_fail_on': 'never',
        }
        self.secrets = [pg_server.password, REDIS_PASSWORD]

    def run(self, playbook, check=False, extra_args=(), inventory='localhost,', succeeds=True):
        path = write_private(self.tmp_path / 'vars.json', self.variables)
        run = run_playbook(ROOT / 'playbooks' / playbook, inventory=str(inventory), check=check,
                           extra_args=['-e', '@%s' % path] + list(extra_args))
        for secret in self.secrets:
            assert secret not in run.stdout and secret not in run.stderr
        if succeeds:
            assert run.returncode == 0, run.stdout[-4000:]
        return run

    def files(self):
        """Every file under the stack but the vars file, with its size and mtime."""
        found = {}
        for path in self.tmp_path.rglob('*'):
            if path.is_file() and path.name != 'vars.json':
                info = path.stat()
                found[str(path)] = (info.st_size, info.st_mtime_ns)
        return found

    def artifacts(self):
        return sorted(p.name for p in self.dest.rglob('*') if p.is_file() and not p.name.endswith('.manifest.json'))


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(data, handle)  # JSON is YAML
    return path


def blocks(run):
    """The summary play's message: {host: lines}, from the one host it ran on (run_once)."""
    play = run.data['plays'][-1]
    assert play['play']['name'].endswith('summary'), play['play']['name']
    (task,) = play['tasks']
    (shown,) = task['hosts'].values()
    return shown['msg']


def summary(run, host='localhost'):
    """The summary play's lines for ``host``."""
    return blocks(run)[host]


def task_result(run, name_end, host='localhost'):
    """The result of the last task named ``name_end`` (the role's task, not the include_role)."""
    found = [task['hosts'][host] for play in run.data['plays'] for task in play['tasks']
             if task['task']['name'].endswith(name_end) and host in task['hosts']]
    assert found, 'no task %r ran' % name_end
    return found[-1]


def line(lines, start):
    found = [text for text in lines if text.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


@pytest.fixture
def stack(tmp_path, pg_server, redis_server):
    made = Stack(tmp_path, pg_server, redis_server)
    with empty_client(redis_server) as client:
        for index in range(5):
            client.set('tmp:%d' % index, 'x')
        client.set('tmp:kept', 'x', ex=9000)
        made.client = client
        yield made
    artifacts.pg_drop(pg_server, 'summary_src')


def test_daily_real_run_then_check_mode(stack):
    done = stack.run('daily.yml')
    lines = summary(done)
    taken = stack.artifacts()
    assert len(taken) == 2
    backups = line(lines, 'backups: took 2 backups, ')
    assert all(name in backups for name in taken), (backups, taken)
    assert line(lines, 'verified: ') == 'verified: 2 of 2 backups ok'
    assert line(lines, 'pruned: ') == 'pruned: deleted 0 files, 0 B'
    assert line(lines, 'logs cleaned: ').startswith('logs cleaned: compressed 1, deleted 1, freed ')
    assert line(lines, 'logs scanned (app): ').startswith('logs scanned (app): ')
    assert sorted(p.name for p in stack.logs.iterdir()) == ['app.log', 'week.log.gz']

    before = stack.files()
    planned = stack.run('daily.yml', check=True)
    assert stack.files() == before  # check mode changed nothing
    lines = summary(planned)
    would = line(lines, 'backups: would take 2 backups: ')
    for item in task_result(planned, 'Take the backups')['results']:
        assert os.path.basename(item['path']) in would
    assert line(lines, 'verified: ') == 'verified: skipped'
    assert line(lines, 'pruned: ') == 'pruned: would delete 0 files, 0 B'  # keep_last 1 keeps the one there
    assert line(lines, 'logs cleaned: ') == 'logs cleaned: would compress 0, delete 0, free 0 B'


def test_daily_with_tags_logs_still_ends_with_the_summary(stack):
    run = stack.run('daily.yml', extra_args=['--tags', 'logs'])
    lines = summary(run)
    assert lines and all(text.startswith('logs ') for text in lines), lines
    assert not stack.dest.exists()  # the backup play did not run


def test_weekly_in_check_mode(stack):
    before = stack.files()
    run = stack.run('weekly.yml', check=True)
    assert stack.files() == before
    lines = summary(run)

    optimized = task_result(run, 'Run the optimisations of each database')['results'][0]
    target = line(lines, 'optimise %s: ' % optimized['target'])
    skipped = sum(1 for op in optimized['results'] if op['status'] == 'skipped')
    planned = sum(1 for op in optimized['results'] if op['status'] == 'would_run')
    assert 'done' not in target
    assert ('%d skipped' % skipped in target) == (skipped > 0), target
    assert ('would run' in target) == (planned > 0), target

    stats = task_result(run, 'Collect the statistics of each database')['results'][0]
    assert line(lines, 'stats (pg-summary): ').startswith('stats (pg-summary): %s - %s' % (stats['status'], stats['msg'][:80]))
    assert line(lines, 'logs scanned (app): ').startswith('logs scanned (app): ')

    audit = task_result(run, 'Audit the host')
    warnings = sum(check['value'] or 0 for check in audit['checks'] if check['status'] == 'warning')
    assert any(c['name'] == 'world_writable' and c['value'] == 1 for c in audit['checks']), audit['checks']
    assert line(lines, 'security: ').startswith('security: %s - ' % audit['status'])
    assert '%d warning' % warnings in line(lines, 'security: ')

    cache = line(lines, 'cache redis@')
    assert 'would delete 5 keys' in cache, cache  # tmp:0..4; tmp:kept has a TTL
    assert len(stack.client.keys('tmp:*')) == 6  # nothing deleted in check mode


def test_monthly_in_check_mode_counts_the_rows_it_would_archive(stack):
    before = stack.files()
    run = stack.run('monthly.yml', check=True)
    assert stack.files() == before
    lines = summary(run)
    assert line(lines, 'backups: ').startswith('backups: would take 2 backups: ')
    assert line(lines, 'verified: ') == 'verified: skipped'
    assert line(lines, 'retention old events ') == (
        'retention old events (public.events, older than 6mo): would archive %d rows of %d matched'
        % (OLD_EVENTS, OLD_EVENTS))
    conn = artifacts.pg_connect(stack.pg_server, 'summary_src')
    with conn.cursor() as cur:
        cur.execute('SELECT count(*) FROM events')
        assert cur.fetchone()[0] == 100 + OLD_EVENTS  # nothing archived in check mode
    conn.close()


def test_quarterly_in_check_mode(stack):
    stack.variables.update(security_audit_integrity_paths=[str(stack.tmp_path / 'app')],
                           security_audit_baseline_file=str(stack.tmp_path / 'baseline.json'))
    before = stack.files()
    run = stack.run('quarterly.yml', check=True)
    assert stack.files() == before  # no baseline written
    audit = task_result(run, 'Audit the host')
    assert 'integrity' in audit['checks_run']
    assert summary(run) == [line(summary(run), 'security: %s - ' % audit['status'])]


def test_restore_in_check_mode_names_the_target_and_restores_nothing(stack):
    stack.run('daily.yml', extra_args=['--skip-tags', 'logs'])
    server = stack.pg_server
    stack.variables.update(
        restore_engine='postgresql', restore_database='summary_src', restore_target_database='summary_restored',
        restore_confirm='summary_restored', restore_login_host=server.host, restore_login_port=server.port,
        restore_login_user=server.user, restore_login_password=server.password)
    run = stack.run('restore.yml', check=True)
    restored = task_result(run, 'Restore the newest verified backup')
    assert summary(run) == ['restore into summary_restored: %s' % restored['msg']]
    assert os.path.basename(restored['path']) in stack.artifacts()
    assert not artifacts.pg_exists(server, 'summary_restored')


def test_a_host_whose_backup_failed_still_has_its_block(stack, stopped_target):
    good = stack.variables.pop('backup_databases')
    down = stopped_target('postgresql')
    stack.secrets.append(down['login_password'])
    host = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
    inventory = write_private(stack.tmp_path / 'hosts.yml', {'all': {'hosts': {
        'db1': dict(host, backup_databases=good), 'db2': dict(host, backup_databases=[down])}}})
    run = stack.run('daily.yml', inventory=inventory, extra_args=['--skip-tags', 'logs'], succeeds=False)
    assert run.returncode != 0 and run.stats['db2']['failures'] == 1
    shown = blocks(run)
    assert sorted(shown) == ['db1', 'db2']
    assert line(shown['db1'], 'backups: ').startswith('backups: took 2 backups, ')
    (failed,) = shown['db2']
    assert failed.startswith('backups (postgresql/%s) failed: ' % (down.get('database') or 'all')), failed


def test_monthly_real_run_restore_tests_and_archives(stack):
    lines = summary(stack.run('monthly.yml'))
    assert line(lines, 'backups: ').startswith('backups: took 2 backups, ')
    assert line(lines, 'verified: ') == 'verified: 2 of 2 backups ok, 2 restore-tested'
    assert line(lines, 'retention old events ') == (
        'retention old events (public.events, older than 6mo): archived %d rows of %d matched' % (OLD_EVENTS, OLD_EVENTS))
