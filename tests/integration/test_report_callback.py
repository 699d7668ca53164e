"""The report callback through real ansible-playbook runs, enabled by environment.

One playbook runs over four hosts: alpha (local) checks resources, cleans a log tree,
backs up a real Redis server and verifies the backup; beta (local) fails a task; gamma
(local) skips everything; delta (ssh to a closed loopback port) is unreachable. Secrets
(the Redis password, a no_log value, a password in a loop item and in a failure message)
must not appear in any report file.
"""

import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from html.parser import HTMLParser

import psycopg2
import pytest
import yaml

from tests.support import servers
from tests.support.playbook import ROOT, ansible_env, run_playbook

CALLBACK = 'caretaker.maintenance.report'
NO_LOG_SECRET = 'NoLog-Hunter2-7f3a9c'
ITEM_SECRET = 'ItemPw-5b1e22d0'
MSG_SECRET = 'MsgPw-c0ffee77'
DAY = 86400
NAME = re.compile(r'\d{8}T\d{6}Z-report_run(-\d+)?\.(json|md|html)\Z')

PLAY = [{
    'name': 'Report run',
    'hosts': 'all',
    'gather_facts': False,
    'tasks': [{
        'name': 'Everything but gamma',
        'when': "inventory_hostname != 'gamma'",
        'block': [
            {'name': 'Check disk and memory', 'caretaker.maintenance.resource_check': {
                'checks': ['disk', 'memory'], 'mounts': ['{{ logs_root }}'], 'fail_on': 'never',
                'thresholds': {'disk': {'warning': 0, 'critical': 100}}}},
            {'name': 'Clean the logs', 'when': "inventory_hostname == 'alpha'",
             'caretaker.maintenance.log_cleanup': {'paths': ['{{ logs_root }}'], 'compress_after_days': 1,
                                                   'delete_after_days': 30}},
            {'name': 'Back up Redis', 'when': "inventory_hostname == 'alpha'", 'register': 'taken',
             'caretaker.maintenance.db_backup': {
                 'engine': 'redis', 'login_host': '{{ redis.login_host }}', 'login_port': '{{ redis.login_port }}',
                 'login_password': '{{ redis.login_password }}', 'dest': '{{ backup_dest }}',
                 'compression': 'gzip'}},
            {'name': 'Verify the backup', 'when': "inventory_hostname == 'alpha' and not ansible_check_mode",
             'caretaker.maintenance.backup_verify': {'path': '{{ taken.path }}'}},
            {'name': 'Say the secret', 'no_log': True, 'ansible.builtin.debug': {'msg': '{{ no_log_secret }}'}},
            {'name': 'Check memory per database', 'when': "inventory_hostname == 'alpha'",
             'loop': [{'name': 'appdb', 'login_password': '{{ item_secret }}'}],
             'caretaker.maintenance.resource_check': {'checks': ['memory'], 'fail_on': 'never'}},
            {'name': 'Fail with a password in the message', 'when': "inventory_hostname == 'alpha'",
             'ignore_errors': True, 'ansible.builtin.fail': {'msg': 'login failed with password={{ msg_secret }}'}},
            {'name': 'Fail on beta', 'when': "inventory_hostname == 'beta'",
             'ansible.builtin.fail': {'msg': 'the disk of beta is on fire'}},
        ],
    }],
}]


class Page(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)


def old_file(path, days, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment))


