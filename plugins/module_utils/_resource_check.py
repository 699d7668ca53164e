# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""resource_check: disk, inodes, memory, CPU, load and swap of a Linux host as status items.

Everything is read from /proc and statvfs(2), standard library only. Every function that
reads /proc takes ``proc_root`` (default ``/proc``) so that unit tests can feed recorded
/proc files; it is deliberately not a module option.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fnmatch
import os
import posixpath
import re
import threading
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    ABOVE, CRITICAL, OK, UNKNOWN, Threshold, check_item, measured_item, parse_thresholds, resolve_thresholds,
    summarize)

CHECKS = ('disk', 'inodes', 'memory', 'cpu', 'load', 'swap')
MOUNT_SIGNALS = ('disk', 'inodes')

# Disk, inodes and memory follow the runbooks (disk critical over 90 %, memory 85 % / 95 %,
# CPU 80 % / 95 %). Load is per CPU over the 5-minute average: Linux counts tasks blocked
# on I/O in the load, so busy disks alone keep it near 1 per CPU; 2 per CPU means work
# waits as long as it runs, 4 per CPU means the host no longer keeps up. Swap used past
# half means the host has been short of memory for a while; at 80 % the next spike meets
# the OOM killer.
DEFAULT_THRESHOLDS = {
    'disk': Threshold(80, 90, ABOVE),
    'inodes': Threshold(80, 90, ABOVE),
    'memory': Threshold(85, 95, ABOVE),
    'cpu': Threshold(80, 95, ABOVE),
    'load': Threshold(2.0, 4.0, ABOVE),
    'swap': Threshold(50, 80, ABOVE),
}
MOUNT_DEFAULTS = dict((key, DEFAULT_THRESHOLDS[key]) for key in MOUNT_SIGNALS)

CPU_SAMPLE_MIN = 0.1
CPU_SAMPLE_MAX = 60.0
LOAD_PERIODS = (1, 5, 15)
# A statvfs on a hung network filesystem blocks forever; give up on it after this long.
STATVFS_TIMEOUT = 5.0

# Filesystem types left out of the default mount list: kernel pseudo filesystems, memory
# (tmpfs, ramfs: covered by the memory check), read-only images that are always full
# (squashfs snaps, ISO), and per-user FUSE helpers. overlay is left out except at /,
# where it is a container's root filesystem; elsewhere it is a container layer whose
# space is the backing filesystem's. List any of them in ``mounts`` to check it anyway.
PSEUDO_FSTYPES = frozenset((
    'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
    'efivarfs', 'erofs', 'fusectl', 'hugetlbfs', 'iso9660', 'mqueue', 'nsfs', 'overlay', 'proc', 'pstore',
    'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tmpfs', 'tracefs', 'udf',
    'fuse.gvfsd-fuse', 'fuse.lxcfs', 'fuse.portal', 'fuse.snapfuse', 'fuse.squashfuse', 'nfsd',
))

# Files a container runtime bind-mounts from the host into every container.
CONTAINER_FILE_MOUNTS = frozenset(('/etc/hosts', '/etc/hostname', '/etc/resolv.conf'))

_OCTAL_ESCAPE = re.compile(r'\\([0-7]{3})')
_MOUNT_KEYS = ('path', 'thresholds')


class Mount(object):
    """One line of /proc/self/mounts."""

    def __init__(self, device, path, fstype, options=''):
        self.device = device
        self.path = path
        self.fstype = fstype
        self.options = options

    def __repr__(self):
        return 'Mount(%r, %r, %r)' % (self.device, self.path, self.fstype)


def _proc(proc_root, *parts):
    return os.path.join(proc_root, *parts)


def _read(path):
    with open(path) as handle:
        return handle.read()


