#!/usr/bin/env bash
# Run `ansible-test sanity` against a clean copy of this collection, without internet access.
#
# Usage: tests/sanity/run.sh [extra ansible-test sanity args]
#   e.g. tests/sanity/run.sh --test validate-modules
#        tests/sanity/run.sh --test pylint plugins/modules/db_check.py
#
# Needs the venv from `make deps` (override with VENV=/path/to/venv). Steps:
#   1. Put the offline get-pip stand-in (tests/sanity/get_pip_standin.py) into
#      ansible-test's cache, so the sanity venvs it builds never download get-pip.py
#      from ci-files.testing.ansible.com. Their pinned requirements (pylint, yamllint,
#      voluptuous, ...) still come from the package index the first time; after that
#      they are reused from ~/.ansible/test/venv.
#   2. Copy the files git knows about (tracked plus untracked-but-not-ignored) into
#      $TMPDIR/.../ansible_collections/<namespace>/<name>, the layout ansible-test
#      requires, and `git add` them to a fresh index there (ansible-test takes its file
#      list from git when it sees a .git; no commit is needed). The galaxy.yml dependencies
#      bundled in the venv's ansible package are linked next to it, so imports and doc
#      fragments from them resolve the way they do at run time.
#   3. Run ansible-test sanity --local with the venv's bin first on PATH.
#   4. Copy the copy's tests/output (ansible-test's reports) back into the checkout,
#      where it is git-ignored; remove the copy; exit with ansible-test's exit code.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
venv=${VENV:-$repo_root/.venv}
venv=$(cd "$venv" 2>/dev/null && pwd -P) || { echo "run.sh: no venv at ${VENV:-$repo_root/.venv}; run 'make deps' first" >&2; exit 2; }
python=$venv/bin/python

if [[ ! -x $venv/bin/ansible-test ]]; then
    echo "run.sh: $venv/bin/ansible-test not found; run 'make deps' first" >&2
    exit 2
fi

export PATH="$venv/bin:$PATH"

# --- 1. get-pip stand-in -----------------------------------------------------------
# ansible-test looks for ~/.ansible/test/cache/get_pip_<pip version, dots as underscores>.py
# (ansible_test/_util/target/setup/requirements.py); ask ansible-test for the version.
pip_version=$("$python" -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])
')
standin_src=$repo_root/tests/sanity/get_pip_standin.py
standin_dst=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
# Install when missing; refresh when it is an older copy of our own stand-in (a real
# get-pip.py downloaded there earlier is left alone).
if [[ ! -f $standin_dst ]] || { grep -q 'Offline stand-in for the get-pip.py' "$standin_dst" && ! cmp -s "$standin_src" "$standin_dst"; }; then
    mkdir -p "$(dirname "$standin_dst")"
    cp "$standin_src" "$standin_dst.tmp"
    mv "$standin_dst.tmp" "$standin_dst"
    echo "run.sh: installed get-pip stand-in as $standin_dst"
fi

# --- 2. collection copy --------------------------------------------------------------
read -r namespace name < <("$python" -c '
import sys, yaml
with open(sys.argv[1]) as f:
    g = yaml.safe_load(f)
print(g["namespace"], g["name"])
' "$repo_root/galaxy.yml")
if [[ -z ${namespace:-} || -z ${name:-} ]]; then
    echo "run.sh: could not read namespace and name from $repo_root/galaxy.yml" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/${namespace}-${name}-sanity.XXXXXX")
dest=$work/ansible_collections/$namespace/$name

# shellcheck disable=SC2317  # cleanup is only called through the EXIT trap
cleanup() {
    # keep the reports (tests/output is git-ignored in the checkout)
    if [[ -d $dest/tests/output ]]; then
        rm -rf "$dest/tests/output/.tmp"
        mkdir -p "$repo_root/tests/output"
        cp -a "$dest/tests/output/." "$repo_root/tests/output/" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$dest"
# -c lists tracked files even when they are deleted in the work tree: keep what exists.
git -C "$repo_root" ls-files -z -co --exclude-standard \
    | (cd "$repo_root" && while IFS= read -r -d '' f; do
           if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
       done) \
    | tar -C "$repo_root" --null --no-recursion -T - -cf - \
    | tar -C "$dest" -xf -

# ansible-test lists the collection's files through git when it finds a .git at the
# collection root or above it. Give the copy its own index holding exactly the copied
# files, so a git repository around $TMPDIR can never be picked up instead.
git -C "$dest" init -q
git -C "$dest" add -A -f

# Link galaxy.yml dependencies that the ansible package bundles (community.general, ...).
"$python" - "$repo_root/galaxy.yml" "$work/ansible_collections" <<'EOF'
import os
import sys

import yaml

with open(sys.argv[1]) as f:
    deps = yaml.safe_load(f).get('dependencies') or {}
root = sys.argv[2]
search = [os.path.join(p, 'ansible_collections') for p in sys.path if p]
for fqcn in deps:
    ns, coll = fqcn.split('.', 1)
    for base in search:
        src = os.path.join(base, ns, coll)
        if os.path.isdir(src):
            os.makedirs(os.path.join(root, ns), exist_ok=True)
            os.symlink(src, os.path.join(root, ns, coll))
            break
    else:
        print('run.sh: warning: dependency %s not found in the venv' % fqcn, file=sys.stderr)
EOF

# --- 3. ansible-test -------------------------------------------------------------------
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Every sanity test ansible-test enables for collections runs: none needs the internet
# (their venvs come from the package index, get-pip from the stand-in), so no
# --skip-test. Two need a program that `make deps` does not install; without it
# ansible-test skips them by itself, printing a warning:
#   - the shell script check needs the binary from the Debian package "shellcheck"
#     (it checks the *.sh files, i.e. tests/sanity/*.sh; not .ci/run or ./caretaker);
#   - pslint needs pwsh, and only runs when there are PowerShell files (there are none).
cd "$dest"
set +e
ansible-test sanity --local --python "$py_version" --color no "$@"
rc=$?
set -e
exit "$rc"
