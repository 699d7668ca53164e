# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.module_utils import _container_check as cc
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import parse_thresholds
from ansible_collections.caretaker.maintenance.plugins.modules import container_check

NOW = 1747728000.0  # 2025-05-20T08:00:00Z
ZERO = '0001-01-01T00:00:00Z'


def inspect(status='running', started='2025-05-20T05:00:00.123456789Z', finished=ZERO, exit_code=0, health=None,
            restarts=0, oom=False, name='/api', labels=None, policy='no', memory=0, error=''):
    """An Engine API inspect document with the fields the check reads."""
    state = {'Status': status, 'StartedAt': started, 'FinishedAt': finished, 'ExitCode': exit_code,
             'OOMKilled': oom, 'Error': error}
    if health:
        state['Health'] = health
    return {'Id': 'f' * 64, 'Name': name, 'RestartCount': restarts, 'State': state,
            'Config': {'Image': 'shop/api:1.4', 'Labels': labels or {}},
            'HostConfig': {'RestartPolicy': {'Name': policy}, 'Memory': memory}}


def evaluate(attrs, expect_running=True, previous=None, tracking=True, thresholds=None):
    resolved = cc.resolve_thresholds(cc.DEFAULT_THRESHOLDS, parse_thresholds(cc.DEFAULT_THRESHOLDS, thresholds))
    items, summary = cc.evaluate_container(cc.container_facts(attrs, NOW), resolved, expect_running, previous,
                                           tracking, NOW)
    return dict((item['signal'], item) for item in items), summary


# --- times ------------------------------------------------------------------------------


@pytest.mark.parametrize('text, expected', [
    ('2025-05-20T08:00:00Z', NOW),
    ('2025-05-20T08:00:00.5Z', NOW + 0.5),
    ('2025-05-20T08:00:00.123456789Z', NOW + 0.123456789),
    ('2025-05-20T10:00:00+02:00', NOW),
    ('2025-05-20T06:30:00-01:30', NOW),
    (ZERO, None),
    ('', None),
    (None, None),
    ('yesterday', None),
])
def test_parse_timestamp(text, expected):
    value = cc.parse_timestamp(text)
    assert value == pytest.approx(expected) if expected is not None else value is None


@pytest.mark.parametrize('seconds, text', [
    (0, '0 s'), (59.9, '59 s'), (60, '1 min'), (3599, '59 min'), (3600, '1 h'), (3 * 3600 + 300, '3 h 5 min'),
    (86400, '1 d'), (4 * 86400 + 3 * 3600 + 59, '4 d 3 h'), (-5, '0 s'),
])
def test_format_duration(seconds, text):
    assert cc.format_duration(seconds) == text


# --- one container --------------------------------------------------------------------------


def test_running_container_without_healthcheck():
    items, summary = evaluate(inspect())
    assert list(items) == ['state', 'health', 'oom_killed', 'restart_count', 'restarts', 'uptime']
    assert all(item['status'] == 'ok' for item in items.values())
    assert items['state']['detail'] == 'running for 2 h 59 min, 0 restarts'
    assert items['state']['name'] == 'api state' and items['state']['target'] == 'api'
    assert items['uptime']['value'] == pytest.approx(3 * 3600 - 0.1, abs=0.1)
    assert items['health']['detail'] == 'no HEALTHCHECK defined'
    assert summary['status'] == 'ok' and summary['id'] == 'f' * 12 and summary['image'] == 'shop/api:1.4'


@pytest.mark.parametrize('health_status, status', [('healthy', 'ok'), ('starting', 'warning'),
                                                   ('unhealthy', 'critical'), ('sideways', 'warning')])
