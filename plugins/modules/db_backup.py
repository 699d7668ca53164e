#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: db_backup
short_description: Streaming, compressed, optionally encrypted database backups with a manifest
version_added: 0.1.0
description:
  - Dumps one database with the engine's own tool and streams the dump through compression
    (zstd by default), optional age encryption and SHA-256 into a temp file in O(dest), which
    is fsync'ed and renamed to its final name only when the dump tool exited cleanly.
    Memory use does not grow with the database.
  - "PostgreSQL: C(pg_dump) custom format (default) or plain SQL, or C(pg_dumpall --globals-only)
    for roles and tablespaces. MySQL and MariaDB: C(mysqldump) or C(mariadb-dump) with
    C(--single-transaction --routines --triggers --events)."
  - Writes C(<dest>/<series>/<series>-<UTC time>.<ext>) and, after it, a manifest beside it
    (C(.manifest.json)) with the checksum, size, tool and server versions and the row count
    of every table, taken in the same snapshot as the dump for PostgreSQL (see notes for MySQL).
    Files are mode 0600, directories 0700. The layout is described in C(docs/backups.md).
  - Any failure (the dump tool failing or reporting an error, the server going away, a full
    disk, SIGTERM, SIGINT or SIGHUP to the module) leaves neither artifact nor manifest, and the
    task fails with the tool's message, passwords removed. Temp files left by a run that was
    killed outright are removed by the next run of the same series.
  - Before dumping, checks that O(dest) has free space for the database size times
    O(free_space_factor).
  - Passwords reach the dump tools through the C(PGPASSWORD) environment variable or a 0600
    option file removed as soon as the tool has started, never through the command line.
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
options:
  dest:
    description:
      - Destination directory, an absolute path. Created with mode 0700 (an existing one is set to 0700),
        with one sub-directory per series (engine, host, port and database).
    type: path
    required: true
  format:
    description:
      - "Dump format. PostgreSQL: V(custom) (default, also V(pgdump); restore with C(pg_restore)),
        V(plain) (SQL script for C(psql)) or V(globals) (roles and tablespaces with
        C(pg_dumpall --globals-only), in a series of its own named after the database C(_globals))."
      - "MySQL: V(sql), the only format, and the default. MongoDB: V(mongo.tar). Redis: V(rdb)."
    type: str
  compression:
    description:
      - Compression of the dump. V(zstd) needs the C(zstandard) Python library on the host.
    type: str
    choices: [zstd, gzip, none]
    default: zstd
  compression_level:
    description:
      - Level for O(compression); V(zstd) takes 1 to 22 (default 3), V(gzip) 1 to 9 (default 6).
    type: int
  encryption_recipients:
    description:
      - Encrypt to these age X25519 public keys (C(age1...)), with the C(pyrage) Python library.
        Only the holder of a matching private key can read the backup; the database host never
        holds a decryption key. Decrypt with C(age -d -i key.txt).
      - Mutually exclusive with O(encryption_passphrase_file).
    type: list
    elements: str
  encryption_passphrase_file:
    description:
      - Encrypt with the passphrase on the first line of this file (age scrypt format, readable with
        C(age -d)). The file should be mode 0600. Needs the C(cryptography) Python library.
      - Key derivation takes about a second and 256 MiB of memory once per backup (age's own work factor).
      - Mutually exclusive with O(encryption_recipients).
    type: path
  free_space_factor:
    description:
      - The backup only starts when O(dest) has at least the database size (C(pg_database_size), or data
        plus index length from C(information_schema.TABLES)) times this factor free.
      - Lower it when compression shrinks your dumps a lot (for example V(0.3)); V(0) turns the check off.
    type: float
    default: 1.0
  collections:
    description:
      - "MongoDB only: back up only the collections matching these shell-style patterns, matched against
        C(name) and C(database.name)."
    type: list
    elements: str
  exclude_collections:
    description:
      - "MongoDB only: leave out the collections matching these patterns (as O(collections))."
    type: list
    elements: str
  spool_dir:
    description:
      - "MongoDB only: directory for the temp file that holds one collection at a time while it is
        added to the archive (a tar header needs the size first). Defaults to the system temp directory."
    type: path
  redis_method:
    description:
      - "Redis only: how to get the RDB snapshot. V(bgsave) runs BGSAVE and reads the server's RDB file, which
        must be on this host; V(replica) receives it as a replica would, from any host; V(auto) (the default)
        uses V(bgsave) when the file is readable here, else V(replica)."
    type: str
    choices: [auto, bgsave, replica]
  redis_rdb_path:
    description:
      - "Redis only: path of the server's RDB file for V(bgsave), when C(CONFIG GET dir) and C(dbfilename)
        do not give it (for example a server in a container)."
    type: path
  redis_timeout:
    description:
      - "Redis only: seconds to wait for the snapshot to be saved or sent. Defaults to 3600."
    type: float
  skip_if_newer_than:
    description:
      - Take no backup when the series already has one younger than this interval (a number of seconds,
        or units s, m, h, d, w such as V(20h)), so a rerun of a nightly job (a relaunch after another task
        failed) neither dumps the database again nor reports a change.
      - Only a complete backup counts - it has its manifest, its size on disk is the manifest's, and its
        latest recorded verification, if any, passed. The task then returns that backup's RV(path),
        RV(sha256) and RV(size), C(changed=false) and RV(skipped_reason).
      - Unset (the default), every run takes a backup.
    type: str
attributes:
  check_mode:
    support: full
    description: Reports the path it would write, the estimated size and the free space, and writes nothing.
  diff_mode:
    support: none
    description: A backup is a new file; there is nothing to compare.
notes:
  - Every run writes a new backup, so a run reports C(changed) whenever it wrote one; there is no idempotent rerun.
  - "MySQL and MariaDB cannot share a snapshot between sessions: the row counts come from a second
    session's C(START TRANSACTION WITH CONSISTENT SNAPSHOT) opened right after the dump tool starts.
    Rows committed in the milliseconds between the two snapshots, and tables of non-transactional engines
    such as MyISAM, can make a count differ from the dump."
  - The same run of one series is serialised with a lock on the series directory; a second run of that
    series fails at once while the first one is running.
requirements:
  - pg_dump and pg_dumpall (Debian package postgresql-client) for PostgreSQL
  - mariadb-dump or mysqldump (Debian package mariadb-client) for MySQL and MariaDB
  - zstandard for O(compression=zstd)
  - pyrage for O(encryption_recipients)
  - cryptography for O(encryption_passphrase_file)
seealso:
  - module: community.postgresql.postgresql_db
  - module: community.mysql.mysql_db
'''

EXAMPLES = r'''
- name: Nightly PostgreSQL backup, encrypted to the backup operators' age keys
  caretaker.maintenance.db_backup:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
    database: appdb
    dest: /var/backups/caretaker
    encryption_recipients:
      - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  register: pg_backup

- name: Show where the backup went
  ansible.builtin.debug:
    msg: "{{ pg_backup.path }} ({{ pg_backup.size }} bytes, sha256 {{ pg_backup.sha256 }})"

- name: PostgreSQL roles and tablespaces, plain SQL, gzip
  caretaker.maintenance.db_backup:
    engine: postgresql
    login_host: 127.0.0.1
    login_password: "{{ vault_pg_password }}"
    format: globals
    compression: gzip
    dest: /var/backups/caretaker

- name: MariaDB backup with a passphrase, checking only for a third of the database size free
  caretaker.maintenance.db_backup:
    engine: mysql
    login_host: 127.0.0.1
    login_user: root
    login_password: "{{ vault_mysql_password }}"
    database: appdb
    dest: /var/backups/caretaker
    compression_level: 9
    encryption_passphrase_file: /etc/caretaker/backup-passphrase
    free_space_factor: 0.3

- name: Nightly backup that a rerun the same day does not repeat
  caretaker.maintenance.db_backup:
    engine: postgresql
    login_host: 127.0.0.1
    login_password: "{{ vault_pg_password }}"
    database: appdb
    dest: /var/backups/caretaker
    skip_if_newer_than: 20h
'''

RETURN = r'''
path:
  description: The artifact written or, in check mode, that would be written.
  returned: always
  type: str
  sample: /var/backups/caretaker/postgresql-127.0.0.1-5432-appdb/postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age
manifest:
  description: Path of the manifest beside the artifact.
  returned: always
  type: str
  sample: /var/backups/caretaker/postgresql-127.0.0.1-5432-appdb/postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age.manifest.json
manifest_content:
  description: The manifest written (format in C(docs/backups.md)).
  returned: success, not in check mode unless O(skip_if_newer_than) found a fresh backup
  type: dict
  sample:
    artifact: postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age
    series: postgresql-127.0.0.1-5432-appdb
    engine: postgresql
    dump_format: pgdump
    dump_tool: pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
    size: 123456789
    counts: {public.users: 1200, public.orders: 53000}
    encryption: {type: age-x25519, recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]}
    verifications: []
