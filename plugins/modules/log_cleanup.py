#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: log_cleanup
short_description: Compress old logs in parallel, delete old archives, keep log directories under a size cap
version_added: 0.1.0
description:
  - In each directory of O(paths) (and below it with O(recurse)), compresses the log files matching
    O(patterns) that are older than O(compress_after_days) into C(NAME.gz) or C(NAME.zst), deletes
    archives older than O(delete_after_days), then, with O(max_total_size), deletes the oldest archives
    until the directory's logs and archives fit. The runbook's
    C(find DIR -name '*.log' -mtime +30 -exec gzip {} \;) and
    C(find DIR -name '*.log.gz' -mtime +90 -delete), done safely and in parallel.
  - "Archives are the files named as a pattern matches plus C(.gz) or C(.zst): with the default
    patterns C(app.log.gz), C(app.log.3.gz), C(app.log.3.zst). Files ending in another compression
    suffix (C(.bz2), C(.xz), C(.lz4), C(.zip), ...) are never compressed again nor deleted."
  - Ages are measured from the modification time; older than N days means more than N times 24 hours ago.
  - Compressing and deleting run in O(workers) processes, up to 256 files of one directory at a time
    each. Compressing is atomic per file. The archive is written to a temp file in the same directory
    (unnamed, C(O_TMPFILE), where the filesystem supports it, so an interrupted run leaves nothing
    behind; otherwise a hidden C(.NAME.*.log-cleanup-tmp)) and gets the log's mode, owner and group
    (when the user running the module may set them, as root can), atime and mtime. The archives of the
    256 files are flushed to disk at once (one C(syncfs) for 32 archives or more, otherwise or where
    C(syncfs) is missing an fsync of each), then linked to their final names; the directory is fsync'ed, and only then is each
    log removed, provided it is still unchanged. An archive name that exists already is never
    overwritten; the log is reported in RV(skipped_files).
  - Logs past both O(compress_after_days) and O(delete_after_days) are deleted without being compressed
    first, since compressing them would only be undone by the delete of the same run.
  - "Never touches: symlinks (files or directories; neither the link nor its target), anything outside
    the given directories (the walk goes down by directory descriptors with C(O_NOFOLLOW), and each
    directory must still be the one scanned when files in it change), files modified within the last
    O(min_idle) minutes, files any process holds open for writing (from C(/proc/*/fd) and
    C(/proc/*/fdinfo)), and live logs for the size cap. Logs with more than one hard link are not
    compressed (the other names would keep the data), as with gzip(1)."
  - A directory or file that cannot be read is reported in RV(errors), with a warning, and everything
    else is still processed; the task does not fail for it.
  - "Refuses system directories unless O(allow_system_paths=true): C(/), C(/home), C(/media), C(/mnt),
    C(/opt), C(/root), C(/srv), C(/tmp), C(/var) and C(/var/backups), C(/var/cache), C(/var/lib),
    C(/var/local), C(/var/mail), C(/var/opt), C(/var/spool), C(/var/tmp) themselves (their
    sub-directories are allowed, for example C(/var/lib/docker/containers) or C(/opt/app/logs)), and
    everything in C(/bin), C(/boot), C(/dev), C(/etc), C(/lib), C(/lib32), C(/lib64), C(/libx32),
    C(/proc), C(/run), C(/sbin), C(/sys) and C(/usr) (and C(/lib.*)). C(/var/log) and its
    sub-directories are allowed. A path is checked as given and after resolving symlinks."
author:
  - Caretaker Maintainers (@caretaker)
attributes:
  check_mode:
    support: full
    description:
      - Lists exactly the files that would be compressed (with the size each archive would have, by
        compressing into a counter) and deleted, and the bytes that would be freed; the lists equal those
        of a real run made at the same moment.
  diff_mode:
    support: full
    description: Per directory of O(paths), the files acted on with their sizes before, and the archives made after.
