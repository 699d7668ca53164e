# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import json
import socket
import ssl
from urllib.error import URLError

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.module_utils import _http_check as hc
from ansible_collections.caretaker.maintenance.plugins.modules import http_check


def params(endpoints, **task):
    """Module params as AnsibleModule hands them over: every option present."""
    spec = hc.http_check_argument_spec()
    values = dict((key, option.get('default')) for key, option in spec.items() if key != 'endpoints')
    values.update(task)
    sub = spec['endpoints']['options']
    values['endpoints'] = [dict(dict((key, None) for key in sub), **endpoint) for endpoint in endpoints]
    return values


def build(endpoints, **task):
    return hc.build_endpoints(params(endpoints, **task))


# --- documentation and spec in step ----------------------------------------------------

def test_documented_options_match_the_spec():
    spec = hc.http_check_argument_spec()
    doc = yaml.safe_load(http_check.DOCUMENTATION)['options']
    assert sorted(doc) == sorted(set(spec) - {'fail_on'})  # fail_on comes from the status fragment
    for name, option in spec.items():
        if name == 'fail_on':
            continue
        assert doc[name]['type'] == option['type'], name
        assert doc[name].get('default') == option.get('default'), name
        assert doc[name].get('elements') == option.get('elements'), name
    sub_spec = spec['endpoints']['options']
    sub_doc = doc['endpoints']['suboptions']
    assert sorted(sub_doc) == sorted(sub_spec)
    for name, option in sub_spec.items():
        assert sub_doc[name]['type'] == option['type'], name
        assert 'default' not in option, 'endpoints[].%s must not default: unset inherits the task option' % name


def test_only_secret_headers_are_no_log():
    spec = hc.http_check_argument_spec()
    flagged = sorted(name for name, option in spec.items() if option.get('no_log'))
    flagged += sorted('endpoints.' + name for name, option in spec['endpoints']['options'].items()
                      if option.get('no_log'))
    assert flagged == ['secret_headers', 'endpoints.secret_headers']


# --- JSON path --------------------------------------------------------------------------

@pytest.mark.parametrize('text, segments', [
    ('status', ['status']),
    ('checks[0].status', ['checks', 0, 'status']),
    ('checks.0.status', ['checks', '0', 'status']),
    ('checks[-1]', ['checks', -1]),
    ('meta["build.id"]', ['meta', 'build.id']),
    ("meta['a[b]'].x", ['meta', 'a[b]', 'x']),
    ('[0].name', [0, 'name']),
    ('a[1][2]', ['a', 1, 2]),
])
def test_parse_json_path(text, segments):
    assert hc.parse_json_path(text) == segments


@pytest.mark.parametrize('text, message', [
    ('', 'is empty'),
    ('a..b', 'position 2: expected a key'),
    ('a.', 'position 2: expected a key'),
    ('a[x]', 'position 1'),
    ('a[0]b', 'expected "." or "["'),
    ('a[0', 'position 1'),
])
def test_parse_json_path_errors(text, message):
    with pytest.raises(ValueError, match=message.replace('[', r'\[').replace('.', r'\.')):
        hc.parse_json_path(text)


DOC = {'status': 'healthy', 'checks': [{'status': 'up'}, {'status': 'down'}], 'n': 3, 'meta': {'build.id': 'x'}}


@pytest.mark.parametrize('path, value', [
    ('status', 'healthy'),
    ('checks[1].status', 'down'),
    ('checks.0.status', 'up'),
    ('checks[-1].status', 'down'),
    ('meta["build.id"]', 'x'),
    ('checks', [{'status': 'up'}, {'status': 'down'}]),
])
def test_lookup_json(path, value):
    assert hc.lookup_json(DOC, hc.parse_json_path(path)) == value


@pytest.mark.parametrize('path, message', [
    ('state', 'the document has no key "state"'),
    ('checks[2]', 'checks is a list of 2, it has no [2]'),
    ('checks[0].state', 'checks[0] has no key "state"'),
    ('status.x', 'status is the value "healthy", it has no key "x"'),
    ('n[0]', 'n is the value 3, it has no [0]'),
    ('meta[0]', 'meta is an object, it has no [0]'),
])
def test_lookup_json_says_where_it_stopped(path, message):
    with pytest.raises(LookupError) as info:
        hc.lookup_json(DOC, hc.parse_json_path(path))
    assert info.value.args[0] == message