def _unescape(field):
    # The kernel writes space, tab, newline and backslash in mount fields as \040 etc.
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mounts(text):
    """Mounts in the order the kernel lists them (later mounts shadow earlier ones)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2],
                            fields[3] if len(fields) > 3 else ''))
    return mounts


def read_mounts(proc_root='/proc'):
    return parse_mounts(_read(_proc(proc_root, 'self', 'mounts')))


def default_mounts(mounts, exclude=()):
    """Real filesystems worth checking, sorted by mount point: pseudo filesystems out,
    one entry per mount point (the visible one), one per device (its shortest mount
    point, as df shows it: bind mounts and subvolumes share the space), nothing that
    matches an ``exclude`` glob."""
    chosen = []
    seen_devices = set()
    for mount in sorted(visible_mounts(mounts), key=lambda m: (len(m.path), m.path)):
        if mount.fstype in PSEUDO_FSTYPES and not (mount.fstype == 'overlay' and mount.path == '/'):
            continue
        if mount.path in CONTAINER_FILE_MOUNTS:
            continue
        if any(fnmatch.fnmatchcase(mount.path, pattern) for pattern in exclude):
            continue
        if mount.device.startswith('/'):
            if mount.device in seen_devices:
                continue
            seen_devices.add(mount.device)
        chosen.append(mount)
    return sorted(chosen, key=lambda m: m.path)


def visible_mounts(mounts):
    """One mount per mount point: the last one mounted there, which hides the others."""
    visible = {}
    for mount in mounts:
        visible[mount.path] = mount
    return list(visible.values())


def containing_mount(path, mounts):
    """The visible mount a path lives on: the longest mount point that is a prefix of it."""
    best = None
    for mount in mounts:
        mpath = mount.path
        if path == mpath or mpath == '/' or path.startswith(mpath.rstrip('/') + '/'):
            if best is None or len(mpath) >= len(best.path):
                best = mount
    return best


def parse_mount_entries(value, task_thresholds=None, option='mounts'):
    """Check the ``mounts`` option: each element a path, or a dict with ``path`` and
    ``thresholds`` (disk, inodes). Returns ``[{'path', 'thresholds'}]`` with thresholds
    resolved over the defaults and the task-level ones. Raises ValueError naming the element."""
    entries = []
    seen = {}
    for index, element in enumerate(value or []):
        name = '%s[%d]' % (option, index)
        if isinstance(element, dict):
            unknown = sorted(set(element) - set(_MOUNT_KEYS))
            if unknown:
                raise ValueError('%s.%s is not an option of a mount: use %s'
                                 % (name, unknown[0], ', '.join(_MOUNT_KEYS)))
            path = element.get('path')
            own = element.get('thresholds')
        else:
            path, own = element, None
        if not isinstance(path, str) or not path:
            raise ValueError('%s needs a path: give a path or a dict with path and thresholds' % name)
        if not path.startswith('/'):
            raise ValueError('%s path %s must be absolute' % (name, path))
        path = posixpath.normpath(path)
        if path.startswith('//'):
            path = '/' + path.lstrip('/')
        if path in seen:
            raise ValueError('%s path %s is already %s: list each path once' % (name, path, seen[path]))
        seen[path] = name
        # Checked against the task-level limits it overrides, not the bare defaults.
        base = resolve_mount_thresholds(task_thresholds)
        entries.append({'path': path, 'thresholds': resolve_thresholds(
            base, parse_thresholds(base, own, '%s.thresholds' % name))})
    return entries


def resolve_mount_thresholds(task_thresholds=None):
    """disk and inodes thresholds of a mount: the defaults, then the task-level ones."""
    task = dict((key, limits) for key, limits in (task_thresholds or {}).items() if key in MOUNT_SIGNALS)
    return resolve_thresholds(MOUNT_DEFAULTS, task)


def human_bytes(count):
    """1536 -> '1.5 KiB'; one decimal, binary units."""
    value = float(count)
    if value < 1024:
        return '%d B' % value
    for unit in ('KiB', 'MiB', 'GiB', 'TiB'):
        value /= 1024
        if value < 1024 or unit == 'TiB':
            break
    return '%.1f %s' % (value, unit)


def _percent(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def probe_paths(paths, statvfs=os.statvfs, timeout=STATVFS_TIMEOUT):
    """Resolve and statvfs each path in parallel daemon threads, so that one hung network
    filesystem costs at most ``timeout`` seconds and never blocks the module's exit.
    Returns ``{path: (real path, statvfs_result or OSError)}``; ``(None, None)`` when
    the path did not answer in time."""
    answers = {}
    lock = threading.Lock()

    def ask(path):
        real = path
        try:
            real = os.path.realpath(path)
            answer = statvfs(path)
        except OSError as exc:
            answer = exc
        with lock:
            answers[path] = (real, answer)

    threads = []
    for path in paths:
        thread = threading.Thread(target=ask, args=(path,), name='statvfs %s' % path)
        thread.daemon = True
        thread.start()
        threads.append(thread)
    deadline = time.time() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.time()))
    with lock:
        return dict((path, answers.get(path, (None, None))) for path in paths)


def _where(real, mount):
    if mount is None or mount.path == real:
        return ''
    return ' (on %s, %s)' % (mount.path, mount.fstype)


def _failed_items(path, wanted, status, detail, extra):
    return [check_item('%s %s' % (signal, path), status, unit='percent', detail=detail, signal=signal, **extra)
            for signal in wanted]


def mount_items(path, real, answer, mount, thresholds, checks):
    """disk and/or inodes items of one path from its statvfs answer. ``real`` is the path
    with symlinks resolved, ``mount`` the mount it lives on (None when unknown)."""
    extra = {'path': path}
    if mount is not None:
        extra.update(mount=mount.path, fstype=mount.fstype, device=mount.device)
    wanted = [signal for signal in MOUNT_SIGNALS if signal in checks]
    if answer is None:
        return _failed_items(path, wanted, UNKNOWN, 'statvfs did not answer within %g s (hung network '
                             'filesystem?)' % STATVFS_TIMEOUT, extra)
    if isinstance(answer, OSError):
        if answer.errno in (errno.ENOENT, errno.ENOTDIR):
            return _failed_items(path, wanted, CRITICAL, 'does not exist', extra)
        return _failed_items(path, wanted, UNKNOWN, 'cannot statvfs: %s' % (answer.strerror or answer), extra)

    items = []
    where = _where(real, mount)
    if 'disk' in checks:
        size = answer.f_blocks * answer.f_frsize
        used = (answer.f_blocks - answer.f_bfree) * answer.f_frsize
        free = answer.f_bavail * answer.f_frsize
        # As df's Use%: blocks reserved for root count neither as used nor as free.
        value = _percent(used, used + free)
        if value is None:
            items.append(check_item('disk %s' % path, UNKNOWN, unit='percent', threshold=thresholds['disk'],
                                    detail='reports no blocks (a pseudo filesystem?)%s' % where,
                                    signal='disk', **extra))
        else:
            detail = '%.1f %% used, %s free of %s%s' % (value, human_bytes(free), human_bytes(size), where)
            items.append(measured_item('disk %s' % path, value, thresholds['disk'], 'percent', detail,
                                       signal='disk', size_bytes=size, used_bytes=used, free_bytes=free,
                                       **extra))
    if 'inodes' in checks:
        total = answer.f_files
        if not total:
            items.append(check_item('inodes %s' % path, OK, unit='percent', threshold=thresholds['inodes'],
                                    detail='no fixed inode count on %s%s'
                                    % (mount.fstype if mount else 'this filesystem', where),
                                    signal='inodes', **extra))
        else:
            used = total - answer.f_ffree
            value = _percent(used, total)
            detail = '%.1f %% used, %s of %s inodes free%s' % (
                value, '{0:,}'.format(answer.f_ffree), '{0:,}'.format(total), where)
            items.append(measured_item('inodes %s' % path, value, thresholds['inodes'], 'percent', detail,
                                       signal='inodes', inodes_total=total, inodes_used=used,
                                       inodes_free=answer.f_ffree, **extra))
    return items


def filesystem_items(checks, entries=None, exclude=(), task_thresholds=None, proc_root='/proc',
                     statvfs=os.statvfs, timeout=STATVFS_TIMEOUT):
    """disk and inodes items: of ``entries`` (parsed ``mounts``) when given, else of the
    real filesystems found in /proc/self/mounts."""
    table = _proc(proc_root, 'self', 'mounts')
    try:
        mounts = read_mounts(proc_root)
    except (IOError, OSError) as exc:
        if not entries:
            return [check_item('disk', UNKNOWN, detail='cannot read the mount table %s: %s' % (table, exc),
                               signal='disk')]
        mounts = []
    if entries:
        targets = [(entry['path'], None, entry['thresholds']) for entry in entries]
    else:
        thresholds = resolve_mount_thresholds(task_thresholds)
        targets = [(mount.path, mount, thresholds) for mount in default_mounts(mounts, exclude)]
        if not targets:
            return [check_item('disk', UNKNOWN, detail='no real filesystem found in %s: list paths in mounts'
                               % table, signal='disk')]
    answers = probe_paths([target[0] for target in targets], statvfs, timeout)
    visible = visible_mounts(mounts)
    items = []
    for path, mount, thresholds in targets:
        real, answer = answers[path]
        if mount is None and real is not None:
            mount = containing_mount(real, visible)
        items.extend(mount_items(path, real, answer, mount, thresholds, checks))
    return items


def parse_meminfo(text):
    """/proc/meminfo as a dict, ``kB`` fields in bytes, counts as they are."""
    info = {}
    for line in text.splitlines():
        name, _sep, rest = line.partition(':')
        fields = rest.split()
        if not fields:
            continue
        try:
            number = int(fields[0])
        except ValueError:
            continue
        info[name.strip()] = number * 1024 if len(fields) > 1 and fields[1] == 'kB' else number
    return info


def read_meminfo(proc_root='/proc'):
    return parse_meminfo(_read(_proc(proc_root, 'meminfo')))


def memory_item(meminfo, threshold):
    """Used = (MemTotal - MemAvailable) / MemTotal. Kernels before 3.14 have no
    MemAvailable: estimate it from MemFree, Buffers, Cached and SReclaimable, less Shmem."""
    total = meminfo.get('MemTotal')
    if not total:
        return check_item('memory', UNKNOWN, unit='percent', threshold=threshold,
                          detail='MemTotal missing from /proc/meminfo', signal='memory')
    estimated = 'MemAvailable' not in meminfo
    if estimated:
        available = (meminfo.get('MemFree', 0) + meminfo.get('Buffers', 0) + meminfo.get('Cached', 0)
                     + meminfo.get('SReclaimable', 0) - meminfo.get('Shmem', 0))
        available = max(0, min(total, available))
    else:
        available = meminfo['MemAvailable']
    value = _percent(total - available, total)
    detail = '%.1f %% used, %s available of %s' % (value, human_bytes(available), human_bytes(total))
    if estimated:
        detail += ' (no MemAvailable on this kernel: estimated from MemFree, Buffers and Cached)'
    return measured_item('memory', value, threshold, 'percent', detail, signal='memory',
                         total_bytes=total, available_bytes=available, estimated=estimated)


def swap_item(meminfo, threshold):
    total = meminfo.get('SwapTotal')
    if total is None:
        return check_item('swap', UNKNOWN, unit='percent', threshold=threshold,
                          detail='SwapTotal missing from /proc/meminfo', signal='swap')
    if total == 0:
        return check_item('swap', OK, unit='percent', threshold=threshold, detail='no swap', signal='swap',
                          total_bytes=0, used_bytes=0)
    used = max(0, total - meminfo.get('SwapFree', 0))
    value = _percent(used, total)
    detail = '%.1f %% used, %s of %s' % (value, human_bytes(used), human_bytes(total))
    return measured_item('swap', value, threshold, 'percent', detail, signal='swap',
                         total_bytes=total, used_bytes=used)


def parse_stat(text):
    """The aggregate ``cpu`` line of /proc/stat as a list of ints, and the number of
    online CPUs (``cpuN`` lines)."""
    times, cpus = None, 0
    for line in text.splitlines():
        if line.startswith('cpu '):
            times = [int(field) for field in line.split()[1:]]
        elif re.match(r'cpu\d+\s', line):
            cpus += 1
    if times is None or len(times) < 4:
        raise ValueError('no aggregate cpu line in /proc/stat')
    return times, cpus


def _split_times(times):
    """(total, idle, iowait, steal) in jiffies. guest and guest_nice are already counted
    in user and nice, so they are left out of the total; iowait is idle time."""
    fields = (list(times) + [0] * 8)[:8]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total, idle + iowait, iowait, steal


def cpu_busy(first, second):
    """Busy percent between two aggregate samples; (busy, iowait, steal) or None when no
    time passed between them."""
    total1, idle1, iowait1, steal1 = _split_times(first)
    total2, idle2, iowait2, steal2 = _split_times(second)
    elapsed = total2 - total1
    if elapsed <= 0:
        return None
    return (_percent(elapsed - (idle2 - idle1), elapsed), _percent(iowait2 - iowait1, elapsed),
            _percent(steal2 - steal1, elapsed))


def cpu_item(seconds, threshold, proc_root='/proc', sleep=time.sleep):
    """CPU busy over ``seconds`` from two /proc/stat samples."""
    path = _proc(proc_root, 'stat')
    try:
        first, cpus = parse_stat(_read(path))
        sleep(seconds)
        second, _cpus = parse_stat(_read(path))
    except (IOError, OSError, ValueError) as exc:
        return check_item('cpu', UNKNOWN, unit='percent', threshold=threshold,
                          detail='cannot read %s: %s' % (path, exc), signal='cpu')
    measured = cpu_busy(first, second)
    if measured is None:
        return check_item('cpu', UNKNOWN, unit='percent', threshold=threshold,
                          detail='no CPU time passed between the two samples of %s' % path, signal='cpu')
    busy, iowait, steal = measured
    detail = '%.1f %% busy over %g s on %s (iowait %.1f %%, steal %.1f %%)' % (
        busy, seconds, _cpus_text(cpus), iowait, steal)
    return measured_item('cpu', busy, threshold, 'percent', detail, signal='cpu', cpus=cpus or None,
                         sample_seconds=seconds, iowait_percent=iowait, steal_percent=steal)


def _cpus_text(cpus):
    return '%d CPU%s' % (cpus, '' if cpus == 1 else 's') if cpus else 'an unknown number of CPUs'


def online_cpus(proc_root='/proc'):
    """CPUs the load average is spread over: the online CPUs listed in /proc/stat (the
    same view of the machine as /proc/loadavg, also inside a container), else os.cpu_count()."""
    try:
        cpus = parse_stat(_read(_proc(proc_root, 'stat')))[1]
    except (IOError, OSError, ValueError):
        cpus = 0
    return cpus or os.cpu_count() or 0


def load_item(threshold, period=5, proc_root='/proc'):
    """Load average of ``period`` minutes divided by the online CPUs."""
    path = _proc(proc_root, 'loadavg')
    try:
        averages = [float(field) for field in _read(path).split()[:3]]
        if len(averages) != 3:
            raise ValueError('expected three averages')
    except (IOError, OSError, ValueError) as exc:
        return check_item('load', UNKNOWN, unit='load per CPU', threshold=threshold,
                          detail='cannot read %s: %s' % (path, exc), signal='load')
    cpus = online_cpus(proc_root)
    if not cpus:
        return check_item('load', UNKNOWN, unit='load per CPU', threshold=threshold,
                          detail='cannot count the CPUs', signal='load')
    average = averages[LOAD_PERIODS.index(period)]
    value = round(average / cpus, 2)
    detail = '%.2f per CPU over %d min (load %.2f %.2f %.2f on %s)' % (
        value, period, averages[0], averages[1], averages[2], _cpus_text(cpus))
    return measured_item('load', value, threshold, 'load per CPU', detail, signal='load', cpus=cpus,
                         period_minutes=period, load_1=averages[0], load_5=averages[1], load_15=averages[2])


def _meminfo_items(checks, thresholds, proc_root):
    wanted = [name for name in ('memory', 'swap') if name in checks]
    if not wanted:
        return {}
    try:
        meminfo = read_meminfo(proc_root)
    except (IOError, OSError) as exc:
        detail = 'cannot read %s: %s' % (_proc(proc_root, 'meminfo'), exc)
        return dict((name, check_item(name, UNKNOWN, unit='percent', threshold=thresholds[name], detail=detail,
                                      signal=name)) for name in wanted)
    builders = {'memory': memory_item, 'swap': swap_item}
    return dict((name, builders[name](meminfo, thresholds[name])) for name in wanted)


def validate_options(checks, thresholds, mounts, cpu_sample_seconds, load_period):
    """Check every option before anything is measured. Returns (checks, task thresholds,
    mount entries); raises ValueError naming the option and the fix."""
    if not checks:
        raise ValueError('checks is empty: name at least one of %s' % ', '.join(CHECKS))
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        raise ValueError('checks: %s is not a check: use %s' % (unknown[0], ', '.join(CHECKS)))
    if not CPU_SAMPLE_MIN <= cpu_sample_seconds <= CPU_SAMPLE_MAX:
        raise ValueError('cpu_sample_seconds must be between %g and %g, got %g'
                         % (CPU_SAMPLE_MIN, CPU_SAMPLE_MAX, cpu_sample_seconds))
    if load_period not in LOAD_PERIODS:
        raise ValueError('load_period must be one of 1, 5, 15, got %r' % (load_period,))
    task = parse_thresholds(DEFAULT_THRESHOLDS, thresholds)
    entries = parse_mount_entries(mounts, task)
    return [name for name in CHECKS if name in checks], task, entries


def run_checks(checks=CHECKS, thresholds=None, mounts=None, exclude_mounts=(), cpu_sample_seconds=1.0,
               load_period=5, proc_root='/proc', statvfs=os.statvfs, sleep=time.sleep,
               statvfs_timeout=STATVFS_TIMEOUT):
    """Every requested item, in the order disk and inodes per mount, memory, cpu, load,
    swap; then the common result. Raises ValueError for bad options only."""
    checks, task, entries = validate_options(checks, thresholds, mounts, cpu_sample_seconds, load_period)
    resolved = resolve_thresholds(DEFAULT_THRESHOLDS, task)
    items = []
    if 'disk' in checks or 'inodes' in checks:
        items.extend(filesystem_items(checks, entries, exclude_mounts or (), task, proc_root, statvfs,
                                      statvfs_timeout))
    memory = _meminfo_items(checks, resolved, proc_root)
    if 'memory' in memory:
        items.append(memory['memory'])
    if 'cpu' in checks:
        items.append(cpu_item(cpu_sample_seconds, resolved['cpu'], proc_root, sleep))
    if 'load' in checks:
        items.append(load_item(resolved['load'], load_period, proc_root))
    if 'swap' in memory:
        items.append(memory['swap'])
    return summarize(items, what='resource checks')
