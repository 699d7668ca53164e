# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MongoDB dumps through pymongo, in mongodump's directory layout inside one tar stream.

The archive holds, per collection, ``<db>/<file>.metadata.json`` followed by
``<db>/<file>.bson``, as mongodump (mongo-tools 100.x) writes them under ``dump/``:

- ``<file>`` is the collection name escaped like Go's ``url.QueryEscape`` and, past
  238 bytes, truncated with ``%24`` and a base64url SHA-1 of the name (mongodump's
  ``outputPath``); mongorestore reads the full name back from ``collectionName``.
- ``.bson`` is the documents back to back, as the server returned them (raw BSON, never
  decoded here); an empty collection gives an empty file. Views get metadata only.
- ``.metadata.json`` is canonical extended JSON of ``{options, indexes, uuid,
  collectionName, type}`` in that order, ``options`` and ``uuid`` left out when empty
  (mongodump's ``Metadata`` struct); ``uuid`` is the hex of the collection's UUID.

Restore: extract the tar into a directory and run ``mongorestore --dir <directory>``,
or let db_restore load it through pymongo.

A tar header carries its member's size, so each collection's BSON is spooled first:
in memory up to SPOOL_MEMORY bytes, then in an unnamed 0600 temp file inside a 0700
directory of its own (``spool_dir``, else the system temp dir), which close() removes
whatever happened. The spool never holds more than one collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import fnmatch
import hashlib
import os
import shutil
import tempfile
import traceback

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.dump_process import DumpOptionError
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.source import DumpSource
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.tar_stream import TarStream
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._fs import free_bytes

from urllib.parse import quote_plus

try:
    import pymongo
    from bson import json_util
    from bson.binary import Binary
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    HAS_PYMONGO = True
    PYMONGO_IMPORT_ERROR = None
except ImportError:
    HAS_PYMONGO = False
    PYMONGO_IMPORT_ERROR = traceback.format_exc()

SYSTEM_DATABASES = ('admin', 'local', 'config')
SPOOL_MEMORY = 1024 * 1024
# Documents per cursor batch: about BATCH_BYTES at the collection's average document size.
# pymongo holds a batch two or three times over while decoding it, so this bounds memory.
BATCH_BYTES = 4 * 1024 * 1024
BATCH_DEFAULT = 1000
MAX_FILE_NAME = 238  # mongodump: 255 bytes less the longest suffix, .metadata.json.gz
TRUNCATED_PREFIX = 208


def collection_file_name(name):
    """The file name mongodump gives a collection, without the .bson / .metadata.json suffix."""
    escaped = quote_plus(name.encode('utf-8'), safe='')
    if len(escaped) > MAX_FILE_NAME:
        digest = base64.urlsafe_b64encode(hashlib.sha1(name.encode('utf-8')).digest()).decode('ascii').rstrip('=')
        escaped = escaped[:TRUNCATED_PREFIX] + '%24' + digest
    return escaped


def collection_uuid(info):
    """Hex of a listCollections ``info.uuid`` (BSON binary subtype 4), '' otherwise, as mongodump."""
    value = (info.get('info') or {}).get('uuid')
    if isinstance(value, Binary) and value.subtype == 4:
        return bytes(value).hex()
    if hasattr(value, 'hex') and hasattr(value, 'int'):  # uuid.UUID, with a uuidRepresentation set
        return value.hex
    return ''


def metadata_json(info, indexes):
    """``<collection>.metadata.json`` bytes for one listCollections entry and its listIndexes."""
    document = {}
    if info.get('options'):
        document['options'] = info['options']
    document['indexes'] = list(indexes)
    uuid = collection_uuid(info)
    if uuid:
        document['uuid'] = uuid
    document['collectionName'] = info['name']
    if info.get('type'):
        document['type'] = info['type']
    text = json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS,
                           separators=(',', ':'), ensure_ascii=False)
    return text.encode('utf-8')


