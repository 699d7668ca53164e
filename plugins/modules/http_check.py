#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: http_check
short_description: Probe many HTTP and HTTPS endpoints concurrently and report one status
version_added: 0.1.0
description:
  - Sends one request to each of O(endpoints), up to O(concurrency) at a time, and reports each
    endpoint as an item with a status (V(ok), V(warning), V(critical), V(unknown)); the
    result's status is the worst of them.
  - An endpoint is V(critical) when it gives no HTTP answer (DNS failure, connection refused,
    timeout, TLS failure), answers with a status code other than O(endpoints[].status_code),
    or its body fails O(endpoints[].body_regex) or the JSON check (O(endpoints[].json_path)).
    Its latency, in milliseconds, is compared with the C(latency) thresholds.
  - Latency is the time from sending the request to the end of the body as read (at most
    O(max_body_bytes)), redirects included.
  - Uses only the Python standard library on the host it runs on.
  - Read-only and never reports C(changed). In check mode, endpoints whose method is C(GET),
    C(HEAD) or C(OPTIONS) are probed as usual; the other methods could change the server, so
    they are not sent and their items are V(unknown).
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.status
options:
  endpoints:
    description:
      - The endpoints to probe. Each item needs O(endpoints[].url); any other option it leaves
        unset takes the task-level option of the same name, then that option's default.
      - Items keep the order given, whatever order the answers arrive in.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description:
          - Full C(http://) or C(https://) address.
          - Credentials in the URL (C(user:password@host)) are refused, because module arguments
            are shown with the task; use O(endpoints[].secret_headers) instead.
        type: str
        required: true
      name:
        description: Label of this endpoint's item. Defaults to the URL, prefixed by the method when it is not C(GET).
        type: str
      method:
        description: As the task-level O(method).
        type: str
      headers:
        description: Headers for this endpoint, added to the task-level O(headers); a name set at both levels takes this value.
        type: dict
      secret_headers:
        description: Like O(endpoints[].headers), for credentials; see the task-level O(secret_headers).
        type: dict
      body:
        description:
          - "Request body. Text is sent as UTF-8; a dict or list is sent as JSON with
            C(Content-Type: application/json) unless a header sets another type."
          - A body is shown with the task arguments; do not put credentials in it.
        type: raw
      status_code:
        description: As the task-level O(status_code).
        type: list
        elements: int
      timeout:
        description: As the task-level O(timeout).
        type: float
      validate_certs:
        description: As the task-level O(validate_certs).
        type: bool
      ca_path:
        description: As the task-level O(ca_path).
        type: path
      follow_redirects:
        description: As the task-level O(follow_redirects).
        type: bool
      max_body_bytes:
        description: As the task-level O(max_body_bytes).
        type: int
      use_proxy:
        description: As the task-level O(use_proxy).
        type: bool
      thresholds:
        description: Thresholds for this endpoint only, over the task-level O(thresholds).
        type: dict
      body_regex:
        description:
          - A Python regular expression searched for anywhere in the body (decoded with the
            response's charset, UTF-8 by default). No match is V(critical).
          - Only the first O(max_body_bytes) bytes are searched.
        type: str
      json_path:
        description:
          - Parse the body as JSON and look up this field; the endpoint is V(critical) when the
            body is not JSON or the field is missing.
          - "Keys are separated by dots, list items are C([N]) (C([-1]) is the last one) or
            C(.N), and a key holding dots or brackets is written C([\"key\"]): V(status),
            V(checks[0].status), V(checks.0.status), V(meta[\"build.id\"])."
          - The value found is returned as RV(checks[].json_value).
          - Alone, it only requires the field to exist. Add O(endpoints[].json_equals) or
            O(endpoints[].json_regex) to compare its value.
        type: str
      json_equals:
        description:
          - The value at O(endpoints[].json_path) must equal this. Numbers compare by value
            (V(1) equals V(1.0)), booleans only with booleans, objects and lists as a whole, and a
            string also matches the JSON text of a number, boolean or null (V("200") matches
            V(200), V("null") matches V(null)).
          - Mutually exclusive with O(endpoints[].json_regex).
        type: raw
      json_regex:
        description:
          - A Python regular expression searched for in the value at O(endpoints[].json_path),
            a string as it is, any other value as its JSON text. For one of several values use
            an anchored alternation such as V(^(healthy|degraded\)$).
          - Mutually exclusive with O(endpoints[].json_equals).
        type: str
  concurrency:
    description: How many requests are in flight at most, between 1 and 256.
    type: int
    default: 32
  method:
    description: HTTP method, one of C(GET), C(HEAD), C(OPTIONS), C(POST), C(PUT), C(PATCH), C(DELETE), in any case.
    type: str
    default: GET
  headers:
    description:
      - Request headers for every endpoint, for example C(Accept) or C(Host).
      - These values are shown with the task arguments and may be logged on the host, so
        never put credentials here. A value of six characters or more given here under a name
        that looks like a credential (C(Authorization), C(Cookie), C(X-Api-Key), names with
        C(token), C(secret), C(auth), ...) is masked in the result, and the task warns to move
        it to O(secret_headers).
    type: dict
  secret_headers:
    description:
      - "Headers whose values are credentials, for every endpoint, such as
        C(Authorization: Bearer {{ vault_api_token }}). Merged with O(headers); a name in both
        takes this value."
      - "The values are C(no_log): they never appear in the result, the task arguments, the
        host's log or an error message."
      - They are not sent on to another origin (scheme, host and port) when a redirect leads there.
    type: dict
  status_code:
    description: Status codes that mean healthy. When unset, any code from 200 to 299.
    type: list
    elements: int
  timeout:
    description:
      - Seconds to wait for the connection and for each part of the answer; the whole response
        must also arrive within it. No answer in time is V(critical).
      - DNS lookups use the resolver's own timeout (C(options timeout) in C(/etc/resolv.conf)).
    type: float
    default: 10
  validate_certs:
    description: Verify the HTTPS certificate chain and host name. V(false) accepts any certificate.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA certificates to trust for HTTPS, on the host the module runs on.
        When set, only these are trusted, not the system's.
    type: path
  follow_redirects:
    description:
      - Follow redirects (at most 10) and check the final answer. C(POST) follows C(301),
        C(302) and C(303) as a C(GET); other methods than C(GET) and C(HEAD) stop at a redirect.
      - V(false) checks the redirect itself, so set O(status_code) to the codes expected, such as V([301, 302]).
    type: bool
    default: true
  max_body_bytes:
    description:
      - Read at most this many bytes of each body, so memory stays bounded however large
        the answer. O(endpoints[].body_regex) and O(endpoints[].json_path) see only these bytes.
    type: int
    default: 1048576
  use_proxy:
    description: Use the proxy named by the C(http_proxy), C(https_proxy) and C(no_proxy) environment variables.
    type: bool
    default: true
  thresholds:
    description:
      - "Warning and critical limits: C(latency), a dict with C(warning) and/or C(critical), in
        milliseconds; default warning 2000, critical 10000. A value exactly at a limit crosses it."
    type: dict
attributes:
  check_mode:
    support: partial
    details:
      - Endpoints whose method is C(GET), C(HEAD) or C(OPTIONS) are probed as in a normal run. Those
        with another method are not sent, since the server could change, and their items are V(unknown).
notes:
  - Query strings are shown like the rest of the URL; pass tokens in O(secret_headers), not in the URL.
seealso:
  - module: ansible.builtin.uri
    description: One request per task, with the full response; for calling an API rather than checking it.
'''

EXAMPLES = r'''
- name: Check the API's health endpoint
  caretaker.maintenance.http_check:
    endpoints:
      - url: http://127.0.0.1:8080/health

- name: Check every endpoint of the stack in one task, reporting without failing
  caretaker.maintenance.http_check:
    timeout: 5
    secret_headers:
      Authorization: "Bearer {{ vault_api_token }}"
    thresholds:
      latency: {warning: 500, critical: 3000}
    endpoints:
      - name: api detailed health
        url: http://127.0.0.1:8080/health/detailed
        json_path: status
        json_equals: healthy
      - name: api database
        url: http://127.0.0.1:8080/health/detailed
        json_path: checks[0].status
        json_regex: ^(up|degraded)$
      - name: shop home page
        url: http://127.0.0.1:8080/
        headers:
          Accept: text/html
        body_regex: <title>[^<]*Shop</title>
      - name: old address still redirects
        url: http://127.0.0.1:8080/old-home
        follow_redirects: false
        status_code: [301, 308]
      - name: graphql answers a query
        url: http://127.0.0.1:8080/graphql
        method: POST
        body:
          query: "{ health }"
        json_path: data.health
        json_equals: ok
      - name: admin over TLS, internal CA
        url: https://127.0.0.1:8443/health
        ca_path: "{{ internal_ca_bundle }}"
        thresholds:
          latency: {warning: 1000}
    fail_on: never
  register: web

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ web.msg }}"
  when: web.status != 'ok'
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: critical
msg:
  description: One line a person can act on, naming the worst items.
  returned: always
  type: str
  sample: "1 critical of 6 endpoint checks; api detailed health: HTTP 200 in 4.1 ms, json status is \"degraded\", expected \"healthy\""
checks:
  description: One item per endpoint, in the order of O(endpoints).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: O(endpoints[].name), or the URL.
      type: str
      sample: api detailed health
    status:
      description: V(ok), V(warning), V(critical) or V(unknown).
      type: str
    value:
      description: Latency in milliseconds, or null when there was no answer.
      type: float
      sample: 4.1
    unit:
      description: Always C(ms).
      type: str
    threshold:
      description: The latency limits the value was compared with.
      type: dict
      sample: {warning: 2000, critical: 10000, direction: above}
    detail:
      description: What happened, in words, with every problem found and, for no answer, the reason and what to check.
      type: str
      sample: HTTP 200 in 4.1 ms
    url:
      description: O(endpoints[].url).
      type: str
    method:
      description: The method sent.
      type: str
    status_code:
      description: Status code of the final answer, or null when there was none.
      type: int
      sample: 200
    latency_ms:
      description: Same as RV(checks[].value).
      type: float
    matched:
      description:
        - Whether the body passed O(endpoints[].body_regex) and the JSON check.
        - Null when the endpoint has neither, or gave no answer.
      type: bool
    error:
      description: Why there was no answer (DNS, refused, timeout, TLS, ...), or null.
      type: str
      sample: "connection refused by 127.0.0.1:8081: nothing listens there; is the service running?"
    error_kind:
      description: V(dns), V(refused), V(timeout), V(tls), V(protocol), V(connection), or null when there was an answer.
      type: str
    final_url:
      description: URL of the final answer, after redirects; null when there was no answer.
      type: str
    redirects:
      description: How many redirects were followed.
      type: int
    json_value:
      description:
        - The value found at O(endpoints[].json_path), or null when it was not found.
          When its JSON text is over 1000 characters, the first 997 of them followed by C(...).
      type: raw
      returned: when O(endpoints[].json_path) is set
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 5, warning: 0, critical: 1, unknown: 0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.caretaker.maintenance.plugins.module_utils._http_check import (
    EndpointOptionError, build_endpoints, exposed_secret_headers, http_check_argument_spec, run_checks)
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import exit_with_status


def main():
    module = AnsibleModule(argument_spec=http_check_argument_spec(), supports_check_mode=True)
    for option, value in exposed_secret_headers(module.params):
        module.no_log_values.add(value)
        module.warn('%s looks like a credential: it is masked in this result, but move it to secret_headers '
                    'so that it is never shown with the task arguments or logged' % option)
    try:
        endpoints = build_endpoints(module.params)
    except EndpointOptionError as exc:
        module.fail_json(msg='%s' % exc)
    result = run_checks(endpoints, module.params['concurrency'], module.check_mode)
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
