# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""container_check: Docker containers as status items.

The Docker Engine API gives each container's state, HEALTHCHECK result, restart
count, OOM flag and start time (``GET /containers/{id}/json``). A restart count only
means something against an earlier one, so a small state file on the host keeps the
count per container id from the last run: "restarts" is how many happened since.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import errno
import json
import os
import re
import tempfile
import time
import traceback

from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    ABOVE, BELOW, CRITICAL, OK, WARNING, Threshold, check_item, measured_item, resolve_thresholds, summarize, worst)

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # not on Windows; the lock is only a courtesy between parallel runs
    HAS_FCNTL = False

try:
    from docker import APIClient
    from docker.errors import DockerException, NotFound
    from docker.utils import kwargs_from_env
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):
        pass

    class NotFound(DockerException):
        pass

try:
    from requests.exceptions import RequestException
except ImportError:  # requests comes with the docker SDK; without it nothing runs anyway
    class RequestException(Exception):
        pass

# "restarts" is the rise since the last run: one restart between two runs deserves a
# look, five means a crash loop (Docker's back-off allows about one a minute at worst).
# The total count and the uptime depend on the stack's history, so they have no default.
DEFAULT_THRESHOLDS = {
    'restarts': Threshold(1, 5, ABOVE),
    'restart_count': Threshold(None, None, ABOVE),
    'uptime': Threshold(None, None, BELOW),
}

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
DEFAULT_STATE_FILE = '~/.cache/caretaker/container_check.json'
COMPOSE_PROJECT_LABEL = 'com.docker.compose.project'
COMPOSE_SERVICE_LABEL = 'com.docker.compose.service'
DOCKER_HOST_SCHEMES = ('unix://', 'tcp://', 'http://', 'https://', 'ssh://', 'npipe://')
# Containers not seen for this long are dropped from the state file.
STATE_KEEP_SECONDS = 30 * 86400
STATE_VERSION = 1
HEALTH_OUTPUT_CHARS = 200

# Container states (State.Status) and what they mean when the container should run.
RUNNING_STATES = ('running', 'paused')


class DockerUnavailable(Exception):
    """The daemon cannot be reached; the text names the address and the fix."""


class OptionError(ValueError):
    """Bad module input; the text names the option."""


# --- connection ----------------------------------------------------------------


def docker_base_url(docker_host, environ=None):
    """The daemon address to use: the option, else DOCKER_HOST, else the local socket.
    A bare socket path is taken as unix://PATH."""
    environ = os.environ if environ is None else environ
    url = docker_host or environ.get('DOCKER_HOST') or DEFAULT_DOCKER_HOST
    source = 'docker_host' if docker_host else ('DOCKER_HOST' if environ.get('DOCKER_HOST') else None)
    if url.startswith('/'):
        url = 'unix://' + url
    if not url.startswith(DOCKER_HOST_SCHEMES):
        raise OptionError('%s must be unix:///path/to/docker.sock, tcp://host:port, ssh://user@host'
                          ' or a socket path, got %r' % (source or 'docker_host', url))
    return url


def _reason(exc):
    """A short cause and a hint for a failed connection."""
    text = '%s' % (exc,)
    lowered = text.lower()
    if 'no such file or directory' in lowered or 'filenotfounderror' in lowered:
        return 'no such socket; is dockerd running, and is docker_host right?'
    if 'permission denied' in lowered or 'permissionerror' in lowered:
        return ('permission denied on the socket; run the task as root (become: true)'
                ' or add the user to the docker group')
    if 'connection refused' in lowered:
        return 'connection refused; is dockerd running and listening there?'
    if 'timed out' in lowered or 'timeout' in lowered:
        return 'no answer in time (%s)' % text
    return text


def connect(docker_host, timeout, environ=None):
    """An API client that has already talked to the daemon (API version negotiated).
    Raises DockerUnavailable with the address and the cause."""
    environ = os.environ if environ is None else environ
    url = docker_base_url(docker_host, environ)
    kwargs = kwargs_from_env(environment=environ)  # DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
    kwargs['base_url'] = url
    try:
        return APIClient(version='auto', timeout=timeout, **kwargs)
    except (DockerException, RequestException, OSError) as exc:
        raise DockerUnavailable('cannot connect to the Docker daemon at %s: %s' % (url, _reason(exc)))