def dumped_by_mongodump(name):
    """mongodump leaves out system collections except system.js (stored JavaScript)."""
    return name == 'system.js' or not name.startswith('system.')


def _matches(patterns, database, name):
    return any(fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase('%s.%s' % (database, name), pattern)
               for pattern in patterns)


class MongoDBDump(DumpSource):
    """The ``mongo.tar`` DumpSource. Use while the engine is connected."""

    dump_format = 'mongo.tar'

    def __init__(self, engine, format=None, database=None, collections=None, exclude_collections=None,
                 spool_dir=None):
        super(MongoDBDump, self).__init__()
        if format not in (None, '', 'mongo.tar', 'mongodump'):
            raise DumpOptionError('format %s is not a MongoDB dump format: use mongo.tar (mongodump directory layout '
                                  'in a tar stream, the default and only one) or leave format unset' % format)
        if not HAS_PYMONGO:
            raise EngineError('pymongo (with its bson package) is needed to back up MongoDB: %s' % PYMONGO_IMPORT_ERROR)
        if spool_dir is not None and not os.path.isabs(spool_dir):
            raise DumpOptionError('spool_dir must be an absolute directory path, got %r' % (spool_dir,))
        self.engine = engine
        self.database = database or engine.conn.database or None
        # The series is the database dumped; unset means every non-system database ('all').
        self.series_database = self.database
        self.include = list(collections or [])
        self.exclude = list(exclude_collections or [])
        self.spool_root = spool_dir
        self.tool_version = 'pymongo %s (mongodump directory layout in a tar stream)' % pymongo.version
        self.messages = []
        self._spool_dir = None
        self._closed = False
        self._sizes = None
        self._batch_sizes = {}
        self._existing = set()
        self.targets = self._targets()

    # --- what to dump
    def _databases(self):
        if self.database:
            return [self.database]
        names = self.engine.run('listing databases failed', self.engine.client.list_database_names)
        return sorted(name for name in names if name not in SYSTEM_DATABASES)

    def _collections(self, database):
        def listing():
            return list(self.engine.client[database].list_collections())
        infos = self.engine.run('listing the collections of %s failed' % database, listing)
        if self.database and not infos:
            raise EngineError('%s: database %s has no collections (MongoDB has no empty databases, so it may not exist): '
                              'check database' % (self.engine.label, self.database))
        kept = []
        for info in sorted(infos, key=lambda item: item['name']):
            name = info['name']
            if not dumped_by_mongodump(name):
                continue
            self._existing.update((name, '%s.%s' % (database, name)))
            if self.include and not _matches(self.include, database, name):
                continue
            if _matches(self.exclude, database, name):
                continue
            kind = info.get('type') or 'collection'
            if kind not in ('collection', 'view'):
                raise EngineError('%s: %s.%s is a %s collection, which this backup cannot dump in mongodump layout: '
                                  'leave it out with exclude_collections (%s.%s) and back it up with mongodump'
                                  % (self.engine.label, database, name, kind, database, name))
            kept.append(info)
        return kept

    def _targets(self):
        """[(database, [listCollections entry, ...])], checked against the options."""
        self._existing = set()
        targets = [(database, self._collections(database)) for database in self._databases()]
        # An include pattern that names nothing is a typo; one whose matches are all excluded is not.
        missing = [pattern for pattern in self.include
                   if not any(fnmatch.fnmatchcase(name, pattern) for name in self._existing)]
        if missing:
            raise DumpOptionError('collections %s matched no collection in %s: check the names (db.collection or '
                                  'collection, shell wildcards allowed)'
                                  % (', '.join(missing), ', '.join(database for database, _infos in targets) or
                                     'any non-system database'))
        if not any(infos for _database, infos in targets):
            self.messages.append('nothing to back up on %s: no collection outside the system databases (%s) is left '
                                 'after exclude_collections' % (self.engine.label, ', '.join(SYSTEM_DATABASES)))
        return targets

    def _collection_sizes(self):
        """{(db, collection): uncompressed data bytes} from collStats; None where unknown."""
        if self._sizes is None:
            sizes = {}
            for database, infos in self.targets:
                for info in infos:
                    if (info.get('type') or 'collection') != 'collection':
                        continue
                    key = (database, info['name'])
                    try:
                        stats = self.engine.client[database].command('collStats', info['name'])
                        sizes[key] = int(stats.get('size') or 0)
                        average = int(stats.get('avgObjSize') or 0)
                    except Exception:  # collStats is an estimate only; the dump itself reports real errors
                        sizes[key], average = None, 0
                    self._batch_sizes[key] = max(16, min(10000, BATCH_BYTES // average)) if average else BATCH_DEFAULT
            self._sizes = sizes
        return self._sizes

    def estimated_size(self):
        sizes = self._collection_sizes()
        if any(size is None for size in sizes.values()):
            return None
        return sum(sizes.values())

    # --- the stream
    def _check_spool_space(self):
        sizes = [size for size in self._collection_sizes().values() if size]
        if not sizes:
            return
        largest, free = max(sizes), free_bytes(self._spool_dir)
        if largest > SPOOL_MEMORY and largest > free:
            raise EngineError('%s: the spool directory %s has %d bytes free, but the largest collection holds %d bytes, '
                              'and each collection is spooled there before it enters the archive: set spool_dir to a '
                              'file system with room for it' % (self.engine.label, self.spool_root or tempfile.gettempdir(),
                                                                free, largest))

    def chunks(self):
        try:
            self._spool_dir = tempfile.mkdtemp(prefix='caretaker-mongo-spool-', dir=self.spool_root)
        except OSError as exc:
            raise EngineError('%s: cannot create a spool directory in %s: %s: set spool_dir to a writable directory'
                              % (self.engine.label, self.spool_root or tempfile.gettempdir(), exc))
        self._check_spool_space()
        tar = TarStream()
        for database, infos in self.targets:
            if not infos:
                continue
            yield from tar.directory(database)
            for info in infos:
                yield from self._collection(tar, database, info)
        yield from tar.end()

    def _collection(self, tar, database, info):
        name = info['name']
        path = '%s/%s' % (database, collection_file_name(name))
        view = info.get('type') == 'view'
        indexes = [] if view else self.engine.run(
            'listing the indexes of %s.%s failed' % (database, name),
            lambda: list(self.engine.client[database][name].list_indexes()))
        yield from tar.member(path + '.metadata.json', metadata_json(info, indexes))
        if view:
            return
        spool, count = self._spool(database, name)
        try:
            size = spool.tell()
            spool.seek(0)
            yield from tar.member_from_file(path + '.bson', spool, size)
        except (IOError, OSError) as exc:
            raise self._spool_error(exc)
        finally:
            spool.close()
        self.counts['%s.%s' % (database, name)] = count

    def _spool(self, database, name):
        """(spool file positioned at its end, documents written) for one collection."""
        options = CodecOptions(document_class=RawBSONDocument)
        collection = self.engine.client[database].get_collection(name, codec_options=options)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, dir=self._spool_dir)
        count = 0
        try:
            cursor = collection.find({}, batch_size=self._batch_sizes.get((database, name), BATCH_DEFAULT))
            try:
                for document in cursor:
                    spool.write(document.raw)
                    count += 1
            finally:
                cursor.close()
        except (IOError, OSError) as exc:
            spool.close()
            raise self._spool_error(exc)
        except Exception as exc:  # pymongo raises many types; any of them ends this dump
            spool.close()
            raise self.engine.error('dumping %s.%s failed after %d documents' % (database, name, count), exc)
        return spool, count

    def _spool_error(self, exc):
        return EngineError('%s: writing the spool file in %s failed: %s: set spool_dir to a file system with room for '
                           'the largest collection' % (self.engine.label, self.spool_root or tempfile.gettempdir(),
                                                       getattr(exc, 'strerror', None) or exc))

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
