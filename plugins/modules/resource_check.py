#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: resource_check
short_description: Disk, inode, memory, CPU, load and swap usage of a Linux host as one status
version_added: 0.1.0
description:
  - Measures the host's resources and reports each as an item with a status (V(ok), V(warning),
    V(critical), V(unknown)); the result's status is the worst of them.
  - "C(disk): used percent per filesystem, computed as C(df) computes C(Use%): blocks reserved for
    root count neither as used nor as free."
  - "C(inodes): used percent of the inodes per filesystem. A filesystem without a fixed inode
    count (btrfs, vfat, some network filesystems) gives an V(ok) item saying so."
  - "C(memory): used percent, C(MemTotal - MemAvailable) of C(MemTotal) from C(/proc/meminfo). Kernels before 3.14
    have no C(MemAvailable); it is then estimated from C(MemFree), C(Buffers), C(Cached) and
    C(SReclaimable) less C(Shmem), and the item says so."
  - "C(cpu): busy percent of all CPUs between two C(/proc/stat) samples O(cpu_sample_seconds) apart.
    I/O wait counts as idle; steal counts as busy. Both are returned separately."
  - "C(load): the load average of O(load_period) minutes from C(/proc/loadavg) divided by the
    online CPUs listed in C(/proc/stat)."
  - "C(swap): used percent of the swap space. A host without swap gives an V(ok) item, C(no swap)."
  - "By default the filesystems are the real ones in C(/proc/self/mounts): pseudo and memory
    filesystems (proc, sysfs, cgroup, devtmpfs, tmpfs, ramfs, ...), read-only images (squashfs,
    iso9660, erofs), overlay mounts other than C(/) (container layers) and the files a container
    runtime bind-mounts (C(/etc/hosts), C(/etc/hostname), C(/etc/resolv.conf)) are left out; a device
    mounted at several places (bind mounts, subvolumes) is checked once, at its shortest mount point."
  - Linux only. Reads C(/proc) and calls C(statvfs); the standard library is all it needs on the host.
  - Read-only. Never reports C(changed).
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.status
options:
  checks:
    description:
      - Which resources to check. Items come in the order disk and inodes per filesystem,
        memory, cpu, load, swap, whatever the order here.
    type: list
    elements: str
    choices: [disk, inodes, memory, cpu, load, swap]
    default: [disk, inodes, memory, cpu, load, swap]
  mounts:
    description:
      - Paths to check for C(disk) and C(inodes), instead of the filesystems found in
        C(/proc/self/mounts). List every path you want checked.
      - Each element is a path, or a dict with C(path) and C(thresholds). C(thresholds) takes the
        keys C(disk) and C(inodes) of O(thresholds) and applies over the task-level ones for that path only.
      - A path need not be a mount point; the item then reports the filesystem it lives on and
        names its mount point in the detail.
      - A path that does not exist is a V(critical) item, C(does not exist).
    type: list
    elements: raw
  exclude_mounts:
    description:
      - Shell-style patterns of mount points to leave out of the filesystems found in
        C(/proc/self/mounts), for example C(/var/lib/docker/*) or C(/snap/*).
      - Ignored when O(mounts) is set.
    type: list
    elements: str
    default: []
  cpu_sample_seconds:
    description:
      - Time between the two C(/proc/stat) samples of the C(cpu) check, from 0.1 to 60 seconds.
        The task takes this long; a longer sample smooths out short spikes.
    type: float
    default: 1.0
  load_period:
    description: Which load average the C(load) check compares, in minutes.
    type: int
    choices: [1, 5, 15]
    default: 5
  thresholds:
    description:
      - Warning and critical limits per resource. Each key takes a dict with C(warning) and/or
        C(critical); a limit left unset keeps its default. A value exactly at a limit crosses it.
      - "C(disk): used percent of a filesystem; default warning 80, critical 90."
      - "C(inodes): used percent of a filesystem's inodes; default warning 80, critical 90."
      - "C(memory): used percent of memory; default warning 85, critical 95."
      - "C(cpu): busy percent of all CPUs over O(cpu_sample_seconds); default warning 80, critical 95."
      - "C(load): load average per online CPU; default warning 2.0, critical 4.0. Linux counts tasks
        waiting on disk or network filesystems in the load, so a host with busy disks sits near 1 per
        CPU without any CPU shortage; at 2 per CPU work waits as long as it runs."
      - "C(swap): used percent of swap space; default warning 50, critical 80."
    type: dict
notes:
  - In a container without lxcfs, C(/proc) shows the host's memory, CPU and load, not the
    container's cgroup limits.
  - A filesystem that does not answer C(statvfs) within 5 seconds (a hung NFS server) gives
    an V(unknown) item instead of hanging the task.
seealso:
  - module: ansible.builtin.setup
    description: C(ansible_mounts) and C(ansible_memory_mb) facts, without thresholds.
'''

EXAMPLES = r'''
- name: Check disk, inodes, memory, CPU, load and swap with the default thresholds
  caretaker.maintenance.resource_check:

- name: Database host, its data directory warns earlier, report without failing
  caretaker.maintenance.resource_check:
    mounts:
      - /
      - path: /var/lib/postgresql
        thresholds:
          disk: {warning: 70, critical: 85}
    thresholds:
      memory: {warning: 90, critical: 97}
      load: {warning: 1.5, critical: 3.0}
    cpu_sample_seconds: 3
    fail_on: never
  register: resources

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ resources.msg }}"
  when: resources.status != 'ok'

- name: Every real filesystem except container layers and snaps, disk and inodes only
  caretaker.maintenance.resource_check:
    checks: [disk, inodes]
    exclude_mounts:
      - /var/lib/docker/*
      - /snap/*
    thresholds:
      disk: {warning: 85, critical: 95}
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: warning
msg:
  description: One line a person can act on, naming the worst items.
  returned: always
  type: str
  sample: "1 warning of 6 resource checks; disk /: 83.1 % used, 12.3 GiB free of 72.0 GiB"
checks:
  description: One item per filesystem and signal, then memory, cpu, load and swap.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Signal, and the path for disk and inodes.
      type: str
      sample: disk /var/lib/postgresql
    status:
      description: V(ok), V(warning), V(critical) or V(unknown).
      type: str
    value:
      description: What was measured; null when nothing could be (no swap, no inode count, an error).
      type: raw
      sample: 83.1
    unit:
      description: Unit of RV(checks[].value), C(percent) or C(load per CPU).
      type: str
    threshold:
      description: Limits the value was compared with, with the direction that is bad.
      type: dict
      sample: {warning: 80, critical: 90, direction: above}
    detail:
      description: What was measured, in words.
      type: str
      sample: "83.1 % used, 12.3 GiB free of 72.0 GiB"
    signal:
      description: Which check this is (disk, inodes, memory, cpu, load, swap).
      type: str
    path:
      description: For disk and inodes, the path checked.
      type: str
      returned: for disk and inodes items
    mount:
      description: For disk and inodes, the mount point of the filesystem the path lives on.
      type: str
      returned: for disk and inodes items, when the mount is known
    fstype:
      description: For disk and inodes, the filesystem type.
      type: str
      returned: for disk and inodes items, when the mount is known
    device:
      description: For disk and inodes, the mounted device.
      type: str
      returned: for disk and inodes items, when the mount is known
    size_bytes:
      description: Size of the filesystem.
      type: int
      returned: for measured disk items
    used_bytes:
      description: Space used (disk), or swap used.
      type: int
      returned: for measured disk and swap items
    free_bytes:
      description: Space available to unprivileged users.
      type: int
      returned: for measured disk items
    inodes_total:
      description: Inodes of the filesystem.
      type: int
      returned: for measured inodes items
    inodes_used:
      description: Inodes in use.
      type: int
      returned: for measured inodes items
    inodes_free:
      description: Inodes free.
      type: int
      returned: for measured inodes items
    total_bytes:
      description: Memory (C(MemTotal)) or swap (C(SwapTotal)) size.
      type: int
      returned: for measured memory and swap items
    available_bytes:
      description: Memory available without swapping (C(MemAvailable), or its estimate).
      type: int
      returned: for measured memory items
    estimated:
      description: True when C(MemAvailable) was missing and had to be estimated.
      type: bool
      returned: for measured memory items
    cpus:
      description: Online CPUs.
      type: int
      returned: for measured cpu and load items
    sample_seconds:
      description: Time between the two CPU samples.
      type: float
      returned: for measured cpu items
    iowait_percent:
      description: Share of the CPU time spent waiting for I/O during the sample (counted as idle).
      type: float
      returned: for measured cpu items
    steal_percent:
      description: Share of the CPU time the hypervisor gave to other guests (counted as busy).
      type: float
      returned: for measured cpu items
    period_minutes:
      description: Which load average RV(checks[].value) is, per CPU.
      type: int
      returned: for measured load items
    load_1:
      description: 1-minute load average, not divided by the CPUs.
      type: float
      returned: for measured load items
    load_5:
      description: 5-minute load average, not divided by the CPUs.
      type: float
      returned: for measured load items
    load_15:
      description: 15-minute load average, not divided by the CPUs.
      type: float
      returned: for measured load items
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 5, warning: 1, critical: 0, unknown: 0}
'''

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.caretaker.maintenance.plugins.module_utils._resource_check import (
    CHECKS, LOAD_PERIODS, run_checks, validate_options)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    exit_with_status, status_argument_spec)


def argument_spec():
    spec = dict(
        checks=dict(type='list', elements='str', choices=list(CHECKS), default=list(CHECKS)),
        mounts=dict(type='list', elements='raw'),
        exclude_mounts=dict(type='list', elements='str', default=[]),
        cpu_sample_seconds=dict(type='float', default=1.0),
        load_period=dict(type='int', choices=list(LOAD_PERIODS), default=5),
        thresholds=dict(type='dict'),
    )
    spec.update(status_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if not sys.platform.startswith('linux'):
        module.fail_json(msg='resource_check reads /proc and supports Linux only; this host is %s' % sys.platform)
    if params['mounts'] and params['exclude_mounts']:
        module.warn('exclude_mounts is ignored when mounts lists the paths to check')
    if params['mounts'] and not set(params['checks']) & set(('disk', 'inodes')):
        module.warn('mounts is ignored: checks has neither disk nor inodes')
    options = dict(checks=params['checks'], thresholds=params['thresholds'], mounts=params['mounts'],
                   cpu_sample_seconds=params['cpu_sample_seconds'], load_period=params['load_period'])
    try:
        validate_options(**options)
    except ValueError as exc:
        module.fail_json(msg='%s' % exc)
    exit_with_status(module, run_checks(exclude_mounts=params['exclude_mounts'], **options))


if __name__ == '__main__':
    main()
