"""http_check against real loopback HTTP(S) servers (tests/support/http_fixtures.py),
through real ansible-playbook runs; its documentation renders and its EXAMPLES run as written."""

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.support.http_fixtures import AppServer, make_ca, port_is_free, refused_port
from tests.support.playbook import assert_ansible_doc_renders, ROOT, ansible_env, run_module, run_tasks

MODULE = 'caretaker.maintenance.http_check'


@pytest.fixture(scope='module')
def app():
    server = AppServer()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def tls_files(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp('tls'))


@pytest.fixture(scope='module')
def tls_app(tls_files):
    server = AppServer(tls=tls_files)
    yield server
    server.stop()


def items_by_name(result):
    return dict((item['name'], item) for item in result['checks'])


# --- one task probing every kind of endpoint -------------------------------------------------

@pytest.fixture(scope='module')
def cases(app, tls_app, tls_files):
    with refused_port() as port:
        endpoints = [
            {'name': 'healthy', 'url': app.url('/health')},
            {'name': 'healthy body', 'url': app.url('/health'), 'body_regex': '^ok$'},
            {'name': 'head', 'url': app.url('/health'), 'method': 'head'},
            {'name': 'slow warning', 'url': app.url('/slow?ms=400'), 'thresholds': {'latency': {'warning': 200}}},
            {'name': 'slow critical', 'url': app.url('/slow?ms=400'),
             'thresholds': {'latency': {'warning': 100, 'critical': 300}}},
            {'name': 'failing', 'url': app.url('/fail')},
            {'name': 'failing expected', 'url': app.url('/fail'), 'status_code': [500, 503]},
            {'name': 'wrong body', 'url': app.url('/wrong'), 'body_regex': '^ok$'},
            {'name': 'redirect followed', 'url': app.url('/redirect')},
            {'name': 'redirect not followed', 'url': app.url('/redirect'), 'follow_redirects': False},
            {'name': 'redirect expected', 'url': app.url('/redirect'), 'follow_redirects': False,
             'status_code': [301, 302]},
            {'name': 'redirect loop', 'url': app.url('/redirect-loop')},
            {'name': 'json healthy', 'url': app.url('/health/detailed'), 'json_path': 'status', 'json_equals': 'healthy'},
            {'name': 'json degraded', 'url': app.url('/degraded'), 'json_path': 'status', 'json_equals': 'healthy'},
            {'name': 'json list item', 'url': app.url('/health/detailed'), 'json_path': 'checks[1].status',
             'json_regex': '^(up|degraded)$'},
            {'name': 'json number', 'url': app.url('/health/detailed'), 'json_path': 'uptime', 'json_equals': 86400.0},
            {'name': 'json exists', 'url': app.url('/health/detailed'), 'json_path': 'meta["build.id"]'},
            {'name': 'json missing', 'url': app.url('/health/detailed'), 'json_path': 'checks[5].status',
             'json_equals': 'up'},
            {'name': 'not json', 'url': app.url('/notjson'), 'json_path': 'status'},
            {'name': 'timeout', 'url': app.url('/slow?ms=4000'), 'timeout': 0.5},
            {'name': 'refused', 'url': 'http://127.0.0.1:%d/health' % port},
            {'name': 'dns', 'url': 'http://nonexistent.invalid/health', 'timeout': 3},
            {'name': 'tls untrusted', 'url': tls_app.url('/health')},
            {'name': 'tls with ca', 'url': tls_app.url('/health/detailed'), 'ca_path': str(tls_files.ca),
             'json_path': 'status', 'json_equals': 'healthy'},
            {'name': 'tls unverified', 'url': tls_app.url('/health'), 'validate_certs': False},
            {'name': 'redirect to tls', 'url': app.url('/redirect-to?url=%s' % tls_app.url('/health')),
             'ca_path': str(tls_files.ca)},
            {'name': 'big body', 'url': app.url('/big?bytes=3000000'), 'max_body_bytes': 4096, 'body_regex': 'b'},
            {'name': 'post json', 'url': app.url('/echo'), 'method': 'POST', 'body': {'probe': 'caretaker'},
             'headers': {'X-Trace': 'abc'}, 'json_path': 'method', 'json_equals': 'POST'},
        ]
        result, run = run_module(MODULE, {'endpoints': endpoints, 'fail_on': 'never', 'timeout': 5})
    return result, run, [endpoint['name'] for endpoint in endpoints]


