#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: log_scan
short_description: Scan access and application logs for errors, attacks and slow requests, as one status
version_added: 0.1.0
description:
  - Reads log files (plain, gzip or zstd, told apart by their first bytes) once, in large blocks, and
    reports figures and a status per signal (V(ok), V(warning), V(critical), V(unknown)); the result's
    status is the worst of them.
  - "O(format=combined), nginx or Apache access logs in the combined or common format, optionally with
    a request time as the last field: status codes per code and class, the 5xx share (C(error_rate)),
    4xx and 401/403 counts, the top clients and paths, clients refused with 401/403, attack probes
    (SQL injection, cross-site scripting, path traversal, looked for in the percent-decoded request line)
    with samples, request-time percentiles and the slowest requests."
  - "O(format=text), application logs with a level word on each line, and O(format=json), one JSON object
    per line: lines per level and the most frequent error messages, with numbers, hex ids, UUIDs, IP
    addresses and quoted strings folded so that similar messages are counted together
    (C(user 42 not found) and C(user 97 not found) are C(user <n> not found))."
  - With O(state_file), each run reads only what was written since the last run, across log rotation;
    see O(state_file). With O(since), only lines at or after that time count.
  - Memory stays bounded whatever the size of the logs. Each top list keeps at most 30,000 keys. Its counts
    are exact while the distinct keys fit (RV(approximate) is empty), and otherwise upper bounds, too high
    by at most the largest count the list had to drop (Space-Saving). Percentiles are within 1 %.
  - A file that cannot be read (missing, permission denied, damaged compressed data) is an V(unknown) item
    naming the file and the fix; the other files are still scanned.
  - Read-only towards the logs. Never reports C(changed), not even when it writes O(state_file), which is
    the module's own bookkeeping and is not written in check mode.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.status
requirements:
  - zstandard (Python library) on the host, for zstd-compressed files only
