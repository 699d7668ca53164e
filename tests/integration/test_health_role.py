"""The health role and playbook, through real ansible-playbook runs: one status per host,
alerts to webhooks on a new problem, none on a repeat, one on recovery."""

import json
import os

import pytest

from tests.support import servers
from tests.support.playbook import ROOT, run_playbook
from tests.support.webhook import WebhookReceiver

PLAYBOOK = ROOT / 'playbooks' / 'health.yml'


def run_health(tmp_path, variables, check=False, extra_args=()):
    path = tmp_path / 'vars.json'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(variables, handle)
    return run_playbook(PLAYBOOK, check=check, extra_args=['-e', '@%s' % path] + list(extra_args))


def report_of(run):
    """The health_report module's result from the role's run."""
    for task in run.data['plays'][0]['tasks']:
        if task['task']['name'].endswith('Combine the checks into one status and decide whether to alert'):
            return task['hosts']['localhost']
    raise AssertionError('no health_report task in the run')


@pytest.fixture
def hooks():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def base_vars(tmp_path, hooks):
    port = servers.free_port()
    return port, {
        'health_datastores': [{'engine': 'redis', 'login_port': port, 'connect_timeout': 2}],
        'health_resources': False,
        'health_state_file': str(tmp_path / 'state' / 'health.json'),
        'health_alert_webhooks': [
            {'name': 'team chat', 'url': hooks.url('/slack'), 'format': 'slack'},
            {'name': 'pager', 'url': hooks.url('/generic'), 'format': 'generic'},
        ],
    }


def test_alert_once_then_quiet_then_recovery(tmp_path, hooks, base_vars):
    port, variables = base_vars
    first = run_health(tmp_path, variables)
    assert first.returncode != 0  # critical reaches the default health_fail_on
    assert report_of(first)['status'] == 'critical'
    assert [path for path, _body in hooks.posts] == ['/slack', '/generic']
    slack = hooks.posts[0][1]
    assert set(slack) == {'text'}
    assert slack['text'].startswith('[CRITICAL] localhost is critical: 1 check not ok')
    assert 'redis@127.0.0.1:%d reachable' % port in slack['text']
    generic = hooks.posts[1][1]
    assert generic['host'] == 'localhost' and generic['status'] == 'critical' and generic['reason'] == 'alert'
    assert generic['failing'][0]['name'] == 'redis@127.0.0.1:%d reachable' % port
    assert 'Show one line per host' in first.stdout  # the summary ran although the host failed

    second = run_health(tmp_path, variables)
    assert report_of(second)['alert']['send'] is False
    assert len(hooks.posts) == 2

    redis = servers.start_redis(tmp_path / 'redis', port=port)
    try:
        variables['health_datastores'][0]['login_password'] = redis.password
        third = run_health(tmp_path, variables)
    finally:
        redis.stop()
    assert third.returncode == 0
    assert report_of(third)['status'] == 'ok'
    assert [body.get('text') for _path, body in hooks.posts[2:]] == ['[RECOVERED] localhost is ok again (was critical)'] * 2
    assert redis.password not in third.stdout


def test_undelivered_alert_fails_and_is_sent_again(tmp_path, hooks, base_vars):
    _port, variables = base_vars
    variables['health_fail_on'] = 'never'
    hooks.fail_with = 500
    first = run_health(tmp_path, variables)
    assert first.returncode != 0
    assert 'alert not delivered to team chat, pager (HTTP 500, 500); it is sent again on the next run' in first.stdout
    assert hooks.url('/slack') not in first.stdout  # the webhook URL carries the token
    hooks.fail_with = None
    second = run_health(tmp_path, variables)
    assert second.returncode == 0
    assert report_of(second)['alert']['reason'] == 'alert'
    assert len(hooks.posts) == 2
    third = run_health(tmp_path, variables)
    assert third.returncode == 0 and len(hooks.posts) == 2


def test_check_mode_writes_no_state(tmp_path, hooks, base_vars):
    _port, variables = base_vars
    variables['health_fail_on'] = 'never'
    run = run_health(tmp_path, variables, check=True)
    assert run.returncode == 0, run.stdout[-2000:]
    assert report_of(run)['alert']['send'] is True
    assert not os.path.exists(variables['health_state_file'])
    assert hooks.posts == []


def test_http_resources_and_missing_unit_combine_into_one_status(tmp_path, hooks):
    with WebhookReceiver() as api:
        variables = {
            'health_http_endpoints': [{'name': 'api', 'url': api.url('/health'), 'method': 'POST',
                                       'body': {'ping': 1}, 'status_code': [200]}],
            'health_resource_checks': ['memory', 'swap'],
            'health_services': ['caretaker-no-such-unit'],
            'health_state_file': str(tmp_path / 'health.json'),
            'health_alert_on': 'critical',
            'health_fail_on': 'never',
        }
        run = run_health(tmp_path, variables)
    report = report_of(run)
    names = [item['name'] for item in report['checks']]
    assert 'api' in names[0]
    assert any(name.startswith('memory') for name in names)
    assert names[-1] == 'caretaker-no-such-unit.service'
    assert report['checks'][-1]['status'] == 'critical'
    assert report['status'] == 'critical'
    assert report['lines'][0] == 'localhost is critical (%d checks)' % len(names)


def test_health_report_examples_run_as_written(tmp_path, hooks):
    """The EXAMPLES probe http://127.0.0.1:8080/health: serve it there."""
    import yaml
    from ansible_collections.caretaker.maintenance.plugins.modules import health_report
    from tests.support.http_fixtures import AppServer, port_is_free
    from tests.support.playbook import run_tasks
    if not port_is_free(8080):
        pytest.skip('127.0.0.1:8080, which the EXAMPLES use, is busy on this machine')
    api = AppServer(port=8080)
    try:
        variables = {'vault_slack_webhook_url': hooks.url('/slack'), 'caretaker_state_dir': str(tmp_path)}
        tasks = yaml.safe_load(health_report.EXAMPLES)
        run = run_tasks([{'name': 'variables', 'ansible.builtin.set_fact': variables}] + tasks)
    finally:
        api.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    report = run.task(2)
    assert report['status'] == 'ok' and report['alert'] == {'send': False, 'reason': None}
    assert report['changed'] is True  # the first run records the host's status
    assert (tmp_path / 'health-state.json').exists()
    assert run.task(3).get('skipped') and run.task(4).get('skipped')


def test_skipping_the_summary_never_hides_a_critical_host(tmp_path, hooks, base_vars):
    """The verdict is its own play, tagged always: --skip-tags summary leaves out the summary
    lines but the run still fails on a critical host."""
    _port, variables = base_vars
    run = run_health(tmp_path, variables, extra_args=['--skip-tags', 'summary'])
    assert run.returncode != 0
    assert report_of(run)['status'] == 'critical'
    names = [task['task']['name'] for play in run.data['plays'] for task in play['tasks']]
    assert 'Show one line per host' not in names
    assert 'Fail the hosts whose health reaches health_fail_on' in names
