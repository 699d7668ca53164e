"""What two converges (one day's daily, monthly and weekly runs, twice) left on the fleet:
one verified and restore-tested backup per database host, the logrotate file valid, old logs
compressed or deleted, the retention rules applied to the seeded rows, the Redis counters
without a TTL gone, and run reports on the controller naming every host."""

import json

import pytest

from tests.support.molecule_checks import BASIC, RESTORE, check_reports, manifests, outcomes, quote, runner

RUNNER = runner()
DATABASE_HOSTS = sorted(RUNNER.get_hosts('databases'))


def host(name):
    return RUNNER.get_host(name)


@pytest.mark.parametrize('name', DATABASE_HOSTS)
def test_one_backup_per_series_verified_and_restore_tested(name):
    found = manifests(host(name), '/var/backups/caretaker')
    assert found, 'no backup on %s' % name
    series = [path.rsplit('/', 1)[0] for path in found]
    # The second converge took no second backup: skip_if_newer_than found this one.
    assert len(series) == len(set(series)), sorted(found)
    for path, manifest in found.items():
        artifact = host(name).file(path)
        assert artifact.exists and artifact.size > 0 and artifact.mode == 0o600, path
        assert outcomes(manifest) == {BASIC: 'ok', RESTORE: 'ok'}, manifest['verifications']
        # Verified once each: the second converge trusted the records (skip_if_verified_within).
        assert len(manifest['verifications']) == 2, manifest['verifications']


def test_logrotate_accepts_the_installed_configuration():
    app = host('app')
    assert app.file('/etc/logrotate.d/app').contains('/var/log/app/')
    assert app.run('logrotate -d /etc/logrotate.d/app').rc == 0


def test_old_logs_compressed_or_deleted():
    logs = host('app').check_output('ls /var/log/app').split()
    assert 'app.log.1' in logs          # 5 days old: left alone
    assert 'app.log.2.gz' in logs and 'app.log.2' not in logs  # 40 days: compressed
    assert not [entry for entry in logs if entry.startswith('app.log.3')]  # 100 days: deleted
    assert 'access.log' in logs


def test_postgresql_retention_archived_the_old_appointments():
    def count(sql):
        return int(host('pg').check_output('runuser -u postgres -- psql -d appdb -Atc %s' % quote(sql)))
    assert count("select count(*) from appointments where starts_at < now() - interval '2 years'") == 0
    assert count('select count(*) from appointments') == 20
    assert count('select count(*) from appointments_archive') == 30


def test_mariadb_retention_deleted_the_old_rows():
    def count(sql):
        return int(host('maria').check_output('mariadb -N -B appdb -e %s' % quote(sql)))
    assert count('select count(*) from sessions') == 10
    assert count('select count(*) from sessions where last_seen < now() - interval 30 day') == 0
    assert count('select count(*) from notification_logs') == 15


def test_redis_counters_without_ttl_deleted():
    # The password stays in the container: its shell reads the file prepare.yml left there.
    keys = host('redis').check_output(
        'sh -c %s' % quote('REDISCLI_AUTH="$(cat /root/.redis-password)" redis-cli -h 127.0.0.1 --scan')).split()
    assert sorted(keys) == ['app:config', 'sess:1', 'sess:2']


@pytest.mark.parametrize('name', DATABASE_HOSTS)
def test_weekly_statistics_snapshot_written(name):
    target = host(name)
    snapshots = [entry for entry in target.check_output('ls /var/lib/caretaker/db_stats').split()
                 if entry.endswith('.json')]
    assert snapshots, 'no statistics snapshot on %s' % name
    for entry in snapshots:
        assert json.loads(target.file('/var/lib/caretaker/db_stats/' + entry).content_string), entry


def test_reports_on_the_controller_list_every_host():
    reports = check_reports(RUNNER.get_hosts('all'))
    assert len(reports[-2]['backups']) >= len(DATABASE_HOSTS), reports[-2]['backups']
