# -*- coding: utf-8 -*-
"""log_scan's options: documented as specified, checked before any file is read."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_options import (
    ScanOptionError, check_options, log_scan_argument_spec)
from ansible_collections.caretaker.maintenance.plugins.modules import log_scan


def params(**options):
    base = dict((name, spec.get('default')) for name, spec in log_scan_argument_spec().items())
    base['paths'] = ['/var/log/nginx/access.log*']
    base.update(options)
    return base


def test_documentation_matches_the_argument_spec():
    spec = log_scan_argument_spec()
    doc = yaml.safe_load(log_scan.DOCUMENTATION)
    options = doc['options']
    options['fail_on'] = {'type': 'str', 'choices': ['critical', 'warning', 'never'], 'default': 'critical'}
    assert sorted(options) == sorted(spec)
    for name, option in spec.items():
        assert options[name]['type'] == option['type'], name
        assert options[name].get('default') == option.get('default'), name
        assert options[name].get('choices') == option.get('choices'), name
        assert options[name].get('elements') == option.get('elements'), name
    yaml.safe_load(log_scan.EXAMPLES)
    yaml.safe_load(log_scan.RETURN)


def test_defaults():
    opts = check_options(params(), now=1000.0)
    assert opts.format == 'combined' and opts.top == 10 and opts.slow_request_seconds == 1.0
    assert opts.since is None and opts.state_file is None and opts.workers >= 1
    assert opts.thresholds['error_rate'].as_dict() == {'warning': 1, 'critical': 5, 'direction': 'above'}
    assert opts.thresholds['request_time_p95'].as_dict() == {'warning': 2, 'critical': 5, 'direction': 'above'}


def test_thresholds_override_one_limit():
    opts = check_options(params(thresholds={'error_rate': {'critical': 2}, 'auth_failures': {'warning': 100}}), 0)
    assert opts.thresholds['error_rate'].as_dict() == {'warning': 1, 'critical': 2.0, 'direction': 'above'}
    assert opts.thresholds['auth_failures'].warning == 100.0


@pytest.mark.parametrize('options,words', [
    ({'paths': []}, ['paths is empty']),
    ({'top': 0}, ['top must be between 1 and 1000']),
    ({'since': 'last tuesday'}, ['since', '24h']),
    ({'slow_request_seconds': 0}, ['slow_request_seconds must be more than 0']),
    ({'format': 'text', 'level_regex': '(unclosed'}, ['level_regex', 'not a valid regular expression']),
    ({'level_regex': 'ERROR'}, ['level_regex applies to format text only', 'format: text']),
    ({'format': 'json', 'slow_request_seconds': 2.0}, ['slow_request_seconds applies to format combined only']),
    ({'format': 'text', 'message_field': ['msg']}, ['message_field applies to format json only']),
    ({'format': 'json', 'level_field': ['']}, ['level_field is empty']),
    ({'thresholds': {'error_lines': {'warning': 1}}}, ['thresholds.error_lines is not a signal', 'error_rate']),
    ({'format': 'text', 'thresholds': {'error_rate': {'warning': 1}}}, ['thresholds.error_rate is not a signal', 'error_lines']),
    ({'thresholds': {'error_rate': {'warning': 5, 'critical': 1}}}, ['thresholds.error_rate', 'critical']),
    ({'thresholds': {'error_rate': {'warning': 'lots'}}}, ['thresholds.error_rate.warning must be a number']),
    ({'workers': 0}, ['workers must be between 1 and 64']),
])
def test_bad_options_are_refused_with_the_fix(options, words):
    with pytest.raises(ScanOptionError) as error:
        check_options(params(**options), now=1000.0)
    for word in words:
        assert word in str(error.value)
