"""The inventories under inventories/ (the demo and the example stacks) say only what the roles take.

Each inventory is loaded with Ansible's own InventoryManager and VariableManager, so the variables
checked are the ones a playbook run gets for each host (hosts.yml, group_vars, host_vars), and:

- every variable whose name starts with a role's prefix (``backup_``, ``health_``, ...) must be an
  option of that role's meta/argument_specs.yml; a typo fails, naming the variable, the host and
  the role, with the closest option names;
- any other variable (besides ``ansible_*`` and ``vault_*``) must be used by a template elsewhere
  in the inventory, so a misspelt prefix (``helth_datastores``) cannot pass silently;
- each value is validated against the option's type, elements, choices and suboptions with
  ``ansible.module_utils.common.arg_spec.ArgumentSpecValidator``; nested dicts are checked
  against what the role hands them to: connection dicts against the shared connection options
  (plugins/module_utils/_engines/connection.py), database items also against db_backup's
  ``format``, db_optimize's ``operations`` and ``tables`` and data_retention's rule options
  (imported from plugins/modules/data_retention.py, then parsed by its rule parser), HTTP and
  certificate endpoints, log_cleanup and log_scan entries, cache instances (redis_cleanup) and
  recovered services (db_restore for their restores) against those modules' argument specs, and
  thresholds dicts against the signals of the module they go to;
- keys of the dicts a role picks apart (database items, connection defaults, log entries, services)
  must be keys the role's tasks actually read;
- what the modules check before connecting is checked here with their own code: data_retention's
  rule parser, db_optimize's and redis_cleanup's option checks, db_backup's formats per engine,
  service_recovery's "a service needs a health check";
- options naming a host (backup_copy_to_host, health_alert_delegate_to) name a host of the
  inventory, and hosts with Docker settings or container checks are in the docker group that
  weekly.yml's Docker play runs on.

Values holding Jinja (``{{`` or ``{%``) are only known at run time: they are checked for type where
the option takes a string (a template renders to one), and skipped otherwise (an int, bool, list
or dict option given as a template gets a stand-in of the right type, so the rest of its dict
is still checked).

Secrets: no file of an inventory gives a literal ``password:`` value, every password, passphrase,
secret or token variable and every webhook URL is a template or a lookup, and in each example
stack the ``vault_*`` names the stack uses are exactly those its vault.example.yml lists (with
empty values), which is not itself loaded as variables.
"""

import copy
import difflib
import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.caretaker.maintenance.plugins.module_utils import _status
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_postgresql import (
    FORMATS as POSTGRESQL_FORMATS)
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.options import (
    QUEUE_THRESHOLDS, CleanupOptionError, Options as CleanupOptions)
from ansible_collections.caretaker.maintenance.plugins.module_utils._cert_check import DEFAULT_THRESHOLDS as CERT_THRESHOLDS
from ansible_collections.caretaker.maintenance.plugins.module_utils._container_check import (
    DEFAULT_THRESHOLDS as CONTAINER_THRESHOLDS)
from ansible_collections.caretaker.maintenance.plugins.module_utils._db_check import DEFAULT_THRESHOLDS as DB_THRESHOLDS
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import connection_argument_spec
from ansible_collections.caretaker.maintenance.plugins.module_utils._http_check import (
    DEFAULT_THRESHOLDS as HTTP_THRESHOLDS, http_check_argument_spec)
from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import OptimizeError, check_options
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_options import (
    THRESHOLDS as SCAN_THRESHOLDS, log_scan_argument_spec)
from ansible_collections.caretaker.maintenance.plugins.module_utils._resource_check import (
    DEFAULT_THRESHOLDS as RESOURCE_THRESHOLDS)
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError, parse_rules
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import (
    THRESHOLDS as SECURITY_THRESHOLDS)
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import (
    DEFAULT_THRESHOLDS as STATS_THRESHOLDS)
