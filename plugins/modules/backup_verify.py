#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: backup_verify
short_description: Prove a backup artifact is intact, decodes, is a valid dump and restores
version_added: 0.1.0
description:
  - Checks one artifact written by M(caretaker.maintenance.db_backup) against its manifest and
    records the result in the manifest, so M(caretaker.maintenance.db_restore) and
    M(caretaker.maintenance.backup_prune) know which backups are verified.
  - "C(checksum): size and SHA-256 of the file against the manifest."
  - "C(decode): the whole stream is decrypted (age) and decompressed (zstd, gzip) to its end.
    Every layer is authenticated, so a changed byte or a cut-off end is found here."
  - "C(format): the dump tool's own reader accepts the decoded bytes. PostgreSQL custom format:
    C(pg_restore --list) reads it from a pipe and lists TABLE DATA for every table of the manifest.
    Plain SQL: the dump's completion line (C(-- Dump completed on) for mysqldump). MongoDB: every
    BSON document of every collection parses and every C(.metadata.json) is valid. Redis:
    C(redis-check-rdb) accepts the RDB."
  - With O(restore_test), the artifact is also restored into a scratch database and the row,
    document or key count of every table, collection or logical database is compared with the
    manifest (one C(counts) item each). PostgreSQL and MySQL restore into a new database named
    C(caretaker_verify_<random>), MongoDB into a scratch database of that name (an artifact of
    every database into one scratch database per database, C(caretaker_verify_<random>_1),
    C(caretaker_verify_<random>_2), ..., all dropped with it), Redis into a
    throwaway C(redis-server) this module starts on a private unix socket in a temp directory
    (no TCP port). The scratch is dropped (the throwaway server stopped by its process id) in
    every case, also when the restore fails and when SIGTERM, SIGINT or SIGHUP stops the module
    (the task then fails, and nothing is recorded).
  - Every check reads the artifact once. The SHA-256 is computed from the bytes the decoder reads,
    and with O(restore_test) the one decoded stream feeds the restore and, beside it in a thread,
    the format check (for Redis, C(redis-check-rdb) checks the RDB the restore writes). The first
    chunk is decoded before the scratch is created, so a wrong key creates nothing. When the file
    does not match the manifest's SHA-256, the restore's input ends in an error instead of its
    end and the restore program is killed (C(psql), which runs a plain dump in one transaction,
    then commits nothing); the C(checksum) item fails the verification whatever the restore did.
    A layer that fails to authenticate stops the restore the same way.
  - Appends a verification record (when, method, outcome) to the manifest, rewritten
    atomically; that is the change this module reports. In check mode nothing is recorded
    and no scratch database is created.
  - Memory stays constant whatever the artifact's size; only the Redis checks and restores
    write a decoded copy (the RDB) to a private temp directory.
  - With O(skip_if_verified_within), an artifact verified successfully a short while ago is not
    decoded again (see that option).
author:
  - Caretaker Maintainers (@caretaker)
extends_documentation_fragment:
  - caretaker.maintenance.connection
  - caretaker.maintenance.status.fail_on
options:
  path:
    description:
      - The artifact to verify. Its manifest (O(path) plus C(.manifest.json)) must be beside it.
    type: path
    required: true
  identity_file:
    description:
      - age identity file (made by C(age-keygen)) whose key is one of the artifact's recipients.
      - Required for artifacts encrypted to age X25519 recipients. Keep it mode 0600; a looser
        mode is reported as a warning. Its content never appears in output.
    type: path
  passphrase_file:
    description:
      - File whose first line is the passphrase of an artifact encrypted with an age passphrase.
    type: path
  restore_test:
    description:
      - Also restore into a scratch database and compare counts with the manifest.
      - The connection options name the server to restore into (not needed for Redis). The
        login needs the right to create and drop databases.
      - Skipped, and said so in RV(msg), in check mode and when a check known before reading fails
        (the manifest has no SHA-256, its layers disagree with the file, a key option is missing) or
        the first chunk does not decode (a wrong key).
    type: bool
    default: false
  skip_if_verified_within:
    description:
      - Skip the verification, returning the recorded outcome with C(changed=false), when the
        manifest already records a successful verification that is younger than this duration,
        at least as thorough as the one asked (a C(restore_test) record stands for a plain
        verification, a plain one never for a restore test), with no failed verification after it,
        and the artifact's size and modification time are still those recorded with it (and its
        size still the manifest's). RV(skipped_reason) says when it was verified.
      - Otherwise the artifact is verified as usual and RV(verify_reason) says why it was not skipped.
      - "A duration in the collection's syntax (as O(caretaker.maintenance.backup_prune#module:max_age)):
        whole numbers with the units C(y), C(mo) or C(m) (months), C(w), C(d) and C(h), for example
        V(20h), V(6d) or V(1w)."
      - The skip trusts the earlier verification. It does not read the file, so it cannot find a
        checksum mismatch; a byte changed in place whose modification time was put back goes
        unnoticed until the next verification that decodes. Keep a window shorter than the
        interval at which you want every artifact decoded again.
      - Records written before this option existed hold no size and modification time and are
        never skipped over.
    type: str
  temp_dir:
    description:
      - Directory for the private (0700) temp directory that holds the password option files,
        and for Redis the decoded RDB and the throwaway server's socket.
      - Defaults to the system temp directory.
    type: path
