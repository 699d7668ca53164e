"""What two converges left on the gateway stack: the Redis cache's backup, gzip-compressed,
encrypted, verified and restore-tested once, its copy on the control host; the runbook's
logrotate file for the services' logs valid; the access log's 401 and 403 answers counted by
the weekly audit; reports naming every host with no failure."""

from tests.support.molecule_checks import BASIC, RESTORE, check_copies, check_reports, manifests, outcomes, runner

RUNNER = runner()


def host(name):
    return RUNNER.get_host(name)


def test_the_redis_backup_once_compressed_encrypted_and_restore_tested():
    backups = manifests(host('cache1'), '/var/backups/caretaker')
    assert len(backups) == 1, backups  # the idempotence run reused it (backup_skip_if_newer_than)
    [(path, manifest)] = backups.items()
    assert path.endswith('.gz.age'), path  # backup_compression gzip, backup_encryption_passphrase_file
    assert manifest['engine'] == 'redis'
    assert host('cache1').file(path).mode == 0o600
    assert outcomes(manifest) == {BASIC: 'ok', RESTORE: 'ok'}, manifest['verifications']


def test_the_copy_on_the_control_host_matches():
    assert len(check_copies(RUNNER, 'cache1', 'gwctl1')) == 1


def test_logrotate_accepts_the_services_configuration():
    gateway = host('gw1')
    assert gateway.file('/etc/logrotate.d/gateway-services').contains('/srv/gateway/services/\\*/logs/\\*.log')
    assert gateway.run('logrotate -d /etc/logrotate.d/gateway-services').rc == 0


def test_reports_name_every_host_and_count_the_auth_failures():
    reports = check_reports(RUNNER.get_hosts('all'))
    # The weekly audit's 401/403 review of the gateway's access log: two 401s and one 403.
    counted = [check['value'] for check in reports[-1]['checks']
               if check['host'] == 'gw1' and check['name'] == 'http_auth_failures']
    assert counted and set(counted) == {3}, counted
