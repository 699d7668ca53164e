"""The status filters give the same answers as the modules' status model."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.filter.status import FilterModule

FILTERS = FilterModule().filters()


@pytest.mark.parametrize('statuses, expected', [
    ([], 'ok'), (['ok', 'warning'], 'warning'), (['critical', 'unknown', 'ok'], 'unknown'), (['ok', None, 'critical'], 'critical'),
])
def test_worst_status(statuses, expected):
    assert FILTERS['worst_status'](statuses) == expected


@pytest.mark.parametrize('status, fail_on, expected', [
    ('warning', 'critical', False), ('critical', 'critical', True), ('unknown', 'critical', True),
    ('warning', 'warning', True), ('ok', 'warning', False), ('unknown', 'never', False),
])
def test_status_reaches(status, fail_on, expected):
    assert FILTERS['status_reaches'](status, fail_on) is expected


def test_bad_values_name_the_filter():
    with pytest.raises(AnsibleFilterError, match='status_reaches: fail_on must be one of'):
        FILTERS['status_reaches']('ok', 'sometimes')
    with pytest.raises(AnsibleFilterError, match='worst_status: unknown status'):
        FILTERS['worst_status'](['fine'])
