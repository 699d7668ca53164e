"""log_cleanup option checks: sizes, system directories, name classes, bad input."""

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_options import (
    CleanupError, Options, parse_size, system_path_reason)


@pytest.mark.parametrize('text, size', [
    ('2G', 2 << 30), ('500M', 500 << 20), ('1.5G', 3 << 29), ('4096', 4096), ('10k', 10240),
    ('2GB', 2 << 30), ('2GiB', 2 << 30), ('1T', 1 << 40), (' 7 M ', 7 << 20), ('12b', 12)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize('text', ['lots', '', 'G', '-1G', '2X', '1,5G', '2 G B'])
def test_parse_size_refuses_with_the_option_name(text):
    with pytest.raises(CleanupError, match='max_total_size .* is not a size'):
        parse_size(text)


@pytest.mark.parametrize('path', [
    '/', '/etc', '/etc/nginx', '/usr', '/usr/local/app/logs', '/lib', '/lib64/x', '/lib.usr-is-merged', '/proc/1',
    '/sys', '/boot', '/dev/shm', '/run/log', '/sbin', '/bin', '/var', '/var/lib', '/var/cache', '/var/spool',
    '/home', '/root', '/tmp', '/opt', '/srv'])
def test_system_paths_are_refused(path):
    assert system_path_reason(path)


@pytest.mark.parametrize('path', [
    '/var/log', '/var/log/nginx', '/var/lib/docker/containers', '/var/lib/myapp/logs', '/home/app/.pm2/logs',
    '/opt/app/logs', '/srv/api/logs', '/tmp/x', '/library', '/data/logs', '/variable'])
def test_application_paths_are_allowed(path):
    assert system_path_reason(path) is None


def options(tmp_path, **params):
    params.setdefault('paths', [str(tmp_path)])
    params.setdefault('compress_after_days', 7)
    return Options(params)


def test_classify_logs_archives_and_others(tmp_path):
    opts = options(tmp_path)
    assert [opts.classify(name) for name in ('app.log', 'app.log.1', 'app.log.12', 'app.log.gz', 'app.log.3.zst',
                                             'app.log.1.gz', 'app.log.xz', 'app.log.1.bz2', 'app.txt', 'x.gz',
                                             'app.log-20261123', 'APP.LOG')] == [
        'log', 'log', 'log', 'archive', 'archive', 'archive', None, None, None, None, None, None]


def test_defaults(tmp_path):
    opts = options(tmp_path)
    assert opts.roots == [str(tmp_path)]
    assert (opts.compression, opts.suffix, opts.level, opts.min_idle, opts.limit) == ('gzip', '.gz', 6, 60, None)
    assert opts.workers >= 1
    assert options(tmp_path, compression='zstd').level == 3


def test_allow_system_paths_lets_a_system_directory_through(tmp_path):
    assert Options({'paths': ['/etc'], 'delete_after_days': 1, 'allow_system_paths': True}).roots == ['/etc']


@pytest.mark.parametrize('params, message', [
    ({'workers': 0}, 'workers must be at least 1'),
    ({'min_idle': -1}, 'min_idle must be 0 or more'),
    ({'compress_after_days': None}, 'set at least one of'),
    ({'compression_level': 10}, 'compression_level 10 is out of range for gzip: use 1 to 9'),
    ({'compression': 'zstd', 'compression_level': 23}, 'use 1 to 22'),
    ({'patterns': ['']}, 'is not a file name pattern'),
    ({'paths': []}, 'paths is empty'),
    ({'paths': ['relative/logs']}, 'is not an absolute path'),
])
def test_bad_input_names_the_option(tmp_path, params, message):
    with pytest.raises(CleanupError, match=message.replace('(', r'\(').replace(')', r'\)')):
        options(tmp_path, **params)


def test_a_symlink_to_a_system_directory_is_refused_by_its_real_path(tmp_path):
    (tmp_path / 'conf').symlink_to('/etc')
    with pytest.raises(CleanupError, match=r'/etc \(the real path of .*conf\) is inside the system tree /etc'):
        options(tmp_path, paths=[str(tmp_path / 'conf')])


def test_the_same_directory_twice_is_refused(tmp_path):
    (tmp_path / 'alias').symlink_to(tmp_path)
    with pytest.raises(CleanupError, match='listed twice'):
        options(tmp_path, paths=[str(tmp_path), str(tmp_path / 'alias')])
