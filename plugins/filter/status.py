# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the collection's status model, so roles and playbooks compare statuses the
way the modules do instead of repeating the order in Jinja."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import should_fail, worst


def worst_status(statuses):
    try:
        return worst([status for status in statuses if status is not None])
    except ValueError as exc:
        raise AnsibleFilterError('worst_status: %s' % exc)


def status_reaches(status, fail_on):
    try:
        return should_fail(status, fail_on)
    except ValueError as exc:
        raise AnsibleFilterError('status_reaches: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'worst_status': worst_status, 'status_reaches': status_reaches}