attributes:
  check_mode:
    support: full
    description: Runs the checksum, decode and format checks; records nothing and skips the restore test.
      With O(skip_if_verified_within), says in RV(msg) whether it would skip (and then decodes nothing) or verify.
  diff_mode:
    support: none
    description: Only the manifest's verification list changes.
notes:
  - The verification is recorded in the manifest before O(fail_on) fails the task.
  - O(engine) defaults to the manifest's engine; when set it must match it.
  - "Requires on the host: cryptography (encrypted artifacts), zstandard (zstd), the PostgreSQL client
    programs (C(pg_restore), C(psql)), the MySQL or MariaDB client (C(mariadb) or C(mysql)),
    and C(redis-server) with C(redis-check-rdb) for the engines used."
seealso:
  - module: caretaker.maintenance.db_restore
'''

EXAMPLES = r'''
- name: Verify last night's PostgreSQL backup (checksum, decryption, pg_restore --list)
  caretaker.maintenance.backup_verify:
    path: "{{ backup_dir }}/postgresql-127.0.0.1-5432-appdb/postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age"
    identity_file: "{{ backup_identity_file }}"

- name: Weekly restore test into a scratch database, counts compared with the manifest
  caretaker.maintenance.backup_verify:
    path: "{{ backup_dir }}/postgresql-127.0.0.1-5432-appdb/postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age"
    identity_file: "{{ backup_identity_file }}"
    restore_test: true
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
  register: restore_check

- name: Restore-test a Redis backup in a throwaway server, reporting without failing
  caretaker.maintenance.backup_verify:
    path: "{{ backup_dir }}/redis-127.0.0.1-6379-0/redis-127.0.0.1-6379-0-20261123T020000Z.rdb.zst"
    restore_test: true
    fail_on: never
  register: redis_check

- name: Show what failed
  ansible.builtin.debug:
    msg: "{{ redis_check.msg }}"
  when: not redis_check.verified

- name: Nightly verify, skipped when the artifact was verified (or restore-tested) in the last 20 hours
  caretaker.maintenance.backup_verify:
    path: "{{ backup_dir }}/postgresql-127.0.0.1-5432-appdb/postgresql-127.0.0.1-5432-appdb-20261123T020000Z.pgdump.zst.age"
    identity_file: "{{ backup_identity_file }}"
    skip_if_verified_within: 20h
  register: nightly_check

- name: Say when it was last verified
  ansible.builtin.debug:
    msg: "{{ nightly_check.skipped_reason | default(nightly_check.msg) }}"
'''

RETURN = r'''
status:
  description: Worst status of all items.
  returned: always
  type: str
  sample: ok
msg:
  description: One line a person can act on, naming the failed checks; says which checks were skipped.
  returned: always
  type: str
  sample: "2 critical of 3 backup checks; checksum: the artifact changed since it was written: sha256 9f86..., manifest 2c26..."
checks:
  description: One item per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: >-
        C(checksum), C(decode), C(format), C(restore_test), C(counts <table>), or C(manifest) / C(scratch) for those problems;
        C(recent_verification) alone when the verification was skipped (O(skip_if_verified_within)).
      type: str
    status:
      description: V(ok) or V(critical).
      type: str
    value:
      description: >-
        The SHA-256 for C(checksum), decoded bytes for C(decode), the dump format, the scratch name, the restored count,
        or the recorded method for C(recent_verification).
      type: raw
    unit:
      description: Unit of RV(checks[].value) (bytes, rows, documents, keys).
      type: str
    threshold:
      description: Always null; the checks are pass or fail.
      type: raw
    detail:
      description: What was found, in words.
      type: str
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ok: 5, warning: 0, critical: 0, unknown: 0}
path:
  description: The artifact verified.
  returned: always
  type: str
verified:
  description: True when every check passed.
  returned: always
  type: bool
verification:
  description:
    - The record appended to the manifest (in check mode, the record that would be appended), with the
      artifact's size and modification time (nanoseconds since the epoch) when it was verified.
    - When the verification was skipped, the earlier record that stands for it.
  returned: when the manifest could be read
  type: dict
  sample: {at: "2026-11-23T02:05:00Z", method: "checksum+decode+format", outcome: ok, detail: "all 3 backup checks ok",
           size: 419269860, mtime_ns: 1795406400123456789}
recorded:
  description: Whether the record was written to the manifest.
  returned: always
  type: bool
