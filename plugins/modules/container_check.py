#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: container_check
short_description: Health of Docker containers as one status
version_added: 0.1.0
description:
  - Looks at Docker containers picked by name, by label or by Compose project, and reports each
    signal of each container as an item with a status (V(ok), V(warning), V(critical), V(unknown));
    the result's status is the worst of them.
  - "C(state): V(running) is ok; V(paused) is a warning; V(restarting), V(exited), V(dead) and
    V(created) (never started) are critical. With O(expect_running=false) a container may be stopped:
    only a non-zero exit code, V(restarting) or V(dead) is critical."
  - "C(health), for running containers: the result of the image's or container's C(HEALTHCHECK).
    V(healthy) is ok, V(starting) a warning, V(unhealthy) critical, with the last probe's output.
    A container without a C(HEALTHCHECK) gets an ok item saying so."
  - "C(oom_killed): the kernel's OOM killer stopped the container's main process; critical."
  - "C(restart_count): restarts by the restart policy since the container was created."
  - "C(restarts): restarts since the last run of this module on the host, from the counts it keeps
    in O(state_file) per container id. The first run of a container records the baseline."
  - "C(uptime), for running containers: seconds since the container (re)started."
  - A container named in O(containers) that does not exist is one V(critical) item. A label or
    Compose selection that matches fewer than O(expect_at_least) containers is V(critical).
  - A Docker daemon that cannot be reached is one V(critical) item naming the address and the cause.
  - Read-only towards Docker. Never reports C(changed); O(state_file) is the module's own bookkeeping
    and is not written in check mode.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.status
requirements:
  - docker (the Docker SDK for Python) on the host the module runs on
options:
  containers:
    description:
      - Names (or IDs) of containers that must exist. Each one missing is a V(critical) item.
    type: list
    elements: str
    default: []
  labels:
    description:
      - Check every container, running or stopped, that has all these labels. A null value matches
        the label with any value.
      - Combined with O(compose_project), a container must match both.
    type: dict
  compose_project:
    description:
      - Check every container, running or stopped, of this Docker Compose project (label
        C(com.docker.compose.project)).
    type: str
  expect_at_least:
    description:
      - The O(labels) and O(compose_project) selection must match at least this many containers,
        or its C(matched) item is V(critical). V(0) accepts an empty selection.
    type: int
    default: 1
  expect_running:
    description:
      - Whether the containers should be running. Set V(false) for one-shot containers such as
        migrations, which are fine when they exited with code 0.
    type: bool
    default: true
  docker_host:
    description:
      - Address of the Docker daemon, C(unix:///path/to/docker.sock), C(tcp://host:port) or C(ssh://user@host),
        or a socket path.
      - When unset, the C(DOCKER_HOST) environment variable, else C(unix:///var/run/docker.sock).
      - TLS for C(tcp://) follows C(DOCKER_TLS_VERIFY) and C(DOCKER_CERT_PATH), as for the docker CLI.
    type: str
  timeout:
    description: Seconds to wait for each answer of the Docker daemon.
    type: float
    default: 10
  state_file:
    description:
      - JSON file on the host that keeps each container's restart count for the next run, so that
        the C(restarts) item can count the restarts in between. Entries of containers not seen for
        30 days are dropped. Written with mode 0600, not in check mode.
      - Set to an empty string to keep no state; there is then no C(restarts) item.
    type: path
    default: ~/.cache/caretaker/container_check.json
  thresholds:
    description:
      - Warning and critical limits per signal. Each key takes a dict with C(warning) and/or
        C(critical); a limit left unset keeps its default. A value exactly at a limit crosses it.
      - "C(restarts): restarts since the last run; default warning 1, critical 5."
      - "C(restart_count): restarts since the container was created; no default limits."
      - "C(uptime): seconds since the container started, lower is worse (catches recent restarts);
        no default limits."
    type: dict
notes:
  - A container in a crash loop alternates between V(restarting) and a few seconds of V(running);
    the C(restarts) item catches it in either state once a baseline is recorded.
seealso:
  - module: community.docker.docker_container_info
  - module: community.docker.docker_host_info
'''

EXAMPLES = r'''
- name: The application's containers must be running and healthy
  caretaker.maintenance.container_check:
    containers:
      - api
      - worker

- name: Every container of the shop Compose project, flagging restarts in the last hour
  caretaker.maintenance.container_check:
    compose_project: shop
    thresholds:
      restarts: {warning: 1, critical: 3}
      uptime: {warning: 3600}
    fail_on: never
  register: shop

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ shop.msg }}"
  when: shop.status != 'ok'

- name: One-shot containers labelled as jobs must have finished with exit code 0
  caretaker.maintenance.container_check:
    labels:
      caretaker.role: job
    expect_running: false
    expect_at_least: 0
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: critical
msg:
  description: One line a person can act on, naming the worst items.
  returned: always
  type: str
  sample: "1 critical of 11 container checks; api health: unhealthy: 3 probes failing in a row; last probe exit 1: curl: (7) Failed to connect"
checks:
  description: One item per signal per container, one per missing container, and one per selection.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Container name and signal.
      type: str
      sample: api health
    status:
      description: V(ok), V(warning), V(critical) or V(unknown).
      type: str
    value:
      description: >-
        What was measured: the state, the health status, true when OOM-killed, a restart count,
        the uptime in seconds, or the number of containers a selection matched.
      type: raw
    unit:
      description: Unit of RV(checks[].value).
      type: str
    threshold:
      description: Limits the value was compared with, with the direction that is bad.
      type: dict
    detail:
      description: What was seen, in words; the C(state) item sums up the container.
      type: str
      sample: running for 3 h 5 min, healthy, 0 restarts
    target:
      description: The container name, the selection, or the daemon address the item belongs to.
      type: str
    signal:
      description: >-
        state, health, oom_killed, restart_count, restarts, uptime; present for a missing container;
        matched for a selection; reachable for the daemon; state_file when the state file cannot be used.
      type: str
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 10, warning: 0, critical: 1, unknown: 0}
containers:
  description: One entry per container found, with its worst status and the facts behind the items.
  returned: always
  type: list
  elements: dict
  sample:
    - name: api
      id: 3f2a9c1b7d4e
      image: registry.example.com/shop/api:1.4
      status: critical
      detail: running for 3 h 5 min, unhealthy, 0 restarts
      state: running
      health: unhealthy
      exit_code: 0
      oom_killed: false
      restart_count: 0
      new_restarts: 0
      uptime: 11100.0
      started_at: "2025-05-20T08:00:00.123456789Z"
      compose_project: shop
      compose_service: api
