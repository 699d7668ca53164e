# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""http_check: probe many HTTP(S) endpoints concurrently, one status item per endpoint.

Only the standard library talks to the endpoints (urllib.request over http.client and
ssl, concurrent.futures for the bounded pool), so the target host needs nothing else.

Every option is checked before any request is sent, and an error names the option the
way the user wrote it (``timeout`` at task level, ``endpoints[2].timeout`` on an item).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import codecs
import copy
import http.client
import json
import math
import re
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from urllib import request as urllib_request
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    ABOVE, CRITICAL, OK, UNKNOWN, Threshold, check_item, parse_thresholds, resolve_thresholds,
    status_argument_spec, summarize, worst)

# The runbooks alert on a health endpoint slower than 2 s and page at 10 s.
DEFAULT_THRESHOLDS = {'latency': Threshold(2000, 10000, ABOVE)}

METHODS = ('GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE')
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')  # sent in check mode; the others could change the server

DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 256
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = 'caretaker-http-check/1'
_CHUNK = 64 * 1024
_JSON_VALUE_CHARS = 1000

# Options an endpoint inherits from the task when it leaves them unset, with the value
# used when neither sets them. headers and secret_headers merge name by name instead.
INHERITED_DEFAULTS = dict(
    method='GET',
    status_code=None,  # any 2xx
    timeout=10.0,
    validate_certs=True,
    ca_path=None,
    follow_redirects=True,
    max_body_bytes=MAX_BODY_BYTES,
    use_proxy=True,
)

# Header names whose values are credentials. Given in ``headers`` (rather than
# ``secret_headers``) their values are masked in the result and a warning says to move them.
_SECRET_NAME = re.compile(r'auth|token|secret|passw|cookie|api[-_]?key|session|credential|signature', re.I)
# Shorter values under such names are flags (X-Auth-Enabled: yes), not credentials; masking
# them would garble every number and word of the result that contains them.
_MIN_MASKED = 6
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_UNSET = object()

_SHARED_OPTIONS = dict(
    method=dict(type='str'),
    headers=dict(type='dict'),
    secret_headers=dict(type='dict', no_log=True),
    status_code=dict(type='list', elements='int'),
    timeout=dict(type='float'),
    validate_certs=dict(type='bool'),
    ca_path=dict(type='path'),
    follow_redirects=dict(type='bool'),
    max_body_bytes=dict(type='int'),
    use_proxy=dict(type='bool'),
    thresholds=dict(type='dict'),
)

_ENDPOINT_OPTIONS = dict(
    url=dict(type='str', required=True),
    name=dict(type='str'),
    body=dict(type='raw'),
    body_regex=dict(type='str'),
    json_path=dict(type='str'),
    json_equals=dict(type='raw'),
    json_regex=dict(type='str'),
)


def http_check_argument_spec():
    """The module's options. Endpoint options carry no defaults, so an endpoint can tell
    "not set" (inherit the task's value) from "set"."""
    spec = copy.deepcopy(_SHARED_OPTIONS)
    for key, default in INHERITED_DEFAULTS.items():
        if default is not None:
            spec[key]['default'] = default
    endpoint = copy.deepcopy(_SHARED_OPTIONS)
    endpoint.update(copy.deepcopy(_ENDPOINT_OPTIONS))
    spec['endpoints'] = dict(type='list', elements='dict', required=True, options=endpoint)
    spec['concurrency'] = dict(type='int', default=DEFAULT_CONCURRENCY)
    spec.update(status_argument_spec())
    return spec


class EndpointOptionError(ValueError):
    """An option that cannot work; the text names the option and the fix."""


class Endpoint(object):
    """One endpoint with every option resolved and checked."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


# --- JSON path -------------------------------------------------------------------------

_PATH_KEY = re.compile(r'''[^.\[\]'"]+''')
_PATH_BRACKET = re.compile(r'''\[(?:(-?\d+)|'([^']*)'|"([^"]*)")\]''')


def parse_json_path(text):
    """``status``, ``checks[0].status``, ``checks.0.status``, ``meta["build.id"]`` ->
    a list of segments: str for a key, int for a list index."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError('is empty: name a field such as status or checks[0].status')
    segments = []
    pos = 0
    while pos < len(text):
        if text[pos] == '[':
            match = _PATH_BRACKET.match(text, pos)
            if not match:
                raise ValueError('cannot parse %r at position %d: write [N] for a list index or ["key"] for a key'
                                 % (text, pos))
            index, single, double = match.groups()
            segments.append(int(index) if index is not None else (single if single is not None else double))
            pos = match.end()
            continue
        if segments:
            if text[pos] != '.':
                raise ValueError('cannot parse %r at position %d: expected "." or "["' % (text, pos))
            pos += 1
        match = _PATH_KEY.match(text, pos)
        if not match:
            raise ValueError('cannot parse %r at position %d: expected a key' % (text, pos))
        segments.append(match.group(0))
        pos = match.end()
    return segments


