"""resource_check against this machine's real /proc and statvfs, through real
ansible-playbook runs; its documentation renders and its EXAMPLES run as written.

CPU and load move with whatever else runs here, so only tests that force a status
through thresholds assert their status; nothing asserts how long a run takes."""

import os

import pytest
import yaml

from tests.support.playbook import assert_ansible_doc_renders, run_module, run_tasks

MODULE = 'caretaker.maintenance.resource_check'
# Thresholds no CPU or load can reach, for tests about everything else.
CALM = {'cpu': {'warning': 1000, 'critical': 1000}, 'load': {'warning': 1000, 'critical': 1000}}


def by_name(result):
    return dict((item['name'], item) for item in result['checks'])


def df_percent(path):
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    free = st.f_bavail * st.f_frsize
    return 100.0 * used / (used + free)


def meminfo():
    info = {}
    with open('/proc/meminfo') as handle:
        for line in handle:
            name, rest = line.split(':', 1)
            info[name] = int(rest.split()[0]) * 1024
    return info


def test_default_run_reports_every_resource_with_real_values():
    result, run = run_module(MODULE, {'fail_on': 'never', 'cpu_sample_seconds': 0.5})
    assert run.returncode == 0, result
    assert result['changed'] is False
    items = by_name(result)
    for name in ('disk /', 'inodes /', 'memory', 'cpu', 'load', 'swap'):
        assert name in items, sorted(items)
    order = [item['signal'] for item in result['checks']]
    assert order[-4:] == ['memory', 'cpu', 'load', 'swap']
    assert set(order[:-4]) == {'disk', 'inodes'}
    assert sum(result['counts'].values()) == len(result['checks'])
    ranks = ['ok', 'warning', 'critical', 'unknown']
    assert result['status'] == max((item['status'] for item in result['checks']), key=ranks.index)

    disk = items['disk /']
    assert disk['unit'] == 'percent' and disk['mount'] == '/' and disk['fstype']
    assert abs(disk['value'] - df_percent('/')) < 1.0
    assert disk['size_bytes'] == os.statvfs('/').f_blocks * os.statvfs('/').f_frsize
    assert disk['detail'].startswith('%.1f %% used, ' % disk['value']) and ' free of ' in disk['detail']
    assert disk['threshold'] == {'warning': 80, 'critical': 90, 'direction': 'above'}

    inodes = items['inodes /']
    st = os.statvfs('/')
    if st.f_files:
        assert inodes['inodes_total'] == st.f_files
        assert 0 < inodes['value'] < 100
    else:
        assert inodes['value'] is None and 'no fixed inode count' in inodes['detail']

    info = meminfo()
    memory = items['memory']
    assert memory['total_bytes'] == info['MemTotal']
    assert abs(memory['value'] - 100.0 * (info['MemTotal'] - info['MemAvailable']) / info['MemTotal']) < 5
    assert memory['threshold'] == {'warning': 85, 'critical': 95, 'direction': 'above'}

    cpu = items['cpu']
    assert 0 <= cpu['value'] <= 100 and cpu['sample_seconds'] == 0.5
    assert cpu['cpus'] == os.cpu_count()
    assert cpu['detail'].startswith('%.1f %% busy over 0.5 s on ' % cpu['value'])

    load = items['load']
    assert load['cpus'] == os.cpu_count() and load['period_minutes'] == 5
    assert load['unit'] == 'load per CPU'
    assert load['value'] == round(load['load_5'] / load['cpus'], 2)
    assert load['threshold'] == {'warning': 2.0, 'critical': 4.0, 'direction': 'above'}

    swap = items['swap']
    if info['SwapTotal'] == 0:
        assert (swap['status'], swap['value'], swap['detail']) == ('ok', None, 'no swap')
    else:
        assert swap['total_bytes'] == info['SwapTotal'] and 0 <= swap['value'] <= 100


def test_healthy_host_is_ok_and_does_not_fail():
    # Default thresholds for disk, inodes, memory and swap; CPU and load out of the way.
    result, run = run_module(MODULE, {'thresholds': CALM})
    assert run.returncode == 0, result['msg']
    assert result['status'] == 'ok', result['msg']
    assert result['msg'] == 'all %d resource checks ok' % len(result['checks'])
    assert result['counts']['ok'] == len(result['checks'])


