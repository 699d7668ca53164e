# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MongoDB: check and restore mongodump-layout tar streams (<db>/<collection>.bson and
<db>/<collection>.metadata.json) through pymongo, without mongorestore.

Where the databases of an artifact go (``plan``):

- one database (the manifest's, ``source_database``, or the only one in the counts)
  into the target database;
- a target with ``*`` in it: each database of the artifact (or only ``source_database``)
  into the target with ``*`` replaced by its name, so ``*`` keeps every name and
  ``restored_*`` prefixes them; admin, local and config are never touched;
- a scratch target of backup_verify: each database into a scratch of its own,
  ``<scratch>_1``, ``<scratch>_2``, ..., all dropped with the scratch.

Each collection is created from its metadata (options included) before its documents
go in, so an empty collection comes back too; the indexes follow the data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import tarfile

try:
    from urllib.parse import unquote_plus
except ImportError:  # Python 2
    from urllib import unquote_plus

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.pipeline import ChunkReader
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    SCRATCH_PREFIX, Restorer, RestoreError)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mongodb import MongoDBEngine

try:
    import bson
    from bson import json_util
    from bson.codec_options import CodecOptions
    from bson.errors import InvalidBSON
    from bson.raw_bson import RawBSONDocument
    from bson.son import SON
    from pymongo import IndexModel
    from pymongo.errors import OperationFailure
except ImportError:
    bson = None  # MongoDBEngine.require_driver() reports the missing pymongo

_BATCH_DOCUMENTS = 1000
_BATCH_BYTES = 8 * 1024 * 1024
_METADATA = '.metadata.json'
# Index fields that describe the index rather than configure it.
_INDEX_INFO = ('v', 'key', 'ns', 'name')
_NAMESPACE_EXISTS = 48
# Characters MongoDB refuses in database names, and its limit on their length in bytes.
_BAD_NAME_CHARACTERS = '/\\. "$*<>:|?\0'
_MAX_NAME_BYTES = 63
SYSTEM_DATABASES = ('admin', 'local', 'config')


class TarEntry(object):
    def __init__(self, member, handle):
        parts = member.name.strip('/').split('/')
        self.name = member.name
        self.file_name = parts[-1]
        self.database = parts[-2] if len(parts) > 1 else None
        self.handle = handle
        if self.file_name.endswith(_METADATA):
            self.kind, self.collection = 'metadata', self.file_name[:-len(_METADATA)]
        elif self.file_name.endswith('.bson'):
            self.kind, self.collection = 'bson', self.file_name[:-len('.bson')]
        else:
            self.kind, self.collection = 'other', None


def tar_entries(stream):
    """The regular files of a tar stream, in order, each readable once."""
    source = ChunkReader(stream)
    try:
        archive = tarfile.open(fileobj=source, mode='r|')
        for member in archive:
            if member.isfile():
                yield TarEntry(member, archive.extractfile(member))
    except tarfile.TarError as exc:
        raise RestoreError('not a readable tar stream: %s' % exc)
    while source.read(1 << 16):  # the end-of-archive blocks: decode the stream to its very end
        pass


def documents(entry, raw=False):
    """The BSON documents of a .bson member, one at a time: decoded in full to check
    them, or raw (length-framed bytes) to insert them as they are."""
    options = CodecOptions(document_class=RawBSONDocument) if raw else CodecOptions()
    try:
        yield from bson.decode_file_iter(entry.handle, options)
    except InvalidBSON as exc:
        raise RestoreError('%s does not parse as BSON: %s' % (entry.name, exc))
    except tarfile.TarError as exc:
        raise RestoreError('%s cannot be read from the tar stream: %s' % (entry.name, exc))


def metadata(entry):
    try:
        data = json_util.loads(entry.handle.read().decode('utf-8'))
    except tarfile.TarError as exc:
        raise RestoreError('%s cannot be read from the tar stream: %s' % (entry.name, exc))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RestoreError('%s is not valid JSON: %s' % (entry.name, exc))
    if not isinstance(data, dict) or not isinstance(data.get('indexes', []), list):
        raise RestoreError('%s is not collection metadata (an object with an indexes list)' % entry.name)
    if not isinstance(data.get('options') or {}, dict):
        raise RestoreError('%s is not collection metadata (its options are not an object)' % entry.name)
    return data


