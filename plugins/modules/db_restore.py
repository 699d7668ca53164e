#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: db_restore
short_description: Restore a verified backup artifact into a PostgreSQL, MySQL/MariaDB, MongoDB or Redis database
version_added: 0.1.0
description:
  - Restores the artifact named by O(path), or the newest verified backup of a series in a
    backup directory (O(dest) with O(series) and O(latest)), into O(target_database) on the
    server of the connection options.
  - "Refuses, before touching the target: an artifact without its manifest; an artifact whose
    last M(caretaker.maintenance.backup_verify) record is not V(ok) (unless O(allow_unverified));
    an artifact whose size or SHA-256 differs from its manifest (always); an encrypted artifact
    without its key; a system database as target; a target that is not empty (unless O(clean))."
  - "Not empty means: PostgreSQL, any table, view or sequence in a schema other than the system
    ones; MySQL, any table or view in the database; MongoDB, any collection other than
    C(system.*); Redis, any key in the logical database."
  - "PostgreSQL custom format goes through C(pg_restore) in one transaction, streamed into its
    stdin. With O(jobs) above 1 the decoded archive is first written to a 0600 file in a private
    temp directory (C(pg_restore --jobs) needs a seekable file; it takes as much disk as the
    decoded dump) and removed afterwards. Plain SQL goes through C(psql) in one transaction.
    Objects are owned by O(login_user) and grants are left out unless O(restore_privileges)."
  - "MySQL and MariaDB: the dump is streamed into the C(mariadb) or C(mysql) client, which reads
    the password from a 0600 defaults-extra-file. C(USE) and C(CREATE DATABASE) lines of a dump
    taken with C(--databases) are left out so that nothing lands outside O(target_database)."
  - "MongoDB: each collection (and view) is first created from its C(.metadata.json) with the
    options it was dumped with (capped, validator, collation, ...), so empty collections come back
    too; a collection that is already there is kept. Then its documents are inserted from the tar
    stream through pymongo in unordered bulk batches, and after all data the indexes of each
    C(.metadata.json) are created. No mongorestore is needed."
  - "MongoDB artifacts of every database (M(caretaker.maintenance.db_backup) without O(database)):
    O(target_database) naming one database takes one of them, chosen by O(source_database) (or
    the only one the artifact holds). With V(*) in O(target_database), each database of the
    artifact is restored into O(target_database) with V(*) replaced by its name:
    C(target_database: '*') restores every database under its own name, C(restored_*) under a
    prefix; with O(source_database) only that one. Every target database is inspected before
    anything is changed, and the restore is refused when any of them is not empty, unless O(clean)
    (which then drops each of them that exists). admin, local and config are never touched: they
    are left out of the artifact's databases, and a V(*) that would name one is refused."
  - "Redis: an RDB cannot be loaded into a running server through the protocol. The RDB is loaded
    into a throwaway C(redis-server) started by this module on a private unix socket, and the
    keys of one of its logical databases (O(source_database)) are copied into O(target_database)
    with DUMP and RESTORE, keeping types and TTLs. The throwaway server is stopped by its process
    id. The target server must run a Redis version that reads the dump's DUMP payloads (the same
    or a newer major version)."
  - After the restore, the row, document or key counts are compared with the manifest; the task
    fails (with C(changed) true) when they differ.
  - Passwords reach the client programs through 0600 files or the environment, never the command line.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