verification_skipped:
  description: Whether a recent verification on record was returned instead of verifying (O(skip_if_verified_within)).
  returned: when skip_if_verified_within is set and the manifest could be read
  type: bool
skipped_reason:
  description: When and how the artifact was verified, for a skipped verification.
  returned: when the verification was skipped
  type: str
  sample: "verified at 2026-11-23T02:05:00Z (6h10m ago, within skip_if_verified_within 20h) by restore_test, outcome ok;
    the artifact's size and mtime are unchanged, so it was not decoded again"
verify_reason:
  description: Why the verification ran although O(skip_if_verified_within) is set.
  returned: when skip_if_verified_within is set and the artifact was verified
  type: str
  sample: "the last successful restore_test verification (2026-11-21T02:05:00Z) is older than 20h"
skipped:
  description: Checks that were asked for but not run, with the reason.
  returned: when the manifest could be read
  type: list
  elements: str
scratch_database:
  description: Name of the scratch database of the restore test.
  returned: when a restore test ran
  type: str
  sample: caretaker_verify_3f9a0c1b2d4e
scratch_dropped:
  description: Whether the scratch database is gone afterwards (it is dropped even when the restore fails).
  returned: when a restore test ran
  type: bool
engine:
  description: Engine from the manifest.
  returned: when the manifest could be read
  type: str
dump_format:
  description: Dump format from the manifest (pgdump, sql, pgglobals.sql, mongo.tar, rdb).
  returned: when the manifest could be read
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import manifest as manifests
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.backup import Interrupted, signals_interrupt
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.restore_common import (
    MissingLibrary, RestoreError, loose_permissions)
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.verify import verify
from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import Duration, DurationError
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import MissingDriver
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.connection import (
    ConnectionOptionError, connection_argument_spec, connection_specs)
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import exit_with_status, status_argument_spec


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        path=dict(type='path', required=True),
        identity_file=dict(type='path'),
        passphrase_file=dict(type='path', no_log=False),
        restore_test=dict(type='bool', default=False),
        skip_if_verified_within=dict(type='str'),
        temp_dir=dict(type='path'),
    )
    spec.update(status_argument_spec())
    return spec


def key_options(module):
    keys = {}
    for option in ('identity_file', 'passphrase_file'):
        path = module.params[option]
        if path is None:
            continue
        if not os.path.isfile(path):
            module.fail_json(msg='%s %s is not a file: give the path of the key file' % (option, path))
        mode = loose_permissions(path)
        if mode:
            module.warn('%s %s is readable by group or others (mode %s): chmod 600 it' % (option, path, mode))
        keys[option] = path
    return keys


def connection_for(module, engine):
    """The ConnectionSpec for a restore test, with the manifest's engine."""
    params = module.params
    if params['engine'] and engine and params['engine'] != engine:
        module.fail_json(msg='engine is %s but the manifest of %s says %s: leave engine unset or verify the right artifact'
                         % (params['engine'], params['path'], engine))
    try:
        conn = connection_specs(dict(params, engine=engine or params['engine'], targets=None))[0]
    except ConnectionOptionError as exc:
        module.fail_json(msg='%s' % exc)
    if params['restore_test']:
        try:
            get_engine(conn).require_driver()
        except MissingDriver as exc:
            module.fail_json(msg=missing_required_lib(exc.library, reason='for the restore test of engine %s' % exc.engine),
                             exception=exc.error)
    return conn


def interrupted_message(exc):
    left = getattr(exc, 'scratch_left', None)
    scratch = ('the scratch database %s is still there: drop it by hand' % left if left else
               'no scratch database of the restore test is left')
    return 'backup_verify was interrupted by %s: nothing was recorded; %s' % (exc.name, scratch)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    path = module.params['path']
    if not os.path.isfile(path):
        module.fail_json(msg='path %s is not a file: give the artifact (not its manifest or directory)' % path)
    keys = key_options(module)
    try:
        within = module.params['skip_if_verified_within']
        skip_within = Duration.parse(within, 'skip_if_verified_within') if within is not None else None
    except DurationError as exc:
        module.fail_json(msg='%s' % exc)
    try:
        engine = manifests.read(path).get('engine')
    except manifests.ManifestError:
        engine = None  # verify() reports the manifest as a critical item
    conn = connection_for(module, engine) if engine else None
    try:
        with signals_interrupt():  # SIGTERM, SIGINT, SIGHUP unwind the stack, so the scratch is dropped
            result = verify(path, keys, conn=conn, run_restore_test=module.params['restore_test'],
                            check_mode=module.check_mode, temp_dir=module.params['temp_dir'], skip_within=skip_within)
    except Interrupted as exc:
        module.fail_json(msg=interrupted_message(exc))
    except MissingLibrary as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason='to read %s' % path), exception=exc.error)
    except (RestoreError, OSError) as exc:
        module.fail_json(msg='cannot verify %s: %s' % (path, exc))
    exit_with_status(module, result)


if __name__ == '__main__':
    main()