def databases_in(manifest):
    """The databases the manifest's counts name (keys are <database>.<collection>)."""
    return sorted(set(key.split('.', 1)[0] for key in manifest.get('counts') or {} if '.' in key))


def name_problem(name):
    """Why MongoDB would refuse ``name`` as a database name, or None."""
    if not name:
        return 'it is empty'
    bad = sorted(set(char for char in name if char in _BAD_NAME_CHARACTERS))
    if bad:
        return 'it holds %s' % ' '.join(repr(char) for char in bad)
    if len(name.encode('utf-8')) > _MAX_NAME_BYTES:
        return 'it is longer than %d bytes' % _MAX_NAME_BYTES
    return None


def create_command(name, info):
    """The create command of one collection or view from its metadata, options as dumped."""
    command = SON([('create', name)])
    command.update(info.get('options') or {})
    return command


class MongoDBRestorer(Restorer):
    engine = 'mongodb'
    what = 'documents'
    system_databases = SYSTEM_DATABASES
    target_patterns = True  # target_database may hold '*', replaced by each source database's name

    def __init__(self, conn, workdir):
        super(MongoDBRestorer, self).__init__(conn, workdir)
        self.admin = None
        self.planned = {}  # source database -> target, known before the restore (check_plan)
        self.mapping = {}  # source database -> target, as restored (scratch and pattern plans)

    def open(self):
        self.admin = MongoDBEngine(self.conn)  # conn.database is the authentication database
        self.admin.connect()

    def close(self):
        if self.admin is not None:
            self.admin.close()
            self.admin = None

    def _run(self, action, func, *args, **kwargs):
        return self.admin.run(action, func, *args, **kwargs)

    def _collections(self, database):
        names = self._run('cannot list collections of %s' % database, self.admin.client[database].list_collection_names)
        return sorted(name for name in names if not name.startswith('system.'))

    def _exists(self, database):
        return database in self._run('cannot list databases', self.admin.client.list_database_names)

    def _state(self, database):
        if not self._exists(database):
            return dict(exists=False, objects=0, detail='database %s does not exist' % database)
        names = self._collections(database)
        if names:
            listed = ', '.join(names[:5]) + (', ...' if len(names) > 5 else '')
            detail = 'database %s holds %d collection%s (%s)' % (database, len(names), '' if len(names) == 1 else 's', listed)
        else:
            detail = 'database %s has no collections' % database
        return dict(exists=True, objects=len(names), detail=detail)

    def inspect(self, database):
        if '*' not in database:
            return self._state(database)
        states = [self._state(target) for _source, target in sorted(self.planned.items())]
        return dict(exists=any(state['exists'] for state in states), objects=sum(state['objects'] for state in states),
                    detail='; '.join(state['detail'] for state in states), databases=dict(self.planned))

    def create(self, database, like=None):
        """MongoDB creates a database with its first collection."""

    def drop(self, database):
        """Drop ``database`` and the scratch databases made for it; try every one, then report."""
        names = [database] + sorted(name for name in self.mapping.values() if name.startswith(database + '_'))
        failed = []
        for name in names:
            try:
                self._run('cannot drop database %s' % name, self.admin.client.drop_database, name)
            except EngineError as exc:  # keep dropping the others; the caller reports what is left
                failed.append('%s' % exc)
        if failed:
            raise RestoreError('; '.join(failed))
        left = set(self._run('cannot list databases', self.admin.client.list_database_names))
        return not left.intersection(names)

    def clean(self, database):
        if '*' not in database:
            self.drop(database)
            return
        existing = set(self._run('cannot list databases', self.admin.client.list_database_names))
        for target in sorted(set(self.planned.values()) & existing):
            self._run('cannot drop database %s' % target, self.admin.client.drop_database, target)

    # --- where each database of the artifact goes
    def _plan(self, database, manifest):
        """(kind, {source: target}, source_database or None): kind 'one' (a single source into ``database``),
        'pattern' (each source into ``database`` with '*' replaced by its name) or
        'scratch' (each source into a scratch database of its own, named as it comes)."""
        chosen = manifest.get('source_database') or manifest.get('database')
        found = databases_in(manifest)
        if manifest.get('source_database') and found and manifest['source_database'] not in found:
            # Otherwise a misspelt name restores nothing and every count (none) matches.
            raise RestoreError('source_database %s is not in the artifact, which holds %s: check the name'
                               % (manifest['source_database'], ', '.join(found)))
        if '*' in database:
            if chosen in SYSTEM_DATABASES:
                raise RestoreError('source_database %s is a system database of mongodb, never restored over by a '
                                   'target_database with *: name the target database instead' % chosen)
            sources = [chosen] if chosen else [name for name in found if name not in SYSTEM_DATABASES]
            if not sources:
                raise RestoreError('the manifest names no database (its counts are empty): set source_database, or name '
                                   'one target_database instead of %s' % database)
            planned = dict((source, database.replace('*', source)) for source in sources)
            for source, target in sorted(planned.items()):
                self._check_target(database, source, target)
            return 'pattern', planned, chosen
        if chosen:
            return 'one', {chosen: database}, chosen
        if database.startswith(SCRATCH_PREFIX):
            return 'scratch', {}, None
        if len(found) == 1:
            return 'one', {found[0]: database}, found[0]
        raise RestoreError("the artifact holds several databases (%s): set source_database to the one to restore, or "
                           "target_database: '*' to restore each under its own name (or 'prefix_*' under a prefix)"
                           % (', '.join(found) or 'unknown'))

    def _check_target(self, pattern, source, target):
        problem = name_problem(target)
        if problem:
            raise RestoreError('target_database %s gives %r for database %s, which MongoDB refuses (%s): choose a '
                               'shorter or plainer target_database' % (pattern, target, source, problem))
        if target in SYSTEM_DATABASES:
            raise RestoreError('target_database %s gives the system database %s for database %s: choose another '
                               'target_database' % (pattern, target, source))

    def check_plan(self, database, manifest, jobs):
        if manifest.get('dump_format') != 'mongo.tar':
            raise RestoreError('dump_format %s is not a MongoDB artifact: expected mongo.tar' % manifest.get('dump_format'))
        self.planned = self._plan(database, manifest)[1]

    def _target_of(self, plan, database, source):
        """The database an entry of ``source`` goes into, or None to leave it out."""
        kind, planned, chosen = plan
        if kind == 'one':
            return database if source is None or source in planned else None
        if source in self.mapping:
            return self.mapping[source]
        if kind == 'scratch':
            target = '%s_%d' % (database, len(self.mapping) + 1)
        elif source is None or source in SYSTEM_DATABASES or (chosen and source != chosen):
            return None
        else:
            target = database.replace('*', source)
            if source not in planned:
                # A database the counts do not name (it holds views only): it was not
                # inspected with the others, so it must be empty now.
                self._check_target(database, source, target)
                state = self._state(target)
                if state['objects']:
                    raise RestoreError('database %s of the artifact is not in its manifest counts, and its target %s is '
                                       'not empty: restore it with source_database into an empty target_database'
                                       % (source, state['detail']))
        self.mapping[source] = target  # before anything is created there, so drop() finds it
        return target

    def load(self, stream, database, manifest, jobs=1, privileges=False):
        plan = self._plan(database, manifest)
        kind, self.planned = plan[0], plan[1]
        indexes, names, skipped, created = {}, {}, set(), set()
        documents_in = empty = 0
        for entry in tar_entries(stream):
            if entry.kind == 'other':
                continue
            info = metadata(entry) if entry.kind == 'metadata' else None
            if info is not None:
                # File names are escaped (and long ones shortened) as mongodump does; the
                # metadata carries the real collection name.
                names[(entry.database, entry.collection)] = info.get('collectionName') or unquote_plus(entry.collection)
            name = names.get((entry.database, entry.collection)) or unquote_plus(entry.collection)
            target = self._target_of(plan, database, entry.database)
            if target is None or name.startswith('system.'):
                skipped.add('%s.%s' % (entry.database, name))
                continue
            key = (target, name)
            if info is not None:
                indexes[key] = info.get('indexes') or []
                self._create(target, name, info)
                created.add(key)
                continue
            if key not in created:  # documents without metadata before them
                self._create(target, name, {})
                created.add(key)
            inserted = self._insert(self.admin.client[target][name], entry)
            documents_in += inserted
            empty += 0 if inserted else 1
        made = self._create_indexes(indexes)
        how = 'pymongo: %d collections created (%d empty), %d documents inserted, %d indexes created' % (
            len(created), empty, documents_in, made)
        if kind != 'one' and self.mapping:
            how += '; databases %s' % ', '.join('%s -> %s' % pair for pair in sorted(self.mapping.items(), key='{0}'.format))
        if skipped:
            how += '; left out %s (other database or system collection)' % ', '.join(sorted(skipped))
        return how

    def _create(self, database, name, info):
        """Create a collection (or view) with the options it was dumped with. One that is
        already there (documents came before its metadata) is kept as it is."""
        command = create_command(name, info)

        def create():
            try:
                self.admin.client[database].command(command)
            except OperationFailure as exc:
                if exc.code != _NAMESPACE_EXISTS:
                    raise
        self._run('cannot create collection %s.%s' % (database, name), create)

    def _create_indexes(self, indexes):
        made = 0
        for (database, collection), specs in sorted(indexes.items()):
            models = [IndexModel(list(spec['key'].items()), name=spec.get('name'),
                                 **dict((k, v) for k, v in spec.items() if k not in _INDEX_INFO))
                      for spec in specs if spec.get('name') != '_id_' and spec.get('key')]
            if models:
                self._run('cannot create the indexes of %s.%s' % (database, collection),
                          self.admin.client[database][collection].create_indexes, models)
                made += len(models)
        return made

    def _insert(self, collection, entry):
        batch, size, total = [], 0, 0
        for document in documents(entry, raw=True):
            batch.append(document)
            size += len(document.raw)
            if len(batch) >= _BATCH_DOCUMENTS or size >= _BATCH_BYTES:
                total += self._insert_batch(collection, batch)
                batch, size = [], 0
        if batch:
            total += self._insert_batch(collection, batch)
        return total

    def _insert_batch(self, collection, batch):
        # A failed document raises BulkWriteError; inserted_ids stays empty for raw documents.
        self._run('cannot insert into %s.%s' % (collection.database.name, collection.name), collection.insert_many,
                  batch, ordered=False)
        return len(batch)

    def _count(self, database, name):
        if name not in self._collections(database):
            return None
        return self._run('cannot count %s.%s' % (database, name), self.admin.client[database][name].count_documents, {})

    def count(self, database, manifest):
        kind, planned, source = self._plan(database, manifest)
        restored = {}
        for key in sorted(manifest.get('counts') or {}):
            prefix, name = key.split('.', 1) if '.' in key else (None, key)
            if kind != 'one':
                if prefix in self.mapping:
                    restored[key] = self._count(self.mapping[prefix], name)
                elif kind == 'scratch' or prefix in planned:
                    restored[key] = None  # in the manifest, never restored: a count that differs
            elif prefix == source:
                restored[key] = self._count(database, name)
            elif prefix is None and manifest.get('database'):
                restored[key] = self._count(database, key)
            # else: a collection of another database, not restored here
        return restored

    def check_format(self, stream, manifest):
        if manifest.get('dump_format') != 'mongo.tar':
            return False, 'dump_format %r is not a MongoDB format: expected mongo.tar' % manifest.get('dump_format')
        found, names, metadata_files = {}, {}, 0
        try:
            for entry in tar_entries(stream):
                if entry.kind == 'metadata':
                    info = metadata(entry)
                    names[(entry.database, entry.collection)] = info.get('collectionName') or unquote_plus(entry.collection)
                    metadata_files += 1
                elif entry.kind == 'bson':
                    name = names.get((entry.database, entry.collection)) or unquote_plus(entry.collection)
                    key = (entry.database, name)
                    found[key] = found.get(key, 0) + sum(1 for _doc in documents(entry))
        except RestoreError as exc:
            return False, '%s' % exc
        counts, differ = manifest.get('counts') or {}, []
        for (database, name), number in sorted(found.items(), key=lambda item: ('%s' % item[0][0], item[0][1])):
            expected = counts.get('%s.%s' % (database, name))
            if expected is None and database in (None, manifest.get('database')):
                expected = counts.get(name)
            if expected is not None and expected != number:
                differ.append('%s.%s %d (manifest %d)' % (database, name, number, expected))
        detail = ('mongodump tar: %d collections, %d documents, every document parses as BSON, %d metadata files valid'
                  % (len(found), sum(found.values()), metadata_files))
        if differ:
            detail += '; document counts differ from the manifest: %s' % ', '.join(differ)
        return True, detail