def test_health(health_status, status):
    log = [{'ExitCode': 1, 'Output': 'curl: (7) Failed to connect\n' + 'x' * 500}]
    items, summary = evaluate(inspect(health={'Status': health_status, 'FailingStreak': 3, 'Log': log}))
    assert (items['health']['status'], items['health']['value']) == (status, health_status)
    assert summary['status'] == status
    if status != 'ok':
        assert 'last probe exit 1: curl: (7) Failed to connect' in items['health']['detail']
    if health_status == 'unhealthy':
        assert items['health']['detail'].startswith('unhealthy: 3 probes failing in a row; ')
    assert len(items['health']['output']) == cc.HEALTH_OUTPUT_CHARS
    assert items['state']['detail'] == 'running for 2 h 59 min, %s, 0 restarts' % health_status


@pytest.mark.parametrize('attrs, expect_running, status, detail', [
    (inspect('exited', finished='2025-05-20T07:55:00Z', exit_code=3), True, 'critical',
     'exited 5 min ago with code 3, 0 restarts'),
    (inspect('exited', finished='2025-05-20T07:55:00Z', exit_code=3), False, 'critical',
     'exited 5 min ago with code 3 (non-zero), 0 restarts'),
    (inspect('exited', finished='2025-05-20T07:55:00Z', exit_code=0), True, 'critical',
     'exited 5 min ago with code 0, 0 restarts'),
    (inspect('exited', finished='2025-05-20T07:55:00Z', exit_code=0), False, 'ok',
     'exited 5 min ago with code 0, 0 restarts'),
    (inspect('created', started=ZERO), True, 'critical', 'created, never started, 0 restarts'),
    (inspect('created', started=ZERO), False, 'ok', 'created, never started, 0 restarts'),
    (inspect('paused'), True, 'warning', 'paused (running for 2 h 59 min), 0 restarts'),
    (inspect('restarting', finished='2025-05-20T07:59:58Z', exit_code=1, restarts=7, policy='always'), False,
     'critical', 'restarting: exited 2 s ago with code 1, Docker restarts it (policy always), 7 restarts'),
    (inspect('dead', error='driver failed'), True, 'critical', 'dead: driver failed, 0 restarts'),
    (inspect('removing'), True, 'critical', 'removing, 0 restarts'),
])
def test_state(attrs, expect_running, status, detail):
    items, summary = evaluate(attrs, expect_running)
    assert items['state']['status'] == status
    assert items['state']['detail'] == detail == summary['detail']
    running = attrs['State']['Status'] in ('running', 'paused')
    assert ('uptime' in items) is running and ('health' in items) is running


def test_oom_killed():
    items, summary = evaluate(inspect('exited', exit_code=137, oom=True, memory=64 * 1048576,
                                      finished='2025-05-20T07:59:00Z'))
    assert items['oom_killed']['status'] == 'critical' and items['oom_killed']['value'] is True
    assert items['oom_killed']['detail'] == 'killed by the kernel OOM killer (memory limit 64 MiB)'
    assert items['state']['detail'] == 'exited 1 min ago with code 137, 0 restarts, killed by the OOM killer'
    assert summary['oom_killed'] is True
    no_limit = evaluate(inspect('exited', exit_code=137, oom=True))[0]['oom_killed']['detail']
    assert no_limit.endswith('(no memory limit: the host ran out)')


@pytest.mark.parametrize('previous, count, value, status, detail', [
    (None, 4, None, 'ok', 'first run for this container: 4 restarts so far, the baseline for the next run'),
    ({'restart_count': 4, 'seen': NOW - 300}, 4, 0, 'ok', '0 new restarts since the last run 5 min ago (4, now 4)'),
    ({'restart_count': 4, 'seen': NOW - 300}, 5, 1, 'warning', '1 new restart since the last run 5 min ago (4, now 5)'),
    ({'restart_count': 4, 'seen': NOW - 300}, 9, 5, 'critical', '5 new restarts since the last run 5 min ago (4, now 9)'),
    ({'restart_count': 4}, 2, 2, 'warning', '2 new restarts since the last run (4, now 2)'),  # count was reset
])
def test_restarts_since_last_run(previous, count, value, status, detail):
    items, summary = evaluate(inspect(restarts=count, policy='unless-stopped'), previous=previous)
    assert (items['restarts']['value'], items['restarts']['status'], items['restarts']['detail']) == (
        value, status, detail)
    assert summary['new_restarts'] == value
    assert items['restart_count']['value'] == count and items['restart_count']['status'] == 'ok'
    assert '(unless-stopped)' in items['restart_count']['detail']