def test_result_shape_and_order(cases):
    result, run, names = cases
    assert run.returncode == 0, result
    assert result['changed'] is False
    assert [item['name'] for item in result['checks']] == names
    assert result['status'] == 'critical'
    assert sum(result['counts'].values()) == len(names)
    for item in result['checks']:
        assert set(('name', 'status', 'value', 'unit', 'threshold', 'detail', 'url', 'method', 'status_code',
                    'latency_ms', 'matched', 'error', 'error_kind', 'final_url', 'redirects')) <= set(item)
        assert item['unit'] == 'ms'
        assert item['value'] == item['latency_ms']
    assert result['msg'].startswith('%d critical, %d warning of %d endpoint checks; '
                                    % (result['counts']['critical'], result['counts']['warning'], len(names)))


def test_healthy_endpoints_are_ok(cases):
    items = items_by_name(cases[0])
    healthy = items['healthy']
    assert healthy['status'] == 'ok' and healthy['status_code'] == 200
    assert healthy['latency_ms'] > 0
    assert healthy['threshold'] == {'warning': 2000, 'critical': 10000, 'direction': 'above'}
    assert healthy['matched'] is None and healthy['error'] is None and healthy['error_kind'] is None
    assert healthy['detail'].startswith('HTTP 200 in ')
    assert items['healthy body']['status'] == 'ok' and items['healthy body']['matched'] is True
    assert items['head']['status'] == 'ok' and items['head']['method'] == 'HEAD'


def test_slow_endpoints_cross_latency_thresholds(cases):
    items = items_by_name(cases[0])
    warning, critical = items['slow warning'], items['slow critical']
    assert warning['status'] == 'warning' and warning['latency_ms'] >= 400
    assert 'at or over the warning latency limit of 200 ms' in warning['detail']
    assert warning['threshold'] == {'warning': 200.0, 'critical': 10000, 'direction': 'above'}
    assert critical['status'] == 'critical'
    assert 'critical latency limit of 300 ms' in critical['detail']


def test_unexpected_status_code_is_critical(cases):
    items = items_by_name(cases[0])
    assert items['failing']['status'] == 'critical' and items['failing']['status_code'] == 500
    assert items['failing']['detail'].endswith(', expected 2xx')
    assert items['failing expected']['status'] == 'ok'


def test_wrong_body_is_critical(cases):
    item = items_by_name(cases[0])['wrong body']
    assert item['status'] == 'critical' and item['status_code'] == 200
    assert item['matched'] is False
    assert "body does not match body_regex '^ok$'" in item['detail']


def test_redirects(cases):
    items = items_by_name(cases[0])
    followed = items['redirect followed']
    assert followed['status'] == 'ok' and followed['status_code'] == 200
    assert followed['redirects'] == 1 and followed['final_url'].endswith('/health')
    not_followed = items['redirect not followed']
    assert not_followed['status'] == 'critical' and not_followed['status_code'] == 302
    assert not_followed['redirects'] == 0
    assert '(redirect to /health not followed), expected 2xx' in not_followed['detail']
    assert items['redirect expected']['status'] == 'ok'
    loop = items['redirect loop']
    assert loop['status'] == 'critical' and loop['status_code'] == 302
    assert 'a loop, more than 10 redirects' in loop['detail']