from ansible_collections.caretaker.maintenance.plugins.modules import (
    cert_check, data_retention, db_backup, db_check, db_optimize, db_restore, log_cleanup, redis_cleanup)

REPO = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(path.parent for path in (REPO / 'inventories').glob('**/hosts.yml'))
EXAMPLES = [path for path in INVENTORIES if path.parent.name == 'examples']
ROLES = sorted(path.parents[1] for path in (REPO / 'roles').glob('*/meta/argument_specs.yml'))
MAGIC = frozenset(('group_names', 'groups', 'inventory_dir', 'inventory_file', 'inventory_hostname',
                   'inventory_hostname_short', 'playbook_dir', 'omit'))
TEMPLATE = re.compile(r'{{|{%')
STAND_IN = {'int': 0, 'float': 0.0, 'bool': False, 'list': [], 'dict': {}}


def _spec_of_yaml(options):
    """An argument spec from argument_specs.yml options: only what the validator takes."""
    spec = {}
    for name, option in options.items():
        entry = {key: option[key] for key in ('type', 'elements', 'choices', 'required') if key in option}
        if 'options' in option:
            entry['options'] = _spec_of_yaml(option['options'])
        spec[name] = entry
    return spec


def _with_name(spec):
    spec = dict(spec)
    spec['name'] = dict(type='str')
    return spec


def _connection():
    return connection_argument_spec()


def _database_item(extra):
    spec = _with_name(_connection())
    spec.update(extra)
    return dict(type='list', elements='dict', options=spec)


RETENTION_RULES = dict(data_retention.argument_spec()['rules'], required=False)
OPTIMIZE_SPEC = db_optimize.argument_spec()
HTTP_SPEC = http_check_argument_spec()
LOG_SCAN_ITEM = _with_name({key: value for key, value in log_scan_argument_spec().items() if key != 'fail_on'})
LOG_CLEANUP_ITEM = _with_name(log_cleanup.argument_spec())
REDIS_CLEANUP_SPEC = redis_cleanup.argument_spec()
CACHE_RULES = ('delete_without_ttl', 'expire_without_ttl', 'idle_sessions', 'queues', 'queue_thresholds',
               'memory_thresholds', 'allow_all_keys')
RESTORE_SPEC = db_restore.argument_spec()
RECOVERY_TEXT = '\n'.join(path.read_text() for path in sorted((REPO / 'roles' / 'service_recovery').glob('tasks/*.yml')))


def _recovery_item():
    """A service of service_recovery: the keys its argument_specs.yml names, restore items as db_restore
    options the role's restore task passes on."""
    http = dict(HTTP_SPEC['endpoints'], required=False)
    restore = {key: value for key, value in RESTORE_SPEC.items()
               if re.search(r'service_recovery_restore\[item\]\.%s\b' % key, RECOVERY_TEXT)}
    return dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True),
        kind=dict(type='str', required=True, choices=['systemd', 'compose', 'pm2', 'container']),
        unit=dict(type='str'), project_src=dict(type='path'), project=dict(type='str'),
        compose_service=dict(type='str'), app=dict(type='str'), pm2_action=dict(type='str', choices=['reload', 'restart']),
        container=dict(type='str'), url=dict(type='str'), http=http, containers=dict(type='list', elements='str'),
        stop_timeout=dict(type='int'), wait_timeout=dict(type='int'),
        restore=dict(type='list', elements='dict', options=restore)))