def _kind(value):
    if isinstance(value, dict):
        return 'an object'
    if isinstance(value, list):
        return 'a list of %d' % len(value)
    return 'the value %s' % json.dumps(value)


def lookup_json(document, segments):
    """The value at a parsed path. Raises LookupError saying where the path stopped."""
    value = document
    walked = ''
    for segment in segments:
        here = walked or 'the document'
        if isinstance(value, list) and (isinstance(segment, int) or re.match(r'^-?\d+$', segment)):
            index = int(segment)
            if not -len(value) <= index < len(value):
                raise LookupError('%s is a list of %d, it has no [%d]' % (here, len(value), index))
            value = value[index]
            walked += '[%d]' % index
        elif isinstance(value, dict) and not isinstance(segment, int):
            if segment not in value:
                raise LookupError('%s has no key %s' % (here, json.dumps(segment)))
            value = value[segment]
            walked += ('.' if walked else '') + segment
        else:
            wanted = '[%d]' % segment if isinstance(segment, int) else 'key %s' % json.dumps(segment)
            raise LookupError('%s is %s, it has no %s' % (here, _kind(value), wanted))
    return value


def _json_text(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(actual, expected):
    """JSON equality as an operator means it: numbers compare by value (1 == 1.0),
    booleans only with booleans, and a string also matches the JSON text of a number,
    boolean or null (so "200" matches 200 and "true" matches true)."""
    if _is_number(actual) and _is_number(expected):
        return actual == expected
    if isinstance(expected, str) and not isinstance(actual, (str, dict, list)):
        return expected == _json_text(actual)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return actual == expected


# --- option checks ----------------------------------------------------------------------

def _regex(value, option):
    try:
        return re.compile(value)
    except re.error as exc:
        raise EndpointOptionError('%s: invalid regular expression %r: %s' % (option, value, exc))


def _check_url(url, option):
    if not isinstance(url, str) or not url.strip():
        raise EndpointOptionError('%s is required: give the full address, e.g. http://127.0.0.1:8080/health' % option)
    if re.search(r'[\x00-\x20\x7f]', url):
        raise EndpointOptionError('%s: %r contains spaces or control characters; percent-encode them' % (option, url))
    parts = urlsplit(url)
    if parts.scheme.lower() not in ('http', 'https'):
        raise EndpointOptionError('%s: scheme must be http or https, got %r in %s'
                                  % (option, parts.scheme or '(none)', url))
    if not parts.hostname:
        raise EndpointOptionError('%s: no host in %s' % (option, url))
    if parts.username is not None or parts.password is not None:
        raise EndpointOptionError(
            '%s: credentials in the URL would be shown with the task arguments; remove them and pass them '
            'as secret_headers.Authorization from a vaulted variable' % option)
    try:
        port = parts.port
    except ValueError:
        raise EndpointOptionError('%s: invalid port in %s' % (option, url))
    if port == 0:
        raise EndpointOptionError('%s: invalid port 0 in %s' % (option, url))
    return parts


def _check_headers(headers, option):
    """A list of (name, value) from a headers dict, values as text."""
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise EndpointOptionError('%s must be a dict of header name: value' % option)
    checked = []
    for name, value in headers.items():
        name = '%s' % name
        if not _HEADER_NAME.match(name):
            raise EndpointOptionError('%s: %r is not a valid header name' % (option, name))
        if value is None or isinstance(value, (dict, list)):
            raise EndpointOptionError('%s.%s must be a string, got %s' % (option, name, type(value).__name__))
        value = value if isinstance(value, str) else ('%s' % value if not isinstance(value, bool) else
                                                      ('true' if value else 'false'))
        if re.search(r'[\r\n\x00]', value):
            # never echo the value: it may be a credential
            raise EndpointOptionError('%s.%s: a header value must not contain line breaks' % (option, name))
        checked.append((name, value))
    return checked


def _ssl_context(validate_certs, ca_path, contexts, option):
    key = (bool(validate_certs), ca_path if validate_certs else None)
    if key not in contexts:
        if validate_certs:
            try:
                # With a CA file, trust exactly that bundle (no system CAs); without, the system's.
                contexts[key] = ssl.create_default_context(cafile=ca_path)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise EndpointOptionError('%s: cannot load CA certificates from %s: %s' % (option, ca_path, exc))
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            contexts[key] = context
    return contexts[key]


def _check_level(values, prefix, thresholds_base):
    """Check the shared options set at one level (task or one endpoint) and return the
    ones that are set, normalised. ``prefix`` is '' or 'endpoints[N].'; ``thresholds_base``
    holds the thresholds this level's own override: the defaults for the task, the task's
    for an endpoint (so an endpoint critical is checked against the task's warning)."""
    out = {}
    if values.get('method') is not None:
        method = ('%s' % values['method']).upper()
        if method not in METHODS:
            raise EndpointOptionError('%smethod: %r is not supported: use one of %s'
                                      % (prefix, values['method'], ', '.join(METHODS)))
        out['method'] = method
    if values.get('timeout') is not None:
        timeout = values['timeout']
        if not timeout > 0 or math.isinf(timeout):
            raise EndpointOptionError('%stimeout must be a number of seconds above 0, got %s' % (prefix, timeout))
        out['timeout'] = float(timeout)
    if values.get('max_body_bytes') is not None:
        if values['max_body_bytes'] < 1:
            raise EndpointOptionError('%smax_body_bytes must be 1 or more, got %d' % (prefix, values['max_body_bytes']))
        out['max_body_bytes'] = values['max_body_bytes']
    if values.get('status_code') is not None:
        codes = values['status_code']
        if not codes:
            raise EndpointOptionError('%sstatus_code is empty: list the codes that mean healthy, or leave it unset '
                                      'for any 2xx' % prefix)
        for code in codes:
            if not 100 <= code <= 599:
                raise EndpointOptionError('%sstatus_code: %d is not an HTTP status code (100-599)' % (prefix, code))
        out['status_code'] = tuple(codes)
    for key in ('validate_certs', 'follow_redirects', 'use_proxy', 'ca_path'):
        if values.get(key) is not None:
            out[key] = values[key]
    out['headers'] = _check_headers(values.get('headers'), prefix + 'headers')
    out['secret_headers'] = _check_headers(values.get('secret_headers'), prefix + 'secret_headers')
    try:
        parsed = parse_thresholds(thresholds_base, values.get('thresholds'), prefix + 'thresholds')
    except ValueError as exc:
        raise EndpointOptionError('%s' % exc)
    out['thresholds'] = resolve_thresholds(thresholds_base, parsed)
    return out


def _merge_headers(task, endpoint):
    """Request headers (case-insensitive, endpoint over task, secret over plain at the
    same level) and the lower-case names whose values are secret."""
    merged = {}
    secret = set()
    for level in (task, endpoint):
        for kind in ('headers', 'secret_headers'):
            for name, value in level[kind]:
                lower = name.lower()
                merged[lower] = (name, value)
                if kind == 'secret_headers' or _SECRET_NAME.search(name):
                    secret.add(lower)
                else:
                    secret.discard(lower)
    headers = dict(merged.values())
    if 'user-agent' not in merged:
        headers['User-Agent'] = USER_AGENT
    return headers, secret


def _encode_body(body, headers, option):
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        if not any(name.lower() == 'content-type' for name in headers):
            headers['Content-Type'] = 'application/json'
        return json.dumps(body).encode('utf-8')
    if isinstance(body, bool):
        raise EndpointOptionError('%s must be text, or a dict or list to send as JSON, got a boolean' % option)
    return ('%s' % body).encode('utf-8')


def exposed_secret_headers(params):
    """(option, value) for header values in ``headers`` whose names look like credentials
    (and that are long enough to be one). The module masks these values in its result and
    warns to use ``secret_headers``."""
    found = []
    levels = [('headers', params.get('headers'))]
    levels += [('endpoints[%d].headers' % index, (endpoint or {}).get('headers'))
               for index, endpoint in enumerate(params.get('endpoints') or [])]
    for option, headers in levels:
        if isinstance(headers, dict):
            for name, value in headers.items():
                if _SECRET_NAME.search('%s' % name) and isinstance(value, str) and len(value) >= _MIN_MASKED:
                    found.append(('%s.%s' % (option, name), value))
    return found


def build_endpoints(params):
    """Every endpoint with its options resolved (endpoint over task over defaults) and
    checked. Raises EndpointOptionError before anything is sent."""
    concurrency = params.get('concurrency')
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise EndpointOptionError('concurrency must be between 1 and %d, got %d' % (MAX_CONCURRENCY, concurrency))
    endpoints = params.get('endpoints') or []
    if not endpoints:
        raise EndpointOptionError('endpoints is empty: list at least one endpoint with a url')
    contexts = {}
    task = _check_level(params, '', DEFAULT_THRESHOLDS)
    if 'ca_path' in task:
        _ssl_context(True, task['ca_path'], contexts, 'ca_path')
    resolved = []
    for index, raw in enumerate(endpoints):
        prefix = 'endpoints[%d].' % index
        raw = raw or {}
        own = _check_level(raw, prefix, task['thresholds'])
        parts = _check_url(raw.get('url'), prefix + 'url')
        options = dict(INHERITED_DEFAULTS)
        for level in (task, own):
            options.update((key, value) for key, value in level.items() if key in INHERITED_DEFAULTS)
        ca_where = prefix + 'ca_path' if 'ca_path' in own else 'ca_path'
        # also for http:// URLs, which may redirect to https://
        context = _ssl_context(options['validate_certs'], options['ca_path'], contexts, ca_where)
        headers, secret = _merge_headers(task, own)
        body = _encode_body(raw.get('body'), headers, prefix + 'body')
        body_regex = _regex(raw['body_regex'], prefix + 'body_regex') if raw.get('body_regex') is not None else None
        json_path = None
        if raw.get('json_path') is not None:
            try:
                json_path = parse_json_path(raw['json_path'])
            except ValueError as exc:
                raise EndpointOptionError('%sjson_path %s' % (prefix, exc))
        json_equals = raw['json_equals'] if raw.get('json_equals') is not None else _UNSET
        json_regex = _regex(raw['json_regex'], prefix + 'json_regex') if raw.get('json_regex') is not None else None
        for option in ('json_equals', 'json_regex'):
            if raw.get(option) is not None and json_path is None:
                raise EndpointOptionError('%s%s needs json_path: set json_path to the field to compare, e.g. status'
                                          % (prefix, option))
        if json_equals is not _UNSET and json_regex is not None:
            raise EndpointOptionError('%s: json_equals and json_regex are mutually exclusive: use one' % prefix[:-1])
        if (body_regex is not None or json_path is not None) and options['method'] == 'HEAD':
            raise EndpointOptionError('%s: a HEAD answer has no body to match: use GET, or drop body_regex and '
                                      'json_path' % prefix[:-1])
        resolved.append(Endpoint(
            index=index,
            name=raw.get('name') or (raw['url'] if options['method'] == 'GET' else '%s %s' % (options['method'], raw['url'])),
            url=raw['url'],
            origin=_origin(parts),
            method=options['method'],
            headers=headers,
            secret_headers=secret,
            body=body,
            status_codes=options['status_code'],
            timeout=options['timeout'],
            context=context,
            follow_redirects=options['follow_redirects'],
            max_body_bytes=options['max_body_bytes'],
            use_proxy=options['use_proxy'],
            threshold=own['thresholds']['latency'],
            body_regex=body_regex,
            json_path_text=raw.get('json_path'),
            json_path=json_path,
            json_equals=json_equals,
            json_regex=json_regex,
        ))
    return resolved


# --- probing ----------------------------------------------------------------------------

def _origin(parts):
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or '').lower(), parts.port or (443 if scheme == 'https' else 80)