@pytest.mark.parametrize('actual, expected, equal', [
    ('healthy', 'healthy', True),
    ('healthy', 'Healthy', False),
    (1, 1.0, True),
    (200, '200', True),
    (True, 'true', True),
    (None, 'null', True),
    (True, 1, False),
    (1, True, False),
    (False, False, True),
    ('200', 200, False),
    ({'a': [1]}, {'a': [1]}, True),
    ([1, 2], [2, 1], False),
    ({'a': 1}, '{"a": 1}', False),
])
def test_json_equal(actual, expected, equal):
    assert hc.json_equal(actual, expected) is equal


# --- options: inheritance and merging ----------------------------------------------------

def test_defaults_when_nothing_is_set():
    [endpoint] = build([{'url': 'http://127.0.0.1:8080/health'}])
    assert endpoint.method == 'GET'
    assert endpoint.timeout == 10.0
    assert endpoint.status_codes is None
    assert endpoint.follow_redirects is True and endpoint.use_proxy is True
    assert endpoint.max_body_bytes == 1048576
    assert endpoint.threshold.as_dict() == {'warning': 2000, 'critical': 10000, 'direction': 'above'}
    assert endpoint.name == 'http://127.0.0.1:8080/health'
    assert endpoint.headers == {'User-Agent': hc.USER_AGENT}
    # http:// may redirect to https://, so every endpoint has its TLS settings
    assert endpoint.context.verify_mode == ssl.CERT_REQUIRED and endpoint.context.check_hostname is True


def test_endpoint_options_override_task_options():
    first, second = build(
        [{'url': 'http://a.test/'}, {'url': 'https://b.test/', 'timeout': 2, 'method': 'head',
                                     'status_code': [204], 'validate_certs': True, 'follow_redirects': True}],
        timeout=4, method='OPTIONS', status_code=[200, 301], validate_certs=False, follow_redirects=False)
    assert (first.timeout, first.method, first.status_codes, first.follow_redirects) == (4.0, 'OPTIONS', (200, 301), False)
    assert (second.timeout, second.method, second.status_codes, second.follow_redirects) == (2.0, 'HEAD', (204,), True)
    assert second.context.verify_mode == ssl.CERT_REQUIRED
    assert second.name == 'HEAD https://b.test/'
    assert first.name == 'OPTIONS http://a.test/'


def test_unverified_context_when_validate_certs_is_false():
    first, second = build([{'url': 'https://127.0.0.1/'}, {'url': 'http://127.0.0.1/', 'validate_certs': True}],
                          validate_certs=False)
    assert first.context.verify_mode == ssl.CERT_NONE and first.context.check_hostname is False
    assert second.context.verify_mode == ssl.CERT_REQUIRED


def test_headers_merge_by_name_case_insensitively():
    [endpoint] = build(
        [{'url': 'http://a.test/', 'headers': {'accept': 'text/html', 'X-Trace': '1'},
          'secret_headers': {'X-Api-Key': 'k2'}}],
        headers={'Accept': 'application/json', 'User-Agent': 'probe/2'},
        secret_headers={'Authorization': 'Bearer t', 'x-api-key': 'k1'})
    assert endpoint.headers == {'accept': 'text/html', 'X-Trace': '1', 'User-Agent': 'probe/2',
                                'Authorization': 'Bearer t', 'X-Api-Key': 'k2'}
    assert endpoint.secret_headers == {'authorization', 'x-api-key'}


def test_a_plain_header_overriding_a_secret_one_is_no_longer_secret_unless_its_name_says_so():
    [endpoint] = build([{'url': 'http://a.test/', 'headers': {'X-Env': 'prod', 'Cookie': 'sid=1'}}],
                       secret_headers={'X-Env': 'hidden', 'Cookie': 'sid=0'})
    assert endpoint.headers['X-Env'] == 'prod' and endpoint.headers['Cookie'] == 'sid=1'
    assert endpoint.secret_headers == {'cookie'}


def test_json_body_sets_content_type_unless_given():
    first, second, third = build([
        {'url': 'http://a.test/', 'method': 'POST', 'body': {'query': '{ health }'}},
        {'url': 'http://a.test/', 'method': 'POST', 'body': [1], 'headers': {'content-type': 'application/x+json'}},
        {'url': 'http://a.test/', 'method': 'POST', 'body': 'plain ü'},
    ])
    assert json.loads(first.body) == {'query': '{ health }'}
    assert first.headers['Content-Type'] == 'application/json'
    assert second.headers == {'content-type': 'application/x+json', 'User-Agent': hc.USER_AGENT}
    assert third.body == u'plain ü'.encode('utf-8') and 'Content-Type' not in third.headers