sha256:
  description: SHA-256 of the artifact file, hex.
  returned: success, not in check mode unless O(skip_if_newer_than) found a fresh backup
  type: str
size:
  description: Size of the artifact file in bytes.
  returned: success, not in check mode unless O(skip_if_newer_than) found a fresh backup
  type: int
series:
  description: The series (sub-directory of O(dest)) the backup belongs to.
  returned: always
  type: str
  sample: postgresql-127.0.0.1-5432-appdb
estimated_size:
  description: Size of the database in bytes, the estimate the free-space check uses; null for O(format=globals).
  returned: always
  type: int
free_bytes:
  description: Free bytes on the file system of O(dest) before the backup.
  returned: always
  type: int
required_free_bytes:
  description: O(free_space_factor) times RV(estimated_size); null when the check is off.
  returned: always
  type: int
skipped_reason:
  description: Why no backup was taken (O(skip_if_newer_than) found a fresh one, returned in RV(path)); null when one was.
  returned: always
  type: str
  sample: postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst is 3h12m old, newer than skip_if_newer_than 20h
removed_temp_files:
  description: Temp files of killed earlier runs removed from the series directory (in check mode, that would be).
  returned: always
  type: list
  elements: str
msg:
  description: What was done, on one line.
  returned: always
  type: str
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import backup
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.crypto import CryptoError, MissingLibrary
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        dest=dict(type='path', required=True),
        format=dict(type='str'),
        compression=dict(type='str', choices=['zstd', 'gzip', 'none'], default='zstd'),
        compression_level=dict(type='int'),
        encryption_recipients=dict(type='list', elements='str'),
        encryption_passphrase_file=dict(type='path', no_log=False),
        free_space_factor=dict(type='float', default=1.0),
        collections=dict(type='list', elements='str'),
        exclude_collections=dict(type='list', elements='str'),
        spool_dir=dict(type='path'),
        redis_method=dict(type='str', choices=['auto', 'bgsave', 'replica']),
        redis_rdb_path=dict(type='path'),
        redis_timeout=dict(type='float'),
        skip_if_newer_than=dict(type='str'),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('encryption_recipients', 'encryption_passphrase_file')])
    params = module.params
    try:
        [conn] = connection_specs(params)
        engine = get_engine(conn)
        engine.require_driver()
        if not hasattr(engine, 'dump_source'):
            module.fail_json(msg='engine %s has no backup support in db_backup yet' % conn.engine)
        settings = backup.BackupSettings(
            params['dest'], params['format'], params['compression'], params['compression_level'],
            params['encryption_recipients'], params['encryption_passphrase_file'], params['free_space_factor'],
            backup.engine_options(conn.engine, params), params['skip_if_newer_than'])
    except MissingDriver as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='for engine %s' % exc.engine), exception=exc.error)
    except MissingLibrary as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='%s' % exc), exception=exc.error)
    except (ConnectionOptionError, backup.BackupError, CryptoError, ValueError) as exc:
        module.fail_json(msg='%s' % exc)

    guard = None
    try:
        with backup.signals_interrupt() as guard:
            with engine:
                result = backup.run_backup(engine, settings, check_mode=module.check_mode, guard=guard)
    except (backup.Interrupted, EngineError, backup.BackupError, CryptoError, ValueError, IOError, OSError) as exc:
        if guard is not None and guard.received:
            # Whatever the signal surfaced as (a library may wrap it), the run was interrupted.
            module.fail_json(msg='db_backup was interrupted by %s: no artifact or manifest was kept'
                             % backup.signal_name(guard.received))
        if isinstance(exc, (IOError, OSError)):
            module.fail_json(msg='db_backup failed: %s' % exc, exception=traceback.format_exc())
        module.fail_json(msg='%s' % exc)
    for warning in result.pop('warnings', []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
