"""log_scan through real ansible-playbook runs on real files: known counts in access logs
(plain, gzip, zstd), text and JSON logs with folded messages, since, thresholds, files that
cannot be read, bad options, incremental reading across rotation; its documentation renders."""

import calendar
import gzip
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import time

import pytest
import zstandard

from tests.support.playbook import assert_ansible_doc_renders, run_tasks

MODULE = 'caretaker.maintenance.log_scan'
BASE = calendar.timegm((2024, 5, 6, 12, 0, 0))


def stamp(epoch):
    return time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(epoch))


def access(client, status, target='/', seconds=0.05, epoch=BASE, method='GET'):
    return '%s - - [%s] "%s %s HTTP/1.1" %d 512 "-" "Mozilla/5.0 (X11; Linux)" %.3f\n' % (
        client, stamp(epoch), method, target, status, seconds)


def known_access_lines():
    """100 requests and 2 lines that are not, with the figures below."""
    rows = []
    statuses = [200] * 70 + [304] * 10 + [404] * 5 + [500] * 5 + [502] * 3
    clients = ['10.0.0.1'] * 40 + ['10.0.0.2'] * 24 + ['10.0.0.3'] * 9 + ['192.0.2.%d' % n for n in range(1, 21)]
    for client, status in zip(clients, statuses):
        rows.append([client, status, '/api/orders/%d?page=2' % (len(rows) % 3), 0.05])
    rows += [['10.0.0.3', 401, '/login', 0.05]] * 4 + [['10.0.0.3', 403, '/admin', 0.05]] * 2
    rows += [['10.0.0.2', 403, '/admin', 0.05]]
    probes = ["/search?q=1'%20OR%20'1'='1", '/item?id=1%20UNION%20SELECT%20pass%20FROM%20users',
              '/p?x=sleep(10)', '/c?t=%3Cscript%3Ealert(1)%3C/script%3E', '/c?t=%22%3E%3Csvg/onload=alert(1)%3E',
              '/static/..%2f..%2f..%2fetc%2fpasswd']
    for row, target in zip(rows[80:86], probes):      # six of the 404/5xx lines are probes
        row[2] = target
    for row, seconds in zip(rows[:4], (1.5, 2.0, 3.25, 7.0)):
        row[3] = seconds
    random.Random(4).shuffle(rows)
    lines = [access(client, status, target, seconds, BASE + index) for index, (client, status, target, seconds)
             in enumerate(rows)]
    lines.insert(30, 'upstream timed out while reading response header\n')
    lines.insert(60, '\n')
    return lines


def text_lines():
    return [
        '2024-05-06 12:00:00,001 INFO app started\n',
        '2024-05-06 12:00:01,002 ERROR [db] connection 7 to 10.0.0.5:5432 lost\n',
        '2024-05-06 12:00:02,003 ERROR [db] connection 12 to 10.0.0.6:5432 lost\n',
        '2024-05-06 12:00:03,004 ERROR [db] connection 3 to 10.0.0.5:5432 lost\n',
        'Traceback (most recent call last):\n',
        '  File "app.py", line 10, in <module>\n',
        '2024-05-06 12:00:04,005 ERROR user 3f2a9c1e-0b7d-4c55-9a43-2f0c8e6d1b2a not found in "shop"\n',
        '2024-05-06 12:00:05,006 ERROR user 8b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d not found in "blog"\n',
        '2024-05-06 12:00:06,007 WARNING cache miss ratio 0.31\n',
        '2024-05-06 12:00:07,008 critical worker 0x7f3a2c10 died\n',
    ]


def json_lines():
    return [
        json.dumps({'level': 50, 'time': 1715000000000, 'msg': 'delivery 5531 failed after 3 retries'}) + '\n',
        json.dumps({'level': 50, 'time': 1715000001000, 'msg': 'delivery 5532 failed after 4 retries'}) + '\n',
        json.dumps({'level': 40, 'time': 1715000002000, 'msg': 'queue bull:email has 120 waiting'}) + '\n',
        json.dumps({'level': 30, 'time': 1715000003000, 'msg': 'ok'}) + '\n',
        json.dumps({'level': 60, 'time': 1715000004000, 'msg': 'redis 10.1.1.1:6379 unreachable'}) + '\n',
        'pm2: process restarted\n',
    ]


def write(path, lines, mode='w'):
    with open(str(path), mode) as handle:
        handle.writelines(lines)


def by_name(result):
    return dict((item['name'], item) for item in result['checks'])


