# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""data_retention's run: resolve every rule, then count and act rule after rule, batch after batch.

Every rule is resolved against the catalog before the first row is touched, so a bad name in
the last rule stops the run with nothing changed. The one exception is a rule on the archive an
earlier rule of the same run creates (archive after 6 months, delete from the archive after 3
years): it is resolved when its turn comes, and check mode counts it exactly as the rows the
earlier rule would move that this rule would then take. A rule never acts on more rows than it
counted at its start: rows that turn old during the run, or that other sessions held locked,
are left for the next run, and the loop always ends.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError

PAST = {'delete': 'deleted', 'archive': 'archived', 'anonymize': 'anonymized'}


def backend_for(engine, lock_timeout, statement_timeout):
    """The retention backend of a connected engine."""
    # Imported here so a host without one driver can still run the others.
    if engine.name == 'postgresql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.postgresql import PostgreSQLRetention
        return PostgreSQLRetention(engine, lock_timeout, statement_timeout)
    if engine.name == 'mysql':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.mysql import MySQLRetention
        return MySQLRetention(engine, lock_timeout, statement_timeout)
    if engine.name == 'mongodb':
        from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.mongodb import MongoDBRetention
        return MongoDBRetention(engine, lock_timeout, statement_timeout)
    raise RuleError('data_retention does not support engine %s' % engine.name)


def iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _item(target, cutoff):
    rule = target.rule
    return dict(name=rule.name, table=target.label, action=rule.action, older_than='%s' % rule.older_than,
                cutoff=iso(cutoff), matched=0, affected=0, batches=0, left=0,
                archive_table=target.archive_label, archive_created=False, batch_order=target.order, seconds=0.0)


def _act(backend, target, item, cutoff, now, sleep):
    rule = target.rule
    if rule.action == 'archive' and not target.archive_exists:
        backend.create_archive(target)
        item['archive_created'] = True
    lower = None
    while item['affected'] < item['matched']:
        if item['batches'] and rule.pause:
            sleep(rule.pause)  # between batches only: let the application's writes through
        limit = min(rule.batch_size, item['matched'] - item['affected'])
        affected, lower = backend.batch(target, backend.time_param(cutoff), limit, backend.time_param(now), lower)
        item['batches'] += 1
        item['affected'] += affected
        if affected < limit:
            break  # the rest is held by other sessions or no longer matches


def run(backend, rules, now, check_mode=False, sleep=time.sleep):
    """Result dict of the module (without msg and diff): ``rules`` items and totals.

    ``now`` (aware UTC) is the reference for every cut-off and the value of mark columns.
    """
    backend.setup()
    targets = _resolve_all(backend, rules)
    items = []
    try:
        for target in targets:
            started = time.monotonic()
            item = None
            if isinstance(target, _OnNewArchive):
                # Either the archive exists now (a target to count as usual) or the item is final.
                target, item = target.resolve(backend, now, check_mode)
            if item is not None:
                items.append(item)
            else:
                cutoff = target.rule.older_than.before(now)
                item = _item(target, cutoff)
                items.append(item)
                item['matched'] = backend.count(target, backend.time_param(cutoff))
                if check_mode:
                    item['affected'] = item['matched']
                    item['archive_created'] = bool(target.archive_label and not target.archive_exists and item['matched'])
                elif item['matched']:
                    _act(backend, target, item, cutoff, now, sleep)
            item['left'] = max(0, item['matched'] - item['affected'])
            item['seconds'] = round(time.monotonic() - started, 3)
    except (RuleError, EngineError) as exc:
        # What was committed stays committed: the caller reports it with the failure.
        if items:
            items[-1]['left'] = max(0, items[-1]['matched'] - items[-1]['affected'])
        exc.partial = _totals(items)
        raise
    return _totals(items)


def _archive_of(rule, earlier):
    """Whether ``rule`` acts on the archive that the archive rule ``earlier`` writes."""
    return (earlier.action == 'archive' and rule.table == earlier.archive_table
            and rule.schema == (earlier.archive_schema or earlier.schema))


def _resolve_all(backend, rules):
    """The target of each rule, or an _OnNewArchive where the rule's table is the archive an
    earlier rule creates in this run; any other unknown name raises with nothing changed."""
    targets = []
    for rule in rules:
        try:
            targets.append(backend.resolve(rule))
        except RuleError:
            source = next((target for target in reversed(targets) if not isinstance(target, _OnNewArchive)
                           and _archive_of(rule, target.rule) and not target.archive_exists), None)
            if source is None:
                raise
            targets.append(_OnNewArchive(rule, source))
    return targets


class _OnNewArchive(object):
    """A rule on the archive that ``source``'s rule creates in this run."""

    def __init__(self, rule, source):
        self.rule, self.source = rule, source

    def resolve(self, backend, now, check_mode):
        """(target, None) once the archive exists; otherwise (None, item): in check mode the rows
        the source rule would archive that this rule would take, counted on the source, and in a
        real run nothing (the source rule matched no row, so no archive was made)."""
        if not check_mode and self.source.archive_exists:
            return backend.resolve(self.rule), None
        # The same rule on the source table: the archive gets the source's columns and values.
        shadow = copy.copy(self.rule)
        shadow.table, shadow.schema = self.source.rule.table, self.source.rule.schema
        target = backend.resolve(shadow)
        cutoff = self.rule.older_than.before(now)
        item = _item(target, cutoff)
        item['table'] = self.source.archive_label
        if check_mode:
            source_cutoff = self.source.rule.older_than.before(now)
            item['matched'] = item['affected'] = backend.count(
                target, backend.time_param(cutoff), also=(self.source, backend.time_param(source_cutoff)))
            item['archive_created'] = bool(target.archive_label and not target.archive_exists and item['matched'])
        return None, item


def _totals(items):
    return dict(changed=any(item['affected'] or item['archive_created'] for item in items), rules=items,
                matched=sum(item['matched'] for item in items), affected=sum(item['affected'] for item in items))


def message(result, check_mode):
    done = {}
    for item in result['rules']:
        done[item['action']] = done.get(item['action'], 0) + item['affected']
    parts = ['%s %d' % (action if check_mode else PAST[action], count) for action, count in sorted(done.items())]
    text = '%s%s rows in %d rule%s (%d matched)' % ('would ' if check_mode else '', ', '.join(parts), len(result['rules']),
                                                    '' if len(result['rules']) == 1 else 's', result['matched'])
    left = sum(item['left'] for item in result['rules'])
    if left:
        text += '; %d matched rows were left (locked by other sessions or changed meanwhile): the next run takes them' % left
    return text


def diff(result, check_mode):
    """Per rule: the rows that matched before, and after the run (or as check mode expects)."""
    before, after = [], []
    for item in result['rules']:
        name = '%s %s%s' % (item['action'], item['table'], ' (%s)' % item['name'] if item['name'] else '')
        before.append('%s: %d rows older than %s (%s)\n' % (name, item['matched'], item['older_than'], item['cutoff']))
        after.append('%s: %d rows older than %s (%s); %d %s%s\n' % (
            name, item['left'], item['older_than'], item['cutoff'], item['affected'],
            'would be ' if check_mode else '', PAST[item['action']]))
    return dict(before=''.join(before), after=''.join(after))