def test_no_tracking_no_restarts_item():
    items = evaluate(inspect(restarts=2), tracking=False)[0]
    assert 'restarts' not in items and items['restart_count']['value'] == 2


def test_thresholds_for_restart_count_and_uptime():
    items = evaluate(inspect(restarts=3), thresholds={'restart_count': {'warning': 1, 'critical': 3},
                                                      'uptime': {'warning': 86400, 'critical': 600}})[0]
    assert items['restart_count']['status'] == 'critical'
    assert items['uptime']['status'] == 'warning'
    assert items['uptime']['threshold'] == {'warning': 86400, 'critical': 600, 'direction': 'below'}


def test_compose_labels_and_name_fallback():
    summary = evaluate(inspect(name='', labels={cc.COMPOSE_PROJECT_LABEL: 'shop', cc.COMPOSE_SERVICE_LABEL: 'web'}))[1]
    assert summary['name'] == 'f' * 12
    assert (summary['compose_project'], summary['compose_service']) == ('shop', 'web')


# --- selection and options ------------------------------------------------------------------


def test_label_filters_and_selection_label():
    labels = {'tier': 'backend', 'enabled': True, 'any': None, 'n': 3}
    assert cc.label_filters(labels, 'shop') == ['any', 'enabled=true', 'n=3', 'tier=backend',
                                                'com.docker.compose.project=shop']
    assert cc.selection_label({'tier': 'backend'}, 'shop') == 'compose project shop and label tier=backend'
    assert cc.label_filters(None, None) == []


@pytest.mark.parametrize('docker_host, environ, expected', [
    (None, {}, 'unix:///var/run/docker.sock'),
    (None, {'DOCKER_HOST': 'tcp://10.0.0.5:2376'}, 'tcp://10.0.0.5:2376'),
    ('unix:///run/user/1000/docker.sock', {'DOCKER_HOST': 'tcp://x:1'}, 'unix:///run/user/1000/docker.sock'),
    ('/run/docker.sock', {}, 'unix:///run/docker.sock'),
    ('ssh://deploy@app1', {}, 'ssh://deploy@app1'),
])
def test_docker_base_url(docker_host, environ, expected):
    assert cc.docker_base_url(docker_host, environ) == expected


@pytest.mark.parametrize('docker_host, environ, message', [
    ('app1:2375', {}, "docker_host must be unix:///path/to/docker.sock, tcp://host:port, ssh://user@host or a"
                      " socket path, got 'app1:2375'"),
    (None, {'DOCKER_HOST': 'app1'}, "DOCKER_HOST must be"),
])
def test_docker_base_url_rejects(docker_host, environ, message):
    with pytest.raises(cc.OptionError, match=message.replace('(', r'\(').replace(')', r'\)')):
        cc.docker_base_url(docker_host, environ)


@pytest.mark.parametrize('args, message', [
    (([], None, None, 1, 10), 'nothing to check'),
    ((['api', ' '], None, None, 1, 10), r'containers\[1\] is empty'),
    (([], {'': 'x'}, None, 1, 10), 'labels has an empty key'),
    (([], {'a': {'b': 1}}, None, 1, 10), 'labels.a must be a string'),
    (([], None, '', 1, 10), 'compose_project is empty'),
    ((['api'], None, None, -2, 10), 'expect_at_least must be 0 or more, got -2'),
    ((['api'], None, None, 1, -1), 'timeout must be more than 0 seconds, got -1'),
])
def test_validate_options(args, message):
    with pytest.raises(cc.OptionError, match=message):
        cc.validate_options(*args)