def unreadable_interpreter(path, workdir):
    """A python that cannot read ``path`` (mode 000): as root, one without CAP_DAC_OVERRIDE,
    through a wrapper script (ansible takes the interpreter as one path)."""
    if os.geteuid() != 0:
        return sys.executable
    setpriv = shutil.which('setpriv')
    drop = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search']
    if setpriv:
        probe = subprocess.run([setpriv] + drop + ['cat', str(path)], capture_output=True, check=False)
        if probe.returncode != 0 and b'Permission denied' in probe.stderr:
            wrapper = workdir / 'python-without-dac-override'
            wrapper.write_text('#!/bin/sh\nexec %s "$@"\n' % ' '.join([setpriv] + drop + [sys.executable]))
            os.chmod(str(wrapper), 0o700)
            return str(wrapper)
    pytest.skip('cannot drop CAP_DAC_OVERRIDE here (setpriv missing or not permitted)')
    return None


@pytest.fixture(scope='module')
def cases(tmp_path_factory):
    """One playbook run with a task per case; tests look at their task's result."""
    base = tmp_path_factory.mktemp('log_scan')
    lines = known_access_lines()
    write(base / 'access.log', lines)

    split = base / 'split'
    split.mkdir()
    with gzip.open(str(split / 'access.log.2.gz'), 'wt') as handle:
        handle.writelines(lines[:40])
    (split / 'access.log.1.zst').write_bytes(zstandard.ZstdCompressor().compress(''.join(lines[40:70]).encode()))
    write(split / 'access.log', lines[70:])
    os.utime(str(split / 'access.log.2.gz'), (BASE, BASE))
    os.utime(str(split / 'access.log.1.zst'), (BASE + 60, BASE + 60))

    now = time.time()
    recent = [access('10.1.0.%d' % (n % 3), 200, epoch=now - 7200 + n) for n in range(20)]
    recent += [access('10.1.0.9', 500, epoch=now - 1800 + n) for n in range(10)]
    recent += [access('10.1.0.8', 200, epoch=now - 300 + n) for n in range(5)]
    write(base / 'recent.log', recent)
    ten_minutes_ago = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - 600))

    warn = [access('10.2.0.1', 500 if n < 3 else 200, epoch=BASE + n) for n in range(100)]
    write(base / 'warn.log', warn)

    write(base / 'app.log', text_lines())
    write(base / 'api.log', json_lines())

    tasks = [
        {MODULE: {'paths': [str(base / 'access.log')], 'top': 3, 'fail_on': 'never'}},
        {MODULE: {'paths': [str(split / 'access.log*')], 'top': 3, 'fail_on': 'never'}},
        {MODULE: {'paths': [str(base / 'recent.log')], 'since': '1h', 'fail_on': 'never'}},
        {MODULE: {'paths': [str(base / 'recent.log')], 'since': ten_minutes_ago, 'fail_on': 'never'}},
        {MODULE: {'paths': [str(base / 'warn.log')]}},
        {MODULE: {'paths': [str(base / 'warn.log')], 'thresholds': {'error_rate': {'warning': 0.5, 'critical': 2}}},
         'ignore_errors': True},
        {MODULE: {'paths': [str(base / 'app.log')], 'format': 'text', 'top': 5}},
        {MODULE: {'paths': [str(base / 'api.log')], 'format': 'json', 'message_field': ['msg'],
                  'thresholds': {'error_lines': {'warning': 2}}, 'fail_on': 'never'}},
        {MODULE: {'paths': [str(base / 'access.log')], 'since': 'yesterday'}, 'ignore_errors': True},
        {MODULE: {'paths': [str(base / 'access.log')], 'level_regex': 'ERROR'}, 'ignore_errors': True},
    ]
    run = run_tasks(tasks)
    assert run.returncode == 0, run.stdout[-3000:]
    return run


