"""Every role's meta/argument_specs.yml documents exactly its defaults, with the same values."""

from pathlib import Path

import pytest
import yaml

ROLES = sorted(path.parent.parent for path in (Path(__file__).resolve().parents[3] / 'roles').glob('*/meta/argument_specs.yml'))


@pytest.mark.parametrize('role', ROLES, ids=[role.name for role in ROLES])
def test_argument_specs_match_defaults(role):
    options = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']['main']['options']
    defaults = yaml.safe_load((role / 'defaults' / 'main.yml').read_text()) or {}
    assert sorted(options) == sorted(defaults)
    for name, value in defaults.items():
        assert options[name].get('default') == value, name
        assert name.startswith(role.name + '_'), 'role variables are prefixed with the role name'


def test_there_are_roles_to_check():
    assert ROLES, 'no roles with meta/argument_specs.yml found'
