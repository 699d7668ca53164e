# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.caretaker.maintenance.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import connection_argument_spec


def test_fragment_documents_exactly_the_spec_options_with_their_types():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    spec = connection_argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert documented[name]['type'] == option['type'], name
        assert documented[name].get('choices') == option.get('choices'), name
