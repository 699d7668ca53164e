"""container_check against a real Docker engine and containers from a locally built
image (tests/support/docker_engine.py), through real ansible-playbook runs.

Containers have no network (network_mode none). Every container made here carries a
random name prefix and our owner label, and is removed at the end; the EXAMPLES test
uses the names the examples use and skips if someone else's container has one."""

import json
import os
import socket
import stat
import subprocess
import time

import pytest
import yaml

from tests.support import docker_engine as de
from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

MODULE = 'caretaker.maintenance.container_check'
SECOND = 1000000000  # the Engine API takes health check durations in nanoseconds


def health(test, interval=0.5, retries=1):
    return {'test': test, 'interval': int(interval * SECOND), 'timeout': 2 * SECOND, 'retries': retries,
            'start_period': 0}


# --- engine, image, containers ------------------------------------------------------


@pytest.fixture(scope='session')
def docker_engine():
    try:
        engine = de.start_engine()
    except de.DockerUnavailable as exc:
        pytest.skip('docker cannot run here: %s' % exc)
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope='session')
def base_image(docker_engine):
    try:
        return de.ensure_base_image(docker_engine)
    except de.DockerUnavailable as exc:
        pytest.skip('no base image: %s' % exc)


@pytest.fixture(scope='session')
def containers(docker_engine, base_image):
    import docker
    with de.Containers(docker_engine, base_image) as made:
        try:
            made.run('probe', ['true'], start=True).wait(timeout=60)
        except docker.errors.APIError as exc:
            pytest.skip('docker cannot run a container here: %s' % exc)
        yield made


def _state(container):
    container.reload()
    return container.attrs['State'], container.attrs['RestartCount']


def wait_for_state(container, status=None, health_status=None, oom=None, timeout=30):
    seen = {}

    def ready():
        state = seen['state'] = _state(container)[0]
        return ((status is None or state['Status'] == status)
                and (health_status is None or (state.get('Health') or {}).get('Status') == health_status)
                and (oom is None or state['OOMKilled'] == oom))
    try:
        de.wait_for(ready, timeout=timeout, what='%s %s/%s' % (container.name, status, health_status))
    except TimeoutError as exc:
        state = seen.get('state') or {}
        # What the engine last said, so a failure here tells engine from kernel.
        raise TimeoutError('%s; last state: %s' % (exc, dict((key, state.get(key)) for key in (
            'Status', 'ExitCode', 'OOMKilled', 'Error')))) from None


def wait_restarting_window(container, min_count=6, within=1.5, timeout=60):
    """Docker's restart back-off doubles from 100 ms: after the 6th restart the next
    one is 6.4 s away. Wait until the container has just entered such a pause, so a
    check run now sees it restarting."""
    def ready():
        state, count = _state(container)
        finished = de_time(state['FinishedAt'])
        return (state['Status'] == 'restarting' and count >= min_count
                and finished is not None and time.time() - finished < within)
    de.wait_for(ready, timeout=timeout, interval=0.05, what='%s in a restart pause' % container.name)


def de_time(text):
    from ansible_collections.caretaker.maintenance.plugins.module_utils._container_check import parse_timestamp
    return parse_timestamp(text)


FLEET = ['running', 'exited', 'done', 'unhealthy', 'healthy', 'starting', 'restarting', 'oom', 'paused', 'created']


