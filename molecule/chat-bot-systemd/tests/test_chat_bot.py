"""What two converges left on the chat bot stack: the plain and the custom dump of
psychochauffeur_bot, encrypted, verified and restore-tested, each once; their copies on the
control host; chat older than 30 days deleted; the bot's stale log deleted and its .env made
0600 by the audit; the runbook's logrotate file valid; reports naming every host."""

import pytest

from tests.support.molecule_checks import BASIC, RESTORE, check_copies, check_reports, manifests, outcomes, quote, runner

RUNNER = runner()


def host(name):
    return RUNNER.get_host(name)


@pytest.fixture(scope='module', name='backups')
def backups_fixture():
    return manifests(host('db1'), '/var/backups/caretaker')


def test_plain_and_custom_dumps_once_each_encrypted_and_restore_tested(backups):
    formats = sorted(manifest.get('dump_format') for manifest in backups.values())
    assert formats == ['pgdump', 'sql'], backups  # format custom and plain
    for path, manifest in backups.items():
        assert path.endswith('.age'), path  # backup_encryption_passphrase_file
        assert host('db1').file(path).mode == 0o600, path
        assert outcomes(manifest) == {BASIC: 'ok', RESTORE: 'ok'}, manifest['verifications']
        assert len(manifest['verifications']) == 2, manifest['verifications']


def test_copies_on_the_control_host_match(backups):
    assert sorted(check_copies(RUNNER, 'db1', 'ctl1')) == sorted(backups)


def test_messages_older_than_30_days_deleted():
    def count(sql):
        return int(host('db1').check_output(
            'runuser -u postgres -- psql -d psychochauffeur_bot -Atc %s' % quote(sql)))
    assert count("select count(*) from messages where created_at < now() - interval '30 days'") == 0
    assert count('select count(*) from messages') == 60


def test_bot_secrets_made_private_and_stale_log_deleted():
    bot = host('bot1')
    assert bot.file('/opt/psychochauffeur-bot/.env').mode == 0o600
    logs = bot.check_output('ls /opt/psychochauffeur-bot/logs').split()
    assert 'stale.log' not in logs and 'error.log' in logs and 'general.log' in logs, logs
    assert bot.file('/etc/caretaker/backup.passphrase').exists is False  # only the database host holds it
    assert host('db1').file('/etc/caretaker/backup.passphrase').mode == 0o600


def test_logrotate_accepts_the_runbook_configuration():
    bot = host('bot1')
    assert bot.file('/etc/logrotate.d/psychochauffeur-bot').contains('/opt/psychochauffeur-bot/logs/')
    assert bot.run('logrotate -d /etc/logrotate.d/psychochauffeur-bot').rc == 0


def test_reports_on_the_controller_list_every_host():
    check_reports(RUNNER.get_hosts('all'))