def test_an_endpoint_limit_is_checked_against_the_task_level_ones():
    [endpoint] = build([{'url': 'http://a.test/', 'thresholds': {'latency': {'critical': 300}}}],
                       thresholds={'latency': {'warning': 100}})
    assert (endpoint.threshold.warning, endpoint.threshold.critical) == (100, 300)


def test_thresholds_task_then_endpoint():
    first, second = build([{'url': 'http://a.test/'},
                           {'url': 'http://b.test/', 'thresholds': {'latency': {'warning': 100}}}],
                          thresholds={'latency': {'warning': 500, 'critical': 3000}})
    assert (first.threshold.warning, first.threshold.critical) == (500, 3000)
    assert (second.threshold.warning, second.threshold.critical) == (100, 3000)


def test_exposed_secret_headers_lists_credential_like_names_in_plain_headers():
    found = hc.exposed_secret_headers(params(
        [{'url': 'http://a.test/', 'headers': {'X-Auth-Token': 'abc', 'Accept': 'text/html', 'X-Session': 'abcdef'}},
         {'url': 'http://b.test/', 'secret_headers': {'Authorization': 'fine'}}],
        headers={'Authorization': 'Bearer t', 'Cookie': 'sid=12', 'X-Request-Source': 'probe-1234',
                 'X-Auth-Enabled': 'yes'}))
    # short values under such names are flags, not credentials: masking them would garble the result
    assert found == [('headers.Authorization', 'Bearer t'), ('headers.Cookie', 'sid=12'),
                     ('endpoints[0].headers.X-Session', 'abcdef')]


# --- options: errors name the option before anything is sent -------------------------------

@pytest.mark.parametrize('endpoints, task, message', [
    ([{'url': 'ftp://127.0.0.1/x'}, ], {}, "endpoints[0].url: scheme must be http or https, got 'ftp'"),
    ([{'url': 'http://a.test/'}, {'url': '127.0.0.1:8080/health'}], {}, 'endpoints[1].url: scheme must be http or https'),
    ([{'url': 'http:///path'}], {}, 'endpoints[0].url: no host in http:///path'),
    ([{'url': 'http://user:pw@a.test/'}], {}, 'endpoints[0].url: credentials in the URL'),
    ([{'url': 'http://a.test:99999/'}], {}, 'endpoints[0].url: invalid port'),
    ([{'url': 'http://a.test/a b'}], {}, 'contains spaces or control characters'),
    ([{'url': 'http://a.test/'}, {'url': 'http://a.test/'}, {'url': 'http://a.test/', 'body_regex': '(ok'}], {},
     "endpoints[2].body_regex: invalid regular expression '(ok'"),
    ([{'url': 'http://a.test/', 'json_path': 'status', 'json_regex': '[a-'}], {}, 'endpoints[0].json_regex: invalid regular'),
    ([{'url': 'http://a.test/', 'json_path': 'a..b'}], {}, 'endpoints[0].json_path cannot parse'),
    ([{'url': 'http://a.test/', 'json_equals': 'healthy'}], {}, 'endpoints[0].json_equals needs json_path'),
    ([{'url': 'http://a.test/', 'json_regex': 'x'}], {}, 'endpoints[0].json_regex needs json_path'),
    ([{'url': 'http://a.test/', 'json_path': 's', 'json_equals': 'a', 'json_regex': 'b'}], {},
     'endpoints[0]: json_equals and json_regex are mutually exclusive'),
    ([{'url': 'http://a.test/', 'timeout': -1}], {}, 'endpoints[0].timeout must be a number of seconds above 0, got -1'),
    ([{'url': 'http://a.test/', 'timeout': 0}], {}, 'endpoints[0].timeout must be a number of seconds above 0'),
    ([{'url': 'http://a.test/'}], {'timeout': -2.5}, 'timeout must be a number of seconds above 0, got -2.5'),
    ([{'url': 'http://a.test/', 'method': 'FETCH'}], {}, "endpoints[0].method: 'FETCH' is not supported"),
    ([{'url': 'http://a.test/', 'status_code': [200, 42]}], {}, 'endpoints[0].status_code: 42 is not an HTTP status code'),
    ([{'url': 'http://a.test/', 'status_code': []}], {}, 'endpoints[0].status_code is empty'),
    ([{'url': 'http://a.test/', 'max_body_bytes': 0}], {}, 'endpoints[0].max_body_bytes must be 1 or more'),
    ([{'url': 'http://a.test/', 'thresholds': {'latency': {'warning': 5000, 'critical': 1000}}}], {},
     'endpoints[0].thresholds.latency: critical 1000.0 must be at or above warning 5000.0'),
    ([{'url': 'http://a.test/'}], {'thresholds': {'latency': {'warning': 20000}}},
     'thresholds.latency: critical 10000 must be at or above warning 20000.0'),
    ([{'url': 'http://a.test/', 'thresholds': {'latency': {'critical': 300}}}], {'thresholds': {'latency': {'warning': 500}}},
     'endpoints[0].thresholds.latency: critical 300.0 must be at or above warning 500.0'),
    ([{'url': 'http://a.test/', 'thresholds': {'latncy': {'warning': 1}}}], {}, 'endpoints[0].thresholds.latncy is not a signal'),
    ([{'url': 'http://a.test/', 'headers': {'Bad Name': 'x'}}], {}, "endpoints[0].headers: 'Bad Name' is not a valid header name"),
    ([{'url': 'http://a.test/', 'secret_headers': {'X-Token': 'a\r\nInjected: 1'}}], {},
     'endpoints[0].secret_headers.X-Token: a header value must not contain line breaks'),
    ([{'url': 'http://a.test/', 'method': 'HEAD', 'body_regex': 'ok'}], {}, 'endpoints[0]: a HEAD answer has no body'),
    ([{'url': 'https://a.test/', 'ca_path': '/nonexistent/ca.pem'}], {},
     'endpoints[0].ca_path: cannot load CA certificates from /nonexistent/ca.pem'),
    ([{'url': 'http://a.test/'}], {'ca_path': '/nonexistent/ca.pem'}, 'ca_path: cannot load CA certificates'),
    ([], {}, 'endpoints is empty'),
    ([{'url': 'http://a.test/'}], {'concurrency': 0}, 'concurrency must be between 1 and 256, got 0'),
])
def test_bad_options_name_the_option(endpoints, task, message):
    with pytest.raises(hc.EndpointOptionError) as info:
        build(endpoints, **task)
    assert message in '%s' % info.value