@pytest.fixture(scope='module')
def fleet(containers):
    """One container per state, plus a two-service Compose project. Returns the
    Containers object; names are containers.name(short)."""
    made = containers
    crash_loop = made.run('restarting', ['sh', '-c', 'exit 1'], restart_policy={'Name': 'always'})
    made.run('running', ['sleep', 'infinity'])
    made.run('exited', ['sh', '-c', 'exit 3'])
    made.run('done', ['true'])
    made.run('unhealthy', ['sleep', 'infinity'], healthcheck=health(['CMD', 'sh', '-c', 'echo db down; exit 1']))
    made.run('healthy', ['sleep', 'infinity'], healthcheck=health(['CMD', 'true']))
    made.run('starting', ['sleep', 'infinity'], healthcheck=health(['CMD', 'true'], interval=3600))
    # 32 MiB and no swap, and one 256 MiB buffer that python3 fills at once: no reclaim
    # of file pages can make room, so the kernel kills it at once instead of letting a
    # slowly growing process thrash near the limit.
    made.run('oom', ['python3', '-c', 'x = bytearray(256 << 20)'],
             mem_limit='32m', memswap_limit='32m')
    made.run('paused', ['sleep', 'infinity']).pause()
    made.run('created', ['sleep', 'infinity'], start=False)
    project = made.name('shop')
    made.run('shop-web-1', ['sleep', 'infinity'],
             labels={de_compose('project'): project, de_compose('service'): 'web'})
    made.run('shop-worker-1', ['sleep', 'infinity'],
             labels={de_compose('project'): project, de_compose('service'): 'worker', 'tier': 'backend',
                     'caretaker.enabled': 'true'})

    by_name = dict((c.name, c) for c in made.made)

    def get(short):
        return by_name[made.name(short)]

    for short in ('exited', 'done'):
        wait_for_state(get(short), status='exited')
    wait_for_state(get('oom'), status='exited', oom=True, timeout=90)
    wait_for_state(get('unhealthy'), health_status='unhealthy')
    wait_for_state(get('healthy'), health_status='healthy')
    wait_for_state(get('paused'), status='paused')
    made.crash_loop = crash_loop
    made.project = project
    return made


def de_compose(key):
    return 'com.docker.compose.' + key


def items_of(result, target):
    return dict((item['signal'], item) for item in result['checks'] if item['target'] == target)


def check(args, engine, **kwargs):
    args = dict(args)
    args.setdefault('docker_host', engine.base_url)
    return run_module(MODULE, args, **kwargs)


@pytest.fixture(scope='module')
def fleet_result(fleet, docker_engine, tmp_path_factory):
    """One run over one container of each state (and one missing name)."""
    wait_restarting_window(fleet.crash_loop)
    state_file = tmp_path_factory.mktemp('fleet') / 'state.json'
    names = [fleet.name(short) for short in FLEET] + [fleet.name('missing')]
    result, run = check({'containers': names, 'state_file': str(state_file), 'fail_on': 'never'}, docker_engine)
    assert run.returncode == 0, run.stdout[-3000:]
    return result


# --- one container per state -----------------------------------------------------------


@pytest.mark.parametrize('short, status, state', [
    ('running', 'ok', 'running'),
    ('healthy', 'ok', 'running'),
    ('starting', 'warning', 'running'),
    ('unhealthy', 'critical', 'running'),
    ('paused', 'warning', 'paused'),
    ('exited', 'critical', 'exited'),
    ('done', 'critical', 'exited'),
    ('restarting', 'critical', 'restarting'),
    ('oom', 'critical', 'exited'),
    ('created', 'critical', 'created'),
])
def test_each_state_gets_its_status(fleet, fleet_result, short, status, state):
    name = fleet.name(short)
    [summary] = [c for c in fleet_result['containers'] if c['name'] == name]
    assert summary['status'] == status, summary
    assert summary['state'] == state
    items = items_of(fleet_result, name)
    assert items['state']['value'] == state
    assert items['state']['detail'] == summary['detail']
    assert items['oom_killed']['value'] is (short == 'oom')
    assert items['restart_count']['value'] == summary['restart_count']
    assert items['restarts']['value'] is None  # first run: baseline only
    if state in ('running', 'paused'):
        assert set(items) == {'state', 'health', 'oom_killed', 'restart_count', 'restarts', 'uptime'}
        assert 0 <= items['uptime']['value'] < 600
    else:
        assert set(items) == {'state', 'oom_killed', 'restart_count', 'restarts'}