@pytest.fixture(scope='module')
def setup(tmp_path_factory, redis_server):
    """Inventory, vars file, playbook and log tree; the playbook is named report_run.yml."""
    base = tmp_path_factory.mktemp('report')
    logs = base / 'logs'
    line = b'2026-11-23T10:00:00Z INFO GET /v1/items 200 12ms\n'
    old_file(logs / 'api.log.1', 5, line * 4000)
    old_file(logs / 'api.log.2', 6, line * 3000)
    old_file(logs / 'api.log.3.gz', 45, gzip.compress(line * 100))
    py = sys.executable
    inventory = base / 'hosts.ini'
    inventory.write_text('\n'.join([
        'alpha ansible_connection=local ansible_python_interpreter=%s' % py,
        'beta ansible_connection=local ansible_python_interpreter=%s' % py,
        'gamma ansible_connection=local ansible_python_interpreter=%s' % py,
        'delta ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d ansible_user=nobody '
        'ansible_ssh_common_args="-o ConnectTimeout=5 -o BatchMode=yes"' % servers.free_port(),
        '']))
    variables = base / 'vars.yml'
    fd = os.open(variables, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump({'redis': redis_server.target(), 'no_log_secret': NO_LOG_SECRET, 'item_secret': ITEM_SECRET,
                        'msg_secret': MSG_SECRET, 'logs_root': str(logs), 'backup_dest': str(base / 'backups')},
                       handle)
    playbook = base / 'report_run.yml'
    playbook.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    return {'base': base, 'inventory': inventory, 'vars': variables, 'playbook': playbook,
            'secrets': (NO_LOG_SECRET, ITEM_SECRET, MSG_SECRET, redis_server.password)}


def play(setup, reports, env=None):
    env = dict({'ANSIBLE_CALLBACKS_ENABLED': CALLBACK, 'CARETAKER_REPORT_DIR': str(reports)}, **(env or {}))
    return run_playbook(setup['playbook'], inventory=str(setup['inventory']), extra_args=['-e', '@%s' % setup['vars']],
                        env=env)


@pytest.fixture(scope='module')
def first(setup):
    reports = setup['base'] / 'reports'
    run = play(setup, reports)
    return run, reports, json.loads((reports / 'latest.json').read_text())


def results_of(run, task_name, host):
    for play_data in run.data['plays']:
        for task in play_data['tasks']:
            if task['task']['name'] == task_name:
                return task['hosts'][host]
    raise KeyError(task_name)


def report_files(reports):
    return sorted(p for p in reports.iterdir() if NAME.match(p.name))


def test_three_files_named_by_start_and_playbook_private_and_latest(first):
    run, reports, report = first
    assert run.returncode in (2, 4), run.stderr  # beta failed, delta unreachable
    files = report_files(reports)
    assert [p.suffix for p in files] == ['.html', '.json', '.md']
    assert len({p.stem for p in files}) == 1
    assert files[0].stem[:16] == report['started'].replace('-', '').replace(':', '')[:16]
    assert stat.S_IMODE(reports.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for ext in ('json', 'md', 'html'):
        latest = reports / ('latest.' + ext)
        assert latest.is_symlink() and latest.resolve() == (reports / (files[0].stem + '.' + ext))
    assert [p.name for p in reports.iterdir() if p.name.startswith('.')] == []
    assert 'caretaker.maintenance.report: %s' % (reports / (files[0].stem + '.html')) in run.stderr
    assert json.loads(run.stdout)['plays']  # the stdout callback's JSON is untouched


def test_json_has_hosts_checks_stats_and_failures(first):
    run, _reports, report = first
    assert report['playbook'] == 'report_run' and report['plays'] == ['Report run']
    assert dict((h, e['state']) for h, e in report['hosts'].items()) == {
        'alpha': 'warning', 'beta': 'failed', 'gamma': 'skipped', 'delta': 'unreachable'}
    for host, stats in run.stats.items():
        mine = report['hosts'][host]['stats']
        assert (mine['ok'], mine['changed'], mine['failures'], mine['unreachable'], mine['skipped'], mine['ignored']) == (
            stats['ok'], stats['changed'], stats['failures'], stats['unreachable'], stats['skipped'], stats['ignored'])
    assert report['skipped_hosts'] == ['gamma']
    disk = [c for c in report['checks'] if c['host'] == 'alpha' and c['name'].startswith('disk')][0]
    assert disk['status'] == 'warning' and disk['unit'] == 'percent' and disk['value'] > 0
    assert disk['threshold']['warning'] == 0 and disk['threshold']['critical'] == 100
    assert disk['task'] == 'Check disk and memory'
    module = results_of(run, 'Check disk and memory', 'alpha')
    assert disk['value'] == [c for c in module['checks'] if c['name'] == disk['name']][0]['value']
    looped = [c for c in report['checks'] if c['task'] == 'Check memory per database']
    assert [c['item'] for c in looped] == ['item 0']  # a dict item is named by position, never dumped
    failures = dict(((f['host'], f['task']), f) for f in report['failures'])
    assert failures[('beta', 'Fail on beta')]['msg'] == 'the disk of beta is on fire'
    assert failures[('beta', 'Fail on beta')]['ignored'] is False
    ignored = failures[('alpha', 'Fail with a password in the message')]
    assert ignored['ignored'] is True and ignored['msg'] == 'login failed with password=********'
    assert failures[('delta', 'Check disk and memory')]['kind'] == 'unreachable'
    assert report['hosts']['alpha']['censored'] == 1 and report['hosts']['beta']['censored'] == 1


def test_json_has_the_backup_its_verification_and_the_bytes_freed(first):
    run, _reports, report = first
    taken = results_of(run, 'Back up Redis', 'alpha')
    [backup] = report['backups']
    assert (backup['path'], backup['size'], backup['sha256'], backup['series']) == (
        taken['path'], taken['size'], taken['sha256'], taken['series'])
    assert backup['duration_seconds'] == taken['manifest_content']['duration_seconds']
    assert backup['engine'] == 'redis' and backup['verified'] == 'ok'
    assert [(v['path'], v['status'], v['verified']) for v in report['verifications']] == [(taken['path'], 'ok', True)]
    cleaned = results_of(run, 'Clean the logs', 'alpha')
    [cleanup] = report['cleanups']
    assert cleanup['bytes_freed'] == cleaned['bytes_freed'] > 0
    assert (cleanup['compressed'], cleanup['deleted']) == (2, 1)
    assert report['totals']['bytes_freed'] == cleaned['bytes_freed']


def test_no_secret_and_no_module_arguments_in_any_file(first, setup):
    _run, reports, _report = first
    for path in reports.iterdir():
        data = path.read_bytes()
        for secret in setup['secrets']:
            assert secret.encode() not in data, (path.name, secret)
        assert b'invocation' not in data and b'module_args' not in data, path.name


def test_markdown_has_the_hosts_and_their_statuses(first):
    _run, reports, _report = first
    text = (reports / 'latest.md').read_text()
    assert text.startswith('# Run report: report_run\n')
    for row in ('| alpha | warning | warning |', '| beta | failed |', '| gamma | skipped |', '| delta | unreachable |'):
        assert row in text, row
    assert '### Checks on alpha (warning)' in text
    assert '| beta | Report run | Fail on beta | failed | the disk of beta is on fire |' in text
    assert '## Backups\n' in text and '## Space freed' in text and '## Skipped hosts' in text


def test_html_is_self_contained(first):
    _run, reports, _report = first
    html = (reports / 'latest.html').read_text()
    page = Page()
    page.feed(html)
    assert html.startswith('<!DOCTYPE html>')
    assert not set(page.tags) & {'script', 'link', 'img', 'iframe', 'object', 'embed'}
    assert [(k, v) for k, v in page.attrs if k in ('src', 'href') or (k.startswith('on'))] == []
    assert 'url(' not in html and '@import' not in html
    assert '<style>' in html and 'st-warning' in html


def test_second_run_adds_the_trend_and_moves_latest(first, setup):
    _run, reports, report = first
    again = play(setup, reports)
    assert again.returncode in (2, 4)
    files = report_files(reports)
    assert len(files) == 6
    second = json.loads((reports / 'latest.json').read_text())
    assert second['started'] >= report['started'] and (reports / 'latest.json').resolve() == files[-2]
    text = (reports / 'latest.md').read_text()
    history = text.split('## Status history', 1)[1]
    assert '| alpha | warning | warning |' in history and '| delta | unreachable | unreachable |' in history
    sizes = text.split('## Backup sizes', 1)[1]
    assert re.search(r'\| alpha \| redis-[^|]+ \| [\d.]+ [KMG]?i?B \| [\d.]+ [KMG]?i?B \|', sizes), sizes
    html = (reports / 'latest.html').read_text()
    assert '<svg' in html and '<polyline' in html


def config_file(path, extra=''):
    """The repository's ansible.cfg with an absolute collections_path, without callbacks_enabled, plus ``extra``."""
    lines = [line for line in (ROOT / 'ansible.cfg').read_text().splitlines()
             if not line.replace(' ', '').startswith('callbacks_enabled=')]
    text = '\n'.join(lines).replace('collections_path = .venv/collections',
                                    'collections_path = %s' % (ROOT / '.venv' / 'collections'))
    path.write_text(text + '\n' + extra)
    return str(path)


def test_ini_options_and_callback_not_on_unless_enabled(tmp_path):
    playbook = tmp_path / 'tiny.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False,
                                         'tasks': [{'ansible.builtin.debug': {'msg': 'hello'}}]}]))
    quiet = tmp_path / 'quiet'
    run = run_playbook(playbook, env={'ANSIBLE_CONFIG': config_file(tmp_path / 'plain.cfg'),
                                      'CARETAKER_REPORT_DIR': str(quiet)})
    assert run.returncode == 0 and not quiet.exists()
    reports = tmp_path / 'from-ini'
    config = config_file(tmp_path / 'ansible.cfg', 'callbacks_enabled = %s\n\n[caretaker_report]\nreport_dir = %s\n'
                         'latest = copy\nhistory = 3\n' % (CALLBACK, reports))
    for _run in range(4):
        run = run_playbook(playbook, env={'ANSIBLE_CONFIG': config})
        assert run.returncode == 0, run.stderr
    latest = reports / 'latest.md'
    assert latest.is_file() and not latest.is_symlink()
    assert len([p for p in reports.iterdir() if re.match(r'\d{8}T\d{6}Z-tiny(-\d+)?\.(json|md|html)\Z', p.name)]) == 12
    history = latest.read_text().split('## Status history', 1)[1]
    assert '| localhost | ok | ok | ok |\n' in history  # history = 3: this run and two before


