# -*- coding: utf-8 -*-
# Copyright: caretaker maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

When ansible-test builds a virtual environment (sanity test venvs, ``units --venv``,
``integration --venv``) it creates the venv without pip and then runs
``https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py``, cached as
``~/.ansible/test/cache/get_pip_<version with underscores>.py``.  That host is not
reachable from this machine, so tests/sanity/run.sh copies this file into the cache
under that name.

ansible-test runs it through runpy as ``__main__`` with the pip options on the command
line, for example ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``.
This stand-in bootstraps pip with the interpreter's own ``ensurepip`` (no network) and
then lets that pip install the requested packages, which come from the configured
package index.  ``--no-setuptools`` and ``--no-wheel`` are get-pip options that pip
itself does not know, so they are dropped.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def main(argv: list[str]) -> int:
    """Bootstrap pip with ensurepip, then install the requested packages."""
    pip_args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]

    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade'], check=True, stdout=subprocess.DEVNULL)

    if not pip_args:
        return 0

    return subprocess.run([sys.executable, '-m', 'pip', 'install'] + pip_args, check=False).returncode


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
