"""Every cadence playbook: each play has a concern tag, and the playbook ends with a summary
play over the hosts of its other plays that a run limited by --tags still reaches."""

from pathlib import Path

import pytest
import yaml

PLAYBOOKS = Path(__file__).resolve().parents[2] / 'playbooks'
CADENCES = ('health', 'daily', 'weekly', 'monthly', 'quarterly', 'restore', 'recover')
CONCERNS = {'health', 'backup', 'restore_test', 'logs', 'database', 'retention', 'security', 'integrity', 'cache',
            'docker', 'restore', 'recover'}
# The two with a verdict after the summary keep their own tags; the others' summary is always shown.
OWN_SUMMARY_TAGS = {'health': ['health', 'summary'], 'recover': ['recover', 'summary']}


def plays(name):
    return yaml.safe_load((PLAYBOOKS / (name + '.yml')).read_text())


@pytest.mark.parametrize('name', CADENCES)
def test_every_work_play_has_a_concern_tag(name):
    for play in plays(name)[:-1]:
        assert CONCERNS & set(play.get('tags') or []), '%s: play %r has no concern tag' % (name, play['name'])


@pytest.mark.parametrize('name', CADENCES)
def test_the_last_play_is_the_summary_over_the_same_hosts(name):
    work, summary = plays(name)[:-1], plays(name)[-1]
    assert summary['name'].endswith('summary') and summary['gather_facts'] is False
    assert summary['tags'] == OWN_SUMMARY_TAGS.get(name, ['always', 'summary'])
    for play in work:
        assert play['hosts'] in summary['hosts'].split(':'), (play['hosts'], summary['hosts'])
    shown = summary['tasks'][0]
    assert shown['run_once'] is True and 'ansible.builtin.debug' in shown
    if name not in OWN_SUMMARY_TAGS:
        assert 'caretaker.maintenance.maintenance_summary(ansible_play_hosts_all, check_mode=ansible_check_mode)' \
            in shown['ansible.builtin.debug']['msg']