def test_disk_warning_at_zero_warns_and_critical_at_zero_fails():
    result, run = run_module(MODULE, {'checks': ['disk'], 'mounts': ['/'], 'thresholds': {'disk': {'warning': 0}}})
    assert run.returncode == 0
    [item] = result['checks']
    assert item['status'] == 'warning' and result['status'] == 'warning'
    assert result['msg'].startswith('1 warning of 1 resource checks; disk /: ')

    result, run = run_module(MODULE, {'checks': ['disk'], 'mounts': ['/'],
                                      'thresholds': {'disk': {'warning': 0, 'critical': 0}}})
    assert run.returncode != 0 and result['failed'] is True
    assert result['status'] == 'critical'
    assert result['checks'][0]['threshold'] == {'warning': 0.0, 'critical': 0.0, 'direction': 'above'}


def test_memory_threshold_below_current_usage_warns():
    result = run_module(MODULE, {'checks': ['memory'], 'thresholds': {'memory': {'warning': 0.1}}})[0]
    [item] = result['checks']
    assert item['name'] == 'memory' and item['status'] == 'warning'
    assert result['msg'] == '1 warning of 1 resource checks; memory: %s' % item['detail']


def test_cpu_and_load_thresholds_force_a_status():
    result = run_module(MODULE, {'checks': ['cpu', 'load'], 'cpu_sample_seconds': 0.2, 'fail_on': 'never',
                                 'thresholds': {'cpu': {'warning': 0, 'critical': 0}, 'load': {'warning': 0}}})[0]
    items = by_name(result)
    assert items['cpu']['status'] == 'critical'
    assert items['load']['status'] in ('warning', 'critical')
    assert result['status'] == 'critical'


def test_load_period():
    item = run_module(MODULE, {'checks': ['load'], 'load_period': 15, 'thresholds': CALM})[0]['checks'][0]
    assert item['period_minutes'] == 15
    assert item['value'] == round(item['load_15'] / item['cpus'], 2)
    assert ' over 15 min ' in item['detail']


