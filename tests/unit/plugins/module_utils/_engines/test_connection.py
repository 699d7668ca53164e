# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import sys

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines import base, connection
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import ENGINE_CHOICES, engine_class, get_engine


def params(**given):
    values = dict((key, None) for key in connection.connection_argument_spec())
    values['targets'] = None
    values.update(given)
    return values


def test_spec_marks_password_no_log_and_has_no_defaults():
    spec = connection.connection_argument_spec()
    assert spec['login_password']['no_log'] is True
    assert not [key for key, option in spec.items() if 'default' in option]
    assert sorted(spec['engine']['choices']) == sorted(ENGINE_CHOICES)


@pytest.mark.parametrize('name', ENGINE_CHOICES)
def test_every_engine_name_has_its_backend(name):
    assert engine_class(name).name == name


def test_a_module_imports_only_the_driver_of_the_engine_it_uses():
    # A clean interpreter: the test session has imported every driver already.
    code = ('import sys; '
            'import ansible_collections.caretaker.maintenance.plugins.modules.db_backup; '
            'before = set(sys.modules); '
            'from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import engine_class; '
            'engine_class("redis"); '
            'print(sorted(name for name in ("pymongo", "pymysql", "psycopg2", "redis") if name in before)); '
            'print("redis" in sys.modules and "pymongo" not in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                         env={'PYTHONPATH': ':'.join(sys.path)}).stdout.split('\n')
    assert out[:2] == ['[]', 'True']


def test_single_target_from_task_options():
    [spec] = connection.connection_specs(params(engine='postgresql', login_port=5433))
    assert (spec.engine, spec.host, spec.port, spec.connect_timeout, spec.tls, spec.tls_verify) == (
        'postgresql', '127.0.0.1', 5433, 5, False, True)
    assert get_engine(spec).label == 'postgresql@127.0.0.1:5433'


def test_targets_inherit_unset_task_options():
    specs = connection.connection_specs(params(
        login_host='db1', login_password='s3cret', connect_timeout=2.0,
        targets=[dict(engine='mysql', login_port=None), dict(engine='redis', login_host='cache1', name='cache')]))
    assert [(s.engine, s.host, s.password, s.connect_timeout) for s in specs] == [
        ('mysql', 'db1', 's3cret', 2.0), ('redis', 'cache1', 's3cret', 2.0)]
    assert get_engine(specs[0]).label == 'mysql@db1:3306'
    assert get_engine(specs[1]).label == 'cache'


def test_tls_files_imply_tls():
    [spec] = connection.connection_specs(params(engine='mysql', tls_ca='/ca.pem'))
    assert spec.tls is True


@pytest.mark.parametrize('given, message', [
    (dict(), 'task options: engine is required: set engine to one of mongodb, mysql, postgresql, redis'),
    (dict(engine='redis', connect_timeout=0), 'connect_timeout must be above 0'),
    (dict(engine='redis', login_port=70000), 'login_port must be between 1 and 65535'),
    (dict(engine='mysql', tls_key='/k'), 'tls_key needs tls_cert'),
    (dict(targets=[dict(name='db', engine=None)]), r'targets\[0\] \(db\): engine is required'),
])
def test_bad_options_name_the_option(given, message):
    with pytest.raises(connection.ConnectionOptionError, match=message):
        connection.connection_specs(params(**given))


def test_errors_scrub_the_password():
    spec = base.ConnectionSpec('postgresql', login_password='hunter2-secret')
    engine = get_engine(spec)
    error = engine.error('cannot connect', Exception('auth failed for dsn password=hunter2-secret'))
    assert 'hunter2-secret' not in str(error)
    assert str(error) == 'postgresql@127.0.0.1:5432: cannot connect: auth failed for dsn password=********'


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(ValueError, match='engine .oracle. is not supported'):
        get_engine(base.ConnectionSpec('oracle'))


@pytest.mark.parametrize('engine, message, hint', [
    ('postgresql', 'Connection refused', 'nothing listens there'),
    ('mysql', "(1045, \"Access denied for user 'root'@'10.0.0.1'\")", 'wrong login_user or login_password'),
    ('redis', 'HELLO must be called with the client already authenticated', 'set login_password'),
    ('mongodb', '127.0.0.1:1: [Errno 111] Connection refused (configured timeouts: x), Timeout: 5.0s, Topology',
     'nothing listens there'),
])
def test_errors_carry_a_hint_with_the_fix(engine, message, hint):
    error = str(get_engine(base.ConnectionSpec(engine)).error('cannot connect', Exception(message)))
    assert hint in error
    assert 'Topology' not in error
