"""playbooks/awx_configure.yml without an AWX server (none runs here): its syntax, the job
templates and schedules it renders with -e awx_render_dir (surveys and rrules checked against
AWX's own rules), and the repository working as an AWX project - a clean copy installs the
collection from collections/requirements.yml and its playbooks resolve caretaker.maintenance."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.caretaker.maintenance.plugins.filter.cadence import cadence_rrule, cadence_launch
from tests.support.awx_job import check_out_project
from tests.support.awx_rules import rrule_errors, survey_errors
from tests.support.playbook import ROOT, ansible_env

BIN = os.path.dirname(sys.executable)
PLAYBOOK = ROOT / 'playbooks' / 'awx_configure.yml'
CADENCES = yaml.safe_load((ROOT / 'roles' / 'schedule' / 'defaults' / 'main.yml').read_text())['schedule_cadences']
CADENCE_PLAYBOOKS = ['health', 'daily', 'weekly', 'monthly', 'quarterly', 'restore', 'recover']


def ansible_playbook(*args, cwd=ROOT, env=None):
    return subprocess.run([os.path.join(BIN, 'ansible-playbook')] + list(args), cwd=str(cwd), env=env or ansible_env(),
                          capture_output=True, text=True, check=False, timeout=600)


def test_syntax_check():
    proc = ansible_playbook('--syntax-check', '-i', 'localhost,', str(PLAYBOOK))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    where = tmp_path_factory.mktemp('awx')
    proc = ansible_playbook('-i', 'localhost,', str(PLAYBOOK), '-e', 'awx_render_dir=%s' % where,
                            '-e', 'awx_schedule_timezone=Europe/Berlin', env=ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'default'}))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {path.stem: json.loads(path.read_text()) for path in where.glob('*.json')}


def test_a_job_template_per_cadence_playbook_with_a_survey_awx_accepts(rendered):
    templates = {name.split('-', 1)[1]: value for name, value in rendered.items() if name.startswith('job_template-')}
    assert sorted(templates) == sorted(CADENCE_PLAYBOOKS)
    for name, template in templates.items():
        assert template['playbook'] == 'playbooks/%s.yml' % name
        assert (ROOT / template['playbook']).is_file()
        assert survey_errors(template['survey_spec']) == [], name
        assert template['job_slice_count'] >= 1
        assert template['forks'] == 20
    restore = {question['variable']: question for question in templates['restore']['survey_spec']['spec']}
    assert restore['restore_login_password']['type'] == 'password' and restore['restore_login_password']['default'] == ''
    assert restore['restore_engine']['required'] is True and restore['restore_engine']['type'] == 'multiplechoice'
    health = {question['variable']: question for question in templates['health']['survey_spec']['spec']}
    assert health['health_resource_checks']['type'] == 'multiselect'
    # A default would be sent as an extra var and override every host's inventory value.
    for name, template in templates.items():
        assert [question['variable'] for question in template['survey_spec']['spec'] if question['default'] != ''] == [], name
    assert health['health_alert_remind_after']['question_description'].endswith("Blank: the inventory's value, else 240.")


def pinned_variables(playbook):
    """Variables a playbook sets on its role includes: an extra var (a survey answer) would override them."""
    pinned = set()
    for play in yaml.safe_load(playbook.read_text()):
        for task in play.get('tasks', []):
            if 'ansible.builtin.include_role' in task or 'ansible.builtin.import_role' in task:
                pinned.update(task.get('vars', {}))
    return pinned


def test_surveys_never_ask_what_a_playbook_pins(rendered):
    for name in CADENCE_PLAYBOOKS:
        asked = {question['variable'] for question in rendered['job_template-' + name]['survey_spec']['spec']}
        assert not asked & pinned_variables(ROOT / 'playbooks' / ('%s.yml' % name)), name


def test_a_schedule_per_cadence_with_the_schedule_roles_timing(rendered):
    schedules = {name.split('-', 1)[1]: value for name, value in rendered.items() if name.startswith('schedule-')}
    assert sorted(schedules) == sorted(cadence['name'] for cadence in CADENCES)
    for cadence in CADENCES:
        schedule = schedules[cadence['name']]
        assert schedule['rrule'] == cadence_rrule(cadence, 'Europe/Berlin')
        assert rrule_errors(schedule['rrule']) == []
        assert schedule['unified_job_template'] == 'caretaker ' + cadence['playbook'][:-len('.yml')]
        for key, value in cadence_launch(cadence).items():
            assert schedule[key] == value
    assert schedules['logs']['job_tags'] == 'logs' and schedules['daily']['skip_tags'] == 'logs'
    assert schedules['monthly']['rrule'].endswith('RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=MO;BYSETPOS=1')


def project_env(tmp_path, collections):
    env = ansible_env({'ANSIBLE_COLLECTIONS_PATH': str(collections), 'HOME': str(tmp_path / 'home'),
                       'ANSIBLE_STDOUT_CALLBACK': 'default'})
    env.pop('ANSIBLE_CONFIG')  # the project's own ansible.cfg, found in the working directory
    return env


def test_the_repository_works_as_an_awx_project(tmp_path):
    project = check_out_project(tmp_path / 'project')
    assert not (project / '.venv').exists()
    installed = tmp_path / 'requirements_collections'
    empty = tmp_path / 'empty'
    empty.mkdir()
    (tmp_path / 'home').mkdir()
    # Without the project's collection nothing resolves caretaker.maintenance (the control).
    control = ansible_playbook('--syntax-check', 'playbooks/restore.yml', cwd=project, env=project_env(tmp_path, empty))
    assert control.returncode != 0 and 'caretaker.maintenance.db_restore' in control.stdout + control.stderr

    # AWX's project sync: ansible-galaxy from the project directory (the dependencies come from
    # the execution environment, here the venv's ansible package: no Galaxy).
    galaxy = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-r', 'collections/requirements.yml',
                             '-p', str(installed), '--no-deps'], cwd=str(project), env=project_env(tmp_path, installed),
                            capture_output=True, text=True, check=False, timeout=300)
    assert galaxy.returncode == 0, galaxy.stdout + galaxy.stderr
    copy = installed / 'ansible_collections' / 'caretaker' / 'maintenance'
    assert (copy / 'plugins' / 'modules' / 'db_restore.py').read_text() == (ROOT / 'plugins' / 'modules' / 'db_restore.py').read_text()
    assert not (copy / '.venv').exists()

    for name in CADENCE_PLAYBOOKS + ['awx_configure']:
        proc = ansible_playbook('--syntax-check', '-i', 'localhost,', 'playbooks/%s.yml' % name, cwd=project,
                                env=project_env(tmp_path, installed))
        assert proc.returncode == 0, name + proc.stdout + proc.stderr
    doc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'filter', 'caretaker.maintenance.survey_from_argspec'],
                         cwd=str(project), env=project_env(tmp_path, installed), capture_output=True, text=True, check=False)
    assert doc.returncode == 0 and 'multiplechoice' in doc.stdout, doc.stderr


def test_a_stacks_own_cadences_make_the_schedules(tmp_path):
    """schedule_cadences from the inventory or -e (a stack's group_vars/control) wins over the role's defaults."""
    cadences = [{'name': 'health', 'playbook': 'health.yml', 'minute': '*/10', 'hour': '*'},
                {'name': 'backups', 'playbook': 'daily.yml', 'args': ['--tags', 'backup'], 'minute': 30, 'hour': 1}]
    (tmp_path / 'schedule.yml').write_text(yaml.safe_dump({'schedule_cadences': cadences}))
    proc = ansible_playbook('-i', 'localhost,', str(PLAYBOOK), '-e', 'awx_render_dir=%s' % (tmp_path / 'out'),
                            '-e', '@%s' % (tmp_path / 'schedule.yml'), env=ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'default'}))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    schedules = {path.stem: json.loads(path.read_text()) for path in (tmp_path / 'out').glob('schedule-*.json')}
    assert sorted(schedules) == ['schedule-backups', 'schedule-health']
    assert schedules['schedule-backups'] == {
        'name': 'caretaker backups', 'unified_job_template': 'caretaker daily', 'job_tags': 'backup', 'state': 'present',
        'rrule': 'DTSTART;TZID=UTC:20260101T013000 RRULE:FREQ=DAILY;INTERVAL=1'}
    assert schedules['schedule-health']['rrule'].endswith('RRULE:FREQ=MINUTELY;INTERVAL=10')