class _Redirects(urllib_request.HTTPRedirectHandler):
    """Follows redirects like urllib, records each hop, and drops secret headers when a
    redirect leaves the endpoint's origin (scheme, host and port)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.hops = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = urllib_request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        if new is not None:
            self.hops.append(newurl)
            if _origin(urlsplit(newurl)) != self.endpoint.origin:
                for name in list(new.headers):
                    if name.lower() in self.endpoint.secret_headers:
                        del new.headers[name]
        return new


def _opener(endpoint, redirects):
    opener = urllib_request.OpenerDirector()
    handlers = [
        urllib_request.ProxyHandler() if endpoint.use_proxy else urllib_request.ProxyHandler({}),
        urllib_request.HTTPHandler(),
        urllib_request.HTTPSHandler(context=endpoint.context),
        urllib_request.HTTPDefaultErrorHandler(),
        urllib_request.HTTPErrorProcessor(),
    ]
    if redirects is not None:
        handlers.append(redirects)
    for handler in handlers:
        opener.add_handler(handler)
    return opener


class _Deadline(Exception):
    """The whole response did not arrive within the endpoint's timeout."""


def _read_body(response, endpoint, started):
    """At most max_body_bytes of the body; (bytes, truncated)."""
    if endpoint.method == 'HEAD':
        return b'', False
    read = getattr(response, 'read1', None) or response.read
    chunks = []
    size = 0
    while size < endpoint.max_body_bytes:
        if time.monotonic() - started > endpoint.timeout:
            raise _Deadline()
        chunk = read(min(_CHUNK, endpoint.max_body_bytes - size))
        if not chunk:
            return b''.join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b''.join(chunks), bool(response.read(1))


