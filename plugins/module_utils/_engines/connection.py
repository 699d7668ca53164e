# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one argument-spec builder for datastore connections.

Pairs with doc_fragments/connection.py. The options carry no defaults in the spec so a
``targets`` item can tell "not set" from "set": unset target options inherit the
task-level ones, and ConnectionSpec applies the real defaults last.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import ConnectionSpec
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import ENGINE_CHOICES

_CONNECTION_OPTIONS = dict(
    engine=dict(type='str', choices=ENGINE_CHOICES),
    login_host=dict(type='str'),
    login_port=dict(type='int'),
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    login_unix_socket=dict(type='str'),
    database=dict(type='str'),
    tls=dict(type='bool'),
    tls_ca=dict(type='path'),
    tls_cert=dict(type='path'),
    tls_key=dict(type='path', no_log=False),
    tls_verify=dict(type='bool'),
    connect_timeout=dict(type='float'),
)


def connection_argument_spec():
    """The shared connection options, for a module's top level."""
    return copy.deepcopy(_CONNECTION_OPTIONS)


def targets_argument_spec(extra=None):
    """A ``targets`` list option whose items take the connection options and ``name``.

    ``extra`` adds per-target options of a module (for example ``thresholds``).
    """
    options = connection_argument_spec()
    options['name'] = dict(type='str')
    options.update(copy.deepcopy(extra or {}))
    return dict(targets=dict(type='list', elements='dict', options=options))


class ConnectionOptionError(ValueError):
    """Connection options that cannot work; the text names the option and the fix."""


def _check(spec, where):
    if not spec.engine:
        raise ConnectionOptionError('%s: engine is required: set engine to one of %s'
                                    % (where, ', '.join(ENGINE_CHOICES)))
    if spec.connect_timeout <= 0:
        raise ConnectionOptionError('%s: connect_timeout must be above 0 seconds, got %s'
                                    % (where, spec.connect_timeout))
    if spec.port is not None and not 0 < spec.port < 65536:
        raise ConnectionOptionError('%s: login_port must be between 1 and 65535, got %s' % (where, spec.port))
    if spec.tls_key and not spec.tls_cert and spec.engine != 'mongodb':
        raise ConnectionOptionError('%s: tls_key needs tls_cert: set tls_cert to the client certificate' % where)
    return spec


def connection_specs(params):
    """ConnectionSpec for each target (``targets`` items over the task-level options),
    or the single target of the task-level options when ``targets`` is empty."""
    base = dict((key, params.get(key)) for key in ConnectionSpec.FIELDS)
    targets = params.get('targets') or []
    if not targets:
        return [_check(ConnectionSpec(**base), 'task options')]
    specs = []
    for index, target in enumerate(targets):
        merged = dict(base)
        for key in ConnectionSpec.FIELDS:
            if target.get(key) is not None:
                merged[key] = target[key]
        where = 'targets[%d]%s' % (index, ' (%s)' % target['name'] if target.get('name') else '')
        specs.append(_check(ConnectionSpec(name=target.get('name'), **merged), where))
    return specs
