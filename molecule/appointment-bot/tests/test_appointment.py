"""What two converges left on the appointment-booking stack: the MySQL dump of
appointment_scheduler, encrypted, verified and restore-tested once, its copy on the control
host; appointments older than two years moved to appointments_archive, expired sessions and
notification logs older than six months deleted, the other rows kept; the log archive past 90
days deleted and the recent logs kept; the runbook's logrotate file valid; the access log's 401
and 403 answers counted by the weekly audit; reports naming every host with no failure."""

import pytest

from tests.support.molecule_checks import BASIC, RESTORE, check_copies, check_reports, manifests, outcomes, quote, runner

RUNNER = runner()
LOGS = '/srv/appointment-scheduler/logs'


def host(name):
    return RUNNER.get_host(name)


def count(sql):
    # As root over the socket: the caretaker password stays on the controller.
    return int(host('appt-db1').check_output('mariadb -N -B appointment_scheduler -e %s' % quote(sql)))


@pytest.fixture(scope='module', name='reports')
def reports_fixture():
    return check_reports(RUNNER.get_hosts('all'))


def test_the_mysql_backup_once_encrypted_and_restore_tested():
    backups = manifests(host('appt-db1'), '/var/backups/caretaker')
    assert len(backups) == 1, backups  # the idempotence run reused it (backup_skip_if_newer_than)
    [(path, manifest)] = backups.items()
    assert path.endswith('.zst.age'), path  # the default zstd, backup_encryption_passphrase_file
    assert manifest['engine'] == 'mysql' and manifest['database'] == 'appointment_scheduler', manifest
    assert host('appt-db1').file(path).mode == 0o600
    assert outcomes(manifest) == {BASIC: 'ok', RESTORE: 'ok'}, manifest['verifications']
    # Verified once after the dump and restore-tested once: the rerun trusted both records.
    assert len(manifest['verifications']) == 2, manifest['verifications']


def test_the_copy_on_the_control_host_matches():
    assert len(check_copies(RUNNER, 'appt-db1', 'appt-ctl1')) == 1


def test_old_appointments_moved_to_the_archive():
    assert count('select count(*) from appointments') == 25  # 20 recent, 5 twenty months old
    assert count('select count(*) from appointments where created_at < now() - interval 2 year') == 0
    assert count('select count(*) from appointments_archive') == 30
    assert count('select count(*) from appointments_archive where created_at >= now() - interval 2 year') == 0
    # Moved, not copied: no row is in both tables.
    assert count('select count(*) from appointments a join appointments_archive b using (id)') == 0


def test_expired_sessions_deleted_live_ones_kept():
    assert count('select count(*) from sessions') == 10
    assert count('select count(*) from sessions where expires_at > now()') == 10


def test_notification_logs_older_than_six_months_deleted():
    assert count('select count(*) from notification_logs') == 20  # 15 recent, 5 five months old
    assert count('select count(*) from notification_logs where created_at < now() - interval 6 month') == 0


def test_the_retention_rules_acted_once(reports):
    def affected(report):
        return dict((rule['rule'], rule['affected']) for rule in report['retention'] if rule['host'] == 'appt-db1')
    assert affected(reports[-2]) == {'appointments older than 2 years': 30, 'expired sessions': 15,
                                     'notification logs older than 6 months': 25}, reports[-2]['retention']
    assert affected(reports[-1]) == {'appointments older than 2 years': 0, 'expired sessions': 0,
                                     'notification logs older than 6 months': 0}, reports[-1]['retention']


def test_old_log_archive_deleted_recent_logs_kept():
    logs = sorted(host('appt-app1').check_output('ls %s' % LOGS).split())
    assert logs == ['access.log', 'app.log', 'app.log.2.gz', 'bot.log'], logs  # app.log.45.gz was 120 days old


def test_logrotate_accepts_the_runbook_configuration():
    app = host('appt-app1')
    rotate = app.file('/etc/logrotate.d/appointment-scheduler')
    assert rotate.contains('/srv/appointment-scheduler/logs/\\*.log') and rotate.contains('rotate 30')
    assert app.run('logrotate -d /etc/logrotate.d/appointment-scheduler').rc == 0


def test_reports_name_every_host_and_count_the_auth_failures(reports):
    # The weekly audit's 401/403 review of the API's access log: two 401s and one 403.
    for report in reports[-2:]:
        counted = [check['value'] for check in report['checks']
                   if check['host'] == 'appt-app1' and check['name'] == 'http_auth_failures']
        assert counted and set(counted) == {3}, counted
        # The private .env (0600) passes the secrets check: nothing under the project readable by others.
        secrets = [(check['status'], check['value']) for check in report['checks']
                   if check['host'] == 'appt-app1' and check['name'] == 'secret_permissions']
        assert secrets and set(secrets) == {('ok', 0)}, secrets