def _host_port(endpoint):
    scheme, host, port = endpoint.origin
    return '%s:%d' % (host, port)


def describe_error(exc, endpoint):
    """(kind, message) for a request that got no HTTP answer: dns, refused, timeout,
    tls, protocol or connection; the message says what to look at."""
    reason = exc.reason if isinstance(exc, URLError) and not isinstance(exc, HTTPError) else exc
    where = _host_port(endpoint)
    if isinstance(reason, _Deadline):
        return 'timeout', 'the response from %s did not complete within %s s (timeout)' % (where, _seconds(endpoint.timeout))
    if isinstance(reason, socket.gaierror):
        return 'dns', 'DNS lookup of %s failed: %s; check the host name and the resolver' % (
            endpoint.origin[1], reason.strerror or reason)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return 'tls', ('TLS certificate of %s not trusted: %s; set ca_path to the CA bundle that signed it '
                       '(validate_certs: false skips the check)' % (where, getattr(reason, 'verify_message', None) or reason))
    if isinstance(reason, ssl.SSLError):
        return 'tls', 'TLS handshake with %s failed: %s' % (where, getattr(reason, 'reason', None) or reason)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return 'timeout', 'no answer from %s within %s s (timeout)' % (where, _seconds(endpoint.timeout))
    if isinstance(reason, ConnectionRefusedError):
        return 'refused', 'connection refused by %s: nothing listens there; is the service running?' % where
    if isinstance(reason, http.client.HTTPException):
        return 'protocol', 'bad HTTP answer from %s: %s' % (where, reason.__class__.__name__ +
                                                            (': %s' % reason if '%s' % reason else ''))
    if isinstance(reason, OSError):
        return 'connection', 'cannot connect to %s: %s' % (where, reason.strerror or reason)
    return 'connection', 'request to %s failed: %s' % (where, reason)


