#!/usr/bin/env bash
# Run ansible-lint (configured by .ansible-lint) over the collection, offline.
#
# Usage: tests/sanity/lint.sh [extra ansible-lint args]
#   e.g. tests/sanity/lint.sh playbooks/health.yml
#
# Needs the venv from `make deps` (override with VENV=/path/to/venv), including the
# .venv/collections link that ansible.cfg points collections_path at.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
venv=${VENV:-$repo_root/.venv}

if [[ ! -x $venv/bin/ansible-lint ]]; then
    echo "lint.sh: $venv/bin/ansible-lint not found; run 'make deps' first" >&2
    exit 2
fi

cd "$repo_root"
export PATH="$venv/bin:$PATH"
# Not ANSIBLE_LINT_NODEPS=1: besides going offline it hides syntax-check errors about
# modules that do not resolve, and our own modules must resolve.
# ansible-lint reads ansible.cfg from the current directory; name it explicitly so a
# stray ANSIBLE_CONFIG from the caller does not point it elsewhere.
export ANSIBLE_CONFIG=$repo_root/ansible.cfg

# ansible-lint puts ~/.ansible/collections ahead of the configured collections_path;
# an installed copy of this collection there would be linted instead of the checkout.
stale=$HOME/.ansible/collections/ansible_collections/caretaker/maintenance
if [[ -e $stale && $(cd "$stale" && pwd -P) != "$repo_root" ]]; then
    echo "lint.sh: warning: $stale shadows this checkout; remove it" >&2
fi

set +e
# --offline repeats `offline: true` from .ansible-lint, in case -c names another config.
ansible-lint --offline "$@"
rc=$?
set -e
exit "$rc"