def test_a_secret_header_value_never_appears_in_an_error():
    with pytest.raises(hc.EndpointOptionError) as info:
        build([{'url': 'http://a.test/', 'secret_headers': {'Authorization': 's3cr3t\nvalue'}}])
    assert 's3cr3t' not in '%s' % info.value


# --- errors without an answer ----------------------------------------------------------

@pytest.mark.parametrize('exc, kind, words', [
    (URLError(socket.gaierror(-2, 'Name or service not known')), 'dns', 'DNS lookup of a.test failed: Name or service not known'),
    (URLError(ConnectionRefusedError(111, 'Connection refused')), 'refused', 'connection refused by a.test:8080'),
    (URLError(socket.timeout('timed out')), 'timeout', 'no answer from a.test:8080 within 1.5 s'),
    (socket.timeout('timed out'), 'timeout', 'within 1.5 s'),
    (hc._Deadline(), 'timeout', 'did not complete within 1.5 s'),
    (URLError(ssl.SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number')), 'tls', 'TLS handshake with a.test:8080 failed'),
    (http.client.RemoteDisconnected('Remote end closed connection without response'), 'protocol',
     'bad HTTP answer from a.test:8080: RemoteDisconnected: Remote end closed'),
    (URLError(OSError(113, 'No route to host')), 'connection', 'cannot connect to a.test:8080: No route to host'),
])
def test_describe_error(exc, kind, words):
    [endpoint] = build([{'url': 'http://a.test:8080/', 'timeout': 1.5}])
    got_kind, message = hc.describe_error(exc, endpoint)
    assert got_kind == kind
    assert words in message


def test_describe_certificate_error_points_at_ca_path():
    [endpoint] = build([{'url': 'https://a.test/'}])
    exc = ssl.SSLCertVerificationError(1, 'certificate verify failed')
    exc.verify_message = 'self-signed certificate'
    kind, message = hc.describe_error(URLError(exc), endpoint)
    assert kind == 'tls'
    assert message.startswith('TLS certificate of a.test:443 not trusted: self-signed certificate; set ca_path')


# --- check mode --------------------------------------------------------------------------

def test_check_mode_does_not_send_unsafe_methods():
    # nothing listens on a.test: an attempt to send would give a dns item, not this one
    endpoints = build([{'url': 'http://a.test/', 'method': method} for method in ('POST', 'PUT', 'PATCH', 'DELETE')])
    result = hc.run_checks(endpoints, check_mode=True)
    assert result['status'] == 'unknown' and result['changed'] is False
    for item in result['checks']:
        assert item['status'] == 'unknown'
        assert item['detail'].startswith('not sent in check mode: a %s request can change the server' % item['method'])
        assert item['status_code'] is None and item['error'] is None
