#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: health_report
short_description: One status per host from many check results, and whether to alert
version_added: 0.1.0
description:
  - Combines the registered results of the collection's check modules (db_check, http_check,
    resource_check, cert_check, container_check) and extra items into one result whose
    status is the worst of all items.
  - Remembers the host's status and what the team was last told in a small JSON state file,
    and decides whether to alert now - when the status reaches O(alert_on), when it or the set
    of failing checks changes, on recovery, and as a reminder every O(remind_after) minutes -
    so a check that runs every five minutes does not alert every five minutes.
  - Returns the alert text and ready-made webhook bodies (Slack-compatible and generic JSON).
    Post them with M(ansible.builtin.uri), then call the module again with O(acknowledge) to
    record that the alert was delivered; an alert that could not be posted is decided again on
    the next run.
author:
  - Caretaker Maintainers (@caretaker)
attributes:
  check_mode:
    support: full
    description: Decides and returns the alert but does not write the state file.
  diff_mode:
    support: full
    description: Shows the state file before and after.
options:
  host:
    description: Name of the host the report is about, used in the alert text.
    type: str
    required: true
  results:
    description:
      - Registered results of check modules. Each must have C(checks); skipped tasks are ignored.
    type: list
    elements: dict
    default: []
  items:
    description:
      - Extra items in the common item shape, at least C(name) and C(status)
        (V(ok), V(warning), V(critical) or V(unknown)), for checks made by other means.
    type: list
    elements: dict
    default: []
  state_file:
    description:
      - JSON file that remembers the host's status and the last alert. Written atomically, mode 0600.
      - Without it nothing is remembered and every run at or above O(alert_on) alerts.
    type: path
  alert_on:
    description: Alert when the host's status reaches this level.
    type: str
    choices: [warning, critical, unknown]
    default: warning
  remind_after:
    description:
      - Minutes after the last alert to remind the team of a problem that has not changed. V(0) turns reminders off.
    type: int
    default: 240
  acknowledge:
    description:
      - The RV(alert) of an earlier call, once it was delivered. Records it in O(state_file) and does nothing else.
    type: dict
'''

EXAMPLES = r'''
- name: Check the API
  caretaker.maintenance.http_check:
    endpoints:
      - url: http://127.0.0.1:8080/health
    fail_on: never
  register: api

- name: Combine the checks and decide whether to alert
  caretaker.maintenance.health_report:
    host: "{{ inventory_hostname }}"
    results:
      - "{{ api }}"
    state_file: "{{ caretaker_state_dir }}/health-state.json"
  register: health

- name: Tell the team channel
  ansible.builtin.uri:
    url: "{{ vault_slack_webhook_url }}"
    method: POST
    body_format: json
    body: "{{ health.alert.slack }}"
  when: health.alert.send
  register: posted

- name: Record the alert as delivered
  caretaker.maintenance.health_report:
    host: "{{ inventory_hostname }}"
    state_file: "{{ caretaker_state_dir }}/health-state.json"
    acknowledge: "{{ health.alert }}"
  when: health.alert.send
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: critical
msg:
  description: One line naming the worst items.
  returned: always
  type: str
checks:
  description: Every item of every result, in the common item shape.
  returned: always
  type: list
  elements: dict
counts:
  description: Number of items per status.
  returned: always
  type: dict
lines:
  description: The report as text, a headline and one line per item, for a summary.
  returned: unless acknowledging
  type: list
  elements: str
  sample: ["web1 is warning (2 checks)", "ok       api /health: HTTP 200", "warning  / disk: 83.1 % used"]
since:
  description: When the host entered its current status (UTC).
  returned: unless acknowledging
  type: str
  sample: "2026-11-23T02:05:00Z"
alert:
  description: Whether to alert now, why, and what to send.
  returned: unless acknowledging
  type: dict
  contains:
    send:
      description: True when an alert is due.
      type: bool
    reason:
      description: V(alert) (new problem), V(changed), V(reminder), V(recovered), or null.
      type: str
    text:
      description: Alert text naming the host, the failing checks and their values.
      type: str
      returned: when send is true
    slack:
      description: Slack-compatible webhook body, C({"text" ...}).
      type: dict
      returned: when send is true
    generic:
      description: Generic JSON body with host, status, previous status, reason, times and failing items.
      type: dict
      returned: when send is true
'''

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.caretaker.maintenance.plugins.module_utils._health_report import (
    ReportError, acknowledge, evaluate, save_state)


def _write(module, path, new, old, result):
    """Write the state when it changed; changed and diff say so, check mode skips the write."""
    if not path or new == old:
        return
    result['changed'] = True
    if module._diff:
        result['diff'] = {'before': json.dumps(old, indent=2, sort_keys=True) + '\n',
                          'after': json.dumps(new, indent=2, sort_keys=True) + '\n',
                          'before_header': path, 'after_header': path}
    if not module.check_mode:
        try:
            save_state(path, new)
        except OSError as exc:
            module.fail_json(msg='state_file %s cannot be written: %s; choose a writable path' % (path, exc),
                             **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type='str', required=True),
            results=dict(type='list', elements='dict', default=[]),
            items=dict(type='list', elements='dict', default=[]),
            state_file=dict(type='path'),
            alert_on=dict(type='str', choices=['warning', 'critical', 'unknown'], default='warning'),
            remind_after=dict(type='int', default=240),
            acknowledge=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['remind_after'] < 0:
        module.fail_json(msg='remind_after must be 0 (no reminders) or more minutes, got %d' % params['remind_after'])
    if params['acknowledge'] is not None and not params['state_file']:
        module.fail_json(msg='acknowledge needs state_file: set it to the same file as the evaluating call')
    try:
        if params['acknowledge'] is not None:
            new, old = acknowledge(params['acknowledge'], params['state_file'])
            result = dict(changed=False, acknowledged=bool(params['acknowledge'].get('send')))
        else:
            report, new, old = evaluate(params['host'], params['results'], params['items'],
                                        params['state_file'], params['alert_on'], params['remind_after'])
            result = dict(report, changed=False)
    except ReportError as exc:
        module.fail_json(msg='%s' % exc)
    _write(module, params['state_file'], new, old, result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