# What the roles hand each dict option to; these replace the role specs' bare `type: dict`.
NESTED = {
    'backup_connection_defaults': dict(type='dict', options=_connection()),
    'backup_databases': _database_item(dict(format=db_backup.argument_spec()['format'])),
    'db_maintenance_connection_defaults': dict(type='dict', options=_connection()),
    'db_maintenance_databases': _database_item(dict(
        operations=OPTIMIZE_SPEC['operations'], tables=OPTIMIZE_SPEC['tables'],
        only_if_needed=dict(type='bool'), stats_thresholds=dict(type='dict'),
        maxmemory_policy=OPTIMIZE_SPEC['maxmemory_policy'], config_rewrite=OPTIMIZE_SPEC['config_rewrite'],
        retention_rules=RETENTION_RULES)),
    'health_datastores': dict(type='list', elements='dict', options=db_check.argument_spec()['targets']['options']),
    'health_datastore_defaults': dict(type='dict', options=_connection()),
    'health_http_endpoints': HTTP_SPEC['endpoints'],
    'health_certificate_endpoints': cert_check.argument_spec()['endpoints'],
    'log_maintenance_cleanup': dict(type='list', elements='dict', options=LOG_CLEANUP_ITEM),
    'log_maintenance_scan': dict(type='list', elements='dict', options=LOG_SCAN_ITEM),
    'cache_maintenance_connection_defaults': dict(type='dict', options=_connection()),
    'cache_maintenance_instances': _database_item({key: REDIS_CLEANUP_SPEC[key] for key in CACHE_RULES}),
    'service_recovery_services': _recovery_item(),
    # What the health role's webhook task reads of each item.
    'health_alert_webhooks': dict(type='list', elements='dict', options=dict(
        name=dict(type='str'), url=dict(type='str', required=True), format=dict(type='str', choices=['slack', 'generic']),
        headers=dict(type='dict'), validate_certs=dict(type='bool'))),
}
# Dicts the role picks apart key by key: every key set must be one its tasks read.
PICKED = ('backup_connection_defaults', 'backup_databases', 'db_maintenance_connection_defaults',
          'db_maintenance_databases', 'health_datastore_defaults', 'log_maintenance_cleanup', 'log_maintenance_scan',
          'cache_maintenance_connection_defaults', 'cache_maintenance_instances', 'service_recovery_services')
# Thresholds dicts and the signals of the module they go to.
THRESHOLDS = {
    'health_datastore_thresholds': DB_THRESHOLDS,
    'health_resource_thresholds': RESOURCE_THRESHOLDS,
    'health_certificate_thresholds': CERT_THRESHOLDS,
    'health_container_thresholds': CONTAINER_THRESHOLDS,
    'db_maintenance_stats_thresholds': STATS_THRESHOLDS,
    'security_audit_thresholds': SECURITY_THRESHOLDS,
    'cache_maintenance_queue_thresholds': QUEUE_THRESHOLDS,
}


def _role_specs():
    specs = {}
    for role in ROLES:
        options = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']['main']['options']
        spec = _spec_of_yaml(options)
        for name in spec:
            if name in NESTED:
                spec[name] = NESTED[name]
        text = '\n'.join(path.read_text() for path in sorted(role.glob('tasks/*.yml')) + sorted(role.glob('templates/*')))
        defaults = yaml.safe_load((role / 'defaults' / 'main.yml').read_text()) or {}
        specs[role.name] = dict(spec=spec, text=text, defaults=defaults)
    return specs


SPECS = _role_specs()


def _role_of(variable):
    """The role whose prefix the variable carries (the longest prefix wins), or None."""
    matches = [role for role in SPECS if variable.startswith(role + '_')]
    return max(matches, key=len) if matches else None


def _plain(value):
    """Untagged builtin values, as a module receives them."""
    return json.loads(json.dumps(value))


def _load(inventory):
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory / 'hosts.yml')])
    variables = VariableManager(loader=loader, inventory=manager)
    hosts = {}
    for host in manager.get_hosts():
        found = variables.get_vars(host=host, include_hostvars=False)
        hosts[host.name] = {key: _plain(value) for key, value in found.items() if key not in MAGIC}
    return manager, hosts


LOADED = {inventory: _load(inventory) for inventory in INVENTORIES}


def _cases():
    for inventory in INVENTORIES:
        for host, found in sorted(LOADED[inventory][1].items()):
            yield pytest.param(inventory, host, found, id='%s:%s' % (inventory.relative_to(REPO / 'inventories'), host))


CASES = list(_cases())


