# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.caretaker.maintenance.plugins.modules import db_check


def test_targets_suboptions_are_documented_like_the_spec():
    spec = db_check.argument_spec()
    doc = yaml.safe_load(db_check.DOCUMENTATION)['options']
    sub_spec = spec['targets']['options']
    sub_doc = doc['targets']['suboptions']
    assert sorted(sub_doc) == sorted(sub_spec)
    for name, option in sub_spec.items():
        assert sub_doc[name]['type'] == option['type'], name
        assert 'default' not in option, 'targets.%s must not default: unset inherits the task option' % name


def test_password_is_no_log_at_both_levels():
    spec = db_check.argument_spec()
    assert spec['login_password']['no_log'] is True
    assert spec['targets']['options']['login_password']['no_log'] is True
