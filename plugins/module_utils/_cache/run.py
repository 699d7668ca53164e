# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One redis_cleanup run: checks that can refuse first, then the key rules, the queues and memory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.keys import Pacer, RuleRun
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.memory import largest_keys, memory_item
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.options import MEMORY_THRESHOLDS
from ansible_collections.caretaker.maintenance.plugins.module_utils._cache.queues import QueueLayoutError, QueueRun
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import resolve_thresholds, summarize

KINDS = ('delete_without_ttl', 'expire_without_ttl', 'idle_sessions')


class CleanupError(Exception):
    """A run that could not go on; ``partial`` holds what was done before."""

    def __init__(self, message, partial=None):
        super(CleanupError, self).__init__(message)
        self.partial = partial or {}


def _order(rules):
    """Idle-time rules first: reading a value (by: field) resets its key's idle time on servers
    before Redis 7.2, whose CLIENT NO-TOUCH would prevent it."""
    return sorted(rules, key=lambda rule: 0 if rule.by == 'idletime' else 1)


def _preflight(engine, client, options, queues):
    if any(rule.by == 'idletime' for rule in options.rules):
        try:
            policy = engine.client.config_get('maxmemory-policy').get('maxmemory-policy', '')
        except Exception:  # CONFIG renamed or not allowed: OBJECT IDLETIME will tell
            policy = ''
        if 'lfu' in policy:
            rule = [rule for rule in options.rules if rule.by == 'idletime'][0]
            raise CleanupError('%s.by idletime: maxmemory-policy is %s, under which Redis keeps no idle time '
                               '(OBJECT IDLETIME fails): use by: field with the session\'s timestamp field; '
                               'nothing was deleted' % (rule.option, policy))
    for queue in queues:
        queue.check_layout()
    try:  # Redis 7.2 and later: our reads leave the keys' idle times and LFU counters alone
        client.execute_command('CLIENT', 'NO-TOUCH', 'ON')
    except Exception:
        pass


def _act_error(engine, exc, where):
    text = '%s' % (exc if isinstance(exc, EngineError) else engine.error(where, exc))
    lowered = text.lower()
    if 'lfu' in lowered and 'idle' in lowered:
        text += ': use by: field with the session\'s timestamp field'
    elif 'no permissions' in lowered or 'noperm' in lowered:
        text += (' (allow the login what redis_cleanup runs: ACL +@read +@write +@keyspace +@scripting +time +info '
                 '+memory +ping, or run it in check mode, which runs no script)')
    return text


def run(engine, options, check_mode, diff):
    client = engine.binary_client()
    try:
        return _run(engine, client, options, check_mode, diff)
    finally:
        client.close()


def _run(engine, client, options, check_mode, diff):
    seconds, micros = engine.run('TIME failed', client.time)
    now = seconds + micros / 1e6
    diff_max = options.diff_max_keys if diff else 0
    queues = [QueueRun(spec, client, now * 1000, check_mode, diff_max) for spec in options.queues]
    result = dict((kind, []) for kind in KINDS)
    result.update(queues=[], changed=False, largest_keys=[], largest_keys_sampled=0)
    try:
        _preflight(engine, client, options, queues)
    except QueueLayoutError as exc:
        raise CleanupError('%s' % exc)
    pacer = Pacer(options.pause, options.max_keys_per_second)
    runs = []
    by_rule = {}
    for rule in _order(options.rules):
        rule_run = RuleRun(rule, client, now, check_mode, diff_max)
        try:
            by_rule[(rule.kind, rule.index)] = rule_run.run(options.batch_size, pacer)
        except Exception as exc:
            raise CleanupError(_act_error(engine, exc, rule.option), _partial(result, by_rule, options, check_mode))
        runs.append(rule_run)
    _fill(result, by_rule, options)
    checks = []
    for queue in queues:
        try:
            result['queues'].append(queue.run(options.batch_size, pacer))
        except Exception as exc:
            result['queues'].append(queue.result)
            raise CleanupError(_act_error(engine, exc, queue.where()), _partial(result, {}, options, check_mode))
        checks.extend(queue.checks(options.queue_thresholds))
    if options.largest_keys:
        result['largest_keys'], result['largest_keys_sampled'] = engine.run(
            'largest_keys: MEMORY USAGE failed', largest_keys, client, options.largest_keys,
            options.largest_keys_sample, options.batch_size, pacer)
    info = engine.info('memory')
    threshold = resolve_thresholds(MEMORY_THRESHOLDS, options.memory_thresholds)['memory']
    result['memory'], item = memory_item(info, threshold)
    checks.append(item)
    result.update(summarize(checks))
    result['matched'] = sum(entry['matched'] for entry in _operations(result))
    result['affected'] = sum(entry['affected'] for entry in _operations(result))
    result['changed'] = bool(result['affected']) and not check_mode
    result['paused_seconds'] = round(pacer.slept, 3)
    result['msg'] = '%s; %s' % (message(result, check_mode), result['msg'])
    if diff:
        result['diff'] = make_diff(runs, queues, result, options.diff_max_keys)
    return result