options:
  paths:
    description:
      - Log directories, absolute paths. A directory that is itself a symlink is resolved once; nothing
        below it is followed.
      - A path that is not a directory, a system directory (see above), a duplicate, or with O(recurse)
        one inside another fails the task before anything is changed.
    type: list
    elements: path
    required: true
  patterns:
    description:
      - Shell globs matched against file names (not paths), case-sensitively, for example V(*.log),
        V(*.log.[0-9]), V(app-*.txt).
      - Logs are the files matching them; archives are those names plus C(.gz) or C(.zst).
    type: list
    elements: str
    default: ['*.log', '*.log.[0-9]*']
  recurse:
    description: Also process the sub-directories, without following symlinked ones.
    type: bool
    default: false
  compress_after_days:
    description:
      - Compress logs older than this many days. V(0) compresses every log idle for O(min_idle) minutes.
      - Not set, nothing is compressed (and uncompressed logs are never deleted).
      - At least one of O(compress_after_days), O(delete_after_days) and O(max_total_size) must be set.
    type: int
  delete_after_days:
    description:
      - Delete archives older than this many days (and logs older than this that would be compressed).
      - Must not be less than O(compress_after_days).
    type: int
  max_total_size:
    description:
      - Size cap for each directory of O(paths) (with its sub-directories when O(recurse)), for example
        V(2G), V(500M), V(1.5G) or a number of bytes; K, M, G and T are powers of 1024.
      - Counted over the logs and archives there (file sizes), after compressing and deleting by age.
        Archives are then deleted oldest first (by modification time) until the total fits.
        Logs are never deleted for the cap; when the cap cannot be reached, a warning says so.
    type: str
  compression:
    description:
      - V(gzip) (Python's zlib, output readable by C(gzip -d)) or V(zstd) (needs the C(zstandard) Python
        library on the host, output readable by C(zstd -d)).
    type: str
    choices: [gzip, zstd]
    default: gzip
  compression_level:
    description: V(gzip) takes 1 to 9 (default 6, as gzip(1)), V(zstd) 1 to 22 (default 3).
    type: int
  min_idle:
    description: Skip files modified within the last this many minutes.
    type: int
    default: 60
  workers:
    description:
      - Worker processes compressing and deleting at once. Default the number of CPUs of the host.
      - V(1) does everything in the module's own process.
    type: int
  allow_system_paths:
    description: Allow the system directories otherwise refused (see above). Think twice.
    type: bool
    default: false
notes:
  - "Open files are found in C(/proc): as root every process is seen; as another user only that user's
    processes, and a warning says how many could not be inspected. A file opened for writing after
    the scan is protected by O(min_idle), and a log written to while it is compressed is left as it is."
  - A log a process only reads (C(tail -f)) is compressed and removed as usual; the reader keeps its copy open.
  - C(syncfs) also writes out other programs' pending writes to the same filesystem; that is what makes
    one flush per batch cheaper than one fsync per archive on a filesystem with a journal.
  - Do not point it at files logrotate rotates with the same names; use it where logrotate is not used
    (applications rotating their own logs, C(pm2), daily files) or for what logrotate leaves behind.
requirements:
  - zstandard for O(compression=zstd)
seealso:
  - name: logrotate
    description: Rotation of live logs, which this module complements.
    link: https://github.com/logrotate/logrotate
'''

EXAMPLES = r'''
- name: Compress application logs after 7 days, delete archives after 90 days
  caretaker.maintenance.log_cleanup:
    paths:
      - /var/log/myapp
      - /srv/api/logs
    compress_after_days: 7
    delete_after_days: 90
  register: cleaned

- name: Say what was freed
  ansible.builtin.debug:
    msg: "{{ cleaned.msg }}"

- name: Keep pm2 logs under 2G with zstd, sub-directories included; fail when something could not be read
  caretaker.maintenance.log_cleanup:
    paths: [/home/app/.pm2/logs]
    patterns: ['*.log', '*-out-*.log', '*-error-*.log']
    recurse: true
    compression: zstd
    compress_after_days: 1
    delete_after_days: 30
    max_total_size: 2G
  register: pm2_logs
  failed_when: pm2_logs.errors | length > 0

