# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_optimize on MongoDB: validate, compact and reIndex per collection.

Collection names travel as command values, never as code. Servers differ in what they
accept (reIndex only on a standalone server, compact not on some hosted tiers, wire-protocol
servers that answer any command with ``ok``), so each reply is checked for the fields the
command returns; a refusal or an empty answer skips that collection with the server's reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._optimize.common import (
    MIB, Decision, OptimizeError, Optimizer, Outcome, Step, Target, human_bytes, need, num, percent, unknown_names)

try:
    import pymongo
    from pymongo.errors import OperationFailure
except ImportError:  # the engine reports the missing driver before this is used
    pymongo = None
    OperationFailure = Exception

SYSTEM_DATABASES = ('admin', 'local', 'config')
COMMANDS = {'validate': 'validate', 'compact': 'compact', 'reindex': 'reIndex'}
# CommandNotFound, IllegalOperation (reIndex on a replica set member), CommandNotSupported,
# Unauthorized-by-tier (hosted servers answer 8000 for commands their tier does not allow).
UNSUPPORTED_CODES = (59, 20, 115, 8000)
UNSUPPORTED_WORDS = ('no such command', 'not supported', 'only allowed on a standalone', 'not allowed',
                     'is not allowed', 'unrecognized command')
# What each command's reply holds when the server really ran it.
EVIDENCE = {
    'validate': ('valid',),
    'compact': ('bytesFreed',),
    'reindex': ('nIndexes', 'nIndexesWas', 'indexes', 'message'),
}
# A maintenance command runs as long as the collection is big; the engine's socket timeout
# is made for health checks. A day bounds a command whose server went silent.
COMMAND_TIMEOUT = 86400


def classify(operation, reply):
    """Outcome of a command from its reply (a dict the server answered with ok: 1)."""
    evidence = [key for key in EVIDENCE[operation] if key in reply]
    if not evidence:
        return Outcome('skipped', 'the server answered %s with ok but without %s, so it did not %s this collection: '
                       'not supported by this server' % (COMMANDS[operation], ' or '.join(EVIDENCE[operation]), operation),
                       details={'reply': _brief(reply)})
    messages = ['%s' % text for text in (reply.get('warnings') or [])]
    if operation == 'validate':
        errors = ['%s' % text for text in (reply.get('errors') or [])]
        if not reply.get('valid'):
            return Outcome('failed', 'validate found the collection invalid: %s' % ('; '.join(errors) or 'no details'),
                           messages + errors, details={'reply': _brief(reply)})
        return Outcome('done', None, messages, details={'valid': True})
    if operation == 'compact':
        freed = int(reply.get('bytesFreed') or 0)
        return Outcome('done', 'server freed %s' % human_bytes(freed), messages, details={'bytes_freed': freed})
    return Outcome('done', None, messages + (['%s' % reply['message']] if reply.get('message') else []))


def refusal(operation, exc):
    """Outcome for an OperationFailure: skipped when the server does not support the command here."""
    code = getattr(exc, 'code', None)
    text = ('%s' % ((getattr(exc, 'details', None) or {}).get('errmsg') or exc)).split(', full error:')[0]
    if code in UNSUPPORTED_CODES or any(word in text.lower() for word in UNSUPPORTED_WORDS):
        return Outcome('skipped', 'the server does not support %s here: %s' % (COMMANDS[operation], text),
                       details={'code': code})
    return None


def _brief(reply):
    return dict((key, ('%s' % (value,))[:200]) for key, value in reply.items()
                if key not in ('$clusterTime', 'operationTime'))


