# -*- coding: utf-8 -*-
"""The duplicate/covered index rule db_stats applies to every engine."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.indexes import find_duplicates


def index(name, keys, table='t', unique=False, primary=False, method='btree', includes=(), match=(), size=0):
    return {'table': table, 'name': name, 'keys': tuple(keys), 'includes': tuple(includes), 'unique': unique,
            'primary': primary, 'method': method, 'match': match, 'columns': list(keys), 'size_bytes': size,
            'definition': name}


def found(indexes):
    return dict((row['name'], (row['kind'], row['covered_by'])) for row in find_duplicates(indexes))


def test_identical_indexes_report_one_of_the_pair():
    assert found([index('b_two', 'a'), index('a_one', 'a')]) == {'b_two': ('duplicate', 'a_one')}


def test_the_primary_key_is_kept_over_an_identical_index():
    assert found([index('a_pk', 'i', unique=True, primary=True), index('z_copy', 'i', unique=True)]) == {
        'z_copy': ('duplicate', 'a_pk')}
    assert found([index('z_pk', 'i', unique=True, primary=True), index('a_copy', 'i', unique=True)]) == {
        'a_copy': ('duplicate', 'z_pk')}


def test_a_leading_part_of_a_bigger_btree_is_covered():
    assert found([index('ab', 'ab'), index('a', 'a'), index('b', 'b')]) == {'a': ('covered', 'ab')}


def test_a_unique_index_is_never_covered():
    assert found([index('a_unique', 'a', unique=True), index('ab', 'ab')]) == {}


def test_a_plain_index_is_covered_by_a_unique_one_on_the_same_keys():
    assert found([index('a_unique', 'a', unique=True), index('a_plain', 'a')]) == {'a_plain': ('covered', 'a_unique')}


def test_only_ordered_indexes_serve_a_prefix():
    assert found([index('a', 'a', method='hash'), index('ab', 'ab', method='hash')]) == {}
    assert found([index('a', 'a', method='hash'), index('ab', 'ab')]) == {}


def test_different_predicates_or_tables_never_match():
    assert found([index('a1', 'a', match=('', 'x > 1')), index('a2', 'a', match=('', ''))]) == {}
    assert found([index('a1', 'a', table='t1'), index('a2', 'a', table='t2')]) == {}


def test_included_columns_must_be_carried_by_the_bigger_index():
    assert found([index('a_inc_c', 'a', includes='c'), index('ab', 'ab')]) == {}
    assert found([index('a_inc_b', 'a', includes='b'), index('ab', 'ab')]) == {'a_inc_b': ('covered', 'ab')}


def test_largest_first():
    rows = find_duplicates([index('small', 'a', size=1), index('small2', 'a', size=1), index('big', 'b', size=9),
                            index('big_wide', 'bc', size=20)])
    assert [row['name'] for row in rows] == ['big', 'small2']