# --- times -------------------------------------------------------------------

_TIMESTAMP = re.compile(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$')


def parse_timestamp(text):
    """Epoch seconds of a Docker RFC 3339 timestamp (nanoseconds allowed); None for
    the zero time Docker reports for "never"."""
    match = _TIMESTAMP.match(text or '')
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if year <= 1:
        return None
    fraction = float('0.' + match.group(7)) if match.group(7) else 0.0
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + fraction
    zone = match.group(8)
    if zone != 'Z':
        sign = 1 if zone[0] == '+' else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds


def format_duration(seconds):
    """42 s, 12 min, 3 h 5 min, 4 d 3 h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return '%d s' % seconds
    minutes = seconds // 60
    if minutes < 60:
        return '%d min' % minutes
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return '%d h %d min' % (hours, minutes) if minutes else '%d h' % hours
    days, hours = divmod(hours, 24)
    return '%d d %d h' % (days, hours) if hours else '%d d' % days


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


# --- one container -------------------------------------------------------------


def container_facts(attrs, now):
    """What matters of one ``inspect`` result, in plain types."""
    state = attrs.get('State') or {}
    config = attrs.get('Config') or {}
    host_config = attrs.get('HostConfig') or {}
    labels = config.get('Labels') or {}
    health = state.get('Health') or None
    started = parse_timestamp(state.get('StartedAt'))
    finished = parse_timestamp(state.get('FinishedAt'))
    status = state.get('Status') or 'unknown'
    facts = {
        'name': (attrs.get('Name') or '').lstrip('/') or attrs.get('Id', '')[:12],
        'id': attrs.get('Id', '')[:12],
        'full_id': attrs.get('Id', ''),
        'image': config.get('Image'),
        'state': status,
        'exit_code': state.get('ExitCode'),
        'error': state.get('Error') or None,
        'oom_killed': bool(state.get('OOMKilled')),
        'restart_count': int(attrs.get('RestartCount') or 0),
        'restart_policy': (host_config.get('RestartPolicy') or {}).get('Name') or 'no',
        'memory_limit': host_config.get('Memory') or None,
        'health': health.get('Status') if health else None,
        'failing_streak': health.get('FailingStreak') if health else None,
        'health_output': None,
        'health_exit_code': None,
        'started_at': state.get('StartedAt') if started else None,
        'finished_at': state.get('FinishedAt') if finished else None,
        'uptime': round(max(0.0, now - started), 1) if started and status in RUNNING_STATES else None,
        'since_finished': round(max(0.0, now - finished), 1) if finished else None,
        'compose_project': labels.get(COMPOSE_PROJECT_LABEL),
        'compose_service': labels.get(COMPOSE_SERVICE_LABEL),
    }
    if health and health.get('Log'):
        last = health['Log'][-1]
        output = (last.get('Output') or '').strip()
        facts['health_output'] = output[:HEALTH_OUTPUT_CHARS] or None
        facts['health_exit_code'] = last.get('ExitCode')
    return facts


def _state_status(facts, expect_running):
    """Status and words for State.Status."""
    state, code = facts['state'], facts['exit_code']
    ago = ' %s ago' % format_duration(facts['since_finished']) if facts['since_finished'] is not None else ''
    code_words = 'with code %s' % code
    if state == 'running':
        return OK, 'running for %s' % format_duration(facts['uptime'] or 0)
    if state == 'paused':
        return WARNING, 'paused (running for %s)' % format_duration(facts['uptime'] or 0)
    if state == 'restarting':
        return CRITICAL, 'restarting: exited%s %s, Docker restarts it (policy %s)' % (
            ago, code_words, facts['restart_policy'])
    if state == 'exited':
        words = 'exited%s %s' % (ago, code_words)
        if not expect_running and code == 0:
            return OK, words
        return CRITICAL, words + ('' if expect_running else ' (non-zero)')
    if state == 'created':
        return (CRITICAL if expect_running else OK), 'created, never started'
    if state == 'dead':
        return CRITICAL, 'dead%s' % (': %s' % facts['error'] if facts['error'] else '')
    # removing, or a state this code does not know
    return CRITICAL, state


def _health_item(facts, label, target):
    health = facts['health']
    if health is None:
        return check_item(label + ' health', OK, value=None, detail='no HEALTHCHECK defined',
                          target=target, signal='health')
    if health == 'healthy':
        status, detail = OK, 'healthy'
    elif health == 'starting':
        status, detail = WARNING, 'starting: no health probe has passed yet'
    elif health == 'unhealthy':
        status = CRITICAL
        detail = 'unhealthy: %s failing in a row' % _plural(facts['failing_streak'] or 0, 'probe')
    else:
        status, detail = WARNING, 'health status %s' % health
    if status != OK and facts['health_output'] is not None:
        detail += '; last probe exit %s: %s' % (facts['health_exit_code'], facts['health_output'])
    return check_item(label + ' health', status, value=health, detail=detail, target=target, signal='health',
                      output=facts['health_output'])


def evaluate_container(facts, thresholds, expect_running=True, previous=None, tracking=True, now=None):
    """Status items for one container and its summary facts (``status``, ``detail``,
    ``new_restarts``). ``previous`` is the state-file entry of this container id from
    the last run, or None; ``tracking`` False when no state file is kept."""
    name = facts['name']
    items = []
    status, words = _state_status(facts, expect_running)
    running = facts['state'] in RUNNING_STATES
    count = facts['restart_count']

    parts = [words]
    if running and facts['health'] is not None:
        parts.append(facts['health'])
    parts.append(_plural(count, 'restart'))
    if facts['oom_killed']:
        parts.append('killed by the OOM killer')
    summary = ', '.join(parts)
    items.append(check_item(name + ' state', status, value=facts['state'], detail=summary, target=name,
                            signal='state', id=facts['id'], image=facts['image'], exit_code=facts['exit_code']))

    if running:
        items.append(_health_item(facts, name, name))

    if facts['oom_killed']:
        limit = facts['memory_limit']
        detail = 'killed by the kernel OOM killer%s' % (
            ' (memory limit %.0f MiB)' % (limit / 1048576.0) if limit else ' (no memory limit: the host ran out)')
        items.append(check_item(name + ' oom_killed', CRITICAL, value=True, detail=detail, target=name,
                                signal='oom_killed'))
    else:
        items.append(check_item(name + ' oom_killed', OK, value=False, detail='not killed by the OOM killer',
                                target=name, signal='oom_killed'))

    items.append(measured_item(
        name + ' restart_count', count, thresholds['restart_count'], 'restarts',
        '%s by the restart policy (%s) since the container was created'
        % (_plural(count, 'restart'), facts['restart_policy']),
        target=name, signal='restart_count'))

    new = None
    if tracking:
        if previous is None or 'restart_count' not in previous:
            items.append(check_item(
                name + ' restarts', OK, value=None, unit='restarts',
                detail='first run for this container: %s so far, the baseline for the next run'
                % _plural(count, 'restart'),
                target=name, signal='restarts'))
        else:
            before = int(previous['restart_count'])
            # A lower count means Docker reset it (docker start after a stop):
            # every restart counted now is new.
            new = count - before if count >= before else count
            since = ''
            if previous.get('seen') and now is not None:
                since = ' %s ago' % format_duration(now - previous['seen'])
            detail = '%s since the last run%s (%d, now %d)' % (_plural(new, 'new restart'), since, before, count)
            items.append(measured_item(name + ' restarts', new, thresholds['restarts'], 'restarts', detail,
                                       target=name, signal='restarts'))

    if running:
        items.append(measured_item(
            name + ' uptime', facts['uptime'], thresholds['uptime'], 'seconds',
            'up %s since %s' % (format_duration(facts['uptime']), facts['started_at']),
            target=name, signal='uptime'))

    summary_facts = {
        'name': name,
        'id': facts['id'],
        'image': facts['image'],
        'status': worst(item['status'] for item in items),
        'detail': summary,
        'state': facts['state'],
        'health': facts['health'],
        'exit_code': facts['exit_code'],
        'oom_killed': facts['oom_killed'],
        'restart_count': count,
        'new_restarts': new,
        'uptime': facts['uptime'],
        'started_at': facts['started_at'],
        'compose_project': facts['compose_project'],
        'compose_service': facts['compose_service'],
    }
    return items, summary_facts


# --- selection ----------------------------------------------------------------


def label_value(value):
    """Docker labels are strings; YAML gives booleans and numbers too."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '%s' % (value,)


def label_filters(labels, compose_project):
    """The API's label filter: ``key=value``, or ``key`` for a null value."""
    filters = []
    for key in sorted(labels or {}):
        value = labels[key]
        filters.append(key if value is None else '%s=%s' % (key, label_value(value)))
    if compose_project:
        filters.append('%s=%s' % (COMPOSE_PROJECT_LABEL, compose_project))
    return filters


def selection_label(labels, compose_project):
    parts = []
    if compose_project:
        parts.append('compose project %s' % compose_project)
    for key in sorted(labels or {}):
        value = labels[key]
        parts.append('label %s' % (key if value is None else '%s=%s' % (key, label_value(value))))
    return ' and '.join(parts)


def validate_options(names, labels, compose_project, expect_at_least, timeout):
    """Raise OptionError naming the option for input no run can succeed with."""
    if compose_project is not None and not compose_project.strip():
        raise OptionError('compose_project is empty: give the project name (docker compose ls)')
    if not names and not labels and not compose_project:
        raise OptionError('nothing to check: set containers (names), labels or compose_project')
    for index, name in enumerate(names or []):
        if not name or not name.strip():
            raise OptionError('containers[%d] is empty: give a container name or id' % index)
    for key in labels or {}:
        if not key or not key.strip():
            raise OptionError('labels has an empty key: give label: value pairs')
        value = labels[key]
        if isinstance(value, (dict, list)):
            raise OptionError('labels.%s must be a string (or null to match any value), got %r' % (key, value))
    if expect_at_least < 0:
        raise OptionError('expect_at_least must be 0 or more, got %d' % expect_at_least)
    if timeout <= 0:
        raise OptionError('timeout must be more than 0 seconds, got %s' % timeout)


# --- state file -----------------------------------------------------------------


class RestartState(object):
    """Restart counts per container id from the last run, in a small JSON file."""

    def __init__(self, path):
        self.path = path
        self.entries = {}
        self.problem = None

    def load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (IOError, OSError) as exc:
            if exc.errno != errno.ENOENT:
                self.problem = 'cannot read %s: %s' % (self.path, exc.strerror or exc)
            return self
        except ValueError as exc:
            self.problem = '%s is not valid JSON (%s); it is rewritten from this run' % (self.path, exc)
            return self
        entries = data.get('containers') if isinstance(data, dict) else None
        self.entries = dict((key, value) for key, value in (entries or {}).items() if isinstance(value, dict))
        return self

    def get(self, full_id):
        return self.entries.get(full_id)

    def merged(self, containers, now):
        """Entries after this run: the containers seen now, plus the others seen
        within STATE_KEEP_SECONDS (another task may check them)."""
        entries = dict((key, value) for key, value in self.entries.items()
                       if now - float(value.get('seen') or 0) < STATE_KEEP_SECONDS)
        for facts in containers:
            entries[facts['full_id']] = {'name': facts['name'], 'restart_count': facts['restart_count'], 'seen': now}
        return entries

    def save(self, containers, now):
        """Write atomically (0600); raise OSError on failure."""
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        lock = None
        if HAS_FCNTL:
            lock = open(self.path + '.lock', 'a')
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            # Re-read under the lock so a parallel task's entries are kept.
            current = RestartState(self.path).load()
            current.entries.update(self.entries)
            data = {'version': STATE_VERSION, 'containers': current.merged(containers, now)}
            fd, tmp = tempfile.mkstemp(prefix='.container_check.', dir=directory)
            try:
                with os.fdopen(fd, 'w') as handle:
                    json.dump(data, handle, indent=1, sort_keys=True)
                    handle.write('\n')
                os.chmod(tmp, 0o600)
                os.rename(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        finally:
            if lock is not None:
                lock.close()


# --- the whole check -------------------------------------------------------------


def _inspect(client, name_or_id):
    """Inspect result, or None when there is no such container."""
    try:
        return client.inspect_container(name_or_id)
    except NotFound:
        return None


def _find(client, names, labels, compose_project):
    """(expected, selected, missing): inspect results of the named containers, of
    the label selection (all states), and the names not found."""
    expected, missing = [], []
    for name in names:
        attrs = _inspect(client, name)
        if attrs is None:
            missing.append(name)
        else:
            expected.append(attrs)
    selected = []
    filters = label_filters(labels, compose_project)
    if filters:
        for summary in client.containers(all=True, filters={'label': filters}):
            attrs = _inspect(client, summary['Id'])
            if attrs is not None:  # removed in between
                selected.append(attrs)
        selected.sort(key=lambda attrs: attrs.get('Name') or '')
    return expected, selected, missing


def run_checks(docker_host=None, timeout=10, names=None, labels=None, compose_project=None, expect_at_least=1,
               expect_running=True, thresholds=None, state_file=None, check_mode=False, environ=None):
    """The module's result: items for every container, the selection and the daemon.
    Never raises for a Docker problem; option errors raise OptionError."""
    names = list(dict.fromkeys(names or []))
    resolved = resolve_thresholds(DEFAULT_THRESHOLDS, thresholds)
    base_url = docker_base_url(docker_host, os.environ if environ is None else environ)
    items = []
    try:
        client = connect(docker_host, timeout, environ)
        try:
            expected, selected, missing = _find(client, names, labels, compose_project)
        finally:
            client.close()
    except DockerUnavailable as exc:
        items.append(check_item('docker@%s reachable' % base_url, CRITICAL, detail='%s' % exc, target=base_url,
                                signal='reachable'))
        result = summarize(items, what='container checks')
        result.update(containers=[], docker_host=base_url)
        return result
    except (DockerException, RequestException, OSError) as exc:
        items.append(check_item('docker@%s reachable' % base_url, CRITICAL,
                                detail='the Docker daemon at %s failed a request: %s' % (base_url, exc),
                                target=base_url, signal='reachable'))
        result = summarize(items, what='container checks')
        result.update(containers=[], docker_host=base_url)
        return result

    now = time.time()
    state = RestartState(state_file).load() if state_file else None
    seen, facts_list = set(), []
    for attrs in expected + selected:
        if attrs.get('Id') in seen:
            continue
        seen.add(attrs.get('Id'))
        facts_list.append(container_facts(attrs, now))

    for name in missing:
        items.append(check_item(
            name + ' present', CRITICAL, value=False,
            detail='expected container %s not found on %s (docker ps -a has no such name or id)' % (name, base_url),
            target=name, signal='present'))

    filters = label_filters(labels, compose_project)
    if filters:
        label = selection_label(labels, compose_project)
        matched = [attrs.get('Name', '').lstrip('/') for attrs in selected]
        limit = Threshold(None, expect_at_least - 1 if expect_at_least > 0 else None, BELOW)
        if matched:
            detail = '%s: %s' % (_plural(len(matched), 'container'), ', '.join(matched))
        else:
            detail = 'no container (running or stopped) has %s' % ' and '.join('label ' + f for f in filters)
        detail += '; expected at least %d' % expect_at_least
        items.append(measured_item('containers with %s' % label, len(matched), limit, 'containers', detail,
                                   target=label, signal='matched'))

    containers = []
    for facts in facts_list:
        previous = state.get(facts['full_id']) if state is not None else None
        own_items, summary = evaluate_container(facts, resolved, expect_running, previous,
                                                tracking=state is not None, now=now)
        items.extend(own_items)
        containers.append(summary)

    if state is not None:
        problem = state.problem
        if not check_mode:
            try:
                state.save(facts_list, now)
            except (IOError, OSError) as exc:
                problem = 'cannot write %s: %s; restarts since the last run are not tracked' % (
                    state_file, exc.strerror or exc)
        if problem:
            items.append(check_item('state file', WARNING, detail=problem, target=state_file, signal='state_file'))

    result = summarize(items, what='container checks')
    result.update(containers=containers, docker_host=base_url)
    return result