def _templated(value):
    return isinstance(value, str) and bool(TEMPLATE.search(value))


def _untemplate(value, option):
    """The value with templated leaves replaced by stand-ins the option's type accepts."""
    kind = option.get('type', 'str')
    if _templated(value):
        if option.get('choices'):
            return option['choices'][0]
        return value if kind in ('str', 'path', 'raw') else copy.deepcopy(STAND_IN.get(kind, value))
    if kind == 'dict' and isinstance(value, dict) and 'options' in option:
        return {key: _untemplate(item, option['options'].get(key, {'type': 'raw'})) for key, item in value.items()}
    if kind == 'list' and isinstance(value, list):
        element = dict(option, type=option.get('elements', 'raw'))
        element.pop('elements', None)
        element.pop('required', None)
        return [_untemplate(item, element) for item in value]
    return value


def _validate(name, value, option, where):
    validator = ArgumentSpecValidator({name: option})
    result = validator.validate({name: _untemplate(value, option)})
    assert not result.error_messages, '%s: %s does not validate: %s' % (where, name, '; '.join(result.error_messages))


def _items(value):
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _thresholds(defaults, value, where):
    if _templated(value) or value is None:
        return
    try:
        _status.parse_thresholds(defaults, value, where)
    except ValueError as exc:
        pytest.fail('%s' % exc)


def test_templates_get_stand_ins_and_the_rest_is_still_checked():
    option = SPECS['backup']['spec']['backup_databases']
    good = [{'engine': 'mysql', 'login_port': '{{ port }}', 'login_password': '{{ vault_x }}'}]
    _validate('backup_databases', good, option, 'here')
    bad = [{'engine': 'mysql', 'login_port': '{{ port }}', 'login_pasword': 'x'}]
    with pytest.raises(AssertionError, match='login_pasword') as failed:
        _validate('backup_databases', bad, option, 'here')
    assert 'login_port' not in '%s' % failed.value.args[0].split('Supported')[0]
    with pytest.raises(AssertionError, match='login_port'):
        _validate('backup_databases', [{'engine': 'mysql', 'login_port': 'five'}], option, 'here')


def test_there_are_inventories_and_examples():
    assert (REPO / 'inventories' / 'demo') in INVENTORIES
    assert len(EXAMPLES) == 5, 'one example stack per runbook: %s' % EXAMPLES
    for inventory in EXAMPLES:
        assert (inventory / 'vault.example.yml').is_file(), inventory