def _seconds(value):
    return ('%g' % value)


def _codes_text(codes):
    if codes is None:
        return '2xx'
    return ' or '.join('%d' % code for code in codes)


def _check_json(endpoint, body, truncated):
    """(matched, value or _UNSET, problem or None) for the json_path check."""
    try:
        document = json.loads(body.decode('utf-8-sig') if body[:3] == b'\xef\xbb\xbf' else body)
    except ValueError as exc:
        if truncated:
            return False, _UNSET, 'body is not complete JSON: it is longer than max_body_bytes (%d)' % endpoint.max_body_bytes
        return False, _UNSET, 'body is not JSON: %s' % exc
    try:
        value = lookup_json(document, endpoint.json_path)
    except LookupError as exc:
        return False, _UNSET, 'json_path %s not found: %s' % (endpoint.json_path_text, exc.args[0])
    shown = json.dumps(value, sort_keys=True)
    if len(shown) > 80:
        shown = shown[:77] + '...'
    if endpoint.json_equals is not _UNSET:
        if json_equal(value, endpoint.json_equals):
            return True, value, None
        return False, value, 'json %s is %s, expected %s' % (endpoint.json_path_text, shown,
                                                             json.dumps(endpoint.json_equals, sort_keys=True))
    if endpoint.json_regex is not None:
        if endpoint.json_regex.search(_json_text(value)):
            return True, value, None
        return False, value, 'json %s is %s, does not match json_regex %r' % (endpoint.json_path_text, shown,
                                                                              endpoint.json_regex.pattern)
    return True, value, None


def _reported_json(value):
    if value is _UNSET:
        return None
    text = json.dumps(value, sort_keys=True)
    if len(text) > _JSON_VALUE_CHARS:
        return text[:_JSON_VALUE_CHARS - 3] + '...'
    return value


def _charset(response):
    charset = response.headers.get_content_charset() if response.headers is not None else None
    if charset:
        try:
            codecs.lookup(charset)
            return charset
        except LookupError:
            pass
    return 'utf-8'