docker_host:
  description: Address of the Docker daemon that was asked.
  returned: always
  type: str
  sample: unix:///var/run/docker.sock
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._container_check import (
    DEFAULT_STATE_FILE, DEFAULT_THRESHOLDS, DOCKER_IMPORT_ERROR, HAS_DOCKER, OptionError, run_checks,
    validate_options)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    exit_with_status, parse_thresholds, status_argument_spec)


def argument_spec():
    spec = dict(
        containers=dict(type='list', elements='str', default=[]),
        labels=dict(type='dict'),
        compose_project=dict(type='str'),
        expect_at_least=dict(type='int', default=1),
        expect_running=dict(type='bool', default=True),
        docker_host=dict(type='str'),
        timeout=dict(type='float', default=10),
        state_file=dict(type='path', default=DEFAULT_STATE_FILE),
        thresholds=dict(type='dict'),
    )
    spec.update(status_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        validate_options(params['containers'], params['labels'], params['compose_project'],
                         params['expect_at_least'], params['timeout'])
        thresholds = parse_thresholds(DEFAULT_THRESHOLDS, params['thresholds'])
    except ValueError as exc:
        module.fail_json(msg='%s' % exc)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib('docker', reason='to talk to the Docker daemon'),
                         exception=DOCKER_IMPORT_ERROR)
    try:
        result = run_checks(
            docker_host=params['docker_host'], timeout=params['timeout'], names=params['containers'],
            labels=params['labels'], compose_project=params['compose_project'],
            expect_at_least=params['expect_at_least'], expect_running=params['expect_running'],
            thresholds=thresholds, state_file=params['state_file'] or None, check_mode=module.check_mode)
    except OptionError as exc:
        module.fail_json(msg='%s' % exc)
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
