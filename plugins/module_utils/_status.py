# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one status model every check module returns.

A check is a list of items; each item has a status, and the result's status is the
worst of them. ``unknown`` ranks above ``critical`` because a check that could not
look is worse than one that saw trouble: nobody knows what is wrong.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

OK = 'ok'
WARNING = 'warning'
CRITICAL = 'critical'
UNKNOWN = 'unknown'

STATUSES = (OK, WARNING, CRITICAL, UNKNOWN)
_RANK = dict((name, rank) for rank, name in enumerate(STATUSES))

FAIL_ON_CHOICES = ('critical', 'warning', 'never')

ABOVE = 'above'
BELOW = 'below'


def rank(status):
    """Order of a status: ok 0, warning 1, critical 2, unknown 3."""
    try:
        return _RANK[status]
    except KeyError:
        raise ValueError('unknown status %r: expected one of %s' % (status, ', '.join(STATUSES)))


def worst(statuses):
    """Worst of some statuses; ``ok`` when there are none."""
    result = OK
    for status in statuses:
        if rank(status) > rank(result):
            result = status
    return result


class Threshold(object):
    """Warning and critical limits for one measured value.

    ``direction`` says which way is bad: ``above`` for usage (80 % warns, 95 % is
    critical), ``below`` for ratios and remaining time (a hit ratio under 80 % warns).
    Either limit may be None to disable it. A value exactly at a limit crosses it.
    """

    def __init__(self, warning=None, critical=None, direction=ABOVE):
        if direction not in (ABOVE, BELOW):
            raise ValueError('threshold direction must be above or below, got %r' % (direction,))
        self.warning = warning
        self.critical = critical
        self.direction = direction
        if warning is not None and critical is not None:
            inverted = critical < warning if direction == ABOVE else critical > warning
            if inverted:
                raise ValueError(
                    'critical %s must be %s warning %s: set critical beyond warning'
                    % (critical, 'at or above' if direction == ABOVE else 'at or below', warning))

    def _crossed(self, value, limit):
        if limit is None:
            return False
        return value >= limit if self.direction == ABOVE else value <= limit

    def evaluate(self, value):
        """Status of a value; ``unknown`` when nothing could be measured."""
        if value is None:
            return UNKNOWN
        if self._crossed(value, self.critical):
            return CRITICAL
        if self._crossed(value, self.warning):
            return WARNING
        return OK

    def merged(self, overrides):
        """A copy with the limits a user gave (a dict with warning and/or critical)."""
        overrides = overrides or {}
        return Threshold(
            warning=overrides['warning'] if 'warning' in overrides else self.warning,
            critical=overrides['critical'] if 'critical' in overrides else self.critical,
            direction=self.direction,
        )

    def as_dict(self):
        return {'warning': self.warning, 'critical': self.critical, 'direction': self.direction}


def check_item(name, status, value=None, unit=None, threshold=None, detail=None, **extra):
    """One item of a check result, in the shape DESIGN.md fixes."""
    rank(status)
    item = {
        'name': name,
        'status': status,
        'value': value,
        'unit': unit,
        'threshold': threshold.as_dict() if isinstance(threshold, Threshold) else threshold,
        'detail': detail,
    }
    item.update(extra)
    return item


def measured_item(name, value, threshold, unit=None, detail=None, **extra):
    """An item whose status comes from comparing ``value`` with ``threshold``."""
    status = threshold.evaluate(value) if threshold is not None else (OK if value is not None else UNKNOWN)
    return check_item(name, status, value=value, unit=unit, threshold=threshold, detail=detail, **extra)


def _describe(item):
    text = item['name']
    if item.get('detail'):
        text += ': ' + item['detail']
    elif item.get('value') is not None:
        text += ': %s%s' % (item['value'], ' ' + item['unit'] if item.get('unit') else '')
    return text


def summarize(checks, what='checks'):
    """The common result: worst status, a one-line message, and every item."""
    status = worst(item['status'] for item in checks)
    counts = dict((name, 0) for name in STATUSES)
    for item in checks:
        counts[item['status']] += 1
    if status == OK:
        msg = 'all %d %s ok' % (len(checks), what)
    else:
        bad = [item for item in checks if item['status'] == status]
        parts = ['%d %s' % (counts[name], name) for name in reversed(STATUSES) if name != OK and counts[name]]
        msg = '%s of %d %s; %s' % (', '.join(parts), len(checks), what, '; '.join(_describe(item) for item in bad[:3]))
        if len(bad) > 3:
            msg += '; and %d more' % (len(bad) - 3)
    return {'status': status, 'msg': msg, 'checks': checks, 'counts': counts, 'changed': False}


def should_fail(status, fail_on):
    """True when the worst status reaches ``fail_on`` (critical, warning or never)."""
    if fail_on not in FAIL_ON_CHOICES:
        raise ValueError('fail_on must be one of %s, got %r' % (', '.join(FAIL_ON_CHOICES), fail_on))
    if fail_on == 'never':
        return False
    return rank(status) >= rank(fail_on)


def parse_thresholds(defaults, value, option='thresholds'):
    """Check a user's ``thresholds`` dict against the known signals and return it
    with numbers as floats. Raises ValueError naming the option and the fix."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError('%s must be a dict of signal: {warning: N, critical: N}' % option)
    parsed = {}
    for key, limits in value.items():
        if key not in defaults:
            raise ValueError('%s.%s is not a signal of this check: use one of %s'
                             % (option, key, ', '.join(sorted(defaults))))
        if not isinstance(limits, dict) or set(limits) - set(('warning', 'critical')):
            raise ValueError('%s.%s takes a dict with warning and/or critical, got %r' % (option, key, limits))
        parsed[key] = {}
        for name, limit in limits.items():
            if limit is None:
                continue
            try:
                parsed[key][name] = float(limit)
            except (TypeError, ValueError):
                raise ValueError('%s.%s.%s must be a number, got %r' % (option, key, name, limit))
        try:
            defaults[key].merged(parsed[key])
        except ValueError as exc:
            raise ValueError('%s.%s: %s' % (option, key, exc))
    return parsed


def resolve_thresholds(defaults, *overrides):
    """Thresholds per signal: the defaults, then each parsed override in turn (for
    example task-level, then per-target). A limit left unset keeps the value before it."""
    resolved = dict(defaults)
    for override in overrides:
        for key, limits in (override or {}).items():
            resolved[key] = resolved[key].merged(limits)
    return resolved


def status_argument_spec():
    """Options every check module shares (doc fragment caretaker.maintenance.status)."""
    return dict(fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'))


def exit_with_status(module, result):
    """End a check module: fail when the worst status reaches ``fail_on``, with every
    item still in the result; otherwise exit with it."""
    if should_fail(result['status'], module.params['fail_on']):
        module.fail_json(**result)
    module.exit_json(**result)