- name: Preview what would go in the Docker container logs, with the list of files
  caretaker.maintenance.log_cleanup:
    paths: [/var/lib/docker/containers]
    patterns: ['*-json.log.[0-9]*']
    recurse: true
    compress_after_days: 3
    delete_after_days: 30
  check_mode: true
  diff: true
  register: preview

- name: Show the files that would be deleted
  ansible.builtin.debug:
    msg: "{{ preview.deleted | map(attribute='path') | list }}"
'''

RETURN = r'''
msg:
  description: What was (in check mode, would be) done, on one line; with the first error when there are errors.
  returned: always
  type: str
  sample: "compressed 120 files (983040 -> 131072 bytes), deleted 40 files; 1180000 bytes freed; 1 skipped"
compressed:
  description: Every log compressed (in check mode, to compress), by path.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The log, removed after compressing.
      type: str
    archive:
      description: The archive written beside it.
      type: str
    bytes_before:
      description: Size of the log.
      type: int
    bytes_after:
      description: Size of the archive.
      type: int
deleted:
  description:
    - Every file deleted (in check mode, to delete), in order - per directory of O(paths), the files past
      O(delete_after_days) by path, then the archives taken by O(max_total_size), oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    bytes:
      description: Its size.
      type: int
    reason:
      description: Why it was deleted.
      type: str
      sample: "older than delete_after_days (90)"
bytes_freed:
  description:
    - Bytes freed, the sizes of the deleted files plus what compressing saved (a file of a few bytes grows
      when compressed, as with gzip(1), so this can be negative).
  returned: always
  type: int
skipped_files:
  description:
    - Files left alone that would otherwise have been compressed or deleted, and symlinks matching the patterns.
    - (Not C(skipped), which Ansible reserves to mark a skipped task.)
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    reason:
      description: Why it was left alone.
      type: str
      sample: "open for writing by pid 4242 (node)"
errors:
  description: Directories and files that could not be read or changed; everything else was processed.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The directory or file.
      type: str
    error:
      description: What went wrong.
      type: str
      sample: "cannot list directory: Permission denied"
roots:
  description: One entry per directory of O(paths), resolved, with the bytes of its logs and archives.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The directory.
      type: str
    bytes_before:
      description: Bytes of the logs and archives found.
      type: int
    bytes_after:
      description: Bytes of the logs and archives left (in check mode, that would be left).
      type: int
    max_total_size:
      description: The size cap in bytes, or null.
      type: int
    within_limit:
      description: Whether RV(roots[].bytes_after) fits the cap; null without a cap.
      type: bool
'''

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.caretaker.maintenance.plugins.module_utils._logs import cleanup_compress
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_options import CleanupError, Options
from ansible_collections.caretaker.maintenance.plugins.module_utils._logs.cleanup_run import Cleanup, diff


def argument_spec():
    return dict(
        paths=dict(type='list', elements='path', required=True),
        patterns=dict(type='list', elements='str', default=['*.log', '*.log.[0-9]*']),
        recurse=dict(type='bool', default=False),
        compress_after_days=dict(type='int'),
        delete_after_days=dict(type='int'),
        max_total_size=dict(type='str'),
        compression=dict(type='str', choices=['gzip', 'zstd'], default='gzip'),
        compression_level=dict(type='int'),
        min_idle=dict(type='int', default=60),
        workers=dict(type='int'),
        allow_system_paths=dict(type='bool', default=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if module.params['compression'] == 'zstd' and not cleanup_compress.HAS_ZSTANDARD:
        module.fail_json(msg=missing_required_lib('zstandard', reason='for compression=zstd'))
    try:
        options = Options(module.params)
    except CleanupError as exc:
        module.fail_json(msg='%s' % exc)
    cleanup = Cleanup(options, time.time(), module.check_mode)
    result = cleanup.run()
    for warning in cleanup.warnings:
        module.warn(warning)
    if result['errors']:
        module.warn('log_cleanup: %d files or directories could not be processed; see errors' % len(result['errors']))
    if module._diff:
        result['diff'] = diff(result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