def test_validate_options_accepts_each_selector_alone():
    cc.validate_options(['api'], None, None, 0, 1)
    cc.validate_options([], {'tier': None}, None, 1, 0.5)
    cc.validate_options([], None, 'shop', 1, 10)


@pytest.mark.parametrize('error, words', [
    ("('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))", 'no such socket'),
    ("('Connection aborted.', PermissionError(13, 'Permission denied'))", 'add the user to the docker group'),
    ("HTTPConnectionPool: [Errno 111] Connection refused", 'connection refused'),
    ("UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=1)", 'no answer in time'),
    ("something else", 'something else'),
])
def test_connection_error_reasons(error, words):
    assert words in cc._reason(Exception(error))


# --- state file ----------------------------------------------------------------------------


def facts(full_id, name, count):
    return {'full_id': full_id, 'name': name, 'restart_count': count}


def test_state_file_round_trip_keeps_others_and_drops_old(tmp_path):
    path = str(tmp_path / 'sub' / 'state.json')
    state = cc.RestartState(path).load()
    assert state.entries == {} and state.problem is None
    state.entries = {'old': {'name': 'gone', 'restart_count': 1, 'seen': NOW - cc.STATE_KEEP_SECONDS - 1},
                     'other': {'name': 'db', 'restart_count': 2, 'seen': NOW - 3600}}
    state.save([facts('a' * 64, 'api', 3)], NOW)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(open(path).read())
    assert data['version'] == cc.STATE_VERSION
    assert data['containers'] == {
        'a' * 64: {'name': 'api', 'restart_count': 3, 'seen': NOW},
        'other': {'name': 'db', 'restart_count': 2, 'seen': NOW - 3600},
    }
    again = cc.RestartState(path).load()
    assert again.get('a' * 64)['restart_count'] == 3 and again.get('nope') is None
    assert sorted(os.listdir(str(tmp_path / 'sub'))) == ['state.json', 'state.json.lock']


def test_state_file_keeps_entries_a_parallel_run_wrote(tmp_path):
    path = str(tmp_path / 'state.json')
    mine = cc.RestartState(path).load()
    cc.RestartState(path).load().save([facts('b' * 64, 'worker', 1)], NOW)
    mine.save([facts('a' * 64, 'api', 0)], NOW + 1)
    assert sorted(cc.RestartState(path).load().entries) == ['a' * 64, 'b' * 64]


def test_corrupt_state_file_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text('{not json')
    state = cc.RestartState(str(path)).load()
    assert state.entries == {} and 'is not valid JSON' in state.problem
    path.write_text('[1, 2]')
    assert cc.RestartState(str(path)).load().entries == {}


# --- module documentation and argument spec ------------------------------------------------


def test_documented_options_match_the_argument_spec():
    spec = container_check.argument_spec()
    doc = yaml.safe_load(container_check.DOCUMENTATION)['options']
    # fail_on comes from the status doc fragment.
    assert sorted(doc) == sorted(name for name in spec if name != 'fail_on')
    for name, option in doc.items():
        assert option['type'] == spec[name]['type'], name
        assert option.get('default') == spec[name].get('default'), name
        assert option.get('elements') == spec[name].get('elements'), name


def test_documented_thresholds_are_the_defaults():
    doc = yaml.safe_load(container_check.DOCUMENTATION)['options']['thresholds']['description']
    text = ' '.join(doc)
    for key in cc.DEFAULT_THRESHOLDS:
        assert 'C(%s)' % key in text
    assert cc.DEFAULT_THRESHOLDS['restarts'].as_dict() == {'warning': 1, 'critical': 5, 'direction': 'above'}


def test_examples_use_only_documented_options():
    doc = yaml.safe_load(container_check.DOCUMENTATION)['options']
    options = set(doc) | {'fail_on'}
    for task in yaml.safe_load(container_check.EXAMPLES):
        args = task.get('caretaker.maintenance.container_check')
        if args is not None:
            assert set(args) <= options, task['name']
