# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of data_retention, checked before any connection is made (pure, no I/O).

Names are only checked for shape here (no quote, semicolon, backslash or control character);
each engine then resolves them against its catalog and quotes them with its driver.
Values never become SQL text: they travel as query parameters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import Duration, DurationError

ACTIONS = ('delete', 'archive', 'anonymize')
SQL_ENGINES = ('postgresql', 'mysql')
ENGINES = SQL_ENGINES + ('mongodb',)

# Filter operators and how many values each takes: one, a non-empty list, or none.
OPERATORS = {
    '=': 'one', '!=': 'one', '<': 'one', '<=': 'one', '>': 'one', '>=': 'one',
    'in': 'list', 'not in': 'list', 'like': 'one', 'not like': 'one',
    'is null': 'none', 'is not null': 'none',
}
# Query operators a MongoDB filter document may use; nothing that runs code ($where, $function, $expr).
MONGO_OPERATORS = frozenset((
    '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$type', '$and', '$or', '$nor',
    '$not', '$regex', '$options', '$all', '$elemMatch', '$size', '$mod',
))
_FORBIDDEN = ('"', "'", '`', ';', '\\')
_SCALARS = (str, int, float, bool, type(None))
MAX_BATCH_SIZE = 100000


class RuleError(ValueError):
    """A rule that cannot run; the text names the rule, the option and the fix."""


class Condition(object):
    """One ``{column, operator, value}`` of a structured filter."""

    def __init__(self, column, operator, value=None):
        self.column, self.operator, self.value = column, operator, value

    @property
    def values(self):
        """The query parameters of this condition, in order."""
        arity = OPERATORS[self.operator]
        if arity == 'none':
            return []
        return list(self.value) if arity == 'list' else [self.value]

    def __repr__(self):
        return 'Condition(%r, %r, %r)' % (self.column, self.operator, self.value)


class Rule(object):
    """One parsed rule. ``where`` names it in messages: ``rules[0] (old events)``."""

    def __init__(self, **fields):
        self.index = fields['index']
        self.name = fields.get('name')
        self.table = fields['table']
        self.schema = fields.get('schema')
        self.timestamp_column = fields['timestamp_column']
        self.older_than = fields['older_than']
        self.conditions = fields.get('conditions') or []
        self.filter_document = fields.get('filter_document') or {}
        self.action = fields['action']
        self.archive_table = fields.get('archive_table')
        self.archive_schema = fields.get('archive_schema')
        self.columns = fields.get('columns') or {}
        self.mark_column = fields.get('mark_column')
        self.batch_size = fields['batch_size']
        self.pause = fields['pause']

    @property
    def where(self):
        return 'rules[%d]%s' % (self.index, ' (%s)' % self.name if self.name else '')

    def names(self):
        """Every column a rule refers to, for the catalog check."""
        names = [self.timestamp_column] + [condition.column for condition in self.conditions] + list(self.columns)
        if self.mark_column:
            names.append(self.mark_column)
        return names


def check_name(value, option, where, engine):
    """Refuse a name that is empty, not a string, or holds a character no sane identifier has.

    This runs before any connection, so a hostile name never reaches a server; the catalog
    lookup that follows refuses names that do not exist.
    """
    if not isinstance(value, str) or not value.strip():
        raise RuleError('%s: %s must be a non-empty name, got %r' % (where, option, value))
    bad = [char for char in _FORBIDDEN if char in value] + [char for char in value if ord(char) < 32]
    if engine == 'mongodb' and ('$' in value or '\x00' in value):
        bad.append('$')
    if bad:
        raise RuleError('%s: %s %r holds %s, which no table, collection or column name here may hold: '
                        'give the plain name as the catalog shows it (quoting is done for you)'
                        % (where, option, value, ' '.join(repr(char) for char in sorted(set(bad)))))
    limit = 120 if engine == 'mongodb' else 64
    if len(value) > limit:
        raise RuleError('%s: %s %r is longer than %d characters' % (where, option, value, limit))
    return value


