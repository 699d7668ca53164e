# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MongoDB: check and restore mongodump-layout tar streams (<db>/<collection>.bson and
<db>/<collection>.metadata.json) through pymongo, without mongorestore."""

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
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.mongodb import MongoDBEngine

try:
    import bson
    from bson import json_util
    from bson.codec_options import CodecOptions
    from bson.errors import InvalidBSON
    from bson.raw_bson import RawBSONDocument
    from pymongo import IndexModel
except ImportError:
    bson = None  # MongoDBEngine.require_driver() reports the missing pymongo

_BATCH_DOCUMENTS = 1000
_BATCH_BYTES = 8 * 1024 * 1024
_METADATA = '.metadata.json'
# Index fields that describe the index rather than configure it.
_INDEX_INFO = ('v', 'key', 'ns', 'name')


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
    return data


class MongoDBRestorer(Restorer):
    engine = 'mongodb'
    what = 'documents'
    system_databases = ('admin', 'local', 'config')

    def __init__(self, conn, workdir):
        super(MongoDBRestorer, self).__init__(conn, workdir)
        self.admin = None
        self.scratch_databases = {}  # source database -> its scratch, for artifacts of every database

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

    def inspect(self, database):
        if not self._exists(database):
            return dict(exists=False, objects=0, detail='database %s does not exist' % database)
        names = self._collections(database)
        detail = ('database %s holds %d collections' % (database, len(names))) if names else 'database %s has no collections' % database
        return dict(exists=True, objects=len(names), detail=detail)

    def create(self, database, like=None):
        """MongoDB creates a database with its first collection."""

    def drop(self, database):
        names = [database] + [name for name in self.scratch_databases.values() if name.startswith(database + '_')]
        for name in names:
            self._run('cannot drop database %s' % name, self.admin.client.drop_database, name)
        return not any(self._exists(name) for name in names)

    def _scratch_for(self, scratch, source):
        if source not in self.scratch_databases:
            self.scratch_databases[source] = '%s_%d' % (scratch, len(self.scratch_databases) + 1)
        return self.scratch_databases[source]

    def clean(self, database):
        self.drop(database)

    def _plan(self, database, manifest):
        """(source database or None for all, one scratch database per source database?).

        An artifact of every database (manifest database unset) restores into one scratch
        database per database in it (<scratch>_1, <scratch>_2, ...); into a real target
        only one of its databases goes, named by source_database."""
        source = manifest.get('source_database') or manifest.get('database')
        if source:
            return source, False
        if database.startswith(SCRATCH_PREFIX):
            return None, True
        found = sorted(set(key.split('.', 1)[0] for key in manifest.get('counts') or {} if '.' in key))
        if len(found) == 1:
            return found[0], False
        raise RestoreError('the artifact holds several databases (%s): set source_database to the one to restore'
                           % (', '.join(found) or 'unknown'))

    def check_plan(self, database, manifest, jobs):
        if manifest.get('dump_format') != 'mongo.tar':
            raise RestoreError('dump_format %s is not a MongoDB artifact: expected mongo.tar' % manifest.get('dump_format'))
        self._plan(database, manifest)

    def load(self, stream, database, manifest, jobs=1, privileges=False):
        self.check_plan(database, manifest, jobs)
        source, split = self._plan(database, manifest)
        indexes, documents_in, skipped, names = {}, 0, set(), {}
        for entry in tar_entries(stream):
            wanted = entry.kind != 'other' and (source is None or entry.database in (None, source))
            if wanted and entry.kind == 'metadata':
                info = metadata(entry)
                # File names are escaped (and long ones shortened) as mongodump does; the
                # metadata carries the real collection name.
                names[(entry.database, entry.collection)] = info.get('collectionName') or unquote_plus(entry.collection)
            name = names.get((entry.database, entry.collection)) or unquote_plus(entry.collection or '')
            if not wanted or name.startswith('system.'):
                if entry.collection:
                    skipped.add('%s.%s' % (entry.database, name))
                continue
            target = self.admin.client[self._scratch_for(database, entry.database) if split else database]
            if entry.kind == 'metadata':
                indexes[(target.name, name)] = info.get('indexes') or []
                if info.get('options'):
                    # Options (capped, validator, a view's pipeline) must exist before the data;
                    # mongodump and db_backup write the metadata first.
                    self._run('cannot create collection %s' % name, target.create_collection, name, **info['options'])
                continue
            documents_in += self._insert(target[name], entry)
        created = 0
        for (database_name, collection), specs in sorted(indexes.items()):
            models = [IndexModel(list(spec['key'].items()), name=spec.get('name'),
                                 **dict((k, v) for k, v in spec.items() if k not in _INDEX_INFO))
                      for spec in specs if spec.get('name') != '_id_' and spec.get('key')]
            if models:
                self._run('cannot create the indexes of %s' % collection,
                          self.admin.client[database_name][collection].create_indexes, models)
                created += len(models)
        how = 'pymongo: %d documents inserted, %d indexes created' % (documents_in, created)
        if skipped:
            how += '; left out %s (other database or system collection)' % ', '.join(sorted(skipped))
        return how

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
        self._run('cannot insert into %s' % collection.name, collection.insert_many, batch, ordered=False)
        return len(batch)

    def _count(self, database, name):
        if name not in self._collections(database):
            return None
        return self._run('cannot count %s' % name, self.admin.client[database][name].count_documents, {})

    def count(self, database, manifest):
        source, split = self._plan(database, manifest)
        restored = {}
        for key in sorted(manifest.get('counts') or {}):
            if split:
                prefix, name = key.split('.', 1) if '.' in key else (None, key)
                restored[key] = self._count(self.scratch_databases[prefix], name) if prefix in self.scratch_databases else None
            elif source and key.startswith(source + '.'):
                restored[key] = self._count(database, key[len(source) + 1:])
            elif manifest.get('database') and '.' not in key:
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
