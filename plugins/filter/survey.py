# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWX/AAP job template survey from a role's meta/argument_specs.yml, so that a survey
question always has the option's type, choices, default and description."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

_SECRET = re.compile(r'(password|passwd|passphrase|secret|token|api_key|private_key)$', re.IGNORECASE)
# Ansible documentation markup: O(name), C(text), V(value), I(text), B(text), M(module), L(text,url), U(url)
_MARKUP = re.compile(r'\b[OCVIBMRPEU]\(([^()]*)\)')
_LINK = re.compile(r'\bL\(([^(),]*),[^()]*\)')
TEXT_MAX = 1024
TEXTAREA_MAX = 65536


def _options(argspec, entry_point):
    """The options dictionary of a whole argument_specs.yml, one entry point or an options dict."""
    if not isinstance(argspec, dict):
        raise ValueError('expected an argument spec (a dictionary), not %s' % type(argspec).__name__)
    if 'argument_specs' in argspec:
        argspec = argspec['argument_specs']
    if entry_point in argspec and isinstance(argspec[entry_point], dict) and 'options' in argspec[entry_point]:
        argspec = argspec[entry_point]
    if 'options' in argspec and isinstance(argspec['options'], dict):
        argspec = argspec['options']
    return argspec


def _plain(description):
    if isinstance(description, (list, tuple)):
        description = ' '.join(to_text(line) for line in description)
    text = _LINK.sub(r'\1', to_text(description or ''))
    return ' '.join(_MARKUP.sub(r'\1', text).split())


def _is_secret(name, option):
    return bool(option.get('no_log')) or bool(_SECRET.search(name))


def _question(name, option, defaults=True):
    kind = option.get('type', 'str')
    choices = option.get('choices')
    default = option.get('default')
    if not defaults:
        # A survey default is sent as an extra var, which wins over the inventory. Without
        # one, a question left blank leaves the inventory's value (or the role's default).
        question = _question(name, dict(option, default=None))
        if default is not None and not _is_secret(name, option):
            shown = json.dumps(default, sort_keys=True) if isinstance(default, (list, dict)) else to_text(default)
            if isinstance(default, bool):
                shown = 'true' if default else 'false'
            question['question_description'] = ('%s Blank: the inventory\'s value, else %s.'
                                                % (question['question_description'], shown)).strip()
        return question
    question = {
        'question_name': name.replace('_', ' ').capitalize(),
        'question_description': _plain(option.get('description')),
        'variable': name,
        'required': bool(option.get('required', False)),
    }
    if _is_secret(name, option):
        # never a default for a secret: AWX would store it as the job template's default
        question.update(type='password', default='', min=0, max=TEXT_MAX)
    elif choices:
        values = [to_text(choice) for choice in choices]
        if kind == 'list':
            question.update(type='multiselect', choices=values,
                            default='\n'.join(to_text(value) for value in (default or [])))
        else:
            question.update(type='multiplechoice', choices=values, default='' if default is None else to_text(default))
    elif kind == 'bool':
        question.update(type='multiplechoice', choices=['true', 'false'],
                        default='' if default is None else ('true' if default else 'false'))
    elif kind == 'int':
        question.update(type='integer', default='' if default is None else int(default))
    elif kind == 'float':
        question.update(type='float', default='' if default is None else float(default))
    elif kind in ('list', 'dict') or (kind == 'raw' and isinstance(default, (list, dict))):
        question.update(type='textarea', min=0, max=TEXTAREA_MAX,
                        default='' if default is None else json.dumps(default, sort_keys=True))
        question['question_description'] = (question['question_description'] + ' (JSON)').strip()
    else:
        question.update(type='text', min=0, max=TEXT_MAX, default='' if default is None else to_text(default))
    return question


def survey_from_argspec(argspec, name='', description='', include=None, exclude=None, entry_point='main', defaults=True):
    """An AWX survey spec ({name, description, spec}) with one question per option.

    ``include`` picks options and their order (all, sorted, when unset); ``exclude`` leaves
    some out. ``defaults=False`` asks without defaults, so an unanswered question leaves the
    inventory in charge (the default is named in the description instead). With defaults, an
    option whose default is a Jinja template cannot be asked (an answer would be taken
    literally): it is left out, and including it by name is an error."""
    try:
        options = _options(argspec, entry_point)
        if include:
            missing = [option for option in include if option not in options]
            if missing:
                raise ValueError('no such option: %s' % ', '.join(missing))
            names = list(include)
        else:
            names = sorted(options)
        names = [option for option in names if option not in (exclude or [])]
        spec = []
        for option in names:
            settings = options[option] or {}
            # a templated default cannot be asked (an answer is taken literally); without
            # defaults a blank answer leaves the role to compute it
            if defaults and '{{' in json.dumps(settings.get('default'), default=to_text):
                if include:
                    raise ValueError('%s: its default is a template, which a survey cannot ask' % option)
                continue
            spec.append(_question(option, settings, defaults))
        if not spec:
            raise ValueError('no options to ask: AWX refuses a survey without questions')
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError('survey_from_argspec: %s' % exc)
    return {'name': to_text(name), 'description': to_text(description), 'spec': spec}


class FilterModule(object):
    def filters(self):
        return {'survey_from_argspec': survey_from_argspec}