def test_json_field_match(cases):
    items = items_by_name(cases[0])
    assert items['json healthy']['status'] == 'ok'
    assert items['json healthy']['matched'] is True and items['json healthy']['json_value'] == 'healthy'
    degraded = items['json degraded']
    assert degraded['status'] == 'critical' and degraded['matched'] is False
    assert degraded['json_value'] == 'degraded'
    assert 'json status is "degraded", expected "healthy"' in degraded['detail']
    assert items['json list item']['status'] == 'ok' and items['json list item']['json_value'] == 'up'
    assert items['json number']['status'] == 'ok' and items['json number']['json_value'] == 86400
    assert items['json exists']['status'] == 'ok' and items['json exists']['json_value'] == 'abc123'
    missing = items['json missing']
    assert missing['status'] == 'critical' and missing['json_value'] is None
    assert 'json_path checks[5].status not found: checks is a list of 2, it has no [5]' in missing['detail']
    assert items['not json']['status'] == 'critical'
    assert 'body is not JSON' in items['not json']['detail']
    assert 'healthy' not in [item.get('json_value') for item in (items['healthy'], items['wrong body'])]
    assert 'json_value' not in items['healthy']


def test_no_answer_is_critical_with_the_reason(cases):
    items = items_by_name(cases[0])
    expected = {
        'timeout': ('timeout', 'within 0.5 s (timeout)'),
        'refused': ('refused', 'connection refused by 127.0.0.1:'),
        'dns': ('dns', 'DNS lookup of nonexistent.invalid failed'),
        'tls untrusted': ('tls', 'not trusted'),
    }
    for name, (kind, words) in expected.items():
        item = items[name]
        assert item['status'] == 'critical', item
        assert item['error_kind'] == kind, item
        assert words in item['error'] and item['detail'] == item['error']
        assert item['status_code'] is None and item['latency_ms'] is None and item['value'] is None
    assert 'set ca_path' in items['tls untrusted']['error']


def test_tls_with_the_ca_or_without_verification(cases, tls_app):
    items = items_by_name(cases[0])
    assert items['tls with ca']['status'] == 'ok' and items['tls with ca']['json_value'] == 'healthy'
    assert items['tls unverified']['status'] == 'ok'
    to_tls = items['redirect to tls']
    assert to_tls['status'] == 'ok' and to_tls['redirects'] == 1 and to_tls['final_url'] == tls_app.url('/health')


def test_body_is_read_up_to_max_body_bytes(cases):
    item = items_by_name(cases[0])['big body']
    assert item['status'] == 'critical' and item['status_code'] == 200
    assert 'in its first 4096 bytes (max_body_bytes)' in item['detail']


def test_method_headers_and_json_body_are_sent(cases, app):
    item = items_by_name(cases[0])['post json']
    assert item['status'] == 'ok' and item['name'] == 'post json'
    [(method, _path, headers, body)] = [r for r in app.stats.requests if r[1] == '/echo']
    assert method == 'POST'
    assert headers['X-Trace'] == 'abc'
    assert headers['Content-Type'] == 'application/json'
    assert headers['User-Agent'].startswith('caretaker-http-check/')
    assert yaml.safe_load(body) == {'probe': 'caretaker'}


# --- fail_on, check mode, concurrency, bad input -------------------------------------------

def test_fail_on_default_fails_on_critical_with_every_item(app):
    result, run = run_module(MODULE, {'endpoints': [{'url': app.url('/health')}, {'url': app.url('/fail')}]})
    assert run.returncode != 0 and result['failed'] is True
    assert result['status'] == 'critical'
    assert [item['status'] for item in result['checks']] == ['ok', 'critical']
    assert result['msg'] == '1 critical of 2 endpoint checks; %s: %s' % (app.url('/fail'), result['checks'][1]['detail'])


def test_fail_on_warning_and_critical(app):
    slow = {'endpoints': [{'url': app.url('/slow?ms=300')}], 'thresholds': {'latency': {'warning': 100}}}
    result, run = run_module(MODULE, dict(slow, fail_on='warning'))
    assert run.returncode != 0 and result['status'] == 'warning' and result['failed'] is True
    result, run = run_module(MODULE, slow)
    assert run.returncode == 0 and result['status'] == 'warning' and not result.get('failed')


