"""survey_from_argspec: one AWX survey question per role option, with the option's type, choices,
default and description; every role's whole argument spec makes a survey AWX accepts."""

import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.caretaker.maintenance.plugins.filter.survey import FilterModule
from tests.support.awx_rules import survey_errors

survey_from_argspec = FilterModule().filters()['survey_from_argspec']
ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / 'roles').glob('*/meta/argument_specs.yml'))

OPTIONS = {
    'demo_name': {'description': ['The O(demo_name) of the C(thing).', 'Second line.'], 'type': 'str', 'default': 'x'},
    'demo_dir': {'description': 'A path.', 'type': 'path', 'required': True},
    'demo_count': {'description': 'A count.', 'type': 'int', 'default': 3},
    'demo_ratio': {'description': 'A ratio.', 'type': 'float', 'default': 0.5},
    'demo_flag': {'description': 'A flag.', 'type': 'bool', 'default': False},
    'demo_mode': {'description': 'A mode.', 'type': 'str', 'choices': ['fast', 'safe'], 'default': 'safe'},
    'demo_checks': {'description': 'Checks.', 'type': 'list', 'elements': 'str', 'choices': ['a', 'b', 'c'], 'default': ['a', 'c']},
    'demo_items': {'description': 'Items.', 'type': 'list', 'elements': 'dict', 'default': [{'b': 1, 'a': 2}]},
    'demo_map': {'description': 'A map.', 'type': 'dict', 'default': {}},
    'demo_login_password': {'description': 'A password.', 'type': 'str', 'default': 'hunter2'},
    'demo_key': {'description': 'A key.', 'type': 'str', 'no_log': True},
    'demo_dest': {'description': 'Templated.', 'type': 'str', 'default': '/srv/{{ inventory_hostname }}'},
}


def questions(survey):
    return {question['variable']: question for question in survey['spec']}


def test_types_defaults_and_descriptions():
    survey = survey_from_argspec({'argument_specs': {'main': {'options': OPTIONS}}}, name='Demo', description='A demo')
    assert survey_errors(survey) == []
    assert (survey['name'], survey['description']) == ('Demo', 'A demo')
    asked = questions(survey)
    assert [question['variable'] for question in survey['spec']] == sorted(set(OPTIONS) - {'demo_dest'})
    assert asked['demo_name'] == {'question_name': 'Demo name', 'question_description': 'The demo_name of the thing. Second line.',
                                  'variable': 'demo_name', 'required': False, 'type': 'text', 'default': 'x', 'min': 0, 'max': 1024}
    assert asked['demo_dir']['required'] is True and asked['demo_dir']['type'] == 'text' and asked['demo_dir']['default'] == ''
    assert (asked['demo_count']['type'], asked['demo_count']['default']) == ('integer', 3)
    assert (asked['demo_ratio']['type'], asked['demo_ratio']['default']) == ('float', 0.5)
    assert asked['demo_flag']['type'] == 'multiplechoice' and asked['demo_flag']['choices'] == ['true', 'false']
    assert asked['demo_flag']['default'] == 'false'
    assert (asked['demo_mode']['type'], asked['demo_mode']['choices'], asked['demo_mode']['default']) == \
        ('multiplechoice', ['fast', 'safe'], 'safe')
    assert (asked['demo_checks']['type'], asked['demo_checks']['default']) == ('multiselect', 'a\nc')
    assert asked['demo_items']['type'] == 'textarea' and json.loads(asked['demo_items']['default']) == [{'a': 2, 'b': 1}]
    assert asked['demo_items']['question_description'].endswith('(JSON)')
    assert asked['demo_map']['default'] == '{}'
    # secrets: a password question, never a default
    assert (asked['demo_login_password']['type'], asked['demo_login_password']['default']) == ('password', '')
    assert (asked['demo_key']['type'], asked['demo_key']['default']) == ('password', '')


