"""The docker_maintenance role against a real Docker engine of its own (tests/support/docker_engine.py,
an empty temporary data root, so the engine holds nothing but what is made here): stopped
containers, dangling images with data, an image created in 2020, volumes in use and unused.
Check mode lists exactly what goes and removes nothing; the real run removes that and keeps
the running container, the tagged image and (unless enabled) the volumes; the next run finds
nothing to prune. Containers have no network (network_mode none)."""

import hashlib
import io
import json
import tarfile

import pytest

from tests.support import docker_fixtures
from tests.support.playbook import run_tasks

ROLE = 'caretaker.maintenance.docker_maintenance'
BLOB = 1 << 20  # bytes each writer container puts in its layer
OLD_TAG = 'caretaker-old:2020'
NEW_TAG = 'caretaker-keep:new'


engine = docker_fixtures.engine
made = docker_fixtures.made


def old_image_tar(tag, created='2020-01-02T03:04:05Z'):
    """A one-file image whose config says it was created long ago, as `docker save` writes it."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode='w') as tar:
        data = b'created in 2020\n'
        info = tarfile.TarInfo('etc/old-release')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = layer.getvalue()
    config = json.dumps({
        'architecture': 'amd64', 'os': 'linux', 'created': created,
        'config': {'Cmd': ['/bin/true']},
        'rootfs': {'type': 'layers', 'diff_ids': ['sha256:' + hashlib.sha256(layer).hexdigest()]},
        'history': [{'created': created}],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + '.json'
    manifest = json.dumps([{'Config': config_name, 'RepoTags': [tag], 'Layers': ['layer/layer.tar']}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w') as tar:
        for name, content in (('layer/layer.tar', layer), (config_name, config), ('manifest.json', manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


class Objects:
    """What the test makes, by kind, with the ids a prune must remove or keep."""

    def __init__(self, made):
        client = made.client
        self.client = client
        self.keep = made.run('keep', ['sleep', 'infinity'], volumes={made.name('keepvol'): {'bind': '/data'}})
        writers = []
        for short in ('writer1', 'writer2'):
            writer = made.run(short, ['sh', '-c', 'head -c %d /dev/urandom > /blob' % BLOB])
            writer.wait(timeout=60)
            writers.append(writer)
        failed = made.run('failed', ['sh', '-c', 'exit 3'], volumes={made.name('exitvol'): {'bind': '/data'}})
        failed.wait(timeout=60)
        created = made.run('created', ['true'], start=False)
        self.stopped = sorted(c.id for c in writers + [failed, created])
        # Two dangling images carrying the writers' blobs, one tagged image from the same layer.
        self.dangling = sorted(client.images.get(client.api.commit(w.id)['Id']).id for w in writers)
        repository, tag = NEW_TAG.split(':')
        self.tagged = client.api.commit(writers[0].id, repository=repository, tag=tag)['Id']
        client.images.load(old_image_tar(OLD_TAG))
        self.old = client.images.get(OLD_TAG).id
        client.volumes.create(made.name('dropvol'))
        self.unused_volumes = sorted([made.name('dropvol'), made.name('exitvol')])
        self.used_volume = made.name('keepvol')
        self.base = made.image

    def container_ids(self):
        return sorted(c.id for c in self.client.containers.list(all=True))

    def image_ids(self):
        return sorted(i.id for i in self.client.images.list(all=True))

    def volume_names(self):
        return sorted(v.name for v in self.client.volumes.list())


@pytest.fixture(scope='module')
def objects(made):
    return Objects(made)


def run_role(engine, check=False, **variables):
    variables.setdefault('docker_maintenance_docker_host', engine.base_url)
    variables.setdefault('docker_maintenance_image_max_age', '1000d')
    run = run_tasks([{'name': 'clean', 'ansible.builtin.include_role': {'name': ROLE}, 'vars': variables}], check=check)
    return run


def report_of(run):
    for task in run.data['plays'][0]['tasks']:
        if task['task']['name'].endswith('Report what was (or would be) removed and the bytes reclaimed'):
            return task['hosts']['localhost']['ansible_facts']['docker_maintenance_report']
    raise AssertionError('no report:\n%s' % run.stdout[-3000:])


def test_check_mode_lists_exactly_what_goes_and_removes_nothing(engine, objects):
    containers, images, volumes = objects.container_ids(), objects.image_ids(), objects.volume_names()

    run = run_role(engine, check=True)
    assert run.returncode == 0, run.stdout[-3000:]
    report = report_of(run)
    assert report['check_mode'] and not report['changed'] and report['removed'] is None
    plan = report['planned']
    assert sorted(c['id'] for c in plan['containers']) == objects.stopped
    assert sorted(i['id'] for i in plan['images']) == sorted(objects.dangling + [objects.old])
    assert dict((i['id'], i['reason']) for i in plan['images'])[objects.old] == 'older than 1000d'
    assert report['would_remove'] == {'containers': 4, 'images': 3, 'networks': 0, 'volumes': 0, 'build_cache': 0}
    assert 'would remove 4 containers, 3 images, 0 networks, 0 volumes' in report['msg']
    assert report['disk_before']['total'] >= report['disk_before']['images'] > 0

    with_volumes = report_of(run_role(engine, check=True, docker_maintenance_prune_volumes=True))
    assert sorted(v['name'] for v in with_volumes['planned']['volumes']) == objects.unused_volumes

    without_age = report_of(run_role(engine, check=True, docker_maintenance_image_max_age=''))
    assert sorted(i['id'] for i in without_age['planned']['images']) == objects.dangling

    assert (objects.container_ids(), objects.image_ids(), objects.volume_names()) == (containers, images, volumes)


def test_real_run_removes_the_plan_keeps_what_is_used_then_nothing_is_left(engine, objects):
    volumes = objects.volume_names()
    run = run_role(engine)
    assert run.returncode == 0, run.stdout[-3000:]
    report = report_of(run)
    assert report['changed'] and not report['check_mode']
    assert sorted(report['removed']['containers']) == objects.stopped
    assert sorted(report['removed']['images']) == sorted(objects.dangling + [objects.old])
    assert report['removed_counts'] == report['would_remove'] == {
        'containers': 4, 'images': 3, 'networks': 0, 'volumes': 0, 'build_cache': 0}
    # The writers' layers and the two dangling images' blobs are gone.
    assert report['reclaimed_bytes'] >= 2 * BLOB
    assert report['disk_before']['total'] - report['disk_after']['total'] >= 2 * BLOB

    assert objects.container_ids() == [objects.keep.id]
    objects.keep.reload()
    assert objects.keep.status == 'running'
    left = objects.image_ids()
    assert objects.tagged in left and objects.client.images.get(objects.base).id in left
    assert not set(objects.dangling + [objects.old]) & set(left)
    assert objects.volume_names() == volumes, 'volumes are kept unless docker_maintenance_prune_volumes'

    run = run_role(engine, docker_maintenance_prune_volumes=True)
    assert run.returncode == 0, run.stdout[-3000:]
    report = report_of(run)
    assert sorted(report['removed']['volumes']) == objects.unused_volumes
    assert objects.volume_names() == [objects.used_volume]

    for check in (True, False):
        run = run_role(engine, check=check, docker_maintenance_prune_volumes=True)
        assert run.returncode == 0, run.stdout[-3000:]
        report = report_of(run)
        assert set(report['would_remove'].values()) == {0}
        assert run.stats['localhost']['changed'] == 0
        if not check:
            assert set(report['removed_counts'].values()) == {0} and report['reclaimed_bytes'] == 0
    assert objects.container_ids() == [objects.keep.id]


def test_unreachable_engine_fails_naming_the_variable(tmp_path):
    run = run_tasks([{'name': 'clean', 'ansible.builtin.include_role': {'name': ROLE},
                      'vars': {'docker_maintenance_docker_host': 'unix://%s/docker.sock' % tmp_path}}])
    assert run.returncode != 0
    failed = [task['hosts']['localhost'] for task in run.data['plays'][0]['tasks']
              if task['hosts']['localhost'].get('failed')]
    assert len(failed) == 1
    assert 'cannot reach the Docker engine at unix://%s/docker.sock' % tmp_path in failed[0]['msg']
    assert 'docker_maintenance_docker_host' in failed[0]['msg']


def test_a_bad_image_age_is_refused_before_anything_is_removed(engine, objects):
    run = run_role(engine, docker_maintenance_image_max_age='a month')
    assert run.returncode != 0
    assert 'docker_maintenance_image_max_age' in run.stdout
    assert objects.container_ids() == [objects.keep.id]
