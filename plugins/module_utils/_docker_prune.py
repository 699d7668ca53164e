# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``docker system prune`` would remove, from the lists of community.docker.docker_host_info
(pure, no I/O). docker_prune has no check mode; this is its preview, by the engine's own rules:

- containers: every container that is not running, paused or restarting (created, exited, dead);
- dangling images: images without a tag that are not the parent of another image and that no
  container left after the container prune uses;
- images older than a duration: images created at or before (engine time - duration), tagged or
  not, that no remaining container uses and that are not the parent of another image (the engine
  only untags those);
- networks: the list docker_host_info gives with the filter ``dangling: true`` (the same rule);
- volumes: local volumes no remaining container mounts; from Docker 23 (API 1.42) only anonymous ones;
- build cache: records not in use (the engine may keep shared records, so this is at most).

Containers are pruned first, so what only a pruned container used goes as well.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import parse_seconds

KEPT_STATES = ('running', 'paused', 'restarting')
ANONYMOUS_LABEL = 'com.docker.volume.anonymous'


class PlanError(ValueError):
    """Input that cannot be planned; the text names the option."""


def _tags(image):
    return [tag for tag in image.get('RepoTags') or [] if tag and tag != '<none>:<none>']


def _name(container):
    names = container.get('Names') or []
    return names[0].lstrip('/') if names else container.get('Id', '')[:12]


def engine_time(system_time):
    """Unix seconds of docker info's SystemTime (RFC 3339 with nanoseconds and a zone)."""
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)$', system_time or '')
    if not match:
        raise PlanError('the engine gave no usable SystemTime (%r)' % (system_time,))
    moment = datetime.datetime.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S')
    zone = match.group(3)
    offset = 0
    if zone != 'Z':
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    epoch = datetime.datetime(1970, 1, 1)
    return (moment - epoch).total_seconds() - offset + float(match.group(2) or 0)


def engine_major(server_version):
    match = re.match(r'^(\d+)', server_version or '')
    return int(match.group(1)) if match else 0


def max_age_seconds(value, option='docker_maintenance_image_max_age'):
    """Whole seconds of an image age limit such as 30d or 720h; None when unset."""
    if value in (None, '', 0):
        return None
    try:
        return int(parse_seconds(value, option, require_unit=True))
    except ValueError as exc:
        raise PlanError('%s' % exc)


def plan(info, containers=True, dangling_images=True, image_max_age=None, networks=True, volumes=False,
         build_cache=True):
    """The plan for one docker_host_info result (containers_all, images, networks with
    ``dangling: true``, volumes, disk_usage, verbose_output)."""
    listed = dict((key, info.get(key) or []) for key in ('containers', 'images', 'networks', 'volumes'))
    host = info.get('host_info') or {}
    result = {'containers': [], 'images': [], 'networks': [], 'volumes': [], 'build_cache': []}

    remaining = []
    for container in listed['containers']:
        if containers and container.get('State') not in KEPT_STATES:
            result['containers'].append({'id': container.get('Id'), 'name': _name(container),
                                         'state': container.get('State'), 'image': container.get('Image')})
        else:
            remaining.append(container)
    used_images = set(container.get('ImageID') for container in remaining)
    parents = set(image.get('ParentId') for image in listed['images'] if image.get('ParentId'))

    seconds = max_age_seconds(image_max_age)
    cutoff = engine_time(host.get('SystemTime')) - seconds if seconds is not None else None
    for image in listed['images']:
        image_id = image.get('Id')
        if image_id in used_images or image_id in parents:
            continue
        reasons = []
        if dangling_images and not _tags(image):
            reasons.append('dangling')
        if cutoff is not None and (image.get('Created') or 0) <= cutoff:
            reasons.append('older than %s' % image_max_age)
        if reasons:
            result['images'].append({'id': image_id, 'tags': _tags(image), 'created': image.get('Created'),
                                     'size': image.get('Size'), 'reason': ', '.join(reasons)})

    if networks:
        result['networks'] = [{'id': network.get('Id'), 'name': network.get('Name')} for network in listed['networks']]

    if volumes:
        mounted = set(mount.get('Name') for container in remaining for mount in container.get('Mounts') or []
                      if mount.get('Type') == 'volume')
        anonymous_only = engine_major(host.get('ServerVersion')) >= 23
        for volume in listed['volumes']:
            labels = volume.get('Labels') or {}
            if volume.get('Driver') != 'local' or volume.get('Name') in mounted:
                continue
            if anonymous_only and ANONYMOUS_LABEL not in labels:
                continue
            result['volumes'].append({'name': volume.get('Name')})

    if build_cache:
        for record in (info.get('disk_usage') or {}).get('BuildCache') or []:
            if not record.get('InUse'):
                result['build_cache'].append({'id': record.get('ID'), 'size': record.get('Size') or 0})

    result['counts'] = dict((key, len(value)) for key, value in result.items())
    result['until'] = '%ds' % seconds if seconds is not None else None
    result['cutoff'] = cutoff
    return result


def disk_usage(df):
    """Bytes per kind from docker_host_info's verbose disk_usage (docker system df)."""
    df = df or {}

    def total(items, size):
        return sum(max(size(item) or 0, 0) for item in items or [])

    usage = {
        'images': df.get('LayersSize') or 0,
        'containers': total(df.get('Containers'), lambda item: item.get('SizeRw')),
        'volumes': total(df.get('Volumes'), lambda item: (item.get('UsageData') or {}).get('Size')),
        'build_cache': total(df.get('BuildCache'), lambda item: item.get('Size')),
    }
    usage['total'] = sum(usage.values())
    return usage