def probe(endpoint, check_mode=False):
    """One status item for one endpoint. Never raises for anything the endpoint does."""
    extra = dict(url=endpoint.url, method=endpoint.method, status_code=None, latency_ms=None, matched=None,
                 error=None, error_kind=None, final_url=None, redirects=0)
    if endpoint.json_path is not None:
        extra['json_value'] = None
    if check_mode and endpoint.method not in SAFE_METHODS:
        return check_item(endpoint.name, UNKNOWN, unit='ms', threshold=endpoint.threshold,
                          detail='not sent in check mode: a %s request can change the server; run without '
                                 '--check to probe it' % endpoint.method, **extra)
    redirects = _Redirects(endpoint) if endpoint.follow_redirects else None
    request = urllib_request.Request(endpoint.url, data=endpoint.body, headers=endpoint.headers,
                                     method=endpoint.method)
    started = time.monotonic()
    try:
        try:
            response = _opener(endpoint, redirects).open(request, timeout=endpoint.timeout)
        except HTTPError as exc:
            response = exc  # an answer with an error code is still an answer
        try:
            body, truncated = _read_body(response, endpoint, started)
        finally:
            response.close()
        latency = round((time.monotonic() - started) * 1000.0, 1)
    except (URLError, OSError, http.client.HTTPException, _Deadline, ValueError) as exc:
        kind, message = describe_error(exc, endpoint)
        extra.update(error=message, error_kind=kind)
        return check_item(endpoint.name, CRITICAL, unit='ms', threshold=endpoint.threshold, detail=message, **extra)
    except Exception as exc:  # pylint: disable=broad-except  # one odd endpoint must not lose the others' items
        message = 'request to %s failed unexpectedly: %s: %s' % (_host_port(endpoint), type(exc).__name__, exc)
        extra.update(error=message, error_kind='internal')
        return check_item(endpoint.name, UNKNOWN, unit='ms', threshold=endpoint.threshold, detail=message, **extra)

    code = response.getcode()
    hops = redirects.hops if redirects is not None else []
    extra.update(status_code=code, latency_ms=latency, final_url=response.geturl() or endpoint.url,
                 redirects=len(hops))
    status = endpoint.threshold.evaluate(latency)
    detail = 'HTTP %d in %s ms' % (code, latency)
    if hops:
        detail += ' after %d redirect%s to %s' % (len(hops), '' if len(hops) == 1 else 's', hops[-1])
    if 300 <= code < 400 and response.headers is not None and response.headers.get('Location'):
        if endpoint.follow_redirects:
            detail += ' (redirect to %s not followed: a loop, more than %d redirects, or not allowed for %s)' % (
                response.headers.get('Location'), urllib_request.HTTPRedirectHandler.max_redirections, endpoint.method)
        else:
            detail += ' (redirect to %s not followed)' % response.headers.get('Location')
    if status != OK:
        limit = endpoint.threshold.critical if status == CRITICAL else endpoint.threshold.warning
        detail += ', at or over the %s latency limit of %g ms' % (status, limit)
    problems = []
    if not (code in endpoint.status_codes if endpoint.status_codes else 200 <= code < 300):
        problems.append('expected %s' % _codes_text(endpoint.status_codes))
    if endpoint.body_regex is not None or endpoint.json_path is not None:
        matched = True
        if endpoint.body_regex is not None:
            text = body.decode(_charset(response), 'replace')
            if not endpoint.body_regex.search(text):
                matched = False
                problems.append('body does not match body_regex %r%s' % (
                    endpoint.body_regex.pattern,
                    ' in its first %d bytes (max_body_bytes)' % endpoint.max_body_bytes if truncated else ''))
        if endpoint.json_path is not None:
            ok, value, problem = _check_json(endpoint, body, truncated)
            extra['json_value'] = _reported_json(value)
            if not ok:
                matched = False
                problems.append(problem)
        extra['matched'] = matched
    if problems:
        status = worst([status, CRITICAL])
        detail += ', ' + '; '.join(problems)
    return check_item(endpoint.name, status, value=latency, unit='ms', threshold=endpoint.threshold,
                      detail=detail, **extra)


def run_checks(endpoints, concurrency=DEFAULT_CONCURRENCY, check_mode=False):
    """Probe every endpoint, at most ``concurrency`` at a time; items keep the given order."""
    workers = max(1, min(concurrency, len(endpoints)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        items = list(pool.map(lambda endpoint: probe(endpoint, check_mode), endpoints))
    return summarize(items, what='endpoint checks')
