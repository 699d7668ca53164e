"""Benchmark: caretaker.maintenance.log_cleanup against the runbooks' find + gzip.

    .venv/bin/python tests/bench/bench_log_cleanup.py [--files 50000] [--dirs 50] [--size 8192]

Builds a tree of --files log files (about --size bytes each of realistic access-log lines)
in --dirs directories, with mtimes set so that half are past the compress cut-off (30 days)
and half of those past the delete cut-off (90 days), then copies it (cp -a) into a second,
identical tree. Ages keep a day away from 30 and 90 days, where find's -mtime +N (whole
days, rounded down) and log_cleanup's "more than N x 24 h" would disagree. Then, one after
the other in this process:

  a. find + gzip   the runbooks' two commands over tree A:
                     find A -name '*.log' -mtime +30 -exec gzip {} \\;
                     find A -name '*.log.gz' -mtime +90 -delete
  b. log_cleanup   one caretaker.maintenance.log_cleanup task over tree B through a real
                   ansible-playbook run (recurse, patterns ['*.log'], compress_after_days 30,
                   delete_after_days 90, compression gzip, workers = CPU count), failing on
                   any error, then a debug task printing its counts
and as a reference point: ansible-playbook with one ansible.builtin.ping task.

Both trees must end with the same set of file names, and every .gz in B must decompress to
the same bytes as its twin in A; a mismatch is reported as FAILED. Logs past both cut-offs
are deleted by log_cleanup without being compressed first (find compresses them, then
deletes the .gz): the counts of each are printed.

Goal: log_cleanup at least 5x faster than find + gzip. Figures and goals are printed as
information, with the load average (`uptime`) before and after; timing never fails the run.
--strict exits 1 on a correctness failure only. Never part of the pass/fail test suite.
"""

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.playbook import ansible_env  # noqa: E402

BIN = Path(sys.executable).parent
DAY = 86400
GOAL = 5.0
# (share of the files, youngest age in days, oldest age in days)
AGES = ((0.50, 0.0, 29.0), (0.25, 32.0, 89.0), (0.25, 92.0, 180.0))
METHODS = ('GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE')
ROUTES = ('/api/v1/users/%d', '/api/v1/orders/%d/items', '/health', '/api/v1/search?q=item%d', '/static/app.%d.js',
          '/api/v1/sessions', '/api/v1/payments/%d/confirm', '/metrics')