@pytest.mark.parametrize('inventory', INVENTORIES, ids=lambda path: '%s' % path.relative_to(REPO / 'inventories'))
def test_every_group_vars_directory_names_a_group(inventory):
    """A group_vars/<name> whose group hosts.yml lacks is never loaded: its variables would be lost."""
    manager = LOADED[inventory][0]
    for kind, names in (('group_vars', set(manager.groups)), ('host_vars', set(manager.hosts))):
        for path in sorted((inventory / kind).glob('*')):
            assert path.stem in names, '%s names no %s of %s' % (path, kind.split('_', maxsplit=1)[0], inventory / 'hosts.yml')
    assert LOADED[inventory][1], 'no hosts in %s' % inventory


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_variables_are_role_options_with_valid_values(inventory, host, found):
    everything = json.dumps(found)
    for name, value in sorted(found.items()):
        where = '%s, host %s' % (inventory.relative_to(REPO), host)
        role = _role_of(name)
        if role is None:
            if name.startswith(('ansible_', 'vault_')):
                continue
            assert re.search(r'\b%s\b' % re.escape(name), everything.replace('"%s":' % name, '')), (
                '%s: variable %s is no role option (roles: %s) and nothing in the inventory uses it: a typo?'
                % (where, name, ', '.join(sorted(SPECS))))
            continue
        spec = SPECS[role]['spec']
        assert name in spec, '%s: variable %s is not an option of role %s (closest: %s)' % (
            where, name, role, ', '.join(difflib.get_close_matches(name, spec, 3, 0.6)) or 'none')
        _validate(name, value, spec[name], where)


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_picked_dicts_hold_only_keys_the_role_reads(inventory, host, found):
    for name in PICKED:
        role = _role_of(name)
        for item in _items(found.get(name)):
            for key in item:
                assert re.search(r"\.%s\b|\['%s'\]" % (key, key), SPECS[role]['text']), (
                    '%s, host %s: %s sets %s, which role %s never reads' % (inventory.relative_to(REPO), host, name, key, role))


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_thresholds_name_signals_of_their_module(inventory, host, found):
    where = '%s, host %s' % (inventory.relative_to(REPO), host)
    for name, defaults in THRESHOLDS.items():
        _thresholds(defaults, found.get(name), '%s: %s' % (where, name))
    for index, item in enumerate(_items(found.get('health_datastores'))):
        _thresholds(DB_THRESHOLDS, item.get('thresholds'), '%s: health_datastores[%d].thresholds' % (where, index))
    for index, item in enumerate(_items(found.get('health_http_endpoints'))):
        _thresholds(HTTP_THRESHOLDS, item.get('thresholds'), '%s: health_http_endpoints[%d].thresholds' % (where, index))
    for index, item in enumerate(_items(found.get('health_certificate_endpoints'))):
        _thresholds(CERT_THRESHOLDS, item.get('thresholds'), '%s: health_certificate_endpoints[%d].thresholds' % (where, index))
    for index, item in enumerate(_items(found.get('db_maintenance_databases'))):
        _thresholds(STATS_THRESHOLDS, item.get('stats_thresholds'),
                    '%s: db_maintenance_databases[%d].stats_thresholds' % (where, index))
    for index, item in enumerate(_items(found.get('log_maintenance_scan'))):
        defaults = SCAN_THRESHOLDS[item.get('format', 'combined')]
        _thresholds(defaults, item.get('thresholds'), '%s: log_maintenance_scan[%d].thresholds' % (where, index))


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_retention_rules_parse(inventory, host, found):
    """data_retention's own rule parser: durations, actions, filters, names, per engine."""
    defaults = found.get('db_maintenance_connection_defaults') or {}
    for index, item in enumerate(_items(found.get('db_maintenance_databases'))):
        rules = item.get('retention_rules')
        if not rules or _templated(rules) or TEMPLATE.search(json.dumps(rules)):
            continue
        engine = item.get('engine', defaults.get('engine'))
        # The validator resolves the aliases (collection, timestamp_field, ...) as the module does.
        validated = ArgumentSpecValidator(dict(rules=RETENTION_RULES)).validate(dict(rules=rules))
        assert not validated.error_messages, validated.error_messages
        try:
            parse_rules(validated.validated_parameters['rules'], engine, found.get('db_maintenance_retention_batch_size', 1000),
                        found.get('db_maintenance_retention_pause', 0))
        except (RuleError, ValueError) as exc:
            pytest.fail('%s, host %s: db_maintenance_databases[%d]: %s' % (inventory.relative_to(REPO), host, index, exc))


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_optimize_options_are_accepted(inventory, host, found):
    """db_optimize's own option check, fed what the role passes for each database."""
    if not found.get('db_maintenance_optimize', True):
        return
    defaults = found.get('db_maintenance_connection_defaults') or {}
    per_engine = found.get('db_maintenance_operations', SPECS['db_maintenance']['defaults']['db_maintenance_operations'])
    for index, item in enumerate(_items(found.get('db_maintenance_databases'))):
        engine = item.get('engine', defaults.get('engine'))
        params = dict(engine=engine, operations=item['operations'] if 'operations' in item else per_engine.get(engine),
                      tables=item.get('tables'), lock_timeout=5,
                      max_duration=found.get('db_maintenance_max_duration', '1h'))
        if _templated(params['max_duration']):
            params['max_duration'] = None
        try:
            check_options(params)
        except OptimizeError as exc:
            pytest.fail('%s, host %s: db_maintenance_databases[%d] (%s): %s'
                        % (inventory.relative_to(REPO), host, index, item.get('name', engine), exc))


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_cache_rules_are_accepted(inventory, host, found):
    """redis_cleanup's own option check (patterns, durations, queues), fed what the role passes."""
    validator = ArgumentSpecValidator(REDIS_CLEANUP_SPEC)
    for index, item in enumerate(_items(found.get('cache_maintenance_instances'))):
        where = '%s, host %s: cache_maintenance_instances[%d]' % (inventory.relative_to(REPO), host, index)
        rules = {key: item[key] for key in CACHE_RULES if key in item}
        rules.setdefault('memory_thresholds', found.get('cache_maintenance_memory_thresholds'))
        rules.setdefault('queue_thresholds', found.get('cache_maintenance_queue_thresholds'))
        if TEMPLATE.search(json.dumps(rules)):
            continue
        validated = validator.validate(rules)
        assert not validated.error_messages, '%s: %s' % (where, validated.error_messages)
        try:
            CleanupOptions(validated.validated_parameters)
        except (CleanupOptionError, ValueError) as exc:
            pytest.fail('%s: %s' % (where, exc))


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_recovered_services_have_a_health_check(inventory, host, found):
    """service_recovery refuses a service it cannot check: no url or http endpoints, no containers, and
    neither a container nor a compose service (whose project's containers it checks)."""
    for index, item in enumerate(_items(found.get('service_recovery_services'))):
        checked = (item.get('http') or item.get('url') or item.get('containers') or item.get('kind') == 'container'
                   or (item.get('kind') == 'compose' and (item.get('project') or item.get('project_src'))))
        assert checked, '%s, host %s: service_recovery_services[%d] (%s) has no health check (url, http or containers)' % (
            inventory.relative_to(REPO), host, index, item.get('name'))
        assert item.get('kind') != 'compose' or item.get('project_src'), 'a compose service needs project_src'


