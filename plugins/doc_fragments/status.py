# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Pairs with module_utils/_status.py: status_argument_spec() and exit_with_status().
    # FAIL_ON alone (caretaker.maintenance.status.fail_on) is for modules that also change
    # things, whose attributes and notes differ from a read-only check's. Both are string
    # literals because ansible-test reads doc fragments without running them; keep the
    # fail_on text of the two the same (tests/unit/plugins/doc_fragments checks it).
    FAIL_ON = r'''
options:
  fail_on:
    description:
      - Fail the task when the worst status of RV(checks) reaches this level. The task fails after its work,
        with every item returned.
      - V(critical) also fails on V(unknown), which ranks above it. V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
'''

    DOCUMENTATION = r'''
options:
  fail_on:
    description:
      - Fail the task when the worst status of RV(checks) reaches this level. The task fails after its work,
        with every item returned.
      - V(critical) also fails on V(unknown), which ranks above it. V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same checks in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
notes:
  - Returns the collection's common check result, RV(status), RV(msg), RV(checks) and RV(counts),
    and never reports C(changed).
'''