options:
  path:
    description:
      - The artifact to restore. Its manifest must be beside it.
      - Mutually exclusive with O(dest).
    type: path
  dest:
    description:
      - Backup directory holding one directory per series (the C(dest) of M(caretaker.maintenance.db_backup)).
      - Requires O(latest).
    type: path
  series:
    description:
      - Series to pick from in O(dest), for example C(postgresql-127.0.0.1-5432-appdb).
      - Defaults to the series of the connection options, computed from O(engine), O(login_host),
        O(login_port) and O(database) as M(caretaker.maintenance.db_backup) names it.
    type: str
  latest:
    description:
      - Restore the newest verified backup of the series in O(dest).
      - With O(allow_unverified), the newest backup with a manifest when none is verified.
    type: bool
    default: false
  target_database:
    description:
      - Database to restore into. Created when it does not exist (PostgreSQL from C(template0)).
      - For Redis, the logical database number.
      - "MongoDB only: a V(*) stands for the name of each database of the artifact, so V(*) restores
        every database under its own name and V(restored_*) under a prefix (see the description).
        Other engines refuse a V(*)."
    type: str
    required: true
  source_database:
    description:
      - For artifacts that hold several databases, the one to restore.
      - MongoDB, a database directory of the tar; Redis, a logical database number of the RDB.
      - Defaults to the manifest's C(database) (for Redis, C(0) when that is not a number). A MongoDB
        artifact of every database then needs it, unless O(target_database) holds a V(*) (every
        database is restored) or the artifact holds one database only.
    type: str
  identity_file:
    description:
      - age identity file whose key is one of the artifact's recipients, for artifacts encrypted
        to age X25519 recipients. Keep it mode 0600.
    type: path
  passphrase_file:
    description:
      - File whose first line is the passphrase of an artifact encrypted with an age passphrase.
    type: path
  allow_unverified:
    description:
      - Restore an artifact even though its last verification is not V(ok) or it was never verified.
      - A size or checksum mismatch is refused whatever this says.
    type: bool
    default: false
  clean:
    description:
      - Replace a target that is not empty.
      - PostgreSQL and MySQL drop and recreate the database (PostgreSQL with its owner, encoding and
        locale, ending the sessions connected to it with C(DROP DATABASE ... WITH (FORCE)); MySQL with
        its character set and collation), MongoDB drops the database (with a V(*) target, each target
        database that exists), Redis flushes the logical database (C(FLUSHDB)).
      - Database-level settings (PostgreSQL C(ALTER DATABASE ... SET), grants on the database) do not survive.
      - The old contents are gone before the restore starts, so a restore that then fails leaves the
        target empty or partly restored. Everything that can be checked beforehand is (checksum,
        key, target, free space), and the artifact's key is proven by decrypting its first chunk.
    type: bool
    default: false
  jobs:
    description:
      - Parallel C(pg_restore) jobs for PostgreSQL custom-format artifacts. Above 1 the archive
        is decoded to a temp file first (see the description); other formats restore in one stream.
      - With 1 job the restore runs in one transaction and a failure leaves no tables behind;
        parallel jobs cannot share a transaction, so a failure can leave some.
    type: int
    default: 1
  restore_privileges:
    description:
      - PostgreSQL only. Keep the dump's object owners and grants; the roles must exist on the target server.
    type: bool
    default: false
  temp_dir:
    description:
      - Directory for the private (0700) temp directory holding option files, the decoded archive
        of a parallel PostgreSQL restore, and the RDB and socket of the Redis throwaway server.
      - Defaults to the system temp directory.
    type: path
attributes:
  check_mode:
    support: full
    description: Picks the artifact, runs every refusal check (checksum included) and inspects the target; restores nothing.
  diff_mode:
    support: none
    description: A restore has no useful diff.
notes:
  - O(engine) defaults to the manifest's engine; when set it must match it.
  - O(database) is only used to compute O(series); PostgreSQL's administrative statements
    (create, drop) run from the C(postgres) database, MongoDB authenticates against it.
  - "Requires on the host: cryptography (encrypted artifacts), zstandard (zstd), the PostgreSQL client
    programs, the MySQL or MariaDB client, or C(redis-server), for the engines used."
seealso:
  - module: caretaker.maintenance.backup_verify
'''

EXAMPLES = r'''
- name: Restore the newest verified backup of appdb into a new database, four pg_restore jobs
  caretaker.maintenance.db_restore:
    dest: "{{ backup_dir }}"
    series: postgresql-127.0.0.1-5432-appdb
    latest: true
    identity_file: "{{ backup_identity_file }}"
    target_database: appdb_restored
    jobs: 4
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"

- name: See what restoring a MySQL artifact over appdb would do
  caretaker.maintenance.db_restore:
    path: "{{ backup_dir }}/mysql-127.0.0.1-3306-appdb/mysql-127.0.0.1-3306-appdb-20261123T020000Z.sql.gz"
    target_database: appdb
    clean: true
    login_user: root
    login_password: "{{ vault_mysql_password }}"
  check_mode: true
  register: plan

- name: Replace appdb with it
  caretaker.maintenance.db_restore:
    path: "{{ backup_dir }}/mysql-127.0.0.1-3306-appdb/mysql-127.0.0.1-3306-appdb-20261123T020000Z.sql.gz"
    target_database: appdb
    clean: true
    login_user: root
    login_password: "{{ vault_mysql_password }}"
  when: plan.target_objects_before > 0

- name: Copy the keys of the newest verified Redis backup into logical database 5
  caretaker.maintenance.db_restore:
    dest: "{{ backup_dir }}"
    engine: redis
    database: "0"
    latest: true
    target_database: "5"
    login_password: "{{ vault_redis_password }}"
'''

RETURN = r'''
msg:
  description: What was restored, from which artifact, how, and whether the counts match; in check mode what would happen.
  returned: always
  type: str
  sample: >-
    restored postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age into new postgresql appdb_restored
    (pg_restore --jobs=4 from a 0600 temp file); counts match 2 of 2
path:
  description: The artifact restored (or that would be).
  returned: when an artifact was chosen
  type: str
artifact:
  description: File name of RV(path).
  returned: when an artifact was chosen
  type: str
selected:
  description: How the artifact was chosen.
  returned: when an artifact was chosen
  type: str
  sample: the newest verified of 7 backups of series postgresql-127.0.0.1-5432-appdb
series:
  description: Series of the artifact.
  returned: when an artifact was chosen
  type: str
engine:
  description: Engine of the artifact.
  returned: when an artifact was chosen
  type: str
dump_format:
  description: Dump format of the artifact.
  returned: when an artifact was chosen
  type: str
