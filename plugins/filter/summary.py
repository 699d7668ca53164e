# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end-of-run summary of the cadence playbooks: what each host's roles registered, as
short lines (the facts are read as the run report reads them, plugin_utils/_report)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.summary import run_summary


def maintenance_summary(hostvars, hosts, check_mode=False):
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('maintenance_summary: expects hostvars, got %s' % type(hostvars).__name__)
    if isinstance(hosts, str) or not all(isinstance(host, str) for host in hosts):
        raise AnsibleFilterError('maintenance_summary: hosts must be a list of host names, such as ansible_play_hosts_all')
    missing = [host for host in hosts if host not in hostvars]
    if missing:
        raise AnsibleFilterError('maintenance_summary: no variables for host %s' % ', '.join(missing))
    return run_summary(hostvars, hosts, check_mode=bool(check_mode))


class FilterModule(object):
    def filters(self):
        return {'maintenance_summary': maintenance_summary}
