# -*- coding: utf-8 -*-
"""log_scan's parsing pieces: the combined line pattern, probes, message folding, times."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import time

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import scan_combined, scan_probes, scan_text
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import scan_time
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_combined import CombinedScanner
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_text import JsonScanner, TextScanner


def figures_of(lines, **kwargs):
    scanner = CombinedScanner(**kwargs)
    scanner.scan(''.join(line + '\n' for line in lines).encode())
    return scanner, scanner.figures()


def test_combined_fields_of_each_line_shape():
    lines = [
        # combined with a request time
        '203.0.113.9 - alice [06/May/2024:12:53:20 +0000] "GET /cart?id=7 HTTP/1.1" 200 5120 "-" "curl/8.4" 0.069',
        # common log format: nothing after the size, so no request time
        '203.0.113.9 - - [06/May/2024:12:53:21 +0000] "POST /login HTTP/1.1" 401 12',
        # combined without request time: the last field is the user agent's end
        '2001:db8::1 - - [06/May/2024:12:53:22 +0000] "GET /a HTTP/2.0" 503 0 "https://x/" "Mozilla/5.0 (X11) Safari/537.36"',
        # Apache-escaped quote inside the request, rt= prefix
        '198.51.100.7 - - [06/May/2024:12:53:23 +0000] "GET /q?x=\\"1 HTTP/1.1" 403 9 "-" "-" rt=2.5',
        # nginx's line for a request that never came: no method, no path
        '198.51.100.7 - - [06/May/2024:12:53:24 +0000] "-" 400 0 "-" "-" 0.000',
        # not an access-log line at all
        'Traceback (most recent call last):',
        '',
    ]
    scanner, figures = figures_of(lines)
    assert scanner.lines == 7
    assert scanner.unparsed == 2
    assert figures['requests'] == 5
    assert figures['status_counts'] == {'codes': {'200': 1, '400': 1, '401': 1, '403': 1, '503': 1},
                                        'classes': {'2xx': 1, '4xx': 3, '5xx': 1}}
    assert figures['error_rate'] == 20.0
    assert figures['auth_failures'] == {'401': 1, '403': 1, 'total': 2}
    assert {'client': '203.0.113.9', 'count': 2} in figures['top_clients']
    assert {'client': '2001:db8::1', 'count': 1} in figures['top_clients']
    assert sorted(entry['path'] for entry in figures['top_paths']) == ['-', '/a', '/cart', '/login', '/q']
    timing = figures['request_time']
    assert timing['requests'] == 3 and timing['max'] == 2.5
    assert figures['slow_requests']['count'] == 1
    slowest = figures['slow_requests']['slowest'][0]
    assert slowest == {'client': '198.51.100.7', 'time': '06/May/2024:12:53:23 +0000', 'request': 'GET /q?x=\\"1 HTTP/1.1',
                       'status': 403, 'seconds': 2.5}


def test_request_time_units():
    line = '192.0.2.1 - - [06/May/2024:12:53:20 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 1500'
    _scanner, figures = figures_of([line], time_unit='milliseconds')
    assert figures['request_time']['max'] == 1.5 and figures['slow_requests']['count'] == 1
    _scanner, figures = figures_of([line], time_unit='microseconds')
    assert figures['request_time']['max'] == 0.0015 and figures['slow_requests']['count'] == 0


@pytest.mark.parametrize('request_line,kinds', [
    ("GET /search?q=1'%20OR%20'1'='1 HTTP/1.1", ('sql_injection',)),
    ('GET /item?id=1%20UNION%20ALL%20SELECT%20password%20FROM%20users HTTP/1.1', ('sql_injection',)),
    ('GET /item?id=1;%20DROP%20TABLE%20users HTTP/1.1', ('sql_injection',)),
    ('GET /p?id=sleep(5) HTTP/1.1', ('sql_injection',)),
    ('GET /c?t=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1', ('xss',)),
    ('GET /c?t=%253Csvg%2520onload%253Dx%253E HTTP/1.1', ('xss',)),
    ('GET /img?src=javascript:alert(document.cookie) HTTP/1.1', ('xss',)),
    ('GET /static/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1', ('path_traversal',)),
    ('GET /dl?f=..%5c..%5cwindows%5cwin.ini HTTP/1.1', ('path_traversal',)),
    ('GET /%252e%252e/%252e%252e/etc/shadow HTTP/1.1', ('path_traversal',)),
    ("GET /x?q=%27%20union%20select%20%3Cscript%3E HTTP/1.1", ('sql_injection', 'xss')),
    ('GET /search?q=red+shoes&page=2 HTTP/1.1', ()),
    ('GET /blog/why-select-from-a-menu HTTP/1.1', ()),
    ('GET /docs/v1.2..3/notes HTTP/1.1', ()),
    ('GET /files/report%202024.pdf HTTP/1.1', ()),
    ('POST /api/v1/orders HTTP/1.1', ()),
])
def test_probe_kinds(request_line, kinds):
    assert scan_probes.classify(request_line.encode()) == kinds


def test_probe_candidates_find_only_suspicious_requests():
    requests = [b'GET / HTTP/1.1', b'GET /a?q=%27 HTTP/1.1', b'GET /b/../c HTTP/1.1', b'GET /d.js HTTP/1.1']
    assert scan_probes.candidates(requests) == {b'GET /a?q=%27 HTTP/1.1', b'GET /b/../c HTTP/1.1'}
    assert scan_probes.candidates([b'GET / HTTP/1.1']) == set()


def test_probes_are_counted_with_samples_and_clients():
    lines = ['10.0.0.%d - - [06/May/2024:12:00:0%d +0000] "GET /p?id=1%%27%%20or%%20%%271%%27=%%271 HTTP/1.1" 403 1 "-" "-"'
             % (n % 2, n) for n in range(7)]
    lines.append('10.0.0.9 - - [06/May/2024:12:00:09 +0000] "GET /ok HTTP/1.1" 200 1 "-" "-"')
    _scanner, figures = figures_of(lines)
    probes = figures['probes']
    assert probes['lines'] == 7
    assert probes['kinds']['sql_injection']['count'] == 7
    assert probes['kinds']['xss']['count'] == 0
    samples = probes['kinds']['sql_injection']['samples']
    assert len(samples) == 5
    assert samples[0] == {'client': '10.0.0.0', 'time': '06/May/2024:12:00:00 +0000',
                          'request': "GET /p?id=1' or '1'='1 HTTP/1.1", 'status': 403}
    assert probes['top_clients'] == [{'client': '10.0.0.0', 'count': 4}, {'client': '10.0.0.1', 'count': 3}]


@pytest.mark.parametrize('message,folded', [
    ('user 42 not found', 'user <n> not found'),
    ("user 'bob' not found in \"shop\"", 'user <str> not found in <str>'),
    ('request 3f2a9c1e-0b7d-4c55-9a43-2f0c8e6d1b2a failed', 'request <uuid> failed'),
    ('connect to 10.1.2.3:5432 refused', 'connect to <ip> refused'),
    ('connect to [2001:db8::7]:443 refused', 'connect to <ip> refused'),
    ('object 0x7f3a2c10 at 65f1c2d9e8b7a6 freed', 'object <hex> at <hex> freed'),
    ('timeout   after\t30.5 s', 'timeout after <n> s'),
    ('deadbeef is a word, 2024 is a number', 'deadbeef is a word, <n> is a number'),
])
def test_fold(message, folded):
    assert scan_text.fold(message) == folded


def test_fold_cuts_long_messages():
    assert len(scan_text.fold('x' * 5000)) == scan_text.MAX_MESSAGE


def test_text_levels_and_grouped_errors():
    text = '\n'.join([
        '2024-05-06 12:00:00,001 INFO started',
        '2024-05-06 12:00:01,002 ERROR [db] connection 7 lost to 10.0.0.5:5432',
        '2024-05-06 12:00:02,003 ERROR [db] connection 12 lost to 10.0.0.6:5432',
        'Traceback (most recent call last):',
        '2024-05-06 12:00:03,004 WARN disk 91% full',
        '2024/05/06 12:00:04 [error] 123#0: *9 open() "/srv/x" failed',
        '2024-05-06 12:00:05 CRITICAL out of memory',
        '',
        'E: not a level word at all',
    ]) + '\n'
    scanner = TextScanner()
    scanner.scan(text.encode())
    figures = scanner.figures()
    assert scanner.lines == 8
    assert figures['levels'] == {'critical': 1, 'error': 3, 'info': 1, 'none': 2, 'warning': 1}
    assert figures['error_lines'] == 4 and figures['warning_lines'] == 1
    assert figures['top_errors'][0] == {'message': '[db] connection <n> lost to <ip>', 'count': 2,
                                        'sample': '[db] connection 7 lost to 10.0.0.5:5432'}
    assert {'message': 'out of memory', 'count': 1, 'sample': 'out of memory'} in figures['top_errors']


def test_text_custom_level_regex():
    scanner = TextScanner(level_regex=r'^\[(\w)\]')
    scanner.scan(b'[E] boom 1\n[E] boom 2\n[I] fine\n')
    figures = scanner.figures()
    assert figures['levels'] == {'e': 2, 'i': 1}
    # single letters are not level names: nothing is an error unless the regex yields one
    assert figures['error_lines'] == 0


def test_json_levels_fields_and_unparsed():
    lines = [
        '{"level": 50, "time": 1715000000000, "msg": "order 991 failed: timeout"}',
        '{"level": 50, "time": 1715000001000, "msg": "order 992 failed: timeout"}',
        '{"level": 30, "msg": "ok"}',
        '{"severity": "WARNING", "message": "slow query 1200 ms"}',
        '{"log": {"level": "error"}, "message": {"code": 7}}',
        'not json',
        '[1, 2]',
    ]
    scanner = JsonScanner()
    scanner.scan(('\n'.join(lines) + '\n').encode())
    figures = scanner.figures()
    assert scanner.lines == 7 and scanner.unparsed == 2
    assert figures['levels'] == {'error': 3, 'info': 1, 'warning': 1}
    assert figures['top_errors'][0] == {'message': 'order <n> failed: timeout', 'count': 2,
                                        'sample': 'order 991 failed: timeout'}
    assert {'message': '{<str>: <n>}', 'count': 1, 'sample': '{"code": 7}'} in figures['top_errors']


def test_json_since_uses_the_time_field():
    scanner = JsonScanner(message_fields=['m'], time_fields=['at'], since=1715000000.5)
    scanner.scan(b'{"level":"error","m":"a","at":"2024-05-06T12:53:20Z"}\n'
                 b'{"level":"error","m":"b","at":1715000001}\n{"level":"error","m":"c"}\n')
    assert scanner.before_since == 1 and scanner.lines == 2 and scanner.undated == 1


def test_combined_epoch():
    assert scan_time.combined_epoch(b'06/May/2024:12:53:20 +0000') == calendar.timegm((2024, 5, 6, 12, 53, 20))
    assert scan_time.combined_epoch('06/May/2024:14:53:20 +0200') == calendar.timegm((2024, 5, 6, 12, 53, 20))
    assert scan_time.combined_epoch(b'garbage') is None


def test_text_epoch_forms():
    utc = calendar.timegm((2024, 5, 6, 12, 53, 20))
    assert scan_time.text_epoch('2024-05-06T12:53:20Z ERROR x') == utc
    assert scan_time.text_epoch('[2024-05-06 14:53:20.250+02:00] x') == utc + 0.25
    assert scan_time.text_epoch('2024/05/06 12:53:20 [error] x') == time.mktime((2024, 5, 6, 12, 53, 20, 0, 0, -1))
    now = calendar.timegm((2024, 5, 7, 0, 0, 0))
    assert scan_time.text_epoch('May  6 12:53:20 host app[1]: x', now) == time.mktime((2024, 5, 6, 12, 53, 20, 0, 0, -1))
    assert scan_time.text_epoch('no time here') is None


def test_parse_since():
    now = 1715000000.0
    assert scan_time.parse_since('30m', now) == now - 1800
    assert scan_time.parse_since('1h30m', now) == now - 5400
    assert scan_time.parse_since('7d', now) == now - 7 * 86400
    assert scan_time.parse_since('2024-05-06T12:00:00+00:00', now) == calendar.timegm((2024, 5, 6, 12, 0, 0))
    assert scan_time.parse_since('2024-05-06T12:00:00Z', now) == calendar.timegm((2024, 5, 6, 12, 0, 0))
    with pytest.raises(scan_time.TimeError) as error:
        scan_time.parse_since('yesterday', now)
    assert 'since' in str(error.value) and '24h' in str(error.value)


def test_overlong_key_is_cut():
    path = '/' + 'a' * 500
    _scanner, figures = figures_of(['192.0.2.1 - - [06/May/2024:12:53:20 +0000] "GET %s HTTP/1.1" 200 1' % path])
    assert figures['requests'] == 1
    assert len(figures['top_paths'][0]['path']) == scan_combined.MAX_KEY
