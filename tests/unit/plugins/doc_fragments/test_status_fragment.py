# -*- coding: utf-8 -*-
"""The fail_on documentation lives once, in the status fragment: its fail_on variant matches
status_argument_spec(), the whole fragment includes it, and the modules that change things
take the variant instead of repeating the option."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.doc_fragments.status import ModuleDocFragment
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import status_argument_spec

from tests.support.playbook import assert_ansible_doc_renders


def test_fail_on_variant_documents_exactly_the_spec():
    documented = yaml.safe_load(ModuleDocFragment.FAIL_ON)
    assert list(documented) == ['options']
    spec = status_argument_spec()
    assert sorted(documented['options']) == sorted(spec) == ['fail_on']
    option = documented['options']['fail_on']
    assert (option['type'], option['choices'], option['default']) == (
        spec['fail_on']['type'], spec['fail_on']['choices'], spec['fail_on']['default'])


def test_whole_fragment_holds_the_variant_and_the_check_attributes():
    whole = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    assert whole['options'] == yaml.safe_load(ModuleDocFragment.FAIL_ON)['options']
    assert whole['attributes']['check_mode']['support'] == 'full'


@pytest.mark.parametrize('module', ['security_audit', 'redis_cleanup', 'backup_verify'])
def test_modules_that_change_things_take_the_variant(module):
    doc = yaml.safe_load(importlib.import_module(
        'ansible_collections.caretaker.maintenance.plugins.modules.' + module).DOCUMENTATION)
    assert 'caretaker.maintenance.status.fail_on' in doc['extends_documentation_fragment']
    assert 'fail_on' not in doc['options']
    assert_ansible_doc_renders('caretaker.maintenance.' + module, ['fail_on', 'The task fails after its work'])