def test_combined_known_counts(cases):
    result = cases.task(0)
    assert result['changed'] is False
    assert result['lines'] == 102 and result['requests'] == 100 and result['unparsed'] == 2
    assert result['status_counts'] == {
        'codes': {'200': 70, '304': 10, '401': 4, '403': 3, '404': 5, '500': 5, '502': 3},
        'classes': {'2xx': 70, '3xx': 10, '4xx': 12, '5xx': 8}}
    assert result['error_rate'] == 8.0 and result['server_errors'] == 8
    assert result['client_errors'] == 12 and result['client_error_rate'] == 12.0
    assert result['auth_failures'] == {'401': 4, '403': 3, 'total': 7}
    assert result['top_clients'] == [{'client': '10.0.0.1', 'count': 40}, {'client': '10.0.0.2', 'count': 25},
                                     {'client': '10.0.0.3', 'count': 15}]
    assert result['top_auth_failure_clients'] == [{'client': '10.0.0.3', 'count': 6}, {'client': '10.0.0.2', 'count': 1}]
    assert result['top_paths'][0]['path'].startswith('/api/orders/') and result['top_paths'][0]['count'] >= 25
    probes = result['probes']
    assert probes['lines'] == 6
    assert dict((kind, value['count']) for kind, value in probes['kinds'].items()) == {
        'sql_injection': 3, 'xss': 2, 'path_traversal': 1}
    assert probes['kinds']['path_traversal']['samples'][0]['request'] == 'GET /static/../../../etc/passwd HTTP/1.1'
    slow = result['slow_requests']
    assert slow['count'] == 4 and slow['threshold_seconds'] == 1.0 and slow['rate'] == 4.0
    assert [entry['seconds'] for entry in slow['slowest']] == [7.0, 3.25, 2.0, 1.5][:3]
    assert result['request_time']['requests'] == 100 and result['request_time']['max'] == 7.0
    assert result['approximate'] == []
    items = by_name(result)
    assert items['error_rate']['status'] == 'critical' and items['error_rate']['value'] == 8.0
    assert items['unparsed_rate']['value'] == round(200.0 / 102, 3) and items['unparsed_rate']['status'] == 'ok'
    assert items['request_time_p95']['status'] == 'ok'
    assert items['probes']['value'] == 6 and items['probes']['status'] == 'ok'
    assert items['auth_failures']['value'] == 7
    assert result['status'] == 'critical'


def test_gzip_and_zstd_files_give_the_same_figures(cases):
    whole, split = cases.task(0), cases.task(1)
    assert [item['compression'] for item in split['files']] == ['gzip', 'zstd', None]
    assert sum(item['lines'] for item in split['files']) == 102
    for key in ('lines', 'requests', 'unparsed', 'status_counts', 'top_clients', 'top_auth_failure_clients', 'probes',
                'slow_requests', 'request_time', 'error_rate'):
        assert split[key] == whole[key], key


def test_since_relative_and_iso(cases):
    relative, iso = cases.task(2), cases.task(3)
    assert relative['requests'] == 15 and relative['before_since'] == 20
    assert relative['status_counts']['codes'] == {'200': 5, '500': 10}
    assert iso['requests'] == 5 and iso['before_since'] == 30
    assert iso['since'].endswith('Z')


def test_error_rate_thresholds(cases):
    default = cases.task(4)
    assert default['status'] == 'warning' and not default.get('failed')
    assert by_name(default)['error_rate']['threshold'] == {'warning': 1, 'critical': 5, 'direction': 'above'}
    assert by_name(default)['error_rate']['value'] == 3.0
    strict = cases.task(5)
    assert strict['failed'] is True and strict['status'] == 'critical'
    assert by_name(strict)['error_rate']['status'] == 'critical'
    assert 'error_rate: 3 of 100 requests answered 5xx' in strict['msg']


def test_files_that_cannot_be_read_are_unknown_items(tmp_path):
    good = tmp_path / 'access.log'
    write(good, known_access_lines())
    secret = tmp_path / 'secret.log'
    write(secret, known_access_lines()[:5])
    os.chmod(str(secret), 0)
    (tmp_path / 'broken.log.1.gz').write_bytes(b'\x1f\x8b\x08\x00' + b'\x00' * 6 + b'this is not deflate data' * 4)
    interpreter = unreadable_interpreter(secret, tmp_path)
    run = run_tasks([{MODULE: {'paths': [str(secret), str(tmp_path / 'broken.log.1.gz'), str(tmp_path / 'gone.log'),
                                         str(good)], 'fail_on': 'never'}}],
                    extra_args=('-e', json.dumps({'ansible_python_interpreter': interpreter})))
    assert run.returncode == 0, run.stdout[-3000:]
    result = run.task(0)
    assert result['status'] == 'unknown'
    files = dict((os.path.basename(item['name']), item) for item in result['checks'] if item['signal'] == 'file')
    assert sorted(files) == ['broken.log.1.gz', 'gone.log', 'secret.log']
    assert 'permission denied' in files['secret.log']['detail'] and 'become' in files['secret.log']['detail']
    assert 'compressed data' in files['broken.log.1.gz']['detail']
    assert 'no such file' in files['gone.log']['detail']
    assert all(item['status'] == 'unknown' for item in files.values())
    assert result['requests'] == 100                 # the readable file was still scanned
    assert 'secret.log' in result['msg']


