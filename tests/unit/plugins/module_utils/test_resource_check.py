# -*- coding: utf-8 -*-
"""resource_check's logic against recorded /proc files (the OS interface, fed through
``proc_root``) and statvfs answers for the edge cases this machine does not have:
swap in use, a kernel without MemAvailable, btrfs without inode counts, a hung NFS
mount, bind mounts, snaps and container layers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import threading

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.module_utils import _resource_check as rc
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import Threshold
from ansible_collections.caretaker.maintenance.plugins.modules import resource_check

# /proc/self/mounts of an Ubuntu 22.04 Docker host with snaps, an NFS backup share, a
# bind mount of /srv/data and a container layer (abridged).
DOCKER_HOST_MOUNTS = """\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
udev /dev devtmpfs rw,nosuid,relatime,size=4010052k,nr_inodes=1002513,mode=755,inode64 0 0
devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 0 0
tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=808340k,mode=755,inode64 0 0
/dev/sda1 / ext4 rw,relatime,discard,errors=remount-ro 0 0
securityfs /sys/kernel/security securityfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev,inode64 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0
/dev/loop0 /snap/core20/2015 squashfs ro,nodev,relatime,errors=continue 0 0
/dev/sda15 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077 0 0
/dev/sdb1 /srv/data xfs rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota 0 0
/dev/sdb1 /var/lib/postgresql xfs rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota 0 0
backup.example.invalid:/exports/backups /mnt/backup\\040share nfs4 rw,relatime,vers=4.2 0 0
overlay /var/lib/docker/overlay2/3f1c/merged overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/A 0 0
nsfs /run/docker/netns/4c2b nsfs rw 0 0
tmpfs /run/user/1000 tmpfs rw,nosuid,nodev,relatime,size=808336k,mode=700,uid=1000,gid=1000,inode64 0 0
"""

# /proc/self/mounts inside a Docker container: the root is an overlay.
CONTAINER_MOUNTS = """\
overlay / overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/B,upperdir=/x/diff,workdir=/x/work 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755,inode64 0 0
/dev/sda1 /etc/hosts ext4 rw,relatime,discard,errors=remount-ro 0 0
/dev/sda1 /etc/resolv.conf ext4 rw,relatime,discard,errors=remount-ro 0 0
/dev/sdb1 /var/lib/app ext4 rw,relatime 0 0
"""

# /proc/meminfo of a 4 GiB host using a quarter of its 2 GiB swap (abridged).
MEMINFO_SWAPPING = """\
MemTotal:        4000000 kB
MemFree:          200000 kB
MemAvailable:     600000 kB
Buffers:           50000 kB
Cached:           400000 kB
SwapCached:        10000 kB
Shmem:             20000 kB
SReclaimable:      30000 kB
SwapTotal:       2097152 kB
SwapFree:        1048576 kB
HugePages_Total:       0
"""

# /proc/meminfo of a CentOS 6 / kernel 2.6.32 host: no MemAvailable, no swap.
MEMINFO_OLD_KERNEL = """\
MemTotal:        1000000 kB
MemFree:          100000 kB
Buffers:           50000 kB
Cached:           300000 kB
SwapCached:            0 kB
Shmem:             50000 kB
SReclaimable:     100000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
"""

# Two /proc/stat samples of a 4-CPU guest one second apart (abridged): 400 jiffies
# passed; user 150 (of which guest 20), system 50, idle 120, iowait 40, steal 20, irq 10, softirq 10.
STAT_FIRST = """\
cpu  1000 0 500 10000 100 10 10 5 50 0
cpu0 250 0 125 2500 25 3 3 1 13 0
cpu1 250 0 125 2500 25 3 3 1 13 0
cpu2 250 0 125 2500 25 2 2 2 12 0
cpu3 250 0 125 2500 25 2 2 1 12 0
intr 123456 0 0
ctxt 987654
btime 1700000000
"""
STAT_SECOND = """\
cpu  1150 0 550 10120 140 20 20 25 70 0
cpu0 290 0 140 2530 35 5 5 6 18 0
cpu1 290 0 140 2530 35 5 5 6 18 0
cpu2 285 0 135 2530 35 5 5 7 17 0
cpu3 285 0 135 2530 35 5 5 6 17 0
intr 123999 0 0
ctxt 999999
btime 1700000000
"""


def statvfs_result(frsize=4096, blocks=0, bfree=0, bavail=0, files=0, ffree=0):
    return os.statvfs_result((frsize, frsize, blocks, bfree, bavail, files, ffree, ffree, 0, 255))


def oserror(code, path):
    return OSError(code, os.strerror(code), path)


class FakeStatvfs(object):
    """statvfs answers by path, as the kernel gave them on the recorded host."""

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def __call__(self, path):
        self.asked.append(path)
        answer = self.answers.get(path)
        if answer is None:
            raise oserror(errno.ENOENT, path)
        if isinstance(answer, OSError):
            raise answer
        return answer


@pytest.fixture
def proc(tmp_path):
    """A recorded /proc: write files into it with proc.write('meminfo', text)."""
    root = tmp_path / 'proc'
    (root / 'self').mkdir(parents=True)

    class Proc(object):
        path = str(root)

        @staticmethod
        def write(name, text):
            (root / name).write_text(text)

    return Proc


def by_name(result):
    return dict((item['name'], item) for item in result['checks'])


# --- mounts -------------------------------------------------------------------------------

def test_parse_mounts_unescapes_spaces_and_keeps_order():
    mounts = rc.parse_mounts(DOCKER_HOST_MOUNTS)
    nfs = [m for m in mounts if m.fstype == 'nfs4'][0]
    assert nfs.path == '/mnt/backup share'
    assert nfs.device == 'backup.example.invalid:/exports/backups'
    assert mounts[0].path == '/sys' and mounts[-1].path == '/run/user/1000'


def test_default_mounts_of_a_docker_host():
    chosen = rc.default_mounts(rc.parse_mounts(DOCKER_HOST_MOUNTS))
    # pseudo, tmpfs, squashfs, nsfs and the container layer left out; /dev/sdb1 once, at
    # its shortest mount point; the NFS share kept (statvfs has a timeout).
    assert [m.path for m in chosen] == ['/', '/boot/efi', '/mnt/backup share', '/srv/data']


def test_default_mounts_exclude_globs():
    chosen = rc.default_mounts(rc.parse_mounts(DOCKER_HOST_MOUNTS), exclude=['/mnt/*', '/boot/*'])
    assert [m.path for m in chosen] == ['/', '/srv/data']


def test_default_mounts_in_a_container_keep_the_overlay_root():
    chosen = rc.default_mounts(rc.parse_mounts(CONTAINER_MOUNTS))
    # /etc/hosts and /etc/resolv.conf are files the runtime bind-mounts from the host.
    assert [(m.path, m.fstype) for m in chosen] == [('/', 'overlay'), ('/var/lib/app', 'ext4')]


def test_a_later_mount_on_the_same_path_hides_the_earlier():
    text = '/dev/sda1 / ext4 rw 0 0\n/dev/sdc1 /data ext4 rw 0 0\n/dev/sdd1 /data xfs rw 0 0\n'
    chosen = rc.default_mounts(rc.parse_mounts(text))
    assert [(m.path, m.device) for m in chosen] == [('/', '/dev/sda1'), ('/data', '/dev/sdd1')]


@pytest.mark.parametrize('path, expected', [
    ('/', '/'),
    ('/var/lib/postgresql/15/main', '/var/lib/postgresql'),
    ('/var/lib/postgresqlx', '/'),
    ('/srv/data', '/srv/data'),
    ('/boot/efi/EFI', '/boot/efi'),
])
def test_containing_mount(path, expected):
    mounts = rc.visible_mounts(rc.parse_mounts(DOCKER_HOST_MOUNTS))
    assert rc.containing_mount(path, mounts).path == expected


# --- mount entries and options ---------------------------------------------------------------

def test_mount_entries_take_paths_and_dicts_with_thresholds():
    task = {'disk': {'warning': 60.0}}
    entries = rc.parse_mount_entries(['/', {'path': '/var/lib/postgresql/', 'thresholds': {'disk': {'critical': 70}}},
                                      {'path': '/srv'}], task)
    assert [e['path'] for e in entries] == ['/', '/var/lib/postgresql', '/srv']
    assert entries[0]['thresholds']['disk'].as_dict() == {'warning': 60.0, 'critical': 90, 'direction': 'above'}
    assert entries[1]['thresholds']['disk'].as_dict() == {'warning': 60.0, 'critical': 70.0, 'direction': 'above'}
    assert entries[1]['thresholds']['inodes'].as_dict() == {'warning': 80, 'critical': 90, 'direction': 'above'}
    assert set(entries[2]['thresholds']) == {'disk', 'inodes'}


@pytest.mark.parametrize('mounts, task, message', [
    ([{'pth': '/'}], None, 'mounts[0].pth is not an option of a mount: use path, thresholds'),
    (['/', 'var'], None, 'mounts[1] path var must be absolute'),
    ([{'thresholds': {}}], None, 'mounts[0] needs a path'),
    ([3], None, 'mounts[0] needs a path'),
    (['/var', '/var/'], None, 'mounts[1] path /var is already mounts[0]: list each path once'),
    ([{'path': '/', 'thresholds': {'memory': {'warning': 1}}}], None,
     'mounts[0].thresholds.memory is not a signal of this check: use one of disk, inodes'),
    ([{'path': '/', 'thresholds': {'disk': {'warning': 'lots'}}}], None,
     'mounts[0].thresholds.disk.warning must be a number'),
    ([{'path': '/', 'thresholds': {'disk': {'warning': 95}}}], None,
     'mounts[0].thresholds.disk: critical 90 must be at or above warning 95.0'),
    # Valid alone, inverted over the task-level limits: still named by the mount.
    ([{'path': '/', 'thresholds': {'disk': {'critical': 50}}}], {'disk': {'warning': 60.0}},
     'mounts[0].thresholds.disk: critical 50.0 must be at or above warning 60.0'),
])
def test_mount_entries_name_the_bad_element(mounts, task, message):
    with pytest.raises(ValueError) as caught:
        rc.parse_mount_entries(mounts, task)
    assert message in str(caught.value)


@pytest.mark.parametrize('options, message', [
    (dict(checks=[]), 'checks is empty'),
    (dict(checks=['disk', 'gpu']), 'checks: gpu is not a check: use disk, inodes, memory, cpu, load, swap'),
    (dict(thresholds={'ram': {'warning': 1}}), 'thresholds.ram is not a signal of this check'),
    (dict(thresholds={'load': {'warning': 5, 'critical': 3}}), 'thresholds.load: critical 3.0 must be at or above'),
    (dict(thresholds={'swap': {'warn': 5}}), 'thresholds.swap takes a dict with warning and/or critical'),
    (dict(cpu_sample_seconds=0.01), 'cpu_sample_seconds must be between 0.1 and 60, got 0.01'),
    (dict(cpu_sample_seconds=61), 'cpu_sample_seconds must be between 0.1 and 60, got 61'),
    (dict(load_period=10), 'load_period must be one of 1, 5, 15'),
])
def test_validate_options_names_the_option(options, message):
    args = dict(checks=list(rc.CHECKS), thresholds=None, mounts=None, cpu_sample_seconds=1.0, load_period=5)
    args.update(options)
    with pytest.raises(ValueError) as caught:
        rc.validate_options(**args)
    assert message in str(caught.value)


def test_validate_options_puts_checks_in_the_fixed_order():
    checks = rc.validate_options(['swap', 'disk', 'cpu'], None, None, 1.0, 5)[0]
    assert checks == ['disk', 'cpu', 'swap']


# --- disk and inodes ----------------------------------------------------------------------

def test_disk_percent_is_dfs_use_percent():
    # 100 GiB, 5 % reserved for root, 76 GiB used: df says 80 % (76 / (76 + 19)).
    gib = 262144  # 4 KiB blocks per GiB
    answer = statvfs_result(blocks=100 * gib, bfree=24 * gib, bavail=19 * gib, files=1000, ffree=900)
    mount = rc.Mount('/dev/sda1', '/', 'ext4')
    items = rc.mount_items('/', '/', answer, mount, rc.resolve_mount_thresholds(None), rc.MOUNT_SIGNALS)
    disk, inodes = items
    assert disk['name'] == 'disk /' and disk['value'] == 80.0 and disk['status'] == 'warning'
    assert disk['unit'] == 'percent'
    assert disk['detail'] == '80.0 % used, 19.0 GiB free of 100.0 GiB'
    assert (disk['size_bytes'], disk['used_bytes'], disk['free_bytes']) == (100 << 30, 76 << 30, 19 << 30)
    assert (disk['mount'], disk['fstype'], disk['device'], disk['path']) == ('/', 'ext4', '/dev/sda1', '/')
    assert inodes['value'] == 10.0 and inodes['status'] == 'ok'
    assert inodes['detail'] == '10.0 % used, 900 of 1,000 inodes free'
    assert (inodes['inodes_total'], inodes['inodes_used'], inodes['inodes_free']) == (1000, 100, 900)


def test_path_inside_a_mount_names_the_mount():
    answer = statvfs_result(blocks=1000, bfree=500, bavail=500, files=10, ffree=10)
    mount = rc.Mount('/dev/sdb1', '/srv/data', 'xfs')
    [disk] = rc.mount_items('/srv/data/pg', '/srv/data/pg', answer, mount, rc.resolve_mount_thresholds(None), ['disk'])
    assert disk['detail'].endswith('(on /srv/data, xfs)')
    assert disk['mount'] == '/srv/data' and disk['path'] == '/srv/data/pg'


def test_btrfs_without_inode_count_is_ok_and_says_so():
    answer = statvfs_result(blocks=1000, bfree=900, bavail=900, files=0, ffree=0)
    items = rc.mount_items('/', '/', answer, rc.Mount('/dev/nvme0n1p2', '/', 'btrfs'),
                           rc.resolve_mount_thresholds(None), rc.MOUNT_SIGNALS)
    inodes = items[1]
    assert inodes['status'] == 'ok' and inodes['value'] is None
    assert inodes['detail'] == 'no fixed inode count on btrfs'


def test_listed_pseudo_filesystem_without_blocks_is_unknown():
    answer = statvfs_result(blocks=0, bfree=0, bavail=0, files=0, ffree=0)
    [disk] = rc.mount_items('/proc', '/proc', answer, rc.Mount('proc', '/proc', 'proc'),
                            rc.resolve_mount_thresholds(None), ['disk'])
    assert disk['status'] == 'unknown' and 'reports no blocks' in disk['detail']


@pytest.mark.parametrize('answer, status, detail', [
    (oserror(errno.ENOENT, '/gone'), 'critical', 'does not exist'),
    (oserror(errno.ENOTDIR, '/gone'), 'critical', 'does not exist'),
    (oserror(errno.EACCES, '/gone'), 'unknown', 'cannot statvfs: Permission denied'),
    (None, 'unknown', 'statvfs did not answer within 5 s (hung network filesystem?)'),
])
def test_statvfs_failures(answer, status, detail):
    items = rc.mount_items('/gone', '/gone', answer, None, rc.resolve_mount_thresholds(None), rc.MOUNT_SIGNALS)
    assert [(i['name'], i['status'], i['detail']) for i in items] == [
        ('disk /gone', status, detail), ('inodes /gone', status, detail)]


def test_probe_paths_gives_up_on_a_hung_filesystem():
    release = threading.Event()
    ok = statvfs_result(blocks=10, bfree=5, bavail=5)

    def statvfs(path):
        if path == '/mnt/nfs':
            release.wait(30)  # a statvfs blocked on a dead NFS server
        return ok

    try:
        answers = rc.probe_paths(['/', '/mnt/nfs'], statvfs, timeout=0.2)
    finally:
        release.set()
    assert answers['/'] == ('/', ok)
    assert answers['/mnt/nfs'] == (None, None)


def test_filesystem_items_of_a_recorded_host(proc):
    proc.write('self/mounts', DOCKER_HOST_MOUNTS)
    gib = 262144
    statvfs = FakeStatvfs({
        '/': statvfs_result(blocks=40 * gib, bfree=10 * gib, bavail=7 * gib, files=2000000, ffree=1900000),
        '/boot/efi': statvfs_result(blocks=130000, bfree=120000, bavail=120000),
        '/mnt/backup share': statvfs_result(blocks=1000 * gib, bfree=50 * gib, bavail=50 * gib, files=100, ffree=1),
        '/srv/data': statvfs_result(blocks=10 * gib, bfree=9 * gib, bavail=9 * gib, files=5000000, ffree=4999000),
    })
    items = rc.filesystem_items(rc.MOUNT_SIGNALS, proc_root=proc.path, statvfs=statvfs)
    got = [(i['name'], i['status']) for i in items]
    assert got == [
        ('disk /', 'warning'), ('inodes /', 'ok'),
        ('disk /boot/efi', 'ok'), ('inodes /boot/efi', 'ok'),
        ('disk /mnt/backup share', 'critical'), ('inodes /mnt/backup share', 'critical'),
        ('disk /srv/data', 'ok'), ('inodes /srv/data', 'ok'),
    ]
    assert items[3]['detail'] == 'no fixed inode count on vfat'
    assert items[4]['fstype'] == 'nfs4' and items[4]['value'] == 95.0


def test_filesystem_items_of_listed_paths(proc, tmp_path):
    proc.write('self/mounts', '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /srv/data xfs rw 0 0\n')
    inside = tmp_path / 'pg'
    inside.mkdir()
    answer = statvfs_result(blocks=1000, bfree=150, bavail=150, files=100, ffree=50)
    statvfs = FakeStatvfs({'/srv/data': answer, str(inside): answer})
    entries = rc.parse_mount_entries(['/srv/data', {'path': str(inside), 'thresholds': {'disk': {'warning': 90}}},
                                      '/mnt/missing'])
    items = rc.filesystem_items(['disk'], entries, proc_root=proc.path, statvfs=statvfs)
    assert [(i['name'], i['status']) for i in items] == [
        ('disk /srv/data', 'warning'), ('disk %s' % inside, 'ok'), ('disk /mnt/missing', 'critical')]
    assert items[0]['detail'] == '85.0 % used, 600.0 KiB free of 3.9 MiB'
    assert items[1]['mount'] == '/' and items[1]['detail'].endswith('(on /, ext4)')
    assert items[1]['threshold']['warning'] == 90.0
    assert items[2]['detail'] == 'does not exist'


def test_unreadable_mount_table_is_unknown(proc):
    items = rc.filesystem_items(rc.MOUNT_SIGNALS, proc_root=proc.path, statvfs=FakeStatvfs({}))
    [item] = items
    assert item['status'] == 'unknown' and 'cannot read the mount table' in item['detail']


def test_no_real_filesystem_is_unknown(proc):
    proc.write('self/mounts', 'proc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\n')
    [item] = rc.filesystem_items(['disk'], proc_root=proc.path, statvfs=FakeStatvfs({}))
    assert item['status'] == 'unknown' and 'no real filesystem found' in item['detail']


# --- memory and swap ------------------------------------------------------------------------

def test_memory_from_memavailable():
    item = rc.memory_item(rc.parse_meminfo(MEMINFO_SWAPPING), Threshold(85, 95))
    assert item['value'] == 85.0 and item['status'] == 'warning'
    assert item['detail'] == '85.0 % used, 585.9 MiB available of 3.8 GiB'
    assert item['estimated'] is False


def test_memory_without_memavailable_is_estimated(proc):
    proc.write('meminfo', MEMINFO_OLD_KERNEL)
    item = rc.memory_item(rc.read_meminfo(proc.path), Threshold(85, 95))
    # available = 100000 + 50000 + 300000 + 100000 - 50000 = 500000 kB of 1000000
    assert item['value'] == 50.0 and item['status'] == 'ok'
    assert item['estimated'] is True and 'no MemAvailable on this kernel' in item['detail']


def test_memory_without_memtotal_is_unknown():
    item = rc.memory_item({'MemFree': 1}, Threshold(85, 95))
    assert item['status'] == 'unknown' and item['detail'] == 'MemTotal missing from /proc/meminfo'


def test_no_swap_is_ok():
    item = rc.swap_item(rc.parse_meminfo(MEMINFO_OLD_KERNEL), Threshold(50, 80))
    assert (item['status'], item['value'], item['detail']) == ('ok', None, 'no swap')


def test_swap_in_use():
    item = rc.swap_item(rc.parse_meminfo(MEMINFO_SWAPPING), Threshold(50, 80))
    assert item['value'] == 50.0 and item['status'] == 'warning'
    assert item['detail'] == '50.0 % used, 1.0 GiB of 2.0 GiB'
    assert item['used_bytes'] == 1 << 30


def test_read_meminfo_converts_kb_and_keeps_counts(proc):
    proc.write('meminfo', MEMINFO_SWAPPING)
    info = rc.read_meminfo(proc.path)
    assert info['MemTotal'] == 4000000 * 1024
    assert info['HugePages_Total'] == 0


# --- cpu and load ---------------------------------------------------------------------------

def test_parse_stat_counts_online_cpus():
    times, cpus = rc.parse_stat(STAT_FIRST)
    assert cpus == 4 and times[:4] == [1000, 0, 500, 10000]
    with pytest.raises(ValueError):
        rc.parse_stat('intr 1 2 3\n')


def test_cpu_busy_counts_iowait_as_idle_steal_as_busy_and_guest_once():
    first, second = rc.parse_stat(STAT_FIRST)[0], rc.parse_stat(STAT_SECOND)[0]
    # total 150+50+120+40+10+10+20 = 400; idle 120+40 = 160; busy 240 = 60 %
    assert rc.cpu_busy(first, second) == (60.0, 10.0, 5.0)
    assert rc.cpu_busy(first, first) is None


def test_cpu_item_samples_twice(proc):
    proc.write('stat', STAT_FIRST)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        proc.write('stat', STAT_SECOND)  # the kernel moved on while we waited

    item = rc.cpu_item(2.5, Threshold(50, 95), proc.path, sleep)
    assert slept == [2.5]
    assert item['value'] == 60.0 and item['status'] == 'warning'
    assert item['detail'] == '60.0 % busy over 2.5 s on 4 CPUs (iowait 10.0 %, steal 5.0 %)'
    assert (item['cpus'], item['iowait_percent'], item['steal_percent']) == (4, 10.0, 5.0)


def test_cpu_item_without_elapsed_time_or_file_is_unknown(proc):
    proc.write('stat', STAT_FIRST)
    item = rc.cpu_item(1, Threshold(80, 95), proc.path, lambda seconds: None)
    assert item['status'] == 'unknown' and 'no CPU time passed' in item['detail']
    item = rc.cpu_item(1, Threshold(80, 95), proc.path + '/nowhere', lambda seconds: None)
    assert item['status'] == 'unknown' and item['detail'].startswith('cannot read')


@pytest.mark.parametrize('period, value, status', [(1, 2.25, 'warning'), (5, 1.0, 'ok'), (15, 0.5, 'ok')])
def test_load_per_cpu(proc, period, value, status):
    proc.write('stat', STAT_FIRST)
    proc.write('loadavg', '9.00 4.00 2.00 3/456 12345\n')
    item = rc.load_item(Threshold(2.0, 4.0), period, proc.path)
    assert item['value'] == value and item['status'] == status
    assert item['unit'] == 'load per CPU'
    assert item['detail'] == '%.2f per CPU over %d min (load 9.00 4.00 2.00 on 4 CPUs)' % (value, period)
    assert (item['load_1'], item['load_5'], item['load_15'], item['cpus']) == (9.0, 4.0, 2.0, 4)


def test_load_without_loadavg_is_unknown(proc):
    item = rc.load_item(Threshold(2.0, 4.0), 5, proc.path)
    assert item['status'] == 'unknown' and item['detail'].startswith('cannot read')


def test_online_cpus_falls_back_to_cpu_count(proc):
    assert rc.online_cpus(proc.path) == os.cpu_count()


# --- the whole check ------------------------------------------------------------------------

def test_run_checks_on_a_recorded_host(proc):
    proc.write('self/mounts', '/dev/sda1 / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n')
    proc.write('meminfo', MEMINFO_SWAPPING)
    proc.write('stat', STAT_FIRST)
    proc.write('loadavg', '0.50 0.40 0.30 1/100 42\n')
    statvfs = FakeStatvfs({'/': statvfs_result(blocks=100, bfree=50, bavail=50, files=100, ffree=99)})
    result = rc.run_checks(proc_root=proc.path, statvfs=statvfs, sleep=lambda s: proc.write('stat', STAT_SECOND),
                           thresholds={'swap': {'warning': 60}})
    assert [i['name'] for i in result['checks']] == ['disk /', 'inodes /', 'memory', 'cpu', 'load', 'swap']
    assert [i['status'] for i in result['checks']] == ['ok', 'ok', 'warning', 'ok', 'ok', 'ok']
    assert result['status'] == 'warning' and result['changed'] is False
    assert result['counts'] == {'ok': 5, 'warning': 1, 'critical': 0, 'unknown': 0}
    assert result['msg'] == '1 warning of 6 resource checks; memory: 85.0 % used, 585.9 MiB available of 3.8 GiB'
    assert statvfs.asked == ['/']


def test_run_checks_only_what_is_asked(proc):
    proc.write('meminfo', MEMINFO_OLD_KERNEL)

    def no_sleep(seconds):
        raise AssertionError('cpu was not asked for')

    result = rc.run_checks(checks=['swap', 'memory'], proc_root=proc.path, sleep=no_sleep,
                           statvfs=FakeStatvfs({}))
    assert [i['name'] for i in result['checks']] == ['memory', 'swap']
    assert result['msg'] == 'all 2 resource checks ok'


def test_run_checks_unreadable_meminfo_is_unknown_per_item(proc):
    result = rc.run_checks(checks=['memory', 'swap'], proc_root=proc.path)
    assert [(i['name'], i['status']) for i in result['checks']] == [('memory', 'unknown'), ('swap', 'unknown')]


@pytest.mark.parametrize('count, text', [(0, '0 B'), (1023, '1023 B'), (1536, '1.5 KiB'), (5 << 30, '5.0 GiB'),
                                         (3 << 40, '3.0 TiB'), (5000 << 40, '5000.0 TiB')])
def test_human_bytes(count, text):
    assert rc.human_bytes(count) == text


# --- the module's documentation and spec stay in step --------------------------------------

def test_documented_options_match_the_argument_spec():
    spec = resource_check.argument_spec()
    doc = yaml.safe_load(resource_check.DOCUMENTATION)['options']
    spec.pop('fail_on')  # from the status doc fragment
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]['type'] == option['type'], name
        assert doc[name].get('default') == option.get('default'), name
        assert doc[name].get('choices') == option.get('choices'), name
        assert doc[name].get('elements') == option.get('elements'), name


def test_documented_defaults_match_the_thresholds():
    doc = yaml.safe_load(resource_check.DOCUMENTATION)['options']['thresholds']['description']
    for key, threshold in rc.DEFAULT_THRESHOLDS.items():
        line = [text for text in doc if text.startswith('C(%s):' % key)][0]
        assert 'default warning %s, critical %s' % (threshold.warning, threshold.critical) in line, key