class MongoDBOptimizer(Optimizer):
    def __init__(self, engine, options):
        super(MongoDBOptimizer, self).__init__(engine, options)
        self.client = engine.client

    def _run(self, action, func, *args, **kwargs):
        with pymongo.timeout(COMMAND_TIMEOUT):
            return self.engine.run(action, func, *args, **kwargs)

    # --- names ------------------------------------------------------------------------

    def _collections(self, database):
        """{name: type} of a database's collections and views, without system collections."""
        infos = self._run('cannot list collections', lambda: list(self.client[database].list_collections()))
        return dict((info['name'], info.get('type', 'collection')) for info in infos
                    if not info['name'].startswith('system.'))

    def resolve(self, names):
        database = self.engine.conn.database
        if database:
            databases = [database]
        else:
            databases = sorted(name for name in self._run('cannot list databases', self.client.list_database_names)
                               if name not in SYSTEM_DATABASES)
        if not names:
            return [self._target(db, name) for db in databases
                    for name, kind in sorted(self._collections(db).items()) if kind == 'collection']
        wanted = []
        for name in names:
            # With database set, a name is a collection name: dots belong to it (fs.files).
            if database:
                wanted.append((name, database, name))
            elif '.' in name:
                wanted.append((name,) + tuple(name.split('.', 1)))
            else:
                raise OptimizeError('tables: %s names no database: write database.collection, or set database; '
                                    'nothing was run' % name)
        known = {}
        missing, wrong, targets = [], [], []
        for name, db, collection in wanted:
            if db not in known:
                known[db] = self._collections(db)
            kind = known[db].get(collection)
            if kind is None:
                missing.append(name)
            elif kind != 'collection':
                wrong.append('%s is a %s' % (name, kind))
            elif (db, collection) not in [target.key for target in targets]:
                targets.append(self._target(db, collection))
        if missing:
            raise unknown_names(missing, 'database %s' % database if database else 'the databases named',
                                'check the spelling (case matters; database.collection when database is unset)')
        if wrong:
            raise unknown_names(wrong, 'the collections', 'list collections only')
        return targets

    def _stats(self, db, collection):
        return self._run('collStats failed', self.client[db].command, 'collStats', collection)

    def _target(self, db, collection):
        stats = self._stats(db, collection)
        storage, indexes = int(stats.get('storageSize') or 0), int(stats.get('totalIndexSize') or 0)
        metrics = dict(documents=int(stats.get('count') or 0), data_size=int(stats.get('size') or 0),
                       storage_size=storage, index_size=indexes)
        free = stats.get('freeStorageSize')
        if free is None:
            free = ((stats.get('wiredTiger') or {}).get('block-manager') or {}).get('file bytes available for reuse')
        if free is not None:
            metrics['free_storage'] = int(free)
        details = stats.get('indexDetails') or {}
        reusable = [(detail.get('block-manager') or {}).get('file bytes available for reuse') for detail in details.values()]
        if details and None not in reusable:
            metrics['free_index_storage'] = sum(int(value) for value in reusable)
        return Target('%s.%s' % (db, collection), (db, collection), size=storage + indexes, metrics=metrics)

    # --- plan ---------------------------------------------------------------------------

    def judge(self, target, operation):
        m, t = target.metrics, self.options.thresholds
        key, whole, what = ('free_storage', m['storage_size'], 'storage') if operation == 'compact' \
            else ('free_index_storage', m['index_size'], 'index storage')
        if key not in m:
            return Decision(False, 'the server reports no reusable %s for this collection (collStats has no %s), so '
                                   'whether %s would help cannot be judged: set only_if_needed to false to run it anyway'
                            % (what, 'freeStorageSize' if operation == 'compact' else 'indexDetails block-manager figures',
                               operation))
        share = percent(m[key], whole)
        return need('%s reusable of %s %s (%s %%)' % (human_bytes(m[key]), human_bytes(whole), what, num(share)),
                    share, t['free_percent'], m[key], t['free_mib'] * MIB, '%s MiB reusable' % num(t['free_mib']))

    def steps(self, target, operations):
        db, collection = target.key
        return [Step([op], '%s: {%s: "%s"}' % (db, COMMANDS[op], collection.replace('"', '\\"')), op) for op in operations]

    # --- run ----------------------------------------------------------------------------

    def execute(self, target, step):
        db, collection = target.key
        operation = step.payload

        def _command():
            try:
                return self.client[db].command(COMMANDS[operation], collection)
            except OperationFailure as exc:
                outcome = refusal(operation, exc)
                if outcome is None:
                    raise
                return outcome
        reply = self._run('%s failed' % COMMANDS[operation], _command)
        if isinstance(reply, Outcome):
            return reply
        return classify(operation, reply)

    def size(self, target):
        stats = self._stats(*target.key)
        return int(stats.get('storageSize') or 0) + int(stats.get('totalIndexSize') or 0)
