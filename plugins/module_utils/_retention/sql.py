# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What PostgreSQL and MySQL share: the resolved table of a rule and its WHERE clause.

Identifiers come from the catalog and are quoted by the engine's ``quote``; every value is a
``%s`` parameter (both drivers use the same paramstyle).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError

_SQL_OPERATORS = {
    '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=', 'like': 'LIKE', 'not like': 'NOT LIKE',
}

ORDER_TIMESTAMP = 'timestamp'
ORDER_KEY = 'primary key'


class Target(object):
    """A rule resolved against the catalog: quoted names, key columns and how batches are ordered."""

    def __init__(self, rule, table, columns, key, order, quote):
        self.rule = rule
        self.table = table              # quoted, schema-qualified where the engine has schemas
        self.columns = columns          # catalog spelling of every column, in table order
        self.key = key                  # catalog spelling of the primary key columns
        self.order = order              # ORDER_TIMESTAMP when an index leads with the timestamp
        self.quote = quote
        self.label = None               # the table as the result names it
        self.archive = None             # quoted archive table, or None
        self.archive_label = None
        self.archive_exists = False
        self.insert_columns = None      # columns copied into the archive
        self.insert_prefix = ''         # e.g. OVERRIDING SYSTEM VALUE
        self.spelling = {}              # lower-case name -> catalog spelling (MySQL columns ignore case)

    def q(self, name):
        return self.quote(self.spelling.get(name.lower(), name) if self.spelling else name)

    @property
    def ts(self):
        return self.q(self.rule.timestamp_column)


def check_columns(rule, target, columns, label):
    """Every column the rule names must exist; RuleError lists the missing ones and the real ones."""
    known = set(columns)
    missing = [name for name in rule.names() if target.spelling.get(name.lower(), name) not in known]
    if missing:
        raise RuleError('%s: %s has no column %s (its columns: %s); nothing was changed'
                        % (rule.where, label, ', '.join(sorted(set(missing))), ', '.join(columns)))


def where_clause(target, cutoff, null_safe_equal, lower=None, also=None):
    """(SQL, params) selecting the rows a rule acts on. ``lower`` is the keyset bound of the next
    batch: (timestamp,) or the last primary key, so a batch never re-reads what earlier ones passed.
    ``also`` (target, cutoff) of another rule on the same table: only the rows both select."""
    if also:
        first, params = where_clause(target, cutoff, null_safe_equal, lower)
        second, more = where_clause(also[0], also[1], null_safe_equal)
        return '%s AND %s' % (first, second), params + more
    rule = target.rule
    parts = ['%s < %%s' % target.ts]
    params = [cutoff]
    for condition in rule.conditions:
        column = target.q(condition.column)
        if condition.operator in ('is null', 'is not null'):
            parts.append('%s %s' % (column, condition.operator.upper()))
        elif condition.operator in ('in', 'not in'):
            parts.append('%s %s (%s)' % (column, condition.operator.upper(), ', '.join(['%s'] * len(condition.value))))
        else:
            parts.append('%s %s %%s' % (column, _SQL_OPERATORS[condition.operator]))
        params.extend(condition.values)
    if rule.action == 'anonymize':
        if rule.mark_column:
            parts.append('%s IS NULL' % target.q(rule.mark_column))
        else:
            # Rows already holding every new value are done: a rerun must not match them again.
            same = [null_safe_equal % target.q(column) for column in rule.columns]
            parts.append('NOT (%s)' % ' AND '.join(same))
            params.extend(rule.columns.values())
    if lower is not None:
        if target.order == ORDER_TIMESTAMP:
            parts.append('%s >= %%s' % target.ts)
            params.append(lower[0])
        else:
            parts.append('(%s) > (%s)' % (', '.join(target.q(name) for name in target.key), ', '.join(['%s'] * len(lower))))
            params.extend(lower)
    return ' AND '.join('(%s)' % part for part in parts), params


def order_by(target):
    # The timestamp alone: ties may come in any order, the next batch's bound is >= anyway.
    if target.order == ORDER_TIMESTAMP:
        return target.ts
    return ', '.join(target.q(name) for name in target.key)


def set_clause(target, now):
    """(SQL, params) of an anonymize UPDATE's SET list."""
    rule = target.rule
    parts = ['%s = %%s' % target.q(column) for column in rule.columns]
    params = list(rule.columns.values())
    if rule.mark_column:
        parts.append('%s = %%s' % target.q(rule.mark_column))
        params.append(now)
    return ', '.join(parts), params


def rollback(cur):
    """Roll back, keeping the error that got us here if the connection is gone too."""
    try:
        cur.execute('ROLLBACK')
    except Exception:  # the server rolls back by itself when the session ends
        pass
