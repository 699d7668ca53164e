# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.stamps import (
    field_value, hash_field_value, parse_iso, to_epoch_seconds)

EPOCH = 1767225600  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize('value, unit, seconds', [
    (EPOCH, 'auto', EPOCH),
    (EPOCH * 1000, 'auto', EPOCH),
    (EPOCH * 1000 + 250, 'auto', EPOCH + 0.25),
    ('%d' % (EPOCH * 1000), 'auto', EPOCH),
    (b'%d' % EPOCH, 'auto', EPOCH),
    (' %d.5 ' % EPOCH, 'auto', EPOCH + 0.5),
    (EPOCH, 'ms', EPOCH / 1000.0),
    (EPOCH * 1000, 's', EPOCH * 1000),
    ('2026-01-01T00:00:00Z', 'auto', EPOCH),
    ('2026-01-01T00:00:00.500Z', 'ms', EPOCH + 0.5),
    ('2026-01-01T02:00:00+02:00', 'auto', EPOCH),
    ('2025-12-31T19:00:00-0500', 'auto', EPOCH),
    ('2026-01-01 00:00', 'auto', EPOCH),
    ('2026-01-01', 'auto', EPOCH),
])
def test_timestamps_in_seconds_milliseconds_and_iso(value, unit, seconds):
    assert to_epoch_seconds(value, unit) == pytest.approx(seconds)


@pytest.mark.parametrize('value', [None, True, 'yesterday', '2026-13-01', '2026-02-30T00:00:00Z', b'\xff\xfe', {},
                                   [1], float('nan'), 'inf'])
def test_what_is_no_timestamp(value):
    assert to_epoch_seconds(value) is None


def test_parse_iso_refuses_trailing_text():
    assert parse_iso('2026-01-01T00:00:00Z and more') is None


def test_field_value_of_json_documents():
    document = json.dumps({'lastActivity': 5, 'session': {'lastActivity': '2026-01-01'}, 'list': [1]})
    assert field_value(document, ['lastActivity']) == 5
    assert field_value(document.encode(), ['session', 'lastActivity']) == '2026-01-01'
    assert field_value(document, ['missing']) is None
    assert field_value(document, ['list', 'x']) is None
    assert field_value('not json', ['lastActivity']) is None
    assert field_value(b'\x80\x81', ['lastActivity']) is None
    assert field_value('[1, 2]', ['lastActivity']) is None


def test_hash_field_value_is_the_field_or_a_path_in_its_json():
    assert hash_field_value(b'1767225600000', []) == b'1767225600000'
    assert hash_field_value(b'{"at": 7}', ['at']) == 7
    assert hash_field_value(None, []) is None
