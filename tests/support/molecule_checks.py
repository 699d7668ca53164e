"""Helpers of the testinfra checks in molecule/<scenario>/tests: the scenario's hosts from
molecule's inventory, the backup manifests on a host, the run reports on the controller.
They run under molecule's verify step, which sets MOLECULE_INVENTORY_FILE and
MOLECULE_EPHEMERAL_DIRECTORY."""

import json
import os
from pathlib import Path

import testinfra.utils.ansible_runner

BASIC = 'checksum+decode+format'
RESTORE = 'restore_test'
MANIFEST = '.manifest.json'


def runner():
    return testinfra.utils.ansible_runner.AnsibleRunner(os.environ['MOLECULE_INVENTORY_FILE'])


def manifests(host, root):
    """{artifact path: manifest} of every backup under ``root`` on ``host``."""
    paths = host.check_output('find %s -name "*%s"' % (quote(root), MANIFEST)).split()
    return dict((path[:-len(MANIFEST)], json.loads(host.file(path).content_string)) for path in paths)


def check_copies(runner, name, control, root='/var/backups/caretaker'):
    """Each backup under ``root`` on host ``name`` has its copy on ``control`` (backup_copy_to_host),
    under caretaker-copies/<name>/<series>/, private and with the same SHA-256."""
    source = runner.get_host(name)
    backups = manifests(source, root)
    assert backups, 'no backup on %s' % name
    for path in backups:
        series, artifact = path.rsplit('/', 2)[1:]
        copy = runner.get_host(control).file('%s-copies/%s/%s/%s' % (root, name, series, artifact))
        assert copy.exists and copy.mode == 0o600, copy.path
        assert copy.sha256sum == source.file(path).sha256sum, copy.path
    return backups


def outcomes(manifest):
    """{method: outcome of its latest record}."""
    return dict((record['method'], record['outcome']) for record in manifest.get('verifications') or [])


def converge_reports():
    """The JSON run reports of the converges (first converge, then the idempotence run), oldest
    first. molecule runs them with --skip-tags (molecule-notest,notest; the idempotence run adds
    molecule-idempotence-notest), and a run limited by tags has a label of its own:
    converge_skip-....json."""
    directory = Path(os.environ['MOLECULE_EPHEMERAL_DIRECTORY']) / 'reports'
    return [json.loads(path.read_text()) for path in sorted(directory.glob('*-converge_skip-*.json'))]


def check_reports(hosts):
    """The converge reports, after checking the last two (converge and the idempotence run)
    name exactly ``hosts`` and record no failure."""
    reports = converge_reports()
    assert len(reports) >= 2, 'converge and the idempotence run each write a report'
    for report in reports[-2:]:
        assert sorted(report['hosts']) == sorted(hosts)
        assert not report['failed']
    return reports


def quote(text):
    """``text`` as one sh word."""
    return "'" + text.replace("'", "'\\''") + "'"
