# -*- coding: utf-8 -*-
"""The audit walk on real trees: symlinks listed never followed, loops harmless, excludes,
unreadable directories as problems; the fix refuses a file swapped after the walk; the
integrity comparison."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.files import matches
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.integrity import compare, current_state
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.walk import (
    ChangeError, chmod_entry, walk)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / 'root'
    (root / 'a' / 'b').mkdir(parents=True)
    (root / 'a' / 'b' / 'f.txt').write_text('f\n')
    (root / 'skip').mkdir()
    (root / 'skip' / 'hidden.txt').write_text('h\n')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'target.env').write_text('T=1\n')
    os.symlink(str(outside), str(root / 'a' / 'out'))
    os.symlink('..', str(root / 'a' / 'b' / 'up'))
    os.symlink('loop2', str(root / 'loop1'))
    os.symlink('loop1', str(root / 'loop2'))
    return root, outside


def test_walk_lists_links_without_following_them(tree):
    root, _outside = tree
    problems = []
    found = dict((entry.rel, entry) for entry in walk(str(root), problems))
    assert problems == []
    assert sorted(found) == ['', 'a', 'a/b', 'a/b/f.txt', 'a/b/up', 'a/out', 'loop1', 'loop2', 'skip',
                             'skip/hidden.txt']
    assert found['a/out'].is_link and found['a/b/up'].is_link and found['loop1'].is_link
    assert found['a/b/f.txt'].path == str(root / 'a' / 'b' / 'f.txt')


def test_excludes_and_a_file_root(tree):
    root, _outside = tree
    problems = []
    rels = [entry.rel for entry in walk(str(root), problems, excludes=[str(root / 'skip')])]
    assert 'skip' in rels and 'skip/hidden.txt' not in rels
    single = list(walk(str(root / 'a' / 'b' / 'f.txt'), problems))
    assert [(entry.rel, entry.dir) for entry in single] == [('', None)]
    assert list(walk(str(root / 'missing'), problems)) == [] and 'No such file' in problems[-1][1]


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads a mode 000 directory')
def test_unreadable_directory_is_a_problem(tree):
    root, _outside = tree
    os.chmod(str(root / 'skip'), 0)
    try:
        problems = []
        rels = [entry.rel for entry in walk(str(root), problems)]
    finally:
        os.chmod(str(root / 'skip'), 0o755)
    assert 'a/b/f.txt' in rels
    assert problems == [(str(root / 'skip'), 'cannot read directory: permission denied; run the task with become: true')]


def audited(root, path, text='s\n'):
    """Write a 0644 file and return the Entry the walk gives for it."""
    path.write_text(text)
    os.chmod(str(path), 0o644)
    return [item for item in walk(str(root), []) if item.path == str(path)][0]


def assert_refused(entry, message, untouched):
    with pytest.raises(ChangeError, match=message):
        chmod_entry(entry, 0o600)
    assert stat.S_IMODE(os.stat(str(untouched)).st_mode) == 0o644


def test_chmod_refuses_a_file_swapped_for_a_symlink_after_the_walk(tree):
    root, outside = tree
    secret = root / 'a' / '.env'
    entry = audited(root, secret)
    os.unlink(str(secret))
    os.symlink(str(outside / 'target.env'), str(secret))
    os.chmod(str(outside / 'target.env'), 0o644)
    assert_refused(entry, 'symlink', outside / 'target.env')


def test_chmod_refuses_a_directory_swapped_for_a_symlink(tree):
    root, outside = tree
    entry = audited(root, root / 'a' / 'b' / 'key.pem')
    os.rename(str(root / 'a' / 'b'), str(root / 'a' / 'moved'))
    audited(outside, outside / 'key.pem')
    os.symlink(str(outside), str(root / 'a' / 'b'))
    assert_refused(entry, 'replaced or removed', outside / 'key.pem')


def test_chmod_changes_the_file_it_audited(tree):
    root, _outside = tree
    path = root / 'a' / 'b' / 'f.txt'
    os.chmod(str(path), 0o4644)
    entry = [item for item in walk(str(root), []) if item.name == 'f.txt'][0]
    chmod_entry(entry, 0o600)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o4600      # the setuid bit is not the fix's business


def test_patterns_with_a_slash_match_the_end_of_the_path():
    assert matches(['config/private/*'], 'token.json', 'app/config/private/token.json')
    assert matches(['config/private/*'], 'token.json', 'config/private/token.json')
    assert not matches(['config/private/*'], 'token.json', 'app/config/public/token.json')
    assert matches(['.env.*'], '.env.production', 'app/.env.production')
    assert not matches(['.env'], 'x.env', 'x.env')


def test_integrity_state_and_comparison(tree):
    root, _outside = tree
    baseline_file = root / 'baseline.json'
    baseline_file.write_text('{}')
    problems = []
    before = current_state([str(root)], str(baseline_file), problems)
    assert str(baseline_file) not in before and problems == []
    assert before[str(root / 'a' / 'out')]['type'] == 'symlink'
    (root / 'a' / 'b' / 'f.txt').write_text('changed\n')
    (root / 'new.txt').write_text('n\n')
    os.unlink(str(root / 'skip' / 'hidden.txt'))
    after = current_state([str(root)], str(baseline_file), problems)
    added, changed, removed = compare(before, after)
    assert [item['path'] for item in added] == [str(root / 'new.txt')]
    assert [(item['path'], item['changed_keys']) for item in changed] == [(str(root / 'a' / 'b' / 'f.txt'), ['sha256'])]
    assert [item['path'] for item in removed] == [str(root / 'skip' / 'hidden.txt')]
    assert 'content (SHA-256' in changed[0]['detail']