def test_keep_prunes_old_reports_of_the_same_label_only(tmp_path):
    """keep = 2: a third run removes the first run's three files; a run limited by --tags has a
    label, a trend and a count of its own, and the latest links follow the newest run."""
    playbook = tmp_path / 'tiny.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'Say hello', 'ansible.builtin.debug': {'msg': 'hello'}, 'tags': ['hello']}]}]))
    reports = tmp_path / 'reports'
    env = {'ANSIBLE_CALLBACKS_ENABLED': CALLBACK, 'CARETAKER_REPORT_DIR': str(reports), 'CARETAKER_REPORT_KEEP': '2'}
    stems = []
    for extra in ([], ['--tags', 'hello'], [], [], ['--skip-tags', 'hello']):
        run = run_playbook(playbook, env=env, extra_args=extra)
        assert run.returncode == 0, run.stderr
        stems.append(os.readlink(reports / 'latest.json')[:-len('.json')])
    plain = [stems[0], stems[2], stems[3]]
    # (a second run of a label in the same second gets -2: the label is what comes before it)
    labels = [re.match(r'\d{8}T\d{6}Z-(.+?)(?:-\d+)?\Z', stem).group(1) for stem in stems]
    assert labels == ['tiny', 'tiny_tags-hello', 'tiny', 'tiny', 'tiny_skip-hello']
    names = sorted(path.name for path in reports.iterdir() if not path.name.startswith('latest.'))
    assert names == sorted('%s.%s' % (stem, ext) for stem in plain[1:] + [stems[1], stems[4]] for ext in ('json', 'md', 'html'))
    assert json.loads((reports / (stems[1] + '.json')).read_text())['playbook'] == 'tiny_tags-hello'
    # the third plain run's trend: the two plain runs before it (pruning comes after writing),
    # not the tagged one between them
    history = (reports / (plain[2] + '.md')).read_text().split('## Status history', 1)[1]
    assert 'The last 3 runs of this playbook' in history and '| localhost | ok | ok | ok |\n' in history