verified:
  description: Whether the artifact's last verification is V(ok).
  returned: when an artifact was chosen
  type: bool
target_database:
  description: The database restored into, as given (with its V(*) for a MongoDB restore of several databases).
  returned: always
  type: str
target_databases:
  description: MongoDB with a V(*) in O(target_database), each database of the artifact restored and the database it went into.
  returned: when a MongoDB target with a V(*) was inspected
  type: dict
  sample: {shop: restored_shop, crm: restored_crm}
target_existed:
  description: Whether the target database existed before.
  returned: when the target was inspected
  type: bool
target_objects_before:
  description: Tables (collections, keys) in the target before the restore; 0 means empty. For a MongoDB V(*) target, in all target databases.
  returned: when the target was inspected
  type: int
target_before:
  description: The target's state before, in words.
  returned: when the target was inspected
  type: str
cleaned:
  description: Whether the target was dropped and recreated (flushed) first.
  returned: when restored
  type: bool
method:
  description: How the data went in.
  returned: when restored
  type: str
bytes_restored:
  description: Decoded bytes of the dump.
  returned: when restored
  type: int
duration_seconds:
  description: Time the restore took.
  returned: when restored
  type: float
counts:
  description: Restored rows (documents, keys) per manifest count key.
  returned: when restored
  type: dict
  sample: {public.users: 1200, public.orders: 53000}
counts_differ:
  description: Count keys whose restored figure differs from the manifest, with both figures.
  returned: when restored
  type: dict
  sample: {}
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore import (
    check_artifact, restore, select_artifact, series_for)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    ArtifactError, MissingLibrary, RestoreError, loose_permissions)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        path=dict(type='path'),
        dest=dict(type='path'),
        series=dict(type='str'),
        latest=dict(type='bool', default=False),
        target_database=dict(type='str', required=True),
        source_database=dict(type='str'),
        identity_file=dict(type='path'),
        passphrase_file=dict(type='path', no_log=False),
        allow_unverified=dict(type='bool', default=False),
        clean=dict(type='bool', default=False),
        jobs=dict(type='int', default=1),
        restore_privileges=dict(type='bool', default=False),
        temp_dir=dict(type='path'),
    )
    return spec


def connection(module, engine):
    params = module.params
    try:
        return connection_specs(dict(params, engine=engine, targets=None))[0]
    except ConnectionOptionError as exc:
        module.fail_json(msg='%s' % exc)


def wanted_series(module):
    params = module.params
    if params['series']:
        return params['series']
    if not params['engine']:
        module.fail_json(msg='dest needs series, or engine (with login_host, login_port and database) to compute the series name')
    conn = connection(module, params['engine'])
    return series_for(conn, get_engine(conn).port)


def check_options(module):
    params = module.params
    if params['jobs'] < 1:
        module.fail_json(msg='jobs must be 1 or more, got %d' % params['jobs'])
    if not params['target_database']:
        module.fail_json(msg='target_database is empty: name the database to restore into')
    for option in ('identity_file', 'passphrase_file'):
        if params[option] is not None:
            if not os.path.isfile(params[option]):
                module.fail_json(msg='%s %s is not a file: give the path of the key file' % (option, params[option]))
            mode = loose_permissions(params[option])
            if mode:
                module.warn('%s %s is readable by group or others (mode %s): chmod 600 it' % (option, params[option], mode))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('path', 'dest'), ('path', 'series'), ('path', 'latest')],
                           required_one_of=[('path', 'dest')])
    params = module.params
    check_options(module)
    result = dict(changed=False, target_database=params['target_database'])
    try:
        series = wanted_series(module) if params['dest'] else None
        path, selected = select_artifact(params['path'], params['dest'], series, params['latest'], params['allow_unverified'])
        result.update(path=path, selected=selected)
        manifest = check_artifact(path, params['allow_unverified'])
        engine = manifest.get('engine')
        if params['engine'] and params['engine'] != engine:
            module.fail_json(msg='engine is %s but the manifest of %s says %s: leave engine unset or pick the right artifact'
                             % (params['engine'], path, engine), **result)
        if params['jobs'] > 1 and manifest.get('dump_format') != 'pgdump':
            module.warn('jobs applies to PostgreSQL custom-format (pgdump) artifacts only; %s restores in one stream'
                        % manifest.get('dump_format'))
        conn = connection(module, engine)
        get_engine(conn).require_driver()
        restore(conn, path, manifest, params, result, check_mode=module.check_mode)
    except MissingDriver as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine), exception=exc.error, **result)
    except MissingLibrary as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='to read the artifact'), exception=exc.error, **result)
    except (RestoreError, EngineError, ArtifactError, manifests.ManifestError, OSError) as exc:
        module.fail_json(msg='%s' % exc, **result)
    if result.get('counts_differ'):
        result['msg'] = 'restored, but the counts differ from the manifest: %s' % ', '.join(
            '%s %s (manifest %s)' % (key, value['restored'], value['manifest']) for key, value in sorted(result['counts_differ'].items()))
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
