"""The prune preview's rules where the engine here cannot show them: clock zones, Docker 23's
anonymous-only volume prune, parents of other images, build cache and bad ages."""

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._docker_prune import (
    PlanError, disk_usage, engine_time, max_age_seconds, plan)


def info(server_version='20.10.24', **lists):
    result = {'host_info': {'SystemTime': '2026-01-10T00:00:00.5Z', 'ServerVersion': server_version}}
    result.update(lists)
    return result


def test_engine_time_reads_nanoseconds_and_zones():
    utc = engine_time('2026-01-10T00:00:00.123456789Z')
    assert utc == pytest.approx(1768003200.123456789)
    assert engine_time('2026-01-10T01:30:00+01:30') == 1768003200
    assert engine_time('2026-01-09T23:00:00-0100') == 1768003200
    with pytest.raises(PlanError):
        engine_time('yesterday')


def test_max_age_needs_a_unit():
    assert max_age_seconds('30d') == 30 * 86400
    assert max_age_seconds('1h30m') == 5400
    assert max_age_seconds('') is None
    with pytest.raises(PlanError, match='docker_maintenance_image_max_age'):
        max_age_seconds('30')


def test_images_used_by_remaining_containers_or_parents_are_kept():
    containers = [
        {'Id': 'run', 'State': 'running', 'ImageID': 'img-used'},
        {'Id': 'gone', 'State': 'exited', 'ImageID': 'img-only-stopped', 'Names': ['/gone']},
        {'Id': 'dead', 'State': 'dead', 'ImageID': 'img-used'},
        {'Id': 'paused', 'State': 'paused', 'ImageID': 'img-used'},
    ]
    images = [
        {'Id': 'img-used', 'RepoTags': ['<none>:<none>'], 'Created': 0},
        {'Id': 'img-only-stopped', 'RepoTags': None, 'Created': 0},
        {'Id': 'img-parent', 'RepoTags': [], 'Created': 0},
        {'Id': 'img-child', 'RepoTags': ['app:1'], 'Created': 0, 'ParentId': 'img-parent'},
        {'Id': 'img-new', 'RepoTags': ['app:2'], 'Created': 1768003200},
    ]
    result = plan(info(containers=containers, images=images), image_max_age='1d')
    assert [c['id'] for c in result['containers']] == ['gone', 'dead']
    assert dict((i['id'], i['reason']) for i in result['images']) == {
        'img-only-stopped': 'dangling, older than 1d', 'img-child': 'older than 1d'}
    assert result['until'] == '86400s'

    kept = plan(info(containers=containers, images=images), containers=False, image_max_age='1d')
    assert kept['counts']['containers'] == 0
    assert [i['id'] for i in kept['images']] == ['img-child']


def test_docker_23_prunes_only_anonymous_volumes():
    containers = [{'Id': 'a', 'State': 'running', 'Mounts': [{'Type': 'volume', 'Name': 'used'}]}]
    volumes = [
        {'Name': 'used', 'Driver': 'local', 'Labels': {'com.docker.volume.anonymous': ''}},
        {'Name': 'named', 'Driver': 'local', 'Labels': None},
        {'Name': 'anon', 'Driver': 'local', 'Labels': {'com.docker.volume.anonymous': ''}},
        {'Name': 'remote', 'Driver': 'nfs', 'Labels': None},
    ]
    old = plan(info(containers=containers, volumes=volumes), volumes=True)
    new = plan(info('24.0.7', containers=containers, volumes=volumes), volumes=True)
    assert [v['name'] for v in old['volumes']] == ['named', 'anon']
    assert [v['name'] for v in new['volumes']] == ['anon']
    assert plan(info(containers=containers, volumes=volumes))['counts']['volumes'] == 0


def test_build_cache_and_disk_usage():
    df = {'LayersSize': 1000, 'Containers': [{'SizeRw': 10}, {}], 'Volumes': [{'UsageData': {'Size': -1}},
          {'UsageData': {'Size': 5}}], 'BuildCache': [{'ID': 'x', 'InUse': True, 'Size': 7}, {'ID': 'y', 'Size': 3}]}
    assert plan(info(disk_usage=df))['build_cache'] == [{'id': 'y', 'size': 3}]
    assert plan(info(disk_usage=df), build_cache=False)['counts']['build_cache'] == 0
    assert disk_usage(df) == {'images': 1000, 'containers': 10, 'volumes': 5, 'build_cache': 10, 'total': 1025}
    assert disk_usage(None)['total'] == 0