def test_a_broken_report_dir_warns_and_the_run_goes_on(tmp_path):
    playbook = tmp_path / 'tiny.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False,
                                         'tasks': [{'ansible.builtin.debug': {'msg': 'hello'}}]}]))
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    run = run_playbook(playbook, env={'ANSIBLE_CALLBACKS_ENABLED': CALLBACK,
                                      'CARETAKER_REPORT_DIR': str(blocker / 'reports')})
    assert run.returncode == 0
    assert run.stats['localhost']['ok'] == 1
    assert 'caretaker.maintenance.report: v2_playbook_on_stats failed, the run goes on without it' in run.stderr


def test_ansible_doc_renders_the_callback():
    ansible_doc = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')
    proc = subprocess.run([ansible_doc, '-t', 'callback', CALLBACK], cwd=str(ROOT), env=ansible_env(),
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for text in ('report_dir', 'CARETAKER_REPORT_DIR', 'CARETAKER_REPORT_HISTORY', 'CARETAKER_REPORT_LATEST',
                 '[caretaker_report]', 'callbacks_enabled', 'aggregate', 'no_log'):
        assert text in proc.stdout, text
    assert 'WARNING' not in proc.stderr
    listed = subprocess.run([ansible_doc, '-t', 'callback', '-l', 'caretaker.maintenance'], cwd=str(ROOT),
                            env=ansible_env(), capture_output=True, text=True, check=False, timeout=120)
    assert CALLBACK in listed.stdout


def chromium():
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(chromium() is None, reason='needs the chromium browser (Debian package "chromium") to render '
                                               'the HTML report headless')
def test_headless_chromium_renders_the_statuses(first, tmp_path):
    _run, reports, _report = first
    page = (reports / 'latest.html').resolve()
    flags = [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
             '--no-first-run', '--user-data-dir=%s' % (tmp_path / 'profile')]
    dom = subprocess.run(flags + ['--dump-dom', page.as_uri()], capture_output=True, text=True, check=False,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r'<[^>]+>', ' ', dom.stdout)
    for word in ('alpha', 'beta', 'gamma', 'delta', 'warning', 'failed', 'skipped', 'unreachable',
                 'the disk of beta is on fire'):
        assert word in text, word
    shot = tmp_path / 'report.png'
    proc = subprocess.run(flags + ['--screenshot=%s' % shot, '--window-size=1280,1600', page.as_uri()],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 20000
    keep = os.environ.get('CARETAKER_REPORT_SCREENSHOT')
    if keep:
        shutil.copy(str(shot), keep)


def test_retention_and_optimisation_on_postgresql_match_the_modules(pg_server, tmp_path):
    """data_retention and db_optimize in loops over indexes, as the db_maintenance role runs them."""
    database = 'report_%d' % os.getpid()
    conn = psycopg2.connect(host=pg_server.host, port=pg_server.port, user=pg_server.user, password=pg_server.password,
                            dbname='postgres')
    conn.autocommit = True
    conn.cursor().execute('CREATE DATABASE %s' % database)
    conn.close()
    conn = psycopg2.connect(host=pg_server.host, port=pg_server.port, user=pg_server.user, password=pg_server.password,
                            dbname=database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('CREATE TABLE jobs (id bigint PRIMARY KEY, created_at timestamptz, email text)')
        cur.execute("INSERT INTO jobs SELECT i, now() - (i || ' days')::interval - interval '12 hours', "
                    "'user' || i || '@example.com' FROM generate_series(0, 29) AS i")
        cur.execute('CREATE TABLE sessions (id bigint PRIMARY KEY, created_at timestamptz)')
        cur.execute("INSERT INTO sessions SELECT i, now() - (i || ' days')::interval - interval '12 hours' "
                    "FROM generate_series(0, 19) AS i")
    conn.close()
    target = dict(pg_server.target(), database=database)
    variables = tmp_path / 'vars.yml'
    fd = os.open(variables, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump({'databases': [target]}, handle)
    connection = dict((key, '{{ databases[item].%s }}' % key) for key in target)
    playbook = tmp_path / 'maintenance.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'Apply the retention rules', 'loop': '{{ range(databases | length) | list }}',
         'loop_control': {'label': '{{ databases[item].database }}'},
         'register': 'retained',
         'caretaker.maintenance.data_retention': dict(connection, rules=[
             {'name': 'old jobs', 'table': 'jobs', 'timestamp_column': 'created_at', 'older_than': '20d',
              'action': 'anonymize', 'columns': {'email': None}},
             {'name': 'old sessions', 'table': 'sessions', 'timestamp_column': 'created_at', 'older_than': '5d',
              'action': 'delete'}])},
        {'name': 'Optimise', 'loop': '{{ range(databases | length) | list }}', 'register': 'optimised',
         'loop_control': {'label': '{{ databases[item].database }}'},
         'caretaker.maintenance.db_optimize': dict(connection, operations=['vacuum', 'analyze'])},
    ]}]))
    reports = tmp_path / 'reports'
    run = run_playbook(playbook, extra_args=['-e', '@%s' % variables],
                       env={'ANSIBLE_CALLBACKS_ENABLED': CALLBACK, 'CARETAKER_REPORT_DIR': str(reports)})
    assert run.returncode == 0, run.stderr
    report = json.loads((reports / 'latest.json').read_text())
    retained = run.task(0)['results'][0]
    assert [(r['rule'], r['table'], r['action'], r['matched'], r['affected'], r['item']) for r in report['retention']] == [
        (rule['name'], rule['table'], rule['action'], rule['matched'], rule['affected'], database)
        for rule in retained['rules']]
    assert [r['affected'] for r in report['retention']] == [10, 15]  # rows 20-29 and 5-19 days old
    assert report['totals']['rows_by_action'] == {'anonymize': 10, 'delete': 15}
    optimised = run.task(1)['results'][0]
    assert [(o['table'], o['operation'], o['status'], o['size_before']) for o in report['optimizations']] == [
        (op['table'], op['operation'], op['status'], op['size_before']) for op in optimised['results']]
    assert {o['table'] for o in report['optimizations']} == {'public.jobs', 'public.sessions'}
    assert all(o['target'] == optimised['target'] and o['item'] == database for o in report['optimizations'])
    text = (reports / 'latest.md').read_text()
    assert '## Data retention' in text and '## Optimisation' in text
    assert 'Rows acted on: anonymize 10, delete 15.' in text
    for path in reports.iterdir():
        assert pg_server.password.encode() not in path.read_bytes(), path.name