# db_backup's formats per engine (the dump sources' own lists; unset is each engine's default).
BACKUP_FORMATS = {'postgresql': set(POSTGRESQL_FORMATS), 'mysql': {'sql'}, 'mongodb': {'mongo.tar', 'mongodump'},
                  'redis': {'rdb'}}


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_backup_formats_suit_their_engine(inventory, host, found):
    defaults = found.get('backup_connection_defaults') or {}
    for index, item in enumerate(_items(found.get('backup_databases'))):
        engine = item.get('engine', defaults.get('engine'))
        assert engine in BACKUP_FORMATS, '%s, host %s: backup_databases[%d] has no engine' % (inventory, host, index)
        if item.get('format') not in (None, '') and not _templated(item['format']):
            assert item['format'] in BACKUP_FORMATS[engine], '%s, host %s: backup_databases[%d]: format %s is not one of %s' % (
                inventory.relative_to(REPO), host, index, item['format'], ', '.join(sorted(BACKUP_FORMATS[engine])))


# Options that name another inventory host.
HOST_OPTIONS = ('backup_copy_to_host', 'health_alert_delegate_to')


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_host_options_name_inventory_hosts(inventory, host, found):
    hosts = set(LOADED[inventory][1]) | {'localhost'}
    for name in HOST_OPTIONS:
        value = found.get(name)
        if value and not _templated(value):
            assert value in hosts, '%s, host %s: %s is %r, which is no host of %s' % (
                inventory.relative_to(REPO), host, name, value, inventory / 'hosts.yml')
            assert value != host, '%s, host %s: %s names the host itself' % (inventory.relative_to(REPO), host, name)


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_docker_settings_are_on_hosts_the_docker_play_reaches(inventory, host, found):
    """weekly.yml prunes the hosts of the docker group (or caretaker_docker_hosts); Docker settings of
    a host outside it would never be used."""
    manager = LOADED[inventory][0]
    docker = [name for name in found if name.startswith('docker_maintenance_')]
    # A host whose health checks containers runs Docker: its engine wants the cleanup too.
    docker += [name for name in ('health_containers', 'health_container_compose_project', 'health_container_labels')
               if found.get(name)]
    if docker and 'caretaker_docker_hosts' not in found:
        groups = {group.name for group in manager.get_host(host).get_groups()}
        assert 'docker' in groups, '%s, host %s: sets %s but is not in the docker group' % (
            inventory.relative_to(REPO), host, ', '.join(docker))