def test_running_container_detail_sums_it_up(fleet, fleet_result):
    items = items_of(fleet_result, fleet.name('running'))
    assert items['state']['status'] == 'ok'
    assert items['state']['detail'].startswith('running for ')
    assert items['state']['detail'].endswith(' s, 0 restarts')
    assert items['state']['image'] == fleet.image
    assert items['health'] == dict(items['health'], status='ok', value=None, detail='no HEALTHCHECK defined')
    healthy = items_of(fleet_result, fleet.name('healthy'))
    assert healthy['state']['detail'].endswith(', healthy, 0 restarts')


def test_health_starting_and_unhealthy(fleet, fleet_result):
    starting = items_of(fleet_result, fleet.name('starting'))['health']
    assert (starting['status'], starting['value']) == ('warning', 'starting')
    unhealthy = items_of(fleet_result, fleet.name('unhealthy'))['health']
    assert (unhealthy['status'], unhealthy['value']) == ('critical', 'unhealthy')
    assert 'last probe exit 1: db down' in unhealthy['detail']
    assert unhealthy['output'] == 'db down'


def test_exited_container_names_its_exit_code(fleet, fleet_result):
    item = items_of(fleet_result, fleet.name('exited'))['state']
    assert 'with code 3' in item['detail'] and item['exit_code'] == 3


def test_oom_killed_container(fleet, fleet_result):
    items = items_of(fleet_result, fleet.name('oom'))
    assert items['oom_killed']['status'] == 'critical'
    assert items['oom_killed']['detail'] == 'killed by the kernel OOM killer (memory limit 32 MiB)'
    assert items['state']['exit_code'] == 137
    assert 'killed by the OOM killer' in items['state']['detail']


def test_restarting_container_is_critical(fleet, fleet_result):
    items = items_of(fleet_result, fleet.name('restarting'))
    assert items['state']['status'] == 'critical'
    assert items['state']['detail'].startswith('restarting: exited ')
    assert 'policy always' in items['state']['detail']
    assert items['restart_count']['value'] >= 6


def test_created_and_missing_containers(fleet, fleet_result):
    assert 'never started' in items_of(fleet_result, fleet.name('created'))['state']['detail']
    missing = fleet.name('missing')
    [(signal, item)] = items_of(fleet_result, missing).items()
    assert (signal, item['status'], item['value']) == ('present', 'critical', False)
    assert item['detail'] == 'expected container %s not found on %s (docker ps -a has no such name or id)' % (
        missing, fleet_result['docker_host'])


def test_whole_result_shape(fleet_result):
    assert fleet_result['status'] == 'critical' and fleet_result['changed'] is False
    assert sum(fleet_result['counts'].values()) == len(fleet_result['checks'])
    assert fleet_result['msg'].startswith('%d critical, %d warning of %d container checks; '
                                          % (fleet_result['counts']['critical'], fleet_result['counts']['warning'],
                                             len(fleet_result['checks'])))
    assert len(fleet_result['containers']) == len(FLEET)


def run_cases(cases, engine=None, **kwargs):
    """Every case as one task of one playbook (ansible-playbook's start-up is most of
    a run's time). ``cases`` is a list of (module args, task keywords); failing tasks
    do not stop the play. Returns the task results in order."""
    tasks = []
    for index, (args, keywords) in enumerate(cases):
        args = dict(args)
        if engine is not None:
            args.setdefault('docker_host', engine.base_url)
        tasks.append(dict({'name': 'case %d' % index, MODULE: args, 'ignore_errors': True}, **keywords))
    run = run_tasks(tasks, **kwargs)
    return [run.task(index) for index in range(len(tasks))]