def test_check_mode_probes_safe_methods_only(app):
    app.stats.reset()
    args = {'endpoints': [{'url': app.url('/health')}, {'url': app.url('/echo'), 'method': 'DELETE'}],
            'fail_on': 'never'}
    result, run = run_module(MODULE, args, check=True)
    assert run.returncode == 0
    assert result['changed'] is False
    get, delete = result['checks']
    assert get['status'] == 'ok' and get['status_code'] == 200
    assert delete['status'] == 'unknown' and delete['status_code'] is None
    assert 'not sent in check mode' in delete['detail']
    assert [(r[0], r[1]) for r in app.stats.requests] == [('GET', '/health')]


def test_concurrency_bound_is_respected(app):
    app.stats.reset()
    endpoints = [{'url': app.url('/slow?ms=300&n=%d' % n)} for n in range(12)]
    result, _run = run_module(MODULE, {'endpoints': endpoints, 'concurrency': 3})
    assert result['status'] == 'ok'
    assert app.stats.count == 12
    assert 2 <= app.stats.max_in_flight <= 3


def test_default_concurrency_is_32(app):
    app.stats.reset()
    endpoints = [{'url': app.url('/slow?ms=800&n=%d' % n)} for n in range(40)]
    result, _run = run_module(MODULE, {'endpoints': endpoints})
    assert result['status'] == 'ok' and app.stats.count == 40
    assert 16 <= app.stats.max_in_flight <= 32


@pytest.mark.parametrize('bad, message', [
    ({'url': 'ftp://127.0.0.1/health'}, "endpoints[2].url: scheme must be http or https, got 'ftp'"),
    ({'url': 'http://127.0.0.1/', 'body_regex': '(unclosed'}, "endpoints[2].body_regex: invalid regular expression"),
    ({'url': 'http://127.0.0.1/', 'timeout': -1}, 'endpoints[2].timeout must be a number of seconds above 0, got -1'),
    ({'url': 'http://127.0.0.1/', 'thresholds': {'latency': {'warning': 5000, 'critical': 1000}}},
     'endpoints[2].thresholds.latency: critical 1000.0 must be at or above warning 5000.0'),
])
def test_bad_input_fails_before_any_request(app, bad, message):
    app.stats.reset()
    endpoints = [{'url': app.url('/health')}, {'url': app.url('/health')}, bad]
    result, run = run_module(MODULE, {'endpoints': endpoints})
    assert run.returncode != 0 and result['failed'] is True
    assert message in result['msg']
    assert 'checks' not in result
    assert app.stats.count == 0


# --- secrets -----------------------------------------------------------------------------

