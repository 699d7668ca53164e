# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over community.docker.docker_host_info results: the preview of a prune, which
docker_prune cannot give (it has no check mode), and disk use per kind."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.module_utils._docker_prune import PlanError, disk_usage, plan


def docker_prune_plan(info, containers=True, dangling_images=True, image_max_age=None, networks=True, volumes=False,
                      build_cache=True):
    if not isinstance(info, dict):
        raise AnsibleFilterError('docker_prune_plan: expects a registered docker_host_info result, got %s'
                                 % type(info).__name__)
    try:
        return plan(info, containers=containers, dangling_images=dangling_images, image_max_age=image_max_age,
                    networks=networks, volumes=volumes, build_cache=build_cache)
    except PlanError as exc:
        raise AnsibleFilterError('docker_prune_plan: %s' % exc)


def docker_disk_usage(df):
    return disk_usage(df)


class FilterModule(object):
    def filters(self):
        return {'docker_prune_plan': docker_prune_plan, 'docker_disk_usage': docker_disk_usage}
