"""The checks AWX's API applies to what playbooks/awx_configure.yml sends, written out from
AWX's source, since no AWX server runs here: the survey spec rules of
JobTemplateSurveySpec._validate_spec_data (awx/api/views/__init__.py) and the rrule rules of
SchedulePreviewSerializer.validate_rrule (awx/api/serializers.py), old and new releases together."""

import re

# AWX's JobTemplateSurveySpec.ALLOWED_TYPES: the Python types a question's default may have.
ALLOWED_TYPES = {'text': str, 'textarea': str, 'password': str, 'multiplechoice': str, 'multiselect': str,
                 'integer': int, 'float': (float, int)}


def survey_errors(survey):
    """The first errors AWX would answer with (400), or [] when it accepts the survey spec."""
    errors = []
    for field, kind in (('name', str), ('description', str), ('spec', list)):
        if field not in survey:
            errors.append("Field '%s' is missing from survey spec." % field)
        elif not isinstance(survey[field], kind):
            errors.append("Expected %s for field '%s'." % (kind.__name__, field))
    if errors:
        return errors
    if not survey['spec']:
        return ["'spec' doesn't contain any items."]
    variables = set()
    for index, item in enumerate(survey['spec']):
        if not isinstance(item, dict):
            errors.append('Survey question %d is not a json object.' % index)
            continue
        for field in ('type', 'question_name', 'variable', 'required'):
            if field not in item:
                errors.append("'%s' missing from survey question %d" % (field, index))
            elif not isinstance(item[field], bool if field == 'required' else str):
                errors.append("'%s' in survey question %d expected to be %s." % (field, index, 'boolean' if field == 'required' else 'string'))
        if errors:
            continue
        if item['variable'] in variables:
            errors.append("'variable' '%s' duplicated in survey question %d." % (item['variable'], index))
        variables.add(item['variable'])
        kind = item['type']
        if kind not in ALLOWED_TYPES:
            errors.append("'%s' in survey question %d is not one of the allowed question types." % (kind, index))
            continue
        default = item.get('default')
        if 'default' in item and default != '':
            if not isinstance(default, ALLOWED_TYPES[kind]) or (kind in ('integer', 'float') and isinstance(default, bool)):
                errors.append('Default value %r in survey question %d expected to be %s.' % (default, index, kind))
        for key in ('min', 'max'):
            if item.get(key) is not None and not isinstance(item[key], int):
                errors.append('The %s limit in survey question %d expected to be integer.' % (key, index))
        if kind in ('multiplechoice', 'multiselect'):
            if 'choices' not in item:
                errors.append('Survey question %d of type %s must specify choices.' % (index, kind))
                continue
            choices = item['choices'].splitlines() if isinstance(item['choices'], str) else item['choices']
            if 'default' in item:
                defaults = [line for line in default.splitlines() if line.strip()] if isinstance(default, str) else default
                if kind == 'multiplechoice' and len(defaults) > 1:
                    errors.append('Multiple Choice (Single Select) can only have one default value.')
                if any(choice not in choices for choice in defaults):
                    errors.append('Default choice must be answered from the choices listed.')
        if isinstance(default, str) and default.startswith('$encrypted$') and kind != 'password':
            errors.append('$encrypted$ is a reserved keyword for password question defaults.')
        # the launch-time check of a text answer (the default, when nobody answers)
        if kind in ('text', 'textarea', 'password') and isinstance(default, str):
            if item.get('min') not in ('', None) and len(default) < int(item['min']) and default:
                errors.append('default of %s is shorter than its min' % item['variable'])
            if item.get('max') not in ('', None) and len(default) > int(item['max']):
                errors.append('default of %s is longer than its max' % item['variable'])
    return errors


def rrule_errors(value):
    errors = []
    if not re.findall(r'.*?(DTSTART(;[^:]+)?\:[0-9]+T[0-9]+Z?)', value):
        errors.append('Valid DTSTART required')
    if re.findall(r'.*?(DTSTART:[0-9]+T[0-9]+) ', value):
        errors.append('DTSTART cannot be a naive datetime')
    if len(re.findall(r'.*?(DTSTART(;[^:]+)?\:[0-9]+T[0-9]+Z?)', value)) > 1:
        errors.append('Multiple DTSTART is not supported')
    rules = re.findall(r'.*?(RULE\:[^\s]*)', value)
    if not rules:
        errors.append('RRULE required')
    for rule in rules:
        lower = rule.lower()
        if 'interval' not in lower:
            errors.append('INTERVAL required')
        if 'secondly' in lower:
            errors.append('SECONDLY is not supported')
        if re.match(r'.*?BYMONTHDAY[\:\=][0-9]+,-*[0-9]+', rule):
            errors.append('Multiple BYMONTHDAYs not supported')
        if re.match(r'.*?BYMONTH[\:\=][0-9]+,[0-9]+', rule):
            errors.append('Multiple BYMONTHs not supported')
        if re.match(r'.*?BYDAY[\:\=][0-9]+[a-zA-Z]{2}', rule):
            errors.append('BYDAY with numeric prefix not supported')
        if 'byyearday' in lower or 'byweekno' in lower:
            errors.append('BYYEARDAY/BYWEEKNO not supported')
        if 'COUNT' in rule and 'UNTIL' in rule:
            errors.append('RRULE may not contain both COUNT and UNTIL')
    return errors
