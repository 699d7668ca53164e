"""What two converges left on the delivery platform: the MongoDB and the Redis backups, each
zstd-compressed, encrypted, verified and restore-tested once, with their copies on the control
host; the monthly retention rules applied to delauto (call logs deleted, completed deliveries
archived, archived ones past three years deleted, old customers anonymised); the weekly cache
and queue upkeep (analytics counters without a TTL, idle sessions, finished Bull jobs); the
runbook's logrotate file valid; the API's 401 and 403 answers counted; reports naming every
host with no failure. MongoDB is nx-27017, the wire-protocol server the host image has."""

import json

import pytest

from tests.support.molecule_checks import BASIC, RESTORE, check_copies, check_reports, manifests, outcomes, quote, runner

RUNNER = runner()
DATABASE_HOSTS = ['delivery-db1', 'delivery-cache1']


def host(name):
    return RUNNER.get_host(name)


def mongo(script):
    """What ``script`` prints, run by python3 on the MongoDB host with ``db`` bound to delauto."""
    program = ('import json, pymongo\n'
               'db = pymongo.MongoClient("127.0.0.1", 27017, directConnection=True).delauto\n' + script)
    return json.loads(host('delivery-db1').check_output('python3 -c %s' % quote(program)))


def redis(command):
    # The password stays in the container: its shell reads the file prepare.yml left there.
    return host('delivery-cache1').check_output('sh -c %s' % quote(
        'REDISCLI_AUTH="$(cat /root/.redis-password)" redis-cli -h 127.0.0.1 ' + command)).split()


@pytest.mark.parametrize(('name', 'engine'), [('delivery-db1', 'mongodb'), ('delivery-cache1', 'redis')])
def test_backup_once_compressed_encrypted_and_restore_tested(name, engine):
    backups = manifests(host(name), '/var/backups/caretaker')
    assert len(backups) == 1, backups  # the idempotence run reused it (backup_skip_if_newer_than)
    [(path, manifest)] = backups.items()
    assert path.endswith('.zst.age'), path  # backup_compression zstd, backup_encryption_passphrase_file
    assert manifest['engine'] == engine
    assert host(name).file(path).mode == 0o600
    assert outcomes(manifest) == {BASIC: 'ok', RESTORE: 'ok'}, manifest['verifications']
    assert len(manifest['verifications']) == 2, manifest['verifications']


@pytest.mark.parametrize('name', DATABASE_HOSTS)
def test_the_copy_on_the_control_host_matches(name):
    assert len(check_copies(RUNNER, name, 'delivery-ctl1')) == 1


def test_call_logs_older_than_a_year_deleted_unless_in_progress():
    left = mongo('print(json.dumps(sorted(d["callId"] for d in db.call_logs.find())))')
    assert left == ['c4', 'c5'], left


def test_completed_deliveries_archived_and_the_archive_kept_three_years():
    left = mongo('print(json.dumps([sorted(d["deliveryId"] for d in db[c].find())'
                 ' for c in ("deliveries", "deliveries_archive")]))')
    assert left == [['d1', 'd3'], ['d2']], left


def test_customers_older_than_three_years_anonymised():
    # Each customer's fields as name=value, the two times only as present. nx-27017 stores a
    # boolean written by $set as 1 (as it stores such dates as strings): the marker is read as bool.
    customers = mongo(
        'docs = dict((d.pop("customerId"), d) for d in db.customers.find({}, {"_id": 0}))\n'
        'shown = lambda f, v: "set" if f in ("anonymizedAt", "createdAt") else bool(v) if f == "gdprAnonymized" else v\n'
        'print(json.dumps(dict((k, sorted("%s=%s" % (f, shown(f, v)) for f, v in d.items())) for k, d in docs.items())))')
    assert customers['old'] == ['address=None', 'anonymizedAt=set', 'createdAt=set', 'email=None',
                                'gdprAnonymized=True', 'phone=None'], customers
    assert customers['new'] == ['address=2 Main St', 'createdAt=set', 'email=new@example.com',
                                'phone=+15550101'], customers


def test_cache_counters_idle_sessions_and_finished_jobs_removed():
    keys = sorted(redis('--scan'))
    assert 'analytics:views' not in keys and 'analytics:clicks' not in keys, keys
    assert 'analytics:today' in keys, keys  # it has a TTL
    assert 'sess:old' not in keys and 'sess:new' in keys, keys
    # Completed calls older than 24 hours and failed notifications older than 7 days, each with its hash.
    assert redis('ZRANGE bull:customer-calls:completed 0 -1') == ['3']
    assert redis('ZRANGE bull:notifications:failed 0 -1') == ['2']
    jobs = [key for key in keys if key.split(':')[-1].isdigit()]
    assert sorted(jobs) == ['bull:customer-calls:3', 'bull:notifications:2'], jobs


def test_logrotate_accepts_the_runbook_configuration():
    app = host('delivery-app1')
    assert app.file('/etc/logrotate.d/delauto').contains('/app/logs/\\*.log')
    assert app.run('logrotate -d /etc/logrotate.d/delauto').rc == 0
    assert app.file('/app/.env').mode == 0o600


def test_reports_name_every_host_and_count_the_auth_failures():
    reports = check_reports(RUNNER.get_hosts('all'))
    # The weekly audit's 401/403 review of the API's access log: two 401s and one 403.
    counted = [check['value'] for check in reports[-1]['checks']
               if check['host'] == 'delivery-app1' and check['name'] == 'http_auth_failures']
    assert counted and set(counted) == {3}, counted
