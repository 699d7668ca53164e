# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""data_retention on MongoDB, without transactions (a standalone server has none).

A batch reads up to n documents in timestamp (or _id) order. Archive upserts them into the
archive collection by _id, checks every one is there, and only then deletes them from the
source, each delete still requiring the rule's conditions. A run killed between the two steps
leaves copies that the next run overwrites with the same documents before deleting them: no
loss, no duplicate. Delete and anonymize act on the batch's _ids with the rule's conditions
repeated, so a document changed meanwhile is left alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._retention.rules import RuleError

try:
    from pymongo import ASCENDING, ReplaceOne
except ImportError:  # the engine reports the missing driver before this is used
    ASCENDING = 1
    ReplaceOne = None

_MONGO_COMPARISONS = {'=': '$eq', '!=': '$ne', '<': '$lt', '<=': '$lte', '>': '$gt', '>=': '$gte', 'in': '$in',
                      'not in': '$nin'}
ORDER_TIMESTAMP = 'timestamp'
ORDER_ID = 'primary key'  # _id


class MongoTarget(object):
    def __init__(self, rule, label):
        self.rule = rule
        self.label = label
        self.order = ORDER_ID
        self.archive_label = None
        self.archive_exists = False


def _condition(condition):
    if condition.operator == 'is null':
        return {condition.column: None}
    if condition.operator == 'is not null':
        return {condition.column: {'$ne': None}}
    return {condition.column: {_MONGO_COMPARISONS[condition.operator]: condition.value}}


def _path(document, dotted):
    for part in dotted.split('.'):
        document = document.get(part) if isinstance(document, dict) else None
    return document


def _filter_fields(document):
    """Field names a filter document tests, at its top level and inside $and, $or and $nor."""
    fields = []
    for key, value in (document or {}).items():
        if key in ('$and', '$or', '$nor') and isinstance(value, list):
            for part in value:
                fields.extend(_filter_fields(part) if isinstance(part, dict) else [])
        elif not key.startswith('$'):
            fields.append(key)
    return fields


