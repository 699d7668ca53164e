# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Duplicate and covered indexes, the same rule for every engine.

Each backend describes its indexes as dicts:

- ``table``, ``name``, ``columns`` (for people), ``size_bytes``, ``definition``;
- ``keys``: the key columns in order, each a hashable (column plus whatever makes two keys
  differ: operator class, collation, prefix length, direction);
- ``includes``: non-key columns carried in the index (PostgreSQL INCLUDE);
- ``unique``, ``primary``;
- ``method``: the access method; only ordered (b-tree) indexes serve their key prefixes;
- ``match``: anything else two indexes must share to be compared (expressions, predicate,
  sparse or collation options).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ORDERED_METHODS = ('btree',)


def _covers(big, small):
    """True when ``big`` serves every lookup ``small`` serves."""
    keys = small['keys']
    if big['keys'][:len(keys)] != keys:
        return False
    if keys != big['keys'] and big['method'] not in ORDERED_METHODS:
        return False
    return set(small['includes']) <= set(big['keys']) | set(big['includes'])


def _same(first, second):
    return (first['keys'] == second['keys'] and set(first['includes']) == set(second['includes'])
            and first['unique'] == second['unique'])


def _keeper(first, second):
    """Of two identical indexes, the one to keep: the primary key, else the first name."""
    if first['primary'] != second['primary']:
        return first if first['primary'] else second
    return first if first['name'] <= second['name'] else second


def find_duplicates(indexes):
    """Indexes that another index on the same table makes redundant.

    ``duplicate``: the same keys, included columns and uniqueness as another index (one of
    the pair is reported, never the primary key). ``covered``: a non-unique index whose keys
    are a leading part of another ordered index's keys (so that one serves its lookups).
    A unique index is never reported as covered: it enforces a constraint.
    """
    by_table = {}
    for index in indexes:
        by_table.setdefault(index['table'], []).append(index)
    found = []
    for table in sorted(by_table):
        group = by_table[table]
        for index in group:
            match = None
            for other in group:
                if other is index or other['method'] != index['method'] or other['match'] != index['match']:
                    continue
                if _same(index, other):
                    if _keeper(index, other) is other:
                        match = ('duplicate', other)
                        break
                elif not index['unique'] and not index['primary'] and _covers(other, index) and match is None:
                    match = ('covered', other)
            if match:
                found.append({
                    'table': table, 'name': index['name'], 'kind': match[0], 'covered_by': match[1]['name'],
                    'columns': index['columns'], 'size_bytes': index.get('size_bytes'),
                    'definition': index.get('definition'),
                })
    found.sort(key=lambda row: (-(row['size_bytes'] or 0), row['table'], row['name']))
    return found