SECRET_KEY = re.compile(r'(password|passphrase|secret|token)$', re.IGNORECASE)
# A channel on the host itself (the demo's) carries no token worth hiding.
LOOPBACK = re.compile(r'^https?://(127\.0\.0\.1|localhost)[:/]')


def _secrets(value, path):
    """(path, value) of every leaf under a key that names a secret, and of every webhook URL."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = '%s.%s' % (path, key)
            if SECRET_KEY.search('%s' % key) and not isinstance(item, (dict, list)):
                yield here, item
            elif key == 'secret_headers' and isinstance(item, dict):
                for header, header_value in item.items():
                    yield '%s.%s' % (here, header), header_value
            elif key == 'url' and 'webhook' in path and not LOOPBACK.match('%s' % item):
                yield here, item
            else:
                yield from _secrets(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets(item, '%s[%d]' % (path, index))


@pytest.mark.parametrize('inventory, host, found', CASES)
def test_secrets_are_templates_or_lookups(inventory, host, found):
    for name, value in found.items():
        if (SECRET_KEY.search(name) and not name.startswith('vault_') and not name.endswith('_file')
                and not isinstance(value, (dict, list))):
            assert _templated(value) or value in ('', None), '%s, host %s: %s is a literal secret' % (inventory, host, name)
        for path, leaf in _secrets(value, name):
            if 'file' in path.rsplit('.', 1)[-1]:
                continue  # a path to a secret file, such as backup_encryption_passphrase_file
            assert _templated(leaf), '%s, host %s: %s is a literal secret, not a vault reference or lookup' % (
                inventory.relative_to(REPO), host, path)


PASSWORD_LINE = re.compile(r'^[^#]*?([\w-]*password[\w-]*)\s*:\s*(.*?)\s*$', re.IGNORECASE)


@pytest.mark.parametrize('inventory', INVENTORIES, ids=lambda path: '%s' % path.relative_to(REPO / 'inventories'))
def test_no_literal_password_in_any_file(inventory):
    for path in sorted(inventory.glob('**/*')):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = PASSWORD_LINE.match(line)
            if not match or match.group(1).endswith('_file'):
                continue  # no password, or the path of a password file
            value = match.group(2)
            if path.name == 'vault.example.yml':
                assert value in ('""', "''"), '%s:%d: vault.example.yml shows names only, with empty values' % (path, number)
            else:
                assert TEMPLATE.search(value) or value in ('', '|', '>'), '%s:%d: literal password %r' % (path, number, value)


@pytest.mark.parametrize('inventory', EXAMPLES, ids=lambda path: path.name)
def test_vault_example_lists_exactly_the_vault_names_used(inventory):
    example = inventory / 'vault.example.yml'
    listed = yaml.safe_load(example.read_text()) or {}
    assert all(name.startswith('vault_') for name in listed), 'vault.example.yml holds vault_* names only'
    assert all(value in ('', None) for value in listed.values()), 'vault.example.yml values stay empty'
    used = set()
    for path in inventory.glob('**/*.yml'):
        if path != example:
            used.update(re.findall(r'\bvault_\w+', path.read_text()))
    assert used, '%s uses no vault_* variable' % inventory
    assert sorted(used) == sorted(listed), 'vault names used but not listed: %s; listed but unused: %s' % (
        sorted(used - set(listed)), sorted(set(listed) - used))
    for found in LOADED[inventory][1].values():
        assert not set(listed) & set(found), 'vault.example.yml must not be loaded as variables'