@pytest.fixture(scope='module')
def variants(fleet, docker_engine, tmp_path_factory):
    """Results by case id, from one playbook over the fleet."""
    tmp = tmp_path_factory.mktemp('variants')
    (tmp / 'file').write_text('')
    project, name = fleet.project, fleet.name
    cases = {
        'expect_running_false': {'containers': [name(s) for s in ('done', 'exited', 'created', 'running')],
                                 'expect_running': False, 'fail_on': 'never'},
        'compose': {'compose_project': project},
        'label_value': {'compose_project': project, 'labels': {'tier': 'backend'}},
        'label_any_value': {'compose_project': project, 'labels': {'tier': None}},
        'label_bool': {'compose_project': project, 'labels': {'caretaker.enabled': True}},
        'names_and_project': {'containers': [name('shop-web-1'), name('running')], 'compose_project': project},
        'empty_default': {'compose_project': name('nothing'), 'fail_on': 'never'},
        'empty_allowed': {'compose_project': name('nothing'), 'expect_at_least': 0},
        'fewer': {'compose_project': project, 'expect_at_least': 3, 'fail_on': 'never'},
        'uptime': {'containers': [name('running')], 'thresholds': {'uptime': {'warning': 3600}}, 'fail_on': 'never'},
        'unwritable_state': {'containers': [name('running')], 'state_file': str(tmp / 'file' / 'state.json'),
                             'fail_on': 'never'},
        'fail_on_default_exited': {'containers': [name('exited')]},
        'fail_on_never_exited': {'containers': [name('exited')], 'fail_on': 'never'},
        'fail_on_critical_starting': {'containers': [name('starting')], 'fail_on': 'critical'},
        'fail_on_warning_starting': {'containers': [name('starting')], 'fail_on': 'warning'},
    }
    check_mode_args = {'containers': [name('running'), name('healthy')], 'state_file': str(tmp / 'state.json')}
    task_cases = [(dict(args, state_file=args.get('state_file', '')), {}) for args in cases.values()]
    task_cases.append((check_mode_args, {'check_mode': True}))
    tasks = [dict({'name': 'case %d' % index, MODULE: dict(args, docker_host=docker_engine.base_url),
                   'ignore_errors': True}, **keywords) for index, (args, keywords) in enumerate(task_cases)]
    # Between the check-mode run and a real run: is there a state file yet?
    tasks.append({'name': 'stat', 'ansible.builtin.stat': {'path': check_mode_args['state_file']}})
    tasks.append({'name': 'real run', MODULE: dict(check_mode_args, docker_host=docker_engine.base_url)})
    run = run_tasks(tasks)
    by_key = dict((key, run.task(index)) for index, key in enumerate(list(cases) + ['check_mode']))
    by_key['stat_after_check_mode'] = run.task(len(cases) + 1)['stat']
    by_key['after_check_mode'] = run.task(len(cases) + 2)
    by_key['_tmp'] = tmp
    return by_key


def test_expect_running_false_accepts_exit_code_zero(fleet, variants):
    result = variants['expect_running_false']
    status = dict((c['name'], c['status']) for c in result['containers'])
    assert status == {fleet.name('done'): 'ok', fleet.name('exited'): 'critical',
                      fleet.name('created'): 'ok', fleet.name('running'): 'ok'}
    assert 'restarts' not in set(item['signal'] for item in result['checks'])  # no state file, no such item


# --- selection ---------------------------------------------------------------------------


def test_selection_by_compose_project(fleet, variants):
    result = variants['compose']
    assert not result.get('failed'), result['msg']
    assert [c['name'] for c in result['containers']] == [fleet.name('shop-web-1'), fleet.name('shop-worker-1')]
    assert [c['compose_service'] for c in result['containers']] == ['web', 'worker']
    matched = items_of(result, 'compose project %s' % fleet.project)['matched']
    assert (matched['status'], matched['value']) == ('ok', 2)
    assert matched['detail'] == '2 containers: %s, %s; expected at least 1' % (
        fleet.name('shop-web-1'), fleet.name('shop-worker-1'))
    assert result['status'] == 'ok'