AGENTS = ('Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0', 'curl/8.4.0', 'kube-probe/1.28', 'python-requests/2.31.0',
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Safari/604.1')


def line_pool(rng, count=20000):
    """Access-log lines in the combined format, with enough variety to compress like real logs."""
    lines = []
    for n in range(count):
        route = rng.choice(ROUTES)
        path = route % rng.randrange(1, 99999) if '%d' in route else route
        lines.append('10.%d.%d.%d - - [%02d/Nov/2026:%02d:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d "-" "%s" rt=%.3f id=%016x\n' % (
            rng.randrange(256), rng.randrange(256), rng.randrange(256), 1 + n % 28, rng.randrange(24),
            rng.randrange(60), rng.randrange(60), rng.choice(METHODS), path,
            rng.choice((200, 200, 200, 201, 204, 301, 304, 400, 404, 500)), rng.randrange(100, 50000),
            rng.choice(AGENTS), rng.random() * 2, rng.getrandbits(64)))
    return lines


def build_tree(base, files, dirs, size, seed=42):
    """Writes the tree; returns how many files fall in each age band."""
    rng = random.Random(seed)
    pool = line_pool(rng)
    now = time.time()
    bands = []
    for share, low, high in AGES:
        bands.extend([(low, high)] * int(round(share * files)))
    bands = (bands + [AGES[0][1:]] * files)[:files]
    rng.shuffle(bands)
    counts = dict((band[1:], 0) for band in AGES)
    for index in range(files):
        directory = base / ('app%02d' % (index % dirs))
        if index < dirs:
            directory.mkdir(parents=True)
        chunk = []
        length = 0
        start = rng.randrange(len(pool))
        while length < size:
            line = pool[(start + len(chunk)) % len(pool)]
            chunk.append(line)
            length += len(line)
        path = directory / ('service-%05d.log' % index)
        path.write_text(''.join(chunk))
        low, high = bands[index]
        counts[(low, high)] += 1
        moment = now - rng.uniform(low, high) * DAY
        os.utime(path, (moment, moment))
    return counts


def names(base):
    return sorted(os.path.relpath(os.path.join(top, name), base) for top, dirs, found in os.walk(base) for name in found)


def uptime():
    """`uptime` (procps), or the load averages from /proc where it is missing."""
    try:
        return subprocess.run(['uptime'], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        with open('/proc/loadavg') as handle:
            return 'load average: %s' % ', '.join(handle.read().split()[:3])


def timed(argv, env=None):
    """Wall time of one contender, started with nothing left to write out from earlier ones (gzip
    does not fsync: without this, the next contender's first flush would pay for its writes)."""
    os.sync()
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - started, proc


def playbook(path, tasks):
    path.write_text(json.dumps([{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]))
    return [str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=' + sys.executable, str(path)]


def summary_of(stdout):
    """The counts the summary task printed (the default callback shows its msg as a JSON string)."""
    for line in stdout.splitlines():
        if '"SUMMARY ' in line:
            return json.loads(json.loads(line.split(':', 1)[1].strip())[len('SUMMARY '):])
    return {}


def same_archives(tree_a, tree_b, listing):
    """Count of .gz files in B whose content equals their twin in A; list of the ones that differ."""
    bad = []
    checked = 0
    for name in listing:
        if name.endswith('.gz'):
            checked += 1
            if gzip.decompress((tree_b / name).read_bytes()) != gzip.decompress((tree_a / name).read_bytes()):
                bad.append(name)
    return checked, bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--files', type=int, default=50000)
    parser.add_argument('--dirs', type=int, default=50)
    parser.add_argument('--size', type=int, default=8192, help='approximate bytes per file')
    parser.add_argument('--workers', type=int, help='log_cleanup workers (default: its own, the CPU count)')
    parser.add_argument('--tmp', help='directory for the two trees (default: the system temp directory)')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--strict', action='store_true', help='exit 1 when the trees end differently or a run fails')
    args = parser.parse_args()

    print('load before: %s' % uptime(), flush=True)
    work = Path(tempfile.mkdtemp(prefix='caretaker-bench-logs-', dir=args.tmp))
    try:
        tree_a, tree_b = work / 'find', work / 'log_cleanup'
        started = time.monotonic()
        counts = build_tree(tree_a, args.files, args.dirs, args.size)
        subprocess.run(['cp', '-a', str(tree_a), str(tree_b)], check=True)
        total = sum(os.path.getsize(os.path.join(top, name)) for top, dirs, found in os.walk(tree_a) for name in found)
        print('%d files (%.0f MiB, %d dirs) built and copied in %.1f s; %d younger than 30 days, %d between 30 and 90, '
              '%d older than 90; %d CPUs' % (args.files, total / 1048576.0, args.dirs, time.monotonic() - started,
                                             counts[AGES[0][1:]], counts[AGES[1][1:]], counts[AGES[2][1:]], os.cpu_count()),
              flush=True)
        env = ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'})
        env.pop('ANSIBLE_CALLBACK_RESULT_FORMAT', None)
        module_args = {'paths': [str(tree_b)], 'recurse': True, 'patterns': ['*.log'], 'compress_after_days': 30,
                       'delete_after_days': 90, 'compression': 'gzip'}
        if args.workers:
            module_args['workers'] = args.workers
        # The result stays in memory: a debug task (run on the controller, no module) prints the counts.
        cleanup_play = playbook(work / 'cleanup.yml', [
            {'name': 'clean', 'register': 'cleaned', 'caretaker.maintenance.log_cleanup': module_args,
             'failed_when': 'cleaned.failed | default(false) or cleaned.errors | length > 0 or not cleaned.changed'},
            {'name': 'summary', 'ansible.builtin.debug': {
                'msg': "SUMMARY {{ {'msg': cleaned.msg, 'errors': cleaned.errors | length, 'compressed': cleaned.compressed"
                       " | length, 'deleted': cleaned.deleted | length} | to_json }}"}},
        ])
        find_script = ("find %s -name '*.log' -mtime +30 -exec gzip {} \\; && find %s -name '*.log.gz' -mtime +90 -delete"
                       % (tree_a, tree_a))
        results = {}
        results['find + gzip'], find_proc = timed(['bash', '-c', find_script])
        print('  %-32s %8.2f s  %s' % ('find + gzip', results['find + gzip'],
                                       'ok' if not find_proc.returncode else 'FAILED: ' + find_proc.stderr[-300:]), flush=True)
        results['log_cleanup'], cleanup_proc = timed(cleanup_play, env)
        summary = summary_of(cleanup_proc.stdout)
        print('  %-32s %8.2f s  %s' % ('log_cleanup (ansible-playbook)', results['log_cleanup'],
                                       'ok: ' + summary.get('msg', '') if not cleanup_proc.returncode
                                       else 'FAILED: ' + cleanup_proc.stdout[-600:]), flush=True)
        results['ref: ansible-playbook ping'], ping_proc = timed(playbook(work / 'ping.yml', [{'ansible.builtin.ping': {}}]), env)
        print('  %-32s %8.2f s' % ('ref: ansible-playbook ping', results['ref: ansible-playbook ping']), flush=True)

        listing_a, listing_b = names(tree_a), names(tree_b)
        checked, differing = same_archives(tree_a, tree_b, listing_b) if listing_a == listing_b else (0, [])
        correct = listing_a == listing_b and not differing and not find_proc.returncode and not cleanup_proc.returncode
        print()
        print('trees end with the same %d file names: %s; %d archives decompress to the same bytes: %s'
              % (len(listing_b), 'yes' if listing_a == listing_b else 'NO (%d in find, %d in log_cleanup)'
                 % (len(listing_a), len(listing_b)), checked, 'yes' if listing_a == listing_b and not differing
                 else 'NO %s' % differing[:5]))
        ratio = results['find + gzip'] / results['log_cleanup']
        met = ratio >= GOAL and correct
        print('log_cleanup compressed %s and deleted %s files (find gzipped %d, then deleted %d of those)'
              % (summary.get('compressed', '?'), summary.get('deleted', '?'), counts[AGES[1][1:]] + counts[AGES[2][1:]],
                 counts[AGES[2][1:]]))
        print('log_cleanup is %.1fx faster than find + gzip (goal %gx: %s)' % (ratio, GOAL, 'PASS' if met else 'MISS'))
        print('load after: %s' % uptime(), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({'files': args.files, 'dirs': args.dirs, 'size': args.size,
                                                   'seconds': results, 'ratio': ratio, 'same_names': listing_a == listing_b,
                                                   'summary': summary}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.strict and not correct:
        sys.exit(1)


if __name__ == '__main__':
    main()