class MongoDBRetention(object):
    def __init__(self, engine, lock_timeout, statement_timeout):
        self.engine = engine
        self.max_time_ms = int(statement_timeout * 1000)
        self.db = None

    def setup(self):
        if not self.engine.conn.database:
            raise RuleError('database is required for MongoDB: set it to the database holding the collections')
        self.db = self.engine.client[self.engine.conn.database]

    def close(self):
        pass

    def _run(self, action, func, *args, **kwargs):
        return self.engine.run(action, func, *args, **kwargs)

    def resolve(self, rule):
        database = self.engine.conn.database
        names = self._run('cannot list collections', self.db.list_collection_names)
        if rule.table not in names:
            raise RuleError('%s: no collection %s in database %s; nothing was changed' % (rule.where, rule.table, database))
        target = MongoTarget(rule, '%s.%s' % (database, rule.table))
        collection = self.db[rule.table]
        self._check_fields(rule, target, collection)
        indexes = self._run('cannot list indexes', collection.index_information)
        if any(spec.get('key') and spec['key'][0][0] == rule.timestamp_column for spec in indexes.values()):
            target.order = ORDER_TIMESTAMP
        if rule.action == 'archive':
            target.archive_label = '%s.%s' % (database, rule.archive_table)
            target.archive_exists = rule.archive_table in names
        return target

    def _check_fields(self, rule, target, collection):
        """A field no document has is most likely a typo; with != or $nin it would match everything,
        and cleared to null it would leave the real field's data in place. A field anonymize sets to
        a value may be new: a marker such as gdprAnonymized: true."""
        if self._run('cannot read %s' % target.label, collection.find_one, {}, {'_id': 1}) is None:
            return
        fields = [rule.timestamp_column] + [condition.column for condition in rule.conditions]
        fields += _filter_fields(rule.filter_document) + [name for name, value in rule.columns.items() if value is None]
        missing = []
        for field in dict.fromkeys(fields):
            if field != '_id' and self._run('cannot read %s' % target.label, collection.find_one,
                                            {field: {'$exists': True}}, {'_id': 1}) is None:
                missing.append(field)
        if missing:
            raise RuleError('%s: no document of %s has the field %s; nothing was changed'
                            % (rule.where, target.label, ', '.join(missing)))

    def query(self, target, cutoff, lower=None):
        rule = target.rule
        parts = [{rule.timestamp_column: {'$lt': cutoff}}]
        parts.extend(_condition(condition) for condition in rule.conditions)
        if rule.filter_document:
            parts.append(rule.filter_document)
        if rule.action == 'anonymize':
            if rule.mark_column:
                parts.append({rule.mark_column: None})
            else:
                parts.append({'$nor': [dict(rule.columns)]})
        if lower is not None:
            if target.order == ORDER_TIMESTAMP:
                parts.append({rule.timestamp_column: {'$gte': lower}})
            else:
                parts.append({'_id': {'$gt': lower}})
        return {'$and': parts}

    def count(self, target, cutoff, also=None):
        """Documents ``target``'s rule matches; with ``also`` (target, cutoff) on the same collection,
        only those that rule matches too."""
        collection = self.db[target.rule.table]
        query = self.query(target, cutoff)
        if also:
            query = {'$and': [query, self.query(*also)]}
        return int(self._run('cannot count documents', collection.count_documents, query, maxTimeMS=self.max_time_ms))

    def create_archive(self, target):
        """The archive collection with the source's indexes, none unique: archived values may repeat."""
        rule = target.rule
        source = self.db[rule.table]
        indexes = self._run('cannot list indexes', source.index_information)
        archive = self._run('cannot create collection %s' % target.archive_label, self.db.create_collection,
                            rule.archive_table)
        for name, spec in sorted(indexes.items()):
            keys = spec.get('key') or []
            if name == '_id_' or [key for key, _direction in keys] == ['_id']:
                continue
            self._run('cannot create index %s on %s' % (name, target.archive_label), archive.create_index,
                      list(keys), name=name)
        target.archive_exists = True

    def batch(self, target, cutoff, limit, now, lower):
        rule = target.rule
        collection = self.db[rule.table]
        sort = [(rule.timestamp_column, ASCENDING)] if target.order == ORDER_TIMESTAMP else [('_id', ASCENDING)]
        projection = None if rule.action == 'archive' else {'_id': 1, rule.timestamp_column: 1}
        cursor = collection.find(self.query(target, cutoff, lower), projection).sort(sort).limit(limit)
        docs = self._run('cannot read %s' % target.label, lambda: list(cursor.max_time_ms(self.max_time_ms)))
        if not docs:
            return 0, None
        ids = [doc['_id'] for doc in docs]
        # Acting by _id with the rule's conditions again: a document changed since it was read is left alone.
        still = {'$and': [{'_id': {'$in': ids}}, self.query(target, cutoff)]}
        action = '%s failed on %s' % (rule.action, target.label)
        if rule.action == 'anonymize':
            changes = dict(rule.columns)
            if rule.mark_column:
                changes[rule.mark_column] = now
            affected = self._run(action, collection.update_many, still, {'$set': changes}).modified_count
        elif rule.action == 'delete':
            affected = self._run(action, collection.delete_many, still).deleted_count
        else:
            affected = self._archive(target, docs, ids, still)
        last = docs[-1]
        return affected, (_path(last, rule.timestamp_column) if target.order == ORDER_TIMESTAMP else last['_id'])

    def _archive(self, target, docs, ids, still):
        rule = target.rule
        archive = self.db[rule.archive_table]
        action = 'archive failed on %s' % target.label
        written = self._run(action, archive.bulk_write, [ReplaceOne({'_id': doc['_id']}, doc, upsert=True) for doc in docs],
                            ordered=True)
        # Read the ids back rather than count_documents: some wire-compatible servers count an
        # ObjectId $in as 0 although find returns the documents.
        copied = len(self._run(action, lambda: list(archive.find({'_id': {'$in': ids}}, {'_id': 1}))))
        if written.upserted_count + written.matched_count != len(docs) or copied != len(docs):
            raise RuleError('%s: %d of %d documents reached %s; none were deleted from %s'
                            % (rule.where, copied, len(docs), target.archive_label, target.label))
        deleted = self._run(action, self.db[rule.table].delete_many, still).deleted_count
        if deleted < len(docs):
            # Changed since they were read, so they stay in the source: the archive must not keep a copy.
            kept = [doc['_id'] for doc in self.db[rule.table].find({'_id': {'$in': ids}}, {'_id': 1})]
            if kept:
                self._run(action, archive.delete_many, {'_id': {'$in': kept}})
        return deleted

    def time_param(self, moment):
        return moment