@pytest.mark.parametrize('case, label', [
    ('label_value', 'label tier=backend'),
    ('label_any_value', 'label tier'),
    ('label_bool', 'label caretaker.enabled=true'),  # a YAML boolean matches the label string "true"
])
def test_selection_by_labels_and_project(fleet, variants, case, label):
    result = variants[case]
    assert [c['name'] for c in result['containers']] == [fleet.name('shop-worker-1')]
    assert items_of(result, 'compose project %s and %s' % (fleet.project, label))['matched']['value'] == 1
    assert result['status'] == 'ok'


def test_names_and_selection_together_without_duplicates(fleet, variants):
    assert [c['name'] for c in variants['names_and_project']['containers']] == [
        fleet.name('shop-web-1'), fleet.name('running'), fleet.name('shop-worker-1')]


@pytest.mark.parametrize('case, status', [('empty_default', 'critical'), ('empty_allowed', 'ok')])
def test_empty_selection(fleet, variants, case, status):
    result = variants[case]
    [item] = result['checks']
    assert (item['signal'], item['value'], item['status']) == ('matched', 0, status)
    assert 'no container (running or stopped) has label com.docker.compose.project=%s' % fleet.name('nothing') \
        in item['detail']
    assert result['status'] == status and result['containers'] == []


def test_fewer_than_expected(fleet, variants):
    matched = items_of(variants['fewer'], 'compose project %s' % fleet.project)['matched']
    assert (matched['value'], matched['status']) == (2, 'critical')
    assert matched['threshold'] == {'warning': None, 'critical': 2, 'direction': 'below'}
    assert matched['detail'].endswith('; expected at least 3')


# --- restarts between runs, state file, check mode ----------------------------------------


def test_restarts_rising_between_runs(containers, docker_engine, tmp_path):
    """A container that crashes on demand: touch /tmp/crash and it exits 1, and its
    restart policy brings it back 100 ms later."""
    crashy = containers.run('crashy', ['sh', '-c', 'while [ ! -e /tmp/crash ]; do sleep 0.1; done;'
                                                   ' rm -f /tmp/crash; exit 1'], restart_policy={'Name': 'always'})
    state_file = tmp_path / 'cache' / 'state.json'
    args = {'containers': [crashy.name], 'state_file': str(state_file)}

    first = check(args, docker_engine)[0]
    assert items_of(first, crashy.name)['restarts']['value'] is None
    assert 'baseline' in items_of(first, crashy.name)['restarts']['detail']
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    saved = json.loads(state_file.read_text())
    assert saved['containers'][crashy.id] == dict(saved['containers'][crashy.id], name=crashy.name, restart_count=0)

    crashy.exec_run(['touch', '/tmp/crash'])
    de.wait_for(lambda: _state(crashy)[1] == 1 and _state(crashy)[0]['Status'] == 'running',
                timeout=30, what='one restart')

    before = state_file.read_text()
    checked, second = run_cases([
        (args, {'check_mode': True}),
        (dict(args, fail_on='warning', thresholds={'restart_count': {'warning': 1}}), {}),
    ], docker_engine)
    assert items_of(checked, crashy.name)['restarts']['value'] == 1  # check mode reads the state...
    assert second['failed'] is True  # ...and the real run after it still sees the restart
    restarts = items_of(second, crashy.name)['restarts']
    assert (restarts['value'], restarts['status']) == (1, 'warning')
    assert restarts['detail'].startswith('1 new restart since the last run ')
    assert restarts['detail'].endswith('(0, now 1)')
    restart_count = items_of(second, crashy.name)['restart_count']
    assert (restart_count['value'], restart_count['status']) == (1, 'warning')
    assert second['status'] == 'warning' and second['containers'][0]['new_restarts'] == 1
    after = json.loads(state_file.read_text())
    assert json.loads(before)['containers'][crashy.id]['restart_count'] == 0
    assert after['containers'][crashy.id]['restart_count'] == 1