def test_per_mount_thresholds_override_the_task_ones(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    result = run_module(MODULE, {
        'checks': ['disk', 'inodes'],
        'mounts': ['/', {'path': str(data), 'thresholds': {'disk': {'warning': 0}}}],
        'thresholds': {'inodes': {'warning': 0}},
        'fail_on': 'never',
    })[0]
    items = by_name(result)
    assert [item['name'] for item in result['checks']] == [
        'disk /', 'inodes /', 'disk %s' % data, 'inodes %s' % data]
    assert items['disk %s' % data]['status'] == 'warning'
    assert items['disk %s' % data]['threshold']['warning'] == 0.0
    assert items['disk /']['threshold'] == {'warning': 80, 'critical': 90, 'direction': 'above'}
    # The task-level inode limit reaches both paths (on a filesystem that counts inodes).
    if items['inodes /']['value'] is not None:
        assert items['inodes /']['status'] == 'warning'
    # The temp dir is not a mount point: its item names the filesystem it lives on.
    mount = items['disk %s' % data]['mount']
    assert str(data).startswith(mount.rstrip('/') + '/')
    assert items['disk %s' % data]['detail'].endswith(' (on %s, %s)' % (mount, items['disk %s' % data]['fstype']))


def test_missing_mount_is_critical_with_a_clear_message(tmp_path):
    missing = str(tmp_path / 'not-mounted')
    result, run = run_module(MODULE, {'mounts': ['/', missing], 'thresholds': CALM})
    assert run.returncode != 0 and result['failed'] is True
    assert result['status'] == 'critical'
    items = by_name(result)
    for signal in ('disk', 'inodes'):
        item = items['%s %s' % (signal, missing)]
        assert item['status'] == 'critical' and item['detail'] == 'does not exist'
    assert 'disk %s: does not exist' % missing in result['msg']
    assert 'Traceback' not in run.stdout + run.stderr


def test_inode_thresholds():
    result, run = run_module(MODULE, {'checks': ['inodes'], 'mounts': ['/'],
                                      'thresholds': {'inodes': {'warning': 0, 'critical': 0}}})
    [item] = result['checks']
    assert item['signal'] == 'inodes' and item['name'] == 'inodes /'
    if item['value'] is None:  # a filesystem without an inode count is ok whatever the limits
        assert item['status'] == 'ok' and run.returncode == 0
    else:
        assert item['status'] == 'critical' and run.returncode != 0
        assert item['inodes_used'] + item['inodes_free'] == item['inodes_total']


def test_exclude_mounts_can_leave_nothing_to_check():
    result = run_module(MODULE, {'checks': ['disk'], 'exclude_mounts': ['*'], 'fail_on': 'never'})[0]
    [item] = result['checks']
    assert item['status'] == 'unknown' and 'no real filesystem found' in item['detail']


def test_only_the_checks_asked_for():
    result, run = run_module(MODULE, {'checks': ['swap', 'memory']})
    assert [item['name'] for item in result['checks']] == ['memory', 'swap']


def test_check_mode_gives_the_same_read_only_result():
    result, run = run_module(MODULE, {'thresholds': CALM, 'cpu_sample_seconds': 0.2}, check=True)
    assert run.returncode == 0, result['msg']
    assert result['changed'] is False
    assert [item['signal'] for item in result['checks']][-4:] == ['memory', 'cpu', 'load', 'swap']


def test_fail_on_warning_and_never():
    args = {'checks': ['memory'], 'thresholds': {'memory': {'warning': 0}}}
    result, run = run_module(MODULE, dict(args, fail_on='warning'))
    assert run.returncode != 0 and result['failed'] is True and result['status'] == 'warning'
    assert len(result['checks']) == 1
    result, run = run_module(MODULE, {'checks': ['memory'], 'fail_on': 'never',
                                      'thresholds': {'memory': {'warning': 0, 'critical': 0}}})
    assert run.returncode == 0 and result['status'] == 'critical' and not result.get('failed')


def test_warnings_for_options_that_do_not_apply():
    result = run_module(MODULE, {'checks': ['memory'], 'mounts': ['/'], 'exclude_mounts': ['/boot']})[0]
    warnings = ' '.join(result.get('warnings', []))
    assert 'exclude_mounts is ignored when mounts lists the paths to check' in warnings
    assert 'mounts is ignored: checks has neither disk nor inodes' in warnings


@pytest.mark.parametrize('args, message', [
    ({'checks': ['disk', 'dsk']}, 'value of checks must be one or more of: disk, inodes, memory, cpu, load, swap'),
    ({'checks': []}, 'checks is empty: name at least one of'),
    ({'thresholds': {'disc': {'warning': 70}}}, 'thresholds.disc is not a signal of this check: use one of cpu, disk'),
    ({'thresholds': {'memory': {'warning': 99}}}, 'thresholds.memory: critical 95 must be at or above warning 99.0'),
    ({'thresholds': {'load': {'warning': 'high'}}}, 'thresholds.load.warning must be a number'),
    ({'mounts': [{'path': '/', 'thresholds': {'cpu': {'warning': 1}}}]},
     'mounts[0].thresholds.cpu is not a signal of this check: use one of disk, inodes'),
    ({'mounts': [{'path': '/', 'thresholds': {'disk': {'warning': 95}}}]},
     'mounts[0].thresholds.disk: critical 90 must be at or above warning 95.0'),
    ({'mounts': [{'path': '/', 'limit': 3}]}, 'mounts[0].limit is not an option of a mount: use path, thresholds'),
    ({'mounts': ['/', 'var/lib']}, 'mounts[1] path var/lib must be absolute'),
    ({'cpu_sample_seconds': 600}, 'cpu_sample_seconds must be between 0.1 and 60, got 600'),
    ({'load_period': 10}, 'value of load_period must be one of: 1, 5, 15'),
])
def test_bad_input_names_the_option(args, message):
    result, run = run_module(MODULE, args)
    assert run.returncode != 0
    assert message in result['msg']
    assert 'checks' not in result


def test_ansible_doc_renders():
    assert_ansible_doc_renders(MODULE, ('cpu_sample_seconds', 'exclude_mounts', 'load_period', 'fail_on',))


def test_examples_run_as_written():
    """Every example task runs with its arguments as written. The host's CPU and load are
    whatever they are, so a task may end warning or critical on those alone: each task
    gets ignore_errors, and anything else must come out ok."""
    from ansible_collections.caretaker.maintenance.plugins.modules import resource_check
    tasks = yaml.safe_load(resource_check.EXAMPLES)
    run = run_tasks([dict(task, ignore_errors=True) for task in tasks])
    assert run.returncode == 0, run.stdout[-3000:]
    module_results = [index for index, task in enumerate(tasks) if MODULE in task]
    assert len(module_results) == 3
    for index in module_results:
        result = run.task(index)
        assert 'checks' in result, result.get('msg')
        for item in result['checks']:
            if item['signal'] not in ('cpu', 'load'):
                assert item['status'] == 'ok', item
    second = by_name(run.task(1))
    assert second['disk /var/lib/postgresql']['threshold']['warning'] == 70.0
    assert second['load']['threshold'] == {'warning': 1.5, 'critical': 3.0, 'direction': 'above'}
    assert second['cpu']['sample_seconds'] == 3.0
    assert [item['signal'] for item in run.task(3)['checks']] == ['disk', 'inodes'] * (len(run.task(3)['checks']) // 2)
