#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: backup_prune
short_description: Delete old backups of each series by a keep_daily/keep_weekly/... retention policy
version_added: 0.1.0
description:
  - Applies a retention policy to each backup series under O(dest) (one directory per series,
    as M(caretaker.maintenance.db_backup) writes them; see C(docs/backups.md)) and deletes the
    backups no rule keeps, each artifact with its manifest.
  - "The rules are restic's C(forget) rules. Backups are walked newest first. O(keep_last) N
    keeps the N newest. O(keep_daily) N keeps the newest backup of each of the N most recent
    distinct days that have a backup; O(keep_hourly), O(keep_weekly) (ISO weeks),
    O(keep_monthly) and O(keep_yearly) likewise. When the oldest backup is reached and a count
    is not used up, the oldest backup is kept too, so a young series keeps its full reach.
    O(keep_within) keeps every backup newer than the newest backup's time minus the duration
    (measured from the newest backup, not from now, so a stalled series is not emptied).
    Hours, days, weeks, months and years are UTC, the times in the artifact names."
  - A backup kept by any rule is kept; RV(series[].kept) names every rule that keeps it.
  - Artifacts of one series with the same timestamp (for example a dump and its globals dump)
    are one backup for the policy, kept or deleted together.
  - Never deletes the newest verified backup (the newest whose last verification succeeded),
    nor any backup newer than it, whatever the policy says.
  - A series with no verified backup keeps everything while O(require_verified) is true.
  - A series whose newest backup is older than O(max_age) is refused - nothing in it is
    deleted - and the task fails naming the series, the newest backup's age and O(max_age);
    a stalled backup must alert, not shrink the history. The other series are still pruned
    (their retention does not depend on the stalled one, and their disks must not fill up);
    the failed result lists what was deleted there.
  - Artifacts without a readable manifest naming them are incomplete or foreign and are kept
    unless O(prune_unmanifested) is set.
  - Deletes the artifact first, then its manifest. A run interrupted in between leaves a
    manifest without an artifact, which no module lists as a backup and the next run deletes.
  - Never follows symlinks (a symlinked series, artifact or manifest is left alone), never
    touches anything outside O(dest), never touches the hidden temp files (C(.*.tmp)) of a
    backup being written, nor files whose names are not artifact names of the series.
author:
  - Caretaker Maintainers (@caretaker)
attributes:
  check_mode:
    support: full
    description:
      - Lists exactly the files that would be deleted, with their sizes, and why each backup stays;
        reports C(changed) when something would be deleted.
  diff_mode:
    support: full
    description: Per series, the file list before and after, and a line per backup saying why it goes or stays.
options:
  dest:
    description:
      - Backup destination directory holding one directory per series. It may itself be a
        symlink; nothing inside it is followed.
    type: path
    required: true
  series:
    description:
      - Names of the series directories to prune, for example V(postgresql-127.0.0.1-5432-appdb).
      - When empty, every series directory under O(dest) (not hidden, not a symlink).
      - A series that is not there fails the task before anything is deleted.
    type: list
    elements: str
  keep_last:
    description: Keep the N newest backups. V(0) does not use the rule.
    type: int
  keep_hourly:
    description: Keep the newest backup of each of the N most recent hours that have one.
    type: int
  keep_daily:
    description: Keep the newest backup of each of the N most recent days that have one.
    type: int
  keep_weekly:
    description: Keep the newest backup of each of the N most recent ISO weeks (Monday to Sunday) that have one.
    type: int
  keep_monthly:
    description: Keep the newest backup of each of the N most recent months that have one.
    type: int
  keep_yearly:
    description: Keep the newest backup of each of the N most recent years that have one.
    type: int
  keep_within:
    description:
      - Keep every backup newer than the newest backup's time minus this duration.
      - "restic's syntax: whole numbers with units C(y) years, C(m) months, C(w) weeks, C(d) days,
        C(h) hours, for example V(30d), V(1y2m3d4h), V(36h). Months and years are calendar ones."
      - At least one of the O(keep_last), O(keep_hourly), O(keep_daily), O(keep_weekly),
        O(keep_monthly), O(keep_yearly) and O(keep_within) options must be set.
    type: str
  max_age:
    description:
      - Refuse to prune a series whose newest complete backup is older than this (same syntax as
        O(keep_within)), or that has no complete backup, and fail the task saying so.
      - Set it a little above the backup interval, for example V(2d) for daily backups.
    type: str
  require_verified:
    description:
      - When true, a series with no verified backup (no manifest whose last verification succeeded,
        see M(caretaker.maintenance.backup_verify)) keeps everything; its backups are listed as
        kept with the reason.
      - When false, such a series is pruned by the policy alone.
    type: bool
    default: true
  prune_unmanifested:
    description:
      - Also delete artifacts of the series that have no readable manifest naming them (left by a
        failed run or copied in by hand), with their unreadable manifest if any.
      - Only those older than the newest verified backup (with O(require_verified=false) and no
        verified backup, the newest complete one) are deleted, so an artifact whose manifest is
        still being written is never touched.
    type: bool
    default: false
