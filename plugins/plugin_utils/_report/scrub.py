# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep secrets out of run reports.

Ansible already replaces the result of a ``no_log`` task with a ``censored`` note; the
report keeps that note and nothing else. On top of that every value that reaches a report
passes through here: ``invocation`` (the module arguments) is dropped, values under keys
named like a password, token or secret are hidden, and credentials written into text
(``user:pass@`` in a URL, ``password=...``) are masked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

HIDDEN = '********'

SECRET_KEY = re.compile(
    r'pass(word|wd|phrase)|^pass$|^pwd?$|secret|token|api[-_]?key|private[-_]?key|credential|authorization|cookie'
    r'|session[-_]?id|signature',
    re.IGNORECASE)

# Keys never copied into a report: module arguments, tracebacks, diffs and loop items
# (an item can be a whole dict of connection settings).
DROPPED_KEYS = frozenset(('invocation', 'exception', 'diff', 'item', 'module_args'))

_URL_CREDENTIALS = re.compile(r'(?P<scheme>[a-z][a-z0-9+.-]*://)[^\s/@:]+:[^\s/@]+@', re.IGNORECASE)
_ASSIGNED_SECRET = re.compile(
    r'(?P<key>\b[\w-]*(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key)[\w-]*)(?P<sep>\s*[=:]\s*)'
    r'(?P<quote>["\']?)[^\s"\',;&]+(?P=quote)',
    re.IGNORECASE)
_BEARER = re.compile(r'\b(?P<kind>bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}', re.IGNORECASE)

MAX_DEPTH = 40


def is_secret_key(key):
    return isinstance(key, str) and SECRET_KEY.search(key) is not None


def scrub_text(text):
    """``text`` with credentials in URLs, ``key=value`` pairs and auth headers masked."""
    if not isinstance(text, str):
        return text
    text = _URL_CREDENTIALS.sub(lambda m: m.group('scheme') + HIDDEN + '@', text)
    text = _ASSIGNED_SECRET.sub(lambda m: m.group('key') + m.group('sep') + HIDDEN, text)
    return _BEARER.sub(lambda m: m.group('kind') + ' ' + HIDDEN, text)


def scrub(value, depth=0):
    """A copy of ``value`` safe to write: no dropped keys, secret keys hidden, text masked.
    Keys starting with ``_ansible`` go too. Plain JSON types only; anything else becomes text."""
    if depth > MAX_DEPTH:
        return '(nested too deep)'
    if isinstance(value, dict):
        clean = {}
        for key, item in value.items():
            key = str(key)
            if key in DROPPED_KEYS or key.startswith('_ansible'):
                continue
            if is_secret_key(key) and item not in (None, '', True, False):
                clean[key] = HIDDEN
            else:
                clean[key] = scrub(item, depth + 1)
        return clean
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(item, depth + 1) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub_text(str(value))


def shorten(text, limit=2000):
    """Text cut to ``limit`` characters, saying how much was left out."""
    if text is None:
        return None
    text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + ' ... (%d more characters)' % (len(text) - limit)


def item_label(result, index):
    """What to call one item of a loop result: its loop label when that is a plain value,
    else its position (a label that is a dict or list could hold a password)."""
    label = result.get('_ansible_item_label', result.get('item')) if isinstance(result, dict) else None
    if result.get('_ansible_no_log') if isinstance(result, dict) else False:
        return 'item %d' % index
    if isinstance(label, bool) or label is None or isinstance(label, (dict, list, tuple)):
        return 'item %d' % index
    return shorten(scrub_text(str(label)), 200)