def test_check_mode_same_result_and_no_state_file(variants):
    result, real = variants['check_mode'], variants['after_check_mode']
    assert not result.get('failed')
    assert result['status'] == 'ok' and result['changed'] is False
    assert len(result['checks']) == 12
    assert variants['stat_after_check_mode']['exists'] is False
    assert [i['name'] for i in real['checks']] == [i['name'] for i in result['checks']]
    assert [i['detail'] for i in real['checks'] if i['signal'] == 'restarts'] == [
        i['detail'] for i in result['checks'] if i['signal'] == 'restarts']  # both saw no baseline
    assert (variants['_tmp'] / 'state.json').exists()


def test_unwritable_state_file_is_a_warning(variants):
    path = str(variants['_tmp'] / 'file' / 'state.json')
    item = items_of(variants['unwritable_state'], path)['state_file']
    assert item['status'] == 'warning' and item['detail'].startswith('cannot write %s: ' % path)
    assert variants['unwritable_state']['status'] == 'warning'


def test_uptime_threshold_flags_a_recent_start(fleet, variants):
    item = items_of(variants['uptime'], fleet.name('running'))['uptime']
    assert item['status'] == 'warning'
    assert item['threshold'] == {'warning': 3600, 'critical': None, 'direction': 'below'}


# --- fail_on ----------------------------------------------------------------------------


@pytest.mark.parametrize('case, short, fails', [
    ('fail_on_default_exited', 'exited', True),
    ('fail_on_never_exited', 'exited', False),
    ('fail_on_critical_starting', 'starting', False),
    ('fail_on_warning_starting', 'starting', True),
])
def test_fail_on(fleet, variants, case, short, fails):
    result = variants[case]
    assert bool(result.get('failed')) is fails
    assert result['checks'] and result['containers'][0]['name'] == fleet.name(short)


# --- no daemon, bad input, missing SDK: no engine needed -----------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_unreachable_daemon_is_one_critical_item(tmp_path):
    url = 'unix://%s/no-docker.sock' % tmp_path
    result, run = run_module(MODULE, {'containers': ['api'], 'docker_host': url})
    assert run.returncode != 0 and result['failed'] is True
    assert result['status'] == 'critical'
    [item] = result['checks']
    assert item['signal'] == 'reachable' and item['target'] == url
    assert item['detail'] == ('cannot connect to the Docker daemon at %s: no such socket;'
                              ' is dockerd running, and is docker_host right?' % url)
    assert 'Traceback' not in run.stdout
    assert result['msg'] == '1 critical of 1 container checks; docker@%s reachable: %s' % (url, item['detail'])


def test_docker_host_from_the_environment_and_refused_tcp():
    url = 'tcp://127.0.0.1:%d' % _free_port()
    result, run = run_module(MODULE, {'compose_project': 'shop', 'fail_on': 'never'}, env={'DOCKER_HOST': url})
    assert run.returncode == 0
    assert result['docker_host'] == url
    assert 'connection refused' in result['checks'][0]['detail']


BAD_INPUT = [
    ({}, 'nothing to check: set containers (names), labels or compose_project'),
    ({'containers': ['']}, 'containers[0] is empty'),
    ({'labels': {'tier': ['a']}}, 'labels.tier must be a string'),
    ({'compose_project': ' '}, 'compose_project is empty'),
    ({'containers': ['api'], 'expect_at_least': -1}, 'expect_at_least must be 0 or more, got -1'),
    ({'containers': ['api'], 'timeout': 0}, 'timeout must be more than 0 seconds'),
    ({'containers': ['api'], 'thresholds': {'restart': {'warning': 1}}},
     'thresholds.restart is not a signal of this check: use one of restart_count, restarts, uptime'),
    ({'containers': ['api'], 'thresholds': {'restarts': {'warning': 9}}},
     'thresholds.restarts: critical 5 must be at or above warning 9.0'),
    ({'containers': ['api'], 'docker_host': 'docker.example.com:2375'}, 'docker_host must be unix:///'),
    ({'containers': ['api'], 'fail_on': 'sometimes'}, 'value of fail_on must be one of'),
]


@pytest.fixture(scope='module')
def bad_input_results():
    return run_cases([(args, {}) for args, _message in BAD_INPUT])


