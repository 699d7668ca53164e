# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attack probes in request lines: SQL injection, cross-site scripting, path traversal.

A request is decoded first (percent-encoding twice, so %252e%252e%252f is seen as ../, and
``+`` as a space) and then matched case-insensitively. Only requests holding one of a few
telltale bytes are decoded at all, which keeps the cost off ordinary traffic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from urllib.parse import unquote_to_bytes

KINDS = ('sql_injection', 'xss', 'path_traversal')

# Bytes every probe below needs in its raw or encoded form: %, quotes, <, >, (, ), +, ;,
# backslash, backtick, and the dot of "..". A request without them is not decoded.
_TELLTALE = b'%\'"<>()+;\\`'
_ORDINARY = bytes(bytearray(range(256))).translate(None, _TELLTALE)

_PATTERNS = {
    'sql_injection': re.compile(
        br"union(?:\s|/\*.*?\*/)+(?:all(?:\s|/\*.*?\*/)+)?select"
        br"|\b(?:or|and)\s+(?:\d+|'[^']*'|\"[^\"]*\")\s*(?:=|like)\s*(?:\d+|'[^']*'|\"[^\"]*\")"
        br"|'\s*(?:or|and)\s+'?\w*'?\s*=|'\s*(?:--|#|/\*)"
        br"|\b(?:sleep|benchmark|pg_sleep|extractvalue|updatexml|load_file)\s*\("
        br"|waitfor\s+delay\s|information_schema|;\s*(?:drop|delete|insert|update|truncate)\s",
        re.IGNORECASE | re.DOTALL),
    'xss': re.compile(
        br"<\s*/?\s*(?:script|iframe|svg|img|body|object|embed)\b|javascript\s*:|\bon(?:error|load|mouseover|focus)\s*="
        br"|\balert\s*\(|document\.cookie|\beval\s*\(",
        re.IGNORECASE),
    'path_traversal': re.compile(
        br"(?:\.\.[/\\]){1,}|[/\\]\.\.(?:$|[\s?])|/etc/(?:passwd|shadow|hosts)|/proc/self/|win\.ini|boot\.ini",
        re.IGNORECASE),
}
# Searched for one by one with bytes.find.
_NEEDLES = [bytes(bytearray([char])) for char in bytearray(_TELLTALE)]


def _lines_with(joined, needle, found):
    """Add to ``found`` the newline-separated parts of ``joined`` holding ``needle``
    (bytes.find is a memchr/memmem scan, far quicker than a regular expression)."""
    position = joined.find(needle)
    while position >= 0:
        start = joined.rfind(b'\n', 0, position) + 1
        end = joined.find(b'\n', position)
        if end < 0:
            end = len(joined)
        found.add(joined[start:end])
        position = joined.find(needle, end)


def candidates(requests):
    """The requests (bytes, no newlines) that could hold a probe, found by C-level scans
    over all of them joined, so ordinary requests cost no Python code at all."""
    joined = b'\n'.join(requests)
    found = set()
    if joined.translate(None, _ORDINARY):
        for needle in _NEEDLES:
            _lines_with(joined, needle, found)
    _lines_with(joined, b'..', found)
    return found


def is_candidate(request):
    """Cheap test on the raw request (bytes): could it hold a probe?"""
    return b'..' in request or bool(request.translate(None, _ORDINARY))


def decode(request):
    """The request as an application reads it: percent-decoded twice (for double encoding), + as a space."""
    decoded = request.replace(b'+', b' ')
    for _round in range(2):
        if b'%' not in decoded:
            break
        decoded = unquote_to_bytes(decoded)
    return decoded


def classify(request):
    """Probe kinds found in a raw request line (bytes), in KINDS order; empty for most."""
    if not is_candidate(request):
        return ()
    decoded = decode(request)
    return tuple(kind for kind in KINDS if _PATTERNS[kind].search(decoded))