seealso:
  - module: caretaker.maintenance.db_backup
  - module: caretaker.maintenance.backup_verify
  - name: restic forget
    description: The retention rules followed here.
    link: https://restic.readthedocs.io/en/stable/060_forget.html
'''

EXAMPLES = r'''
- name: Keep 7 daily, 4 weekly, 12 monthly and 1 yearly backup of every series; refuse stalled series
  caretaker.maintenance.backup_prune:
    dest: /var/backups/caretaker
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 12
    keep_yearly: 1
    max_age: 2d
  register: pruned

- name: Say how much space was freed
  ansible.builtin.debug:
    msg: "{{ pruned.msg }}"

- name: Preview one series - everything from the last 30 days and at least the 3 newest
  caretaker.maintenance.backup_prune:
    dest: /var/backups/caretaker
    series:
      - postgresql-127.0.0.1-5432-appdb
    keep_within: 30d
    keep_last: 3
  check_mode: true
  register: preview

- name: Show which files would go and why the newest stays
  ansible.builtin.debug:
    msg:
      - "{{ preview.deleted | map(attribute='path') | list }}"
      - "{{ preview.series['postgresql-127.0.0.1-5432-appdb'].kept | last }}"

- name: Keep 14 backups per series and also delete artifacts that failed runs left without a manifest
  caretaker.maintenance.backup_prune:
    dest: /var/backups/caretaker
    keep_last: 14
    prune_unmanifested: true
'''

RETURN = r'''
msg:
  description: One line saying what was (or in check mode would be) deleted and kept; on failure, each refused series first.
  returned: always
  type: str
  sample: "deleted 12 files (73400320 bytes) in 2 of 3 series; kept 46 backups"
deleted:
  description:
    - Every file deleted (in check mode, to delete), over all series, in the order deleted - per series
      the backups oldest first, each artifact before its manifest, then unmanifested artifacts, then
      manifests left without their artifact.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the file.
      type: str
    bytes:
      description: Its size.
      type: int
    reason:
      description: Why it was deleted.
      type: str
      sample: "matched no keep rule (keep_daily 7, keep_weekly 4)"
bytes_freed:
  description: Sum of RV(deleted[].bytes).
  returned: always
  type: int
series:
  description: One entry per series looked at, by series name.
  returned: always
  type: dict
  contains:
    path:
      description: The series directory.
      type: str
    deleted:
      description: Files deleted in this series, as RV(deleted).
      type: list
      elements: dict
    kept:
      description: Every backup kept (artifacts; a kept artifact keeps its manifest), oldest first.
      type: list
      elements: dict
      contains:
        path:
          description: The artifact.
          type: str
        time:
          description: Its timestamp, UTC.
          type: str
        verified:
          description: Whether its last verification succeeded.
          type: bool
        reasons:
          description: Every reason it stays.
          type: list
          elements: str
          sample: ["daily 2026-11-22", "weekly 2026-W47", "newest verified"]
    bytes_freed:
      description: Bytes deleted in this series.
      type: int
    newest:
      description: Newest complete backup of the series, or null.
      type: str
    newest_verified:
      description: Newest verified backup of the series, or null.
      type: str
    refused:
      description: Why the series was refused (O(max_age)), or null.
      type: str
    error:
      description: Error met while deleting in this series, or null.
      type: str
'''

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import prune
from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.retention import (
    COUNT_OPTIONS, Duration, Policy, PolicyError)


def argument_spec():
    spec = dict(
        dest=dict(type='path', required=True),
        series=dict(type='list', elements='str'),
        keep_within=dict(type='str'),
        max_age=dict(type='str'),
        require_verified=dict(type='bool', default=True),
        prune_unmanifested=dict(type='bool', default=False),
    )
    for option in COUNT_OPTIONS:
        spec[option] = dict(type='int')
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        policy = Policy.from_options(params)
        max_age = Duration.parse(params['max_age'], 'max_age') if params['max_age'] else None
        plans = prune.prune(params['dest'], params['series'], policy, datetime.datetime.now(datetime.timezone.utc),
                            max_age=max_age, prune_unmanifested=params['prune_unmanifested'],
                            check_mode=module.check_mode)
    except (PolicyError, prune.PruneError) as exc:
        module.fail_json(msg='%s' % exc)
    result, problems = prune.summary(plans, module.check_mode)
    if module._diff:
        result['diff'] = prune.diff(plans, module.check_mode)
    if problems:
        result['msg'] = '%s; other series: %s' % ('; '.join(problems), result['msg'])
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