options:
  paths:
    description:
      - Log files or globs on the host, such as V(/var/log/nginx/access.log*). Every file matched is read,
        oldest first; a file matched twice (or through a link) is read once.
      - To follow a log across rotation without losing the lines written just before it, include the rotated
        names (V(access.log*), not only V(access.log)).
      - A path that does not exist, or a glob that matches nothing, is an V(unknown) item. Directories matched by
        a glob are skipped.
    type: list
    elements: path
    required: true
  format:
    description:
      - V(combined) for nginx and Apache access logs (combined or common format), V(text) for application logs
        with a level word per line, V(json) for one JSON object per line.
    type: str
    choices: [combined, text, json]
    default: combined
  since:
    description:
      - Count only lines written at or after this time, given as an age before now (V(30m), V(24h), V(7d),
        V(1h30m); units V(s), V(m) for minutes, V(h), V(d), V(w)) or as an ISO 8601 time
        (V(2024-05-06T12:00:00+00:00); without a zone, the host's local time).
      - Older lines are skipped and counted in RV(before_since). Lines whose time cannot be read are counted
        (for O(format=text), a line without a time, such as a stack-trace line, takes the time of the line before it).
      - Combined lines carry their time. Text lines are dated by an ISO 8601-like time (V(2024-05-06 12:53:20),
        V(2024/05/06 12:53:20), optionally with a fraction and zone) or a syslog time (V(May  6 12:53:20)) in
        their first 48 characters. JSON lines by the first field of O(time_field) present.
    type: str
  state_file:
    description:
      - JSON file on the host where each run records, per file, how far it read, so that the next run reads only
        the lines written since. Without it every run reads every matched file whole.
      - Files are known by device and inode plus a fingerprint of their first 1024 bytes (decompressed). A file
        renamed by rotation (V(access.log) to V(access.log.1)) keeps its inode; a file compressed after rotation
        (V(access.log.1.gz)) or copied (C(copytruncate)) keeps its first bytes. Either way only its unread tail is
        read, and the new V(access.log) is read from its start, so no line is counted twice or missed. A file whose
        first bytes changed, or that became shorter than the offset, was truncated and is read from its start.
      - Two files with the same first 1024 bytes are taken for copies of one log, and only one of them is read
        (the plain one). So logs whose files all begin with the same 1024 bytes cannot be told apart.
      - A last line without a newline is left for the next run, as it may still be being written.
      - The first run reads every matched file whole; add O(since) to limit it. Entries of files not seen for
        30 days are dropped. Runs that share a state file take turns (a lock file next to it).
      - Written atomically with mode 0600 (its directory is created with mode 0700), and not in check mode, so a
        check-mode run reports the same lines as the real run that follows it.
    type: path
  thresholds:
    description:
      - Warning and critical limits per signal. Each key takes a dict with C(warning) and/or C(critical); a limit
        left unset keeps its default, and a signal without limits is reported for information. A value exactly at
        a limit crosses it.
      - "O(format=combined): C(error_rate), the share of requests answered 5xx in percent, default warning 1,
        critical 5 (the runbooks' alert levels); C(request_time_p95), the 95th percentile request time in seconds,
        default warning 2, critical 5, checked when the log has a request-time field; C(unparsed_rate), the share
        of lines not in the format in percent, default warning 10 (the format is probably wrong);
        C(client_error_rate) (4xx, percent), C(auth_failures) (401 and 403 answers), C(probes) (requests with an
        attack probe) and C(slow_request_rate) (percent of timed requests at or over O(slow_request_seconds)),
        no default limits."
      - "O(format=text) and O(format=json): C(error_lines) (lines at level error, critical, fatal, alert, emergency or
        panic) and C(warning_lines), no default limits; for O(format=json) also C(unparsed_rate), lines that are not
        JSON objects, in percent, default warning 10."
    type: dict
  top:
    description: How many entries each top list, and the C(slowest) list of RV(slow_requests), return, from 1 to 1000.
    type: int
    default: 10
  slow_request_seconds:
    description:
      - O(format=combined) only. A request that took this many seconds or more is slow. Default V(1).
    type: float
  request_time_unit:
    description:
      - O(format=combined) only. Unit of the request-time field, the last field of a line when it is a number
        (optionally written C(rt=0.069)), as with C(awk '{print $NF}').
      - V(seconds) for nginx C($request_time) and Apache C(%T), V(microseconds) for Apache C(%D). Default V(seconds).
    type: str
    choices: [microseconds, milliseconds, seconds]
  level_regex:
    description:
      - O(format=text) only. Python regular expression searched for in each line; its first group (or the whole
        match without a group) is the level, and the text after the match is the message.
      - Levels are lower-cased, and V(warn), V(err), V(crit), V(emerg) and V(severe) are counted as V(warning),
        V(error), V(critical), V(emergency) and V(error). A line without a match counts under level V(none).
      - The default matches the first of the usual level words in any case, as a whole word.
    type: str
  level_field:
    description:
      - O(format=json) only. Fields that hold the level; the first present is used. A dotted name is tried as one
        key, then as a path (V(log.level)). Numeric levels of pino and bunyan (30 info, 40 warn, 50 error,
        60 fatal) are named. Default V([level, severity, log.level, levelname]).
    type: list
    elements: str
  message_field:
    description:
      - O(format=json) only. Fields that hold the message, as O(level_field). Default V([message, msg, event, error]).
    type: list
    elements: str
  time_field:
    description:
      - O(format=json) only. Fields that hold the time for O(since), as O(level_field). The time is ISO 8601 text,
        or seconds, milliseconds or microseconds since the epoch. Default V([time, timestamp, "@timestamp", ts]).
    type: list
    elements: str
  workers:
    description:
      - Processes that read one large plain file (64 MiB or more to read) together, for O(format=combined) and
        O(format=json). Each reads a part of the file, cut between lines, and the figures are added up, so the
        result is the same as with one process.
      - Default the number of CPUs of the host, at most 4. V(1) keeps the scan to one CPU, leaving the others to
        the applications.
    type: int
notes:
  - Blank lines of text and JSON logs are ignored; in access logs they count as lines not in the format.
    A line longer than 1 MiB is cut to its first 1 MiB.
  - The combined format is parsed from the start of the line to the status code (the client, the time in brackets,
    the quoted request with C(\") escapes, the status), so custom fields may follow the status and bytes.
  - Top paths leave out the query string, so one page is one entry; probes are looked for in the whole request line.
seealso:
  - module: caretaker.maintenance.log_cleanup
    description: Compress and delete old logs.
'''

EXAMPLES = r'''
- name: Daily nginx report since the last run, following rotation
  caretaker.maintenance.log_scan:
    paths:
      - /var/log/nginx/access.log*
    state_file: /var/lib/caretaker/log_scan/nginx.json
  become: true
  register: nginx_logs

- name: Show the figures that matter
  ansible.builtin.debug:
    msg:
      - "{{ nginx_logs.msg }}"
      - "5xx: {{ nginx_logs.error_rate }} %, 401/403: {{ nginx_logs.auth_failures.total }}"
      - "top clients: {{ nginx_logs.top_clients | map(attribute='client') | list }}"

- name: Last hour of an API log with request times in milliseconds, stricter limits, report only
  caretaker.maintenance.log_scan:
    paths: [/srv/api/logs/access.log]
    since: 1h
    request_time_unit: milliseconds
    slow_request_seconds: 0.5
    thresholds:
      error_rate: {warning: 0.5, critical: 2}
      auth_failures: {warning: 100}
      probes: {warning: 1}
    fail_on: never

- name: Most frequent errors of the application log this week
  caretaker.maintenance.log_scan:
    paths: [/srv/app/logs/app.log, /srv/app/logs/app.log.*.gz]
    format: text
    since: 7d
    top: 20
    fail_on: never
  register: app_logs

- name: pino JSON logs of the delivery API, failing on more than 50 errors since the last run
  caretaker.maintenance.log_scan:
    paths: [/home/app/.pm2/logs/api-out*.log]
    format: json
    message_field: [msg]
    state_file: /home/app/.cache/caretaker/api-logs.json
    thresholds:
      error_lines: {critical: 50}
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: warning
msg:
  description: One line a person can act on; the main figures when all is well, otherwise the items that are not.
  returned: always
  type: str
  sample: "48211 lines from 2 files: 48211 requests, 0.42 % 5xx, 37 401/403, 3 probes, p95 0.31 s"
checks:
  description: One item per signal of the format, plus one V(unknown) item per file that could not be read.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The signal (V(error_rate), V(errors), ...), or the path of a file that could not be read, or V(state_file).
      type: str
    status:
      description: V(ok), V(warning), V(critical) or V(unknown).
      type: str
    value:
      description: What was measured, in RV(checks[].unit).
      type: float
      sample: 0.42
    unit:
      description: V(percent), V(seconds), V(requests) or V(lines).
      type: str
    threshold:
      description: The limits the value was compared with.
      type: dict
      sample: {warning: 1.0, critical: 5.0, direction: above}
    detail:
      description: The figure in words, or what went wrong and the fix.
      type: str
      sample: 203 of 48211 requests answered 5xx (0.42 %)
    signal:
      description: The signal, V(file) for a file that could not be read, V(state_file) for a state file problem.
      type: str
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 7, warning: 0, critical: 0, unknown: 0}
format:
  description: O(format).
  returned: always
  type: str
lines:
  description: Lines counted (read, not blank, and not before O(since)), including RV(unparsed) ones.
  returned: always
  type: int
  sample: 48211
unparsed:
  description: Lines not in the format (for O(format=text), always 0).
  returned: always
  type: int
before_since:
  description: Lines skipped because they were written before O(since).
  returned: always
  type: int
since:
  description: The O(since) time in UTC, or null.
  returned: always
  type: str
  sample: "2024-05-06T12:00:00Z"
files:
  description: Each file matched, oldest first, and what was read of it.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    compression:
      description: V(gzip), V(zstd) or null.
      type: str
    start:
      description: Offset in the (decompressed) content where reading started.
      type: int
    end:
      description: Offset after the last line read; recorded in O(state_file).
      type: int
    bytes:
      description: Bytes read, C(end - start).
      type: int
    lines:
      description: Lines counted from this file.
      type: int
    resumed:
      description: How the file was recognised from O(state_file), V(inode) or V(fingerprint), or null for a new file.
      type: str
    copy_of:
      description: The file this one is a copy of (same first bytes), which was read instead, or null.
      type: str
    truncated:
      description: Whether the file was found truncated (shorter than the offset recorded) and read from its start.
      type: bool
state_file:
  description: O(state_file), or null.
  returned: always
  type: str
approximate:
  description: The top lists whose counts are upper bounds because more distinct keys came than they keep; usually empty.
  returned: always
  type: list
  elements: str
  sample: []
requests:
  description: Requests parsed.
  returned: when O(format=combined)
  type: int
status_counts:
  description: Requests per status code (C(codes)) and per class (C(classes), C(2xx) ...).
  returned: when O(format=combined)
  type: dict
  sample: {codes: {"200": 45012, "404": 2960, "500": 203}, classes: {"2xx": 45012, "4xx": 2996, "5xx": 203}}
error_rate:
  description: Share of requests answered 5xx, in percent.
  returned: when O(format=combined)
  type: float
  sample: 0.42
server_errors:
  description: Requests answered 5xx.
  returned: when O(format=combined)
  type: int
client_errors:
  description: Requests answered 4xx.
  returned: when O(format=combined)
  type: int
client_error_rate:
  description: Share of requests answered 4xx, in percent.
  returned: when O(format=combined)
  type: float
auth_failures:
  description: Requests answered 401 and 403, and their total.
  returned: when O(format=combined)
  type: dict
  sample: {"401": 30, "403": 7, total: 37}
top_clients:
  description: Clients (first field, usually the address) with the most requests, as C(client) and C(count).
  returned: when O(format=combined)
  type: list
  elements: dict
  sample: [{client: 203.0.113.9, count: 1204}]
top_paths:
  description: Paths (without query string) with the most requests, as C(path) and C(count).
  returned: when O(format=combined)
  type: list
  elements: dict
top_auth_failure_clients:
  description: Clients with the most 401 and 403 answers, as C(client) and C(count).
  returned: when O(format=combined)
  type: list
  elements: dict
probes:
  description:
    - Requests with attack probes. C(lines) counts requests with any; C(kinds) has C(sql_injection), C(xss) and
      C(path_traversal), each with C(count) and up to 5 C(samples) (C(client), C(time), decoded C(request),
      C(status)); C(top_clients) the clients sending the most.
  returned: when O(format=combined)
  type: dict
request_time:
  description:
    - Request times in seconds, when lines end with one; null otherwise. C(requests) timed, C(max), and the
      percentiles C(p50), C(p95), C(p99) (within 1 %).
  returned: when O(format=combined)
  type: dict
  sample: {requests: 48211, max: 4.2, p50: 0.07, p95: 0.31, p99: 0.9}
slow_requests:
  description:
    - Requests at or over O(slow_request_seconds), when lines have a request time; null otherwise.
      C(threshold_seconds), C(count), C(rate) (percent of timed requests), C(top_paths), and the C(slowest),
      slowest first (C(client), C(time), C(request), C(status), C(seconds)).
  returned: when O(format=combined)
  type: dict
levels:
  description: Lines per level, lower-cased; C(none) for lines without a level.
  returned: when O(format=text) or O(format=json)
  type: dict
  sample: {info: 9120, warning: 40, error: 12, none: 30}
error_lines:
  description: Lines at an error level (error, critical, fatal, alert, emergency, panic).
  returned: when O(format=text) or O(format=json)
  type: int
warning_lines:
  description: Lines at level warning.
  returned: when O(format=text) or O(format=json)
  type: int
top_errors:
  description:
    - The most frequent error messages after folding, as C(message) (folded, at most 200 characters), C(count),
      and C(sample), the first such message as written.
  returned: when O(format=text) or O(format=json)
  type: list
  elements: dict
  sample: [{message: "user <n> not found in <str>", count: 7, sample: "user 42 not found in 'shop'"}]
undated:
  description: Lines whose time could not be read while O(since) was set (they are counted).
  returned: when O(format=text) or O(format=json)
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_options import (
    ScanOptionError, check_options, log_scan_argument_spec)
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_run import scan
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.scan_state import StateError
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import exit_with_status


def main():
    module = AnsibleModule(argument_spec=log_scan_argument_spec(), supports_check_mode=True)
    try:
        opts = check_options(module.params, now=None)
    except ScanOptionError as exc:
        module.fail_json(msg='%s' % exc)
    try:
        result = scan(opts, check_mode=module.check_mode)
    except StateError as exc:
        module.fail_json(msg='%s' % exc)
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
