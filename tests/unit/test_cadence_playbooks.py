"""Every cadence playbook: each play has a concern tag, and the playbook ends with a summary
play over the hosts of its other plays that a run limited by --tags still reaches; health and
recover then end with a verdict play that --skip-tags summary cannot skip."""

from pathlib import Path

import pytest
import yaml

PLAYBOOKS = Path(__file__).resolve().parents[2] / 'playbooks'
CADENCES = ('health', 'daily', 'weekly', 'monthly', 'quarterly', 'restore', 'recover')
CONCERNS = {'health', 'backup', 'restore_test', 'logs', 'database', 'retention', 'security', 'integrity', 'cache',
            'docker', 'restore', 'recover'}
# The two whose pass or fail comes after the summary, in a verdict play of its own.
WITH_VERDICT = ('health', 'recover')


def plays(name):
    return yaml.safe_load((PLAYBOOKS / (name + '.yml')).read_text())


def split(name):
    """(work plays, summary play, verdict play or None)."""
    found = plays(name)
    if name in WITH_VERDICT:
        return found[:-2], found[-2], found[-1]
    return found[:-1], found[-1], None


@pytest.mark.parametrize('name', CADENCES)
def test_every_work_play_has_a_concern_tag(name):
    for play in split(name)[0]:
        assert CONCERNS & set(play.get('tags') or []), '%s: play %r has no concern tag' % (name, play['name'])


@pytest.mark.parametrize('name', WITH_VERDICT)
def test_the_verdict_follows_the_summary_and_is_always_run(name):
    work, summary, verdict = split(name)
    assert verdict['name'].endswith('verdict') and verdict['tags'] == ['always', 'verdict']
    assert verdict['hosts'] == summary['hosts'] and verdict['gather_facts'] is False
    assert [list(task)[1] for task in verdict['tasks']] == ['ansible.builtin.fail']
    # nothing else fails the run after the work plays
    assert not any('ansible.builtin.fail' in task for task in summary['tasks'])


@pytest.mark.parametrize('name', CADENCES)
def test_the_last_play_is_the_summary_over_the_same_hosts(name):
    work, summary, _verdict = split(name)
    assert summary['name'].endswith('summary') and summary['gather_facts'] is False
    assert summary['tags'] == ['always', 'summary']
    for play in work:
        assert play['hosts'] in summary['hosts'].split(':'), (play['hosts'], summary['hosts'])
    shown = summary['tasks'][0]
    assert shown['run_once'] is True and 'ansible.builtin.debug' in shown
    if name not in WITH_VERDICT:
        assert 'caretaker.maintenance.maintenance_summary(ansible_play_hosts_all, check_mode=ansible_check_mode)' \
            in shown['ansible.builtin.debug']['msg']