def test_text_log_levels_and_folded_errors(cases):
    result = cases.task(6)
    assert result['status'] == 'ok' and result['lines'] == 10
    assert result['levels'] == {'critical': 1, 'error': 5, 'info': 1, 'none': 2, 'warning': 1}
    assert result['error_lines'] == 6 and result['warning_lines'] == 1
    assert result['top_errors'][0] == {'message': '[db] connection <n> to <ip> lost', 'count': 3,
                                       'sample': '[db] connection 7 to 10.0.0.5:5432 lost'}
    assert result['top_errors'][1] == {'message': 'user <uuid> not found in <str>', 'count': 2,
                                       'sample': 'user 3f2a9c1e-0b7d-4c55-9a43-2f0c8e6d1b2a not found in "shop"'}
    assert {'message': 'worker <hex> died', 'count': 1, 'sample': 'worker 0x7f3a2c10 died'} in result['top_errors']


def test_json_log_levels_fields_and_thresholds(cases):
    result = cases.task(7)
    assert result['lines'] == 6 and result['unparsed'] == 1
    assert result['levels'] == {'error': 2, 'fatal': 1, 'info': 1, 'warning': 1}
    assert result['error_lines'] == 3
    assert result['top_errors'][0] == {'message': 'delivery <n> failed after <n> retries', 'count': 2,
                                       'sample': 'delivery 5531 failed after 3 retries'}
    assert by_name(result)['error_lines']['status'] == 'warning'
    assert by_name(result)['unparsed_rate']['status'] == 'warning'     # 1 of 6 lines is over 10 %


def test_bad_options_fail_before_reading(cases):
    since, regex = cases.task(8), cases.task(9)
    assert since['failed'] is True and 'since' in since['msg'] and '24h' in since['msg']
    assert 'checks' not in since
    assert regex['failed'] is True and 'level_regex applies to format text only' in regex['msg']


def test_incremental_across_rotation_and_compression(tmp_path):
    log = tmp_path / 'access.log'
    state = tmp_path / 'state' / 'nginx.json'
    args = {'paths': [str(tmp_path / 'access.log*')], 'state_file': str(state), 'fail_on': 'never'}
    written = [access('10.3.0.%d' % (n % 7), 500 if n % 10 == 0 else 200, '/n/%d' % n, epoch=BASE + n)
               for n in range(1000)]
    write(log, written[:100])

    run = run_tasks([
        {'name': 'check', MODULE: args, 'check_mode': True},
        {'name': 'no state yet', 'ansible.builtin.stat': {'path': str(state)}},
        {'name': 'real', MODULE: args},
    ])
    assert run.returncode == 0, run.stdout[-3000:]
    check, after_check, real = run.task(0), run.task(1), run.task(2)
    assert check['lines'] == 100 and check['changed'] is False
    assert after_check['stat']['exists'] is False
    assert real['lines'] == 100 and real['changed'] is False
    assert stat.S_IMODE(os.stat(str(state)).st_mode) == 0o600

    write(log, written[100:120], 'a')                              # more lines
    os.rename(str(log), str(tmp_path / 'access.log.1'))            # rotation: rename ...
    write(log, written[120:150])                                   # ... and a new file
    run = run_tasks([{MODULE: args}])
    assert run.returncode == 0, run.stdout[-3000:]
    second = run.task(0)
    assert second['lines'] == 50
    files = dict((os.path.basename(item['path']), item) for item in second['files'])
    assert files['access.log.1']['lines'] == 20 and files['access.log.1']['resumed'] == 'inode'
    assert files['access.log']['lines'] == 30 and files['access.log']['start'] == 0

    write(tmp_path / 'access.log.1', written[150:160], 'a')        # written before the server reopened its log
    with open(str(tmp_path / 'access.log.1'), 'rb') as source, gzip.open(str(tmp_path / 'access.log.1.gz'), 'wb') as out:
        shutil.copyfileobj(source, out)                             # compression of the rotated file
    os.unlink(str(tmp_path / 'access.log.1'))
    write(log, written[160:165], 'a')
    run = run_tasks([{MODULE: args}, {MODULE: args}])
    assert run.returncode == 0, run.stdout[-3000:]
    third, fourth = run.task(0), run.task(1)
    assert third['lines'] == 15
    files = dict((os.path.basename(item['path']), item) for item in third['files'])
    assert files['access.log.1.gz']['lines'] == 10 and files['access.log.1.gz']['resumed'] == 'fingerprint'
    assert files['access.log']['lines'] == 5
    assert fourth['lines'] == 0
    # Every line written was counted exactly once.
    runs = (real, second, third, fourth)
    assert sum(result['lines'] for result in runs) == 165
    assert sum(result['server_errors'] for result in runs) == sum(1 for line in written[:165] if '" 500 ' in line)


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('state_file', 'since', 'thresholds', 'fail_on', 'level_regex', 'workers',
                                        'top_clients', 'status_counts'))