def test_rescued_failures_are_marked_and_the_host_stays_ok(tmp_path):
    playbook = tmp_path / 'rescue.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'Outer', 'block': [{'name': 'Inner', 'block': [
            {'name': 'Fail inside', 'ansible.builtin.fail': {'msg': 'first attempt failed'}}]}],
         'rescue': [{'name': 'Recover', 'ansible.builtin.debug': {'msg': 'recovered'}}]},
    ]}]))
    reports = tmp_path / 'reports'
    run = run_playbook(playbook, env={'ANSIBLE_CALLBACKS_ENABLED': CALLBACK, 'CARETAKER_REPORT_DIR': str(reports)})
    assert run.returncode == 0, run.stderr
    report = json.loads((reports / 'latest.json').read_text())
    assert [(f['task'], f['msg'], f['rescued'], f['ignored']) for f in report['failures']] == [
        ('Fail inside', 'first attempt failed', True, False)]
    assert report['hosts']['localhost']['state'] == 'ok' and report['hosts']['localhost']['stats']['rescued'] == 1
    assert report['totals']['failed_tasks'] == 0 and report['totals']['rescued_failures'] == 1
    assert '| failed (rescued) |' in (reports / 'latest.md').read_text()


def test_check_mode_says_what_would_be_done(setup, tmp_path):
    reports = tmp_path / 'check'
    env = {'ANSIBLE_CALLBACKS_ENABLED': CALLBACK, 'CARETAKER_REPORT_DIR': str(reports)}
    run = run_playbook(setup['playbook'], inventory=str(setup['inventory']), check=True,
                       extra_args=['-e', '@%s' % setup['vars'], '--limit', 'alpha'], env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads((reports / 'latest.json').read_text())
    assert report['check_mode'] is True and list(report['hosts']) == ['alpha']
    [backup] = report['backups']
    taken = results_of(run, 'Back up Redis', 'alpha')
    assert backup['path'] == taken['path'] and backup['size'] is None and backup['sha256'] is None
    assert report['totals']['backups'] == 0
    text = (reports / 'latest.md').read_text()
    assert '- Check mode: nothing was changed; figures are what would be done' in text
    assert '(check mode)' in text
    for path in reports.iterdir():
        for secret in setup['secrets']:
            assert secret.encode() not in path.read_bytes()


def test_health_playbook_reports_each_check_once(tmp_path):
    """playbooks/health.yml on localhost: health_report repeats resource_check's items, listed once."""
    logs = tmp_path / 'watched'
    logs.mkdir()
    variables = tmp_path / 'vars.yml'
    variables.write_text(yaml.safe_dump({
        'caretaker_hosts': 'localhost', 'health_state_file': str(tmp_path / 'state.json'),
        'health_resource_checks': ['disk', 'memory'], 'health_resource_mounts': [str(logs)],
        'health_resource_thresholds': {'disk': {'warning': 0, 'critical': 100}}, 'health_fail_on': 'never'}))
    reports = tmp_path / 'reports'
    run = run_playbook(ROOT / 'playbooks' / 'health.yml', extra_args=['-e', '@%s' % variables],
                       env={'ANSIBLE_CALLBACKS_ENABLED': CALLBACK, 'CARETAKER_REPORT_DIR': str(reports)})
    assert run.returncode == 0, run.stderr
    report = json.loads((reports / 'latest.json').read_text())
    assert report['playbook'] == 'health'
    names = [c['name'] for c in report['checks']]
    assert len(names) == len(set(names)) == 2, names
    assert {c['task'] for c in report['checks']} == {'Check disk, memory, CPU, load and swap'}
    assert [(r['task'], r['status']) for r in report['results']] == [
        ('Check disk, memory, CPU, load and swap', 'warning'),
        ('Combine the checks into one status and decide whether to alert', 'warning')]
    assert report['hosts']['localhost']['state'] == 'warning'