def run_verbose(args):
    """One http_check task with -vvv and the default callback (which prints the module
    arguments and the whole result); returns stdout + stderr."""
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [{MODULE: args}]}]
    with tempfile.TemporaryDirectory(prefix='caretaker-play-') as tmp:
        path = Path(tmp) / 'play.yml'
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as handle:
            json.dump(play, handle)
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=' + sys.executable, '-vvv', str(path)]
        proc = subprocess.run(cmd, cwd=str(ROOT), env=ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'}),
                              capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_secret_headers_never_appear_in_output():
    token = secrets.token_hex(16)
    server = AppServer(token=token)
    try:
        args = {'secret_headers': {'Authorization': 'Bearer ' + token},
                'endpoints': [{'url': server.url('/health/detailed'), 'json_path': 'status', 'json_equals': 'healthy'},
                              {'url': server.url('/health/detailed'), 'secret_headers': {'Authorization': 'Bearer no'}}],
                'fail_on': 'never'}
        result, run = run_module(MODULE, args)
        verbose = run_verbose(args)
    finally:
        server.stop()
    assert [item['status'] for item in result['checks']] == ['ok', 'critical']
    assert result['checks'][1]['status_code'] == 401
    assert result['invocation']['module_args']['secret_headers'] == {'Authorization': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}
    for output in (run.stdout + run.stderr, verbose):
        assert token not in output
        assert 'Bearer no' not in output
    assert '"Authorization": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in verbose


def test_credentials_in_plain_headers_are_masked_with_a_warning(app):
    token = secrets.token_hex(16)
    args = {'headers': {'X-Api-Key': token}, 'endpoints': [{'url': app.url('/health')}]}
    result, run = run_module(MODULE, args)
    verbose = run_verbose(args)
    assert result['status'] == 'ok'
    assert result['invocation']['module_args']['headers'] == {'X-Api-Key': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}
    assert token not in run.stdout + run.stderr + verbose
    assert any('headers.X-Api-Key looks like a credential' in warning for warning in result.get('warnings', []))


def test_secret_headers_stay_within_the_origin_on_redirect(app):
    other = AppServer()
    try:
        app.stats.reset()
        endpoints = [{'name': 'same origin', 'url': app.url('/redirect-to?url=%s' % app.url('/echo'))},
                     {'name': 'other origin', 'url': app.url('/redirect-to?url=%s' % other.url('/echo'))}]
        result, _run = run_module(MODULE, {'endpoints': endpoints, 'concurrency': 1, 'headers': {'X-Trace': 't1'},
                                           'secret_headers': {'X-Api-Key': 'k-' + secrets.token_hex(8)}})
        assert [item['redirects'] for item in result['checks']] == [1, 1]
        [same] = [request[2] for request in app.stats.requests if request[1] == '/echo']
        [moved] = [request[2] for request in other.stats.requests if request[1] == '/echo']
    finally:
        other.stop()
    assert same['X-Trace'] == 't1' and same['X-Api-Key'].startswith('k-')
    assert moved['X-Trace'] == 't1' and 'X-Api-Key' not in moved


def test_credentials_in_the_url_are_refused(app):
    url = app.url('/health').replace('://', '://probe:pw-%s@' % secrets.token_hex(4))
    result, run = run_module(MODULE, {'endpoints': [{'url': url}]})
    assert run.returncode != 0
    assert 'endpoints[0].url: credentials in the URL' in result['msg']


# --- documentation ---------------------------------------------------------------------------

def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('endpoints', 'secret_headers', 'json_path', 'concurrency', 'fail_on',))


EXAMPLE_PORTS = (8080, 8443)


@pytest.fixture(scope='module')
def example_servers(tls_files):
    """The examples name http://127.0.0.1:8080 and https://127.0.0.1:8443: serve them there."""
    busy = [port for port in EXAMPLE_PORTS if not port_is_free(port)]
    if busy:
        pytest.skip('the ports the EXAMPLES use are busy on this machine: %s' % ', '.join(map(str, busy)))
    token = secrets.token_hex(16)
    try:
        plain = AppServer(port=8080, token=token)
    except OSError as exc:
        pytest.skip('cannot listen on 127.0.0.1:8080: %s' % exc)
    try:
        secure = AppServer(port=8443, tls=tls_files)
    except OSError as exc:
        plain.stop()
        pytest.skip('cannot listen on 127.0.0.1:8443: %s' % exc)
    yield token, plain, secure
    plain.stop()
    secure.stop()


def test_examples_run_as_written(example_servers, tls_files):
    from ansible_collections.caretaker.maintenance.plugins.modules import http_check
    token = example_servers[0]
    tasks = yaml.safe_load(http_check.EXAMPLES)
    variables = {'vault_api_token': token, 'internal_ca_bundle': str(tls_files.ca)}
    run = run_tasks([{'name': 'variables', 'ansible.builtin.set_fact': variables, 'no_log': True}] + tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    first = run.task(1)
    assert first['status'] == 'ok' and len(first['checks']) == 1
    second = run.task(2)
    assert [item['status'] for item in second['checks']] == ['ok'] * 6, second['msg']
    assert second['checks'][0]['json_value'] == 'healthy'
    assert second['checks'][3]['status_code'] == 301
    assert run.task(3).get('skipped') is True  # nothing needs attention
    assert token not in run.stdout + run.stderr