def _fill(result, by_rule, options):
    for rule in options.rules:
        if (rule.kind, rule.index) in by_rule:
            result[rule.kind].append(by_rule[(rule.kind, rule.index)])


def _partial(result, by_rule, options, check_mode):
    """What a run that stopped had done, for the error result."""
    partial = dict(result)
    if by_rule:
        partial.update((kind, []) for kind in KINDS)
        _fill(partial, by_rule, options)
    partial['changed'] = any(entry['affected'] for entry in _operations(partial)) and not check_mode
    return partial


def _operations(result):
    """Every key rule's and queue state's result."""
    entries = [entry for kind in KINDS for entry in result[kind]]
    return entries + [entry for queue in result['queues'] for entry in queue['clean']]


def _count(number, noun):
    return '%d %s%s' % (number, noun, '' if number == 1 else 's')


def message(result, check_mode):
    """What was done (check mode: would be done), in one line."""
    def total(kind):
        return sum(entry['affected'] for entry in result[kind])
    verb = 'would ' if check_mode else ''
    parts = []
    if result['delete_without_ttl']:
        parts.append('%sdelete %s without a TTL' % (verb, _count(total('delete_without_ttl'), 'key')))
    if result['expire_without_ttl']:
        parts.append('%sset a TTL on %s' % (verb, _count(total('expire_without_ttl'), 'key')))
    if result['idle_sessions']:
        parts.append('%sdelete %s' % (verb, _count(total('idle_sessions'), 'idle session')))
    jobs = {}
    for queue in result['queues']:
        for entry in queue['clean']:
            jobs[entry['state']] = jobs.get(entry['state'], 0) + entry['affected']
    if jobs:
        parts.append('%sremove %s jobs from %s' % (
            verb, ' and '.join('%d %s' % (jobs[state], state) for state in sorted(jobs)),
            _count(len(result['queues']), 'queue')))
    return ', '.join(parts) if parts else 'no cleanup rules'


def _listing(keys, total, suffix=''):
    lines = ['%s%s\n' % (key, suffix) for key in keys]
    if total > len(keys):
        lines.append('... and %d more\n' % (total - len(keys)))
    return ''.join(lines)


def make_diff(runs, queues, result, cap):
    """One diff per operation: the keys (capped at ``cap``) deleted or given a TTL."""
    diffs = []
    for rule_run in sorted(runs, key=lambda entry: (KINDS.index(entry.rule.kind), entry.rule.index)):
        header = '%s %s' % (rule_run.rule.option, rule_run.rule.pattern)
        count = rule_run.result['affected']
        if rule_run.rule.kind == 'expire_without_ttl':
            before = _listing(rule_run.keys, count, ' (no TTL)')
            after = _listing(rule_run.keys, count, ' (TTL %ds)' % rule_run.rule.seconds)
        else:
            before, after = _listing(rule_run.keys, count), ''
        diffs.append(dict(before_header=header, after_header=header, before=before, after=after))
    for queue in queues:
        count = sum(entry['affected'] for entry in queue.result['clean'])
        header = '%s old finished jobs' % queue.where()
        diffs.append(dict(before_header=header, after_header=header, before=_listing(queue.jobs, count), after=''))
    return diffs