def test_include_orders_and_exclude_leaves_out():
    survey = survey_from_argspec(OPTIONS, include=['demo_mode', 'demo_count', 'demo_flag'], exclude=['demo_flag'])
    assert [question['variable'] for question in survey['spec']] == ['demo_mode', 'demo_count']
    # an entry point's dictionary works as well as the whole file or the options
    assert survey_from_argspec({'options': OPTIONS}, include=['demo_count'])['spec'] == \
        survey_from_argspec(OPTIONS, include=['demo_count'])['spec']


@pytest.mark.parametrize('kwargs, message', [
    ({'include': ['demo_nope']}, 'no such option: demo_nope'),
    ({'include': ['demo_dest']}, 'its default is a template'),
    ({'include': ['demo_count'], 'exclude': ['demo_count']}, 'AWX refuses a survey without questions'),
])
def test_bad_requests_are_errors(kwargs, message):
    with pytest.raises(AnsibleFilterError, match='survey_from_argspec: .*' + message):
        survey_from_argspec(OPTIONS, **kwargs)


def test_not_an_argspec():
    with pytest.raises(AnsibleFilterError, match='expected an argument spec'):
        survey_from_argspec(['demo'])


@pytest.mark.parametrize('path', SPECS, ids=[path.parent.parent.name for path in SPECS])
def test_every_role_makes_a_survey_awx_accepts(path):
    argspec = yaml.safe_load(path.read_text())
    options = argspec['argument_specs']['main']['options']
    survey = survey_from_argspec(argspec, name=path.parent.parent.name, description='all options')
    assert survey_errors(survey) == []
    asked = questions(survey)
    for name, option in options.items():
        if '{{' in json.dumps(option.get('default')):
            assert name not in asked
            continue
        question = asked[name]
        assert question['required'] is bool(option.get('required', False))
        if option.get('no_log'):
            assert question['type'] == 'password' and question['default'] == ''


def test_the_validator_rejects_what_awx_rejects():
    good = {'question_name': 'Q', 'variable': 'v', 'required': False, 'type': 'text', 'default': ''}
    assert survey_errors({'name': 'n', 'description': '', 'spec': [good]}) == []
    assert survey_errors({'name': 'n', 'spec': [good]})
    assert survey_errors({'name': 'n', 'description': '', 'spec': []})
    assert survey_errors({'name': 'n', 'description': '', 'spec': [good, good]})
    assert survey_errors({'name': 'n', 'description': '', 'spec': [dict(good, type='integer', default='3')]})
    assert survey_errors({'name': 'n', 'description': '', 'spec': [dict(good, type='multiplechoice', choices=['a'], default='b')]})
    assert survey_errors({'name': 'n', 'description': '', 'spec': [dict(good, type='checkbox')]})
    assert survey_errors({'name': 'n', 'description': '', 'spec': [dict(good, required='no')]})


def test_without_defaults_a_blank_answer_leaves_the_inventory_in_charge():
    survey = survey_from_argspec({'argument_specs': {'main': {'options': OPTIONS}}}, defaults=False)
    assert survey_errors(survey) == []
    asked = questions(survey)
    # every question, the templated one too, and none carries a default
    assert sorted(asked) == sorted(OPTIONS)
    assert all(question['default'] == '' for question in asked.values()), asked
    # types and choices stay; the description names the default instead
    assert (asked['demo_count']['type'], asked['demo_count']['question_description']) == \
        ('integer', OPTIONS['demo_count']['description'] + " Blank: the inventory's value, else 3.")
    assert asked['demo_flag']['question_description'].endswith("Blank: the inventory's value, else false.")
    assert asked['demo_mode']['choices'] == ['fast', 'safe']
    assert asked['demo_mode']['question_description'].endswith("else safe.")
    assert asked['demo_items']['question_description'].endswith('(JSON) Blank: the inventory\'s value, else [{"a": 2, "b": 1}].')
    assert asked['demo_dest']['question_description'].endswith("else /srv/{{ inventory_hostname }}.")
    # no default named for a secret, nor for an option without one
    assert 'Blank' not in asked['demo_login_password']['question_description']
    assert 'Blank' not in asked['demo_dir']['question_description']
    assert asked['demo_dir']['required'] is True
