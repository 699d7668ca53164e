# -*- coding: utf-8 -*-
"""sshd_config as sshd reads it: first value wins, Include globs in place, Match blocks ending
with their file, keyword=value and quotes; and the policy comparison."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.sshd import (
    DEFAULT_POLICY, SshdConfig, SshdConfigError, audit_sshd)


def load(tmp_path, text, **includes):
    main = tmp_path / 'sshd_config'
    main.write_text(text)
    for name, content in includes.items():
        path = tmp_path / name.replace('__', '/')
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return SshdConfig(str(main)).load()


def test_first_value_wins_and_keywords_are_case_insensitive(tmp_path):
    config = load(tmp_path, '# comment\npermitrootlogin no\nPermitRootLogin yes\nPasswordAuthentication=yes\n')
    assert config.effective('PermitRootLogin').value == 'no'
    assert config.effective('PermitRootLogin').line == 2
    assert config.effective('passwordauthentication').value == 'yes'
    assert config.effective('X11Forwarding') is None


def test_include_is_read_in_place_sorted_and_relative_to_the_main_directory(tmp_path):
    config = load(tmp_path, 'Include sshd_config.d/*.conf\nPermitRootLogin no\nPasswordAuthentication no\n',
                  **{'sshd_config.d__50-cloud.conf': 'PasswordAuthentication yes\n',
                     'sshd_config.d__10-first.conf': 'PasswordAuthentication "without-password"\n',
                     'sshd_config.d__README': 'PermitRootLogin yes\n'})
    setting = config.effective('PasswordAuthentication')
    # 10-first.conf is read first, before the main file's own line: its value wins.
    assert setting.value == 'without-password'
    assert setting.path.endswith('10-first.conf')
    assert config.effective('PermitRootLogin').value == 'no'    # README does not match *.conf
    assert [os.path.basename(path) for path in config.files] == ['sshd_config', '10-first.conf', '50-cloud.conf']


def test_match_blocks_are_apart_and_end_with_their_file(tmp_path):
    config = load(tmp_path, 'Include extra.conf\nPasswordAuthentication no\nMatch User backup\n'
                            '  PasswordAuthentication yes\nMatch all\nPermitRootLogin yes\n',
                  **{'extra.conf': 'Match Address 10.0.0.0/8\n  PermitRootLogin yes\n'})
    # The Match in extra.conf ends with that file, so PasswordAuthentication no is global.
    assert config.effective('PasswordAuthentication').value == 'no'
    assert config.effective('PermitRootLogin').value == 'yes'   # after "Match all": global again
    overrides = config.overrides('PasswordAuthentication')
    assert [(item.match, item.value) for item in overrides] == [('User backup', 'yes')]
    assert [item.match for item in config.overrides('PermitRootLogin')] == ['Address 10.0.0.0/8']


def test_policy_findings_name_the_source_and_defaults_count(tmp_path):
    config = load(tmp_path, 'PermitRootLogin yes\nMatch User deploy\n  PasswordAuthentication yes\n')
    findings, settings = audit_sshd(config, DEFAULT_POLICY)
    by_value = dict((item['value'], item) for item in findings)
    assert sorted(by_value) == ['PasswordAuthentication yes', 'PermitRootLogin yes']
    root = by_value['PermitRootLogin yes']
    assert root['source'] == '%s line 1' % (tmp_path / 'sshd_config')
    assert 'first value wins' in root['fix']
    # PasswordAuthentication is not set globally: sshd's default yes breaks the policy, and the Match
    # block's yes is reported on its own.
    password = [item for item in findings if item['keyword'] == 'PasswordAuthentication']
    assert len(password) == 2
    assert password[0]['source'] == 'sshd default' and 'default yes' in password[0]['detail']
    assert password[1]['match'] == 'User deploy'
    assert settings['PasswordAuthentication'] == {'value': 'yes', 'source': 'sshd default'}


def test_compliant_config_and_unknown_keyword(tmp_path):
    config = load(tmp_path, 'PermitRootLogin prohibit-password\nPasswordAuthentication NO\n')
    findings, _settings = audit_sshd(config, DEFAULT_POLICY)
    assert findings == []
    findings, _settings = audit_sshd(config, {'AllowUsers': ['deploy']})
    assert [item['value'] for item in findings] == ['AllowUsers (not set)']


def test_include_loop_stops_at_the_depth_limit(tmp_path):
    config = load(tmp_path, 'Include loop.conf\n', **{'loop.conf': 'Include loop.conf\nPermitRootLogin no\n'})
    assert config.effective('PermitRootLogin').value == 'no'
    assert any('nested more than 16 deep' in text for _where, text in config.problems)


def test_missing_file_says_so(tmp_path):
    try:
        SshdConfig(str(tmp_path / 'absent')).load()
    except SshdConfigError as exc:
        assert exc.missing and 'No such file' in str(exc)
    else:
        raise AssertionError('no error for a missing file')