@pytest.mark.parametrize('index', range(len(BAD_INPUT)), ids=[message[:30] for _args, message in BAD_INPUT])
def test_bad_input_names_the_option(bad_input_results, index):
    result, message = bad_input_results[index], BAD_INPUT[index][1]
    assert result['failed'] is True
    assert message in result['msg']
    assert 'checks' not in result


def test_missing_docker_sdk_is_a_clear_message():
    python = '/usr/bin/python3'
    probe = subprocess.run([python, '-c', 'import docker'], capture_output=True, check=False) \
        if os.path.exists(python) else None
    if probe is None or probe.returncode == 0:
        pytest.skip('needs a Python without the docker SDK at %s' % python)
    result, run = run_module(MODULE, {'containers': ['api']},
                             extra_args=['-e', 'ansible_python_interpreter=%s' % python])
    assert run.returncode != 0
    assert 'Failed to import the required Python library (docker)' in result['msg']
    assert 'to talk to the Docker daemon' in result['msg']


# --- documentation ---------------------------------------------------------------------


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('compose_project', 'expect_at_least', 'state_file', 'fail_on',))


@pytest.fixture
def example_stack(containers):
    """The containers the EXAMPLES name: api, worker, the shop project, a finished job."""
    others = [name for name in ('api', 'worker', 'shop-web-1', 'shop-worker-1', 'migrate')
              if containers.exists(name)]
    others += [c.name for c in containers.client.containers.list(
        all=True, filters={'label': [de_compose('project') + '=shop']})]
    others += [c.name for c in containers.client.containers.list(all=True, filters={'label': ['caretaker.role']})]
    if others:
        pytest.skip('the engine already has containers the examples would match: %s' % ', '.join(sorted(set(others))))
    made = [
        containers.run('api', ['sleep', 'infinity'], prefixed=False, healthcheck=health(['CMD', 'true'])),
        containers.run('worker', ['sleep', 'infinity'], prefixed=False),
        containers.run('shop-web-1', ['sleep', 'infinity'], prefixed=False,
                       labels={de_compose('project'): 'shop', de_compose('service'): 'web'}),
        containers.run('shop-worker-1', ['sleep', 'infinity'], prefixed=False,
                       labels={de_compose('project'): 'shop', de_compose('service'): 'worker'}),
        containers.run('migrate', ['true'], prefixed=False, labels={'caretaker.role': 'job'}),
    ]
    wait_for_state(made[0], health_status='healthy')
    wait_for_state(made[-1], status='exited')
    try:
        yield made
    finally:
        for container in made:
            containers._remove(container)
            containers.made.remove(container)


def test_examples_run_as_written(example_stack, docker_engine, tmp_path):
    """As written: no docker_host (DOCKER_HOST says where the engine is) and the
    default state file (HOME points into tmp_path)."""
    from ansible_collections.caretaker.maintenance.plugins.modules import container_check
    tasks = yaml.safe_load(container_check.EXAMPLES)
    run = run_tasks(tasks, env={'DOCKER_HOST': docker_engine.base_url, 'HOME': str(tmp_path)})
    assert run.returncode == 0, run.stdout[-3000:]
    first = run.task(0)
    assert first['status'] == 'ok', first['msg']
    assert [c['name'] for c in first['containers']] == ['api', 'worker']
    shop = run.task(1)
    assert [c['name'] for c in shop['containers']] == ['shop-web-1', 'shop-worker-1']
    assert shop['status'] == 'warning'  # started seconds ago: under the uptime warning of an hour
    assert run.task(2)['msg'] == shop['msg']
    jobs = run.task(3)
    assert jobs['status'] == 'ok' and [c['name'] for c in jobs['containers']] == ['migrate']
    state_file = tmp_path / '.cache' / 'caretaker' / 'container_check.json'
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert set(entry['name'] for entry in json.loads(state_file.read_text())['containers'].values()) == {
        'api', 'worker', 'shop-web-1', 'shop-worker-1', 'migrate'}