def _positive_int(value, option, where, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (maximum and value > maximum):
        raise RuleError('%s: %s must be a whole number from 1 to %d, got %r' % (where, option, maximum, value))
    return value


def _pause(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RuleError('%s: pause must be 0 or more seconds, got %r' % (where, value))
    return float(value)


def _conditions(items, where, engine):
    if not isinstance(items, list):
        raise RuleError('%s: filter must be a list of {column, operator, value} items%s, got %r'
                        % (where, ' or, for MongoDB, a filter document' if engine == 'mongodb' else '', items))
    conditions = []
    for number, item in enumerate(items):
        here = '%s.filter[%d]' % (where, number)
        if not isinstance(item, dict) or set(item) - set(('column', 'operator', 'value')) or 'column' not in item:
            raise RuleError('%s: each filter item takes column, operator and value (value not for is null and '
                            'is not null), got %r' % (here, item))
        column = check_name(item['column'], 'column', here, engine)
        operator = ('%s' % item.get('operator', '=')).strip().lower()
        operator = ' '.join(operator.split())
        if operator not in OPERATORS:
            raise RuleError('%s: operator %r is not allowed: use one of %s'
                            % (here, item.get('operator'), ', '.join(sorted(OPERATORS))))
        arity = OPERATORS[operator]
        value = item.get('value')
        if arity == 'none' and 'value' in item and value is not None:
            raise RuleError('%s: operator %r takes no value' % (here, operator))
        if arity == 'one' and (not isinstance(value, _SCALARS) or value is None):
            raise RuleError('%s: operator %r needs one value (a string or a number; for null use is null), got %r'
                            % (here, operator, value))
        if arity == 'list' and (not isinstance(value, list) or not value
                                or not all(isinstance(entry, _SCALARS) and entry is not None for entry in value)):
            raise RuleError('%s: operator %r needs a non-empty list of values, got %r' % (here, operator, value))
        if engine == 'mongodb' and operator in ('like', 'not like'):
            raise RuleError('%s: operator %r is SQL only: for MongoDB give a filter document with $regex' % (here, operator))
        conditions.append(Condition(column, operator, value))
    return conditions


def check_mongo_document(document, where, depth=0):
    """Refuse operators outside MONGO_OPERATORS anywhere in a filter document."""
    if depth > 20:
        raise RuleError('%s: the filter document is nested too deep' % where)
    if isinstance(document, dict):
        for key, value in document.items():
            if not isinstance(key, str):
                raise RuleError('%s: filter document keys must be strings, got %r' % (where, key))
            if key.startswith('$') and key not in MONGO_OPERATORS:
                raise RuleError('%s: filter operator %s is not allowed: use %s'
                                % (where, key, ', '.join(sorted(MONGO_OPERATORS))))
            check_mongo_document(value, where, depth + 1)
    elif isinstance(document, list):
        for value in document:
            check_mongo_document(value, where, depth + 1)
    return document


def _filter(value, where, engine):
    if value in (None, [], {}):
        return [], {}
    if isinstance(value, dict):
        if engine != 'mongodb':
            raise RuleError('%s: filter must be a list of {column, operator, value} items for %s (a filter '
                            'document is for MongoDB)' % (where, engine))
        return [], check_mongo_document(value, where + '.filter')
    return _conditions(value, where, engine), {}


def _columns(value, where, engine):
    if not isinstance(value, dict) or not value:
        raise RuleError('%s: action anonymize needs columns, a mapping of column to its new value '
                        '(null for NULL), for example {email: null, name: anonymous}' % where)
    for column, new in value.items():
        check_name(column, 'columns', where, engine)
        if engine != 'mongodb' and not isinstance(new, _SCALARS):
            raise RuleError('%s: columns.%s must be null, a string or a number, got %r' % (where, column, new))
    return dict(value)


def _split_schema(table, schema, option, where, engine):
    """PostgreSQL takes ``schema.table``; MySQL works in the connection's database only."""
    if engine == 'mysql' and '.' in table:
        raise RuleError('%s: %s %r names another database: set database to it and give the plain table name'
                        % (where, option, table))
    if engine == 'postgresql' and '.' in table and not schema:
        schema, table = table.split('.', 1)
        check_name(schema, option + ' (schema part)', where, engine)
    return table, schema


def parse_rule(index, item, engine, defaults):
    """A Rule from one ``rules`` item; ``defaults`` holds the task-level batch_size and pause."""
    where = 'rules[%d]%s' % (index, ' (%s)' % item['name'] if item.get('name') else '')
    action = item.get('action')
    if action not in ACTIONS:
        raise RuleError('%s: action must be one of %s, got %r' % (where, ', '.join(ACTIONS), action))
    table = check_name(item.get('table'), 'table', where, engine)
    schema = item.get('schema')
    if schema is not None:
        if engine != 'postgresql':
            raise RuleError('%s: schema is for PostgreSQL; %s uses the connection\'s database' % (where, engine))
        check_name(schema, 'schema', where, engine)
    table, schema = _split_schema(table, schema, 'table', where, engine)
    try:
        older_than = Duration.parse(item.get('older_than'), '%s: older_than' % where)
    except DurationError as exc:
        raise RuleError('%s' % exc)
    conditions, document = _filter(item.get('filter'), where, engine)
    fields = dict(index=index, name=item.get('name'), table=table, schema=schema, action=action,
                  timestamp_column=check_name(item.get('timestamp_column'), 'timestamp_column', where, engine),
                  older_than=older_than, conditions=conditions, filter_document=document,
                  batch_size=_positive_int(defaults['batch_size'] if item.get('batch_size') is None else item['batch_size'],
                                           'batch_size', where, MAX_BATCH_SIZE),
                  pause=_pause(defaults['pause'] if item.get('pause') is None else item['pause'], where))
    _action_fields(fields, item, where, engine)
    return Rule(**fields)


def _action_fields(fields, item, where, engine):
    action, table = fields['action'], fields['table']
    only = {'archive_table': 'archive', 'columns': 'anonymize', 'mark_column': 'anonymize'}
    for option, needs in only.items():
        if item.get(option) not in (None, {}, '') and action != needs:
            raise RuleError('%s: %s is only for action %s (this rule is %s)' % (where, option, needs, action))
    if action == 'archive':
        archive = check_name(item.get('archive_table') or table + '_archive', 'archive_table', where, engine)
        archive, archive_schema = _split_schema(archive, None, 'archive_table', where, engine)
        if archive == table and (archive_schema or fields['schema']) == fields['schema']:
            raise RuleError('%s: archive_table must differ from table %s' % (where, table))
        fields.update(archive_table=archive, archive_schema=archive_schema)
    if action == 'anonymize':
        fields['columns'] = _columns(item.get('columns'), where, engine)
        mark = item.get('mark_column')
        if mark is not None:
            fields['mark_column'] = check_name(mark, 'mark_column', where, engine)
            if mark in fields['columns']:
                raise RuleError('%s: mark_column %s is set to the time of the run; leave it out of columns' % (where, mark))
        if fields['timestamp_column'] in fields['columns']:
            raise RuleError('%s: columns must not change timestamp_column %s: the rule selects rows by it'
                            % (where, fields['timestamp_column']))


def parse_rules(items, engine, batch_size=1000, pause=0.0):
    """Every rule, or RuleError for the first bad one. Nothing is connected to yet."""
    if engine not in ENGINES:
        raise RuleError('data_retention works on %s, not %s%s' % (
            ', '.join(ENGINES), engine,
            ': Redis keys expire by TTL (EXPIRE), and cleaning Redis up is the job of a separate module'
            if engine == 'redis' else ''))
    if not items:
        raise RuleError('rules is empty: give at least one rule (table, timestamp_column, older_than, action)')
    defaults = dict(batch_size=_positive_int(batch_size, 'batch_size', 'task options', MAX_BATCH_SIZE),
                    pause=_pause(pause, 'task options'))
    return [parse_rule(index, item, engine, defaults) for index, item in enumerate(items)]
