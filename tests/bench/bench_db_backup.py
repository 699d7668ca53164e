"""Benchmark: caretaker.maintenance.db_backup against pg_dump and community.postgresql.postgresql_db.

    .venv/bin/python tests/bench/bench_db_backup.py [--size-mb 800] [--small-mb 200] [--json FILE]
    .venv/bin/python tests/bench/bench_db_backup.py --restore-only [--rounds 2] [--baseline-collections DIR]

Starts its own PostgreSQL 15 (tests/support/servers.start_postgresql) in a temp dir and stops it by pid.
Builds one database, generated server-side with SQL: orders (bigint key, customer, amount, currency,
status, two timestamps, an e-mail address, 120 characters of base64 of random bytes, an md5 reference)
and order_events (bigint key, order, time, kind, 64 hex characters of md5): random text, numbers and
timestamps, which compress about 1.6:1, grown in batches until pg_database_size reaches --small-mb,
then --size-mb. The same database serves every contender, one after another in this one process,
each after an untimed sync, with an untimed pg_dump first so every contender reads a warm cache:

  pg_dump -Fc         pg_dump -Fc -f FILE (zlib at pg_dump's default level)
  pg_dump -Fc -Z0     pg_dump -Fc -Z0 -f FILE: no compression, the floor for a custom-format dump
  db_backup           one caretaker.maintenance.db_backup task (zstd level 3, encrypted to an age
                      recipient, SHA-256, temp file, fsync, rename, manifest with row counts) through
                      a real ansible-playbook run
  postgresql_db       one community.postgresql.postgresql_db task, state dump, target FILE.sql.gz
                      (pg_dump plain format through gzip) through a real ansible-playbook run
and, as reference points, `pg_dump -Fc -Z0 | zstd -T0 -3 | age -r KEY > FILE` (the same layers with
the command-line tools) and an ansible-playbook run of one ansible.builtin.ping task (the fixed cost
of starting ansible-playbook, included in db_backup's and postgresql_db's times).

Restores of the full-size database, each into a new database: bare `pg_restore --no-owner -d DB FILE`
of the pg_dump -Fc file; `age -d -i KEY ARTIFACT | zstd -d | pg_restore --no-owner -d DB` of
db_backup's artifact (the command-line pipeline); one caretaker.maintenance.backup_verify task with
restore_test (checksum, decryption and decompression to the end, the format check, restore into a
scratch database, row counts against the manifest, drop); one caretaker.maintenance.db_restore task
of the same artifact. Every restore is checked: the row count of each table equals the source's.
--restore-only builds the full-size database, takes only the two artifacts the restores need
(pg_dump -Fc and db_backup) and runs the restores --rounds times, printing the load before each round.
--baseline-collections DIR times backup_verify a second time in every round, right after the first,
with ANSIBLE_COLLECTIONS_PATH=DIR (an export of an earlier commit): before and after a change under
the same load.

Peak memory of db_backup at both sizes: the kernel's high-water mark of resident memory (VmHWM in
/proc/PID/status) of the module's process (the AnsiballZ_db_backup.py python, found by its command
line) and of the processes it starts (pg_dump), read every 10 ms; summed over them, which counts
shared pages twice, so it is an upper bound. psutil is not used.

Goals, printed as PASS or MISS (timing never makes the script fail): db_backup at least 2.5x faster
than pg_dump -Fc, at most 1.8x the pg_dump -Fc -Z0 floor, at least 3x faster than postgresql_db, its
artifact no larger than pg_dump -Fc's; the backup_verify restore test within 1.3x of the command-line
pipeline (and, as before, of bare pg_restore);
db_backup's peak memory under 200 MiB at both sizes. The load average (uptime) before and after is
printed, since other work on the machine changes the figures.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench_data_retention import playbook  # noqa: E402
from bench_log_scan import _children, _hwm_kib, uptime  # noqa: E402
from tests.support import servers  # noqa: E402
from tests.support.playbook import ansible_env  # noqa: E402

MODULE_SCRIPT = b'AnsiballZ_db_backup.py'
DATABASE = 'bench'
BATCH_ROWS = 50000
GOALS = {'fc': 2.5, 'z0': 1.8, 'postgresql_db': 3.0, 'restore': 1.3, 'memory_mib': 200}

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric(12,2) NOT NULL,
    currency char(3) NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, shipped_at timestamptz,
    email text NOT NULL, note text, reference text NOT NULL);
CREATE TABLE order_events (id bigint PRIMARY KEY, order_id bigint NOT NULL, at timestamptz NOT NULL,
    kind text NOT NULL, detail text NOT NULL);
"""
# One batch: BATCH_ROWS orders and as many events, starting after the rows already there.
FILL = """
INSERT INTO orders SELECT g, (random() * 1e6)::int, round((random() * 10000)::numeric, 2),
    (ARRAY['EUR', 'USD', 'GBP'])[1 + g %% 3], (ARRAY['new', 'paid', 'shipped', 'refunded', 'cancelled'])[1 + g %% 5],
    timestamptz '2020-01-01' + random() * interval '2000 days',
    CASE WHEN random() < 0.7 THEN timestamptz '2020-01-01' + random() * interval '2200 days' END,
    'u' || substr(md5(random()::text), 1, 12) || '@example.' || (ARRAY['com', 'org', 'net'])[1 + g %% 3],
    encode(gen_random_bytes(90), 'base64'), md5(random()::text)
FROM generate_series(%(start)s, %(stop)s) g;
INSERT INTO order_events SELECT g, 1 + (random() * %(stop)s)::bigint,
    timestamptz '2020-01-01' + random() * interval '2200 days',
    (ARRAY['created', 'paid', 'packed', 'shipped', 'delivered', 'returned'])[1 + g %% 6],
    md5(random()::text) || md5(random()::text)
FROM generate_series(%(start)s, %(stop)s) g;
"""


# --- the database ---------------------------------------------------------------------------------

def connect(server, database):
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                            dbname=database, application_name='bench')
    conn.autocommit = True
    return conn


def execute(server, database, statement, args=None):
    conn = connect(server, database)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def database_size(server, database=DATABASE):
    return execute(server, database, 'SELECT pg_database_size(current_database())')[0][0]


def grow(server, megabytes):
    """Add batches until the database holds ``megabytes`` MB; (seconds, size in bytes)."""
    started = time.monotonic()
    rows = execute(server, DATABASE, 'SELECT coalesce(max(id), 0) FROM orders')[0][0]
    while database_size(server) < megabytes * 1000000:
        execute(server, DATABASE, FILL, {'start': rows + 1, 'stop': rows + BATCH_ROWS})
        rows += BATCH_ROWS
    execute(server, DATABASE, 'VACUUM ANALYZE')
    execute(server, DATABASE, 'CHECKPOINT')
    return time.monotonic() - started, database_size(server)


def table_counts(server, database):
    return dict(execute(server, database, "SELECT 'orders', count(*) FROM orders UNION ALL "
                                          "SELECT 'order_events', count(*) FROM order_events"))


def pg_env(server):
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith('PG'))
    env.update(PGHOST=server.host, PGPORT=str(server.port), PGUSER=server.user, PGPASSWORD=server.password,
               PGDATABASE=DATABASE)
    return env


# --- measuring ------------------------------------------------------------------------------------

def _is_module(pid):
    """The python running AnsiballZ_db_backup.py (not the shell that starts it)."""
    try:
        argv = Path('/proc/%d/cmdline' % pid).read_bytes().split(b'\0')
    except OSError:
        return False
    return os.path.basename(argv[0]).startswith(b'python') and any(arg.endswith(MODULE_SCRIPT) for arg in argv)


class ModuleMemory(threading.Thread):
    """VmHWM of the db_backup module's process and of the processes it starts, read every 10 ms.

    Kept per process and program: a child between fork and exec still shows its parent's pages
    (shared, not its own), and exec starts a new high-water mark, so only a process's last program
    counts.
    """

    def __init__(self, root_pid):
        threading.Thread.__init__(self, daemon=True)
        self.root_pid = root_pid
        self.peak_kib = {}
        self.program = {}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for module in [pid for pid in _children(self.root_pid) if _is_module(pid)]:
                for pid in [module] + _children(module):
                    name, hwm = _comm(pid), _hwm_kib(pid)
                    if hwm is not None:
                        self.peak_kib[pid, name] = max(self.peak_kib.get((pid, name), 0), hwm)
                        self.program[pid] = name
            self.done.wait(0.01)

    def figures(self):
        peaks = dict(('%s %d' % (name, pid), self.peak_kib[pid, name] / 1024.0) for pid, name in self.program.items())
        if not peaks:
            return None
        largest = max(peaks, key=peaks.get)
        return {'sum_mib': sum(peaks.values()), 'largest_mib': peaks[largest], 'largest': largest.split()[0],
                'processes': peaks}


def _comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as handle:
            return handle.read().strip()
    except OSError:
        return '?'


def timed_shell(command, env):
    """Wall time of a bash command (pipefail); RuntimeError with its stderr when it fails."""
    subprocess.run(['sync'], check=False)
    started = time.monotonic()
    proc = subprocess.run(['bash', '-o', 'pipefail', '-c', command], env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('%s failed (rc %d): %s' % (command, proc.returncode, proc.stderr[-2000:]))
    return seconds


def timed_playbook(workdir, name, tasks, memory=False, collections=None):
    """(wall seconds, first task's result, memory figures or None) of one ansible-playbook run;
    ``collections``: a directory to take the collections from instead of ansible.cfg's."""
    subprocess.run(['sync'], check=False)
    command = playbook(workdir, name, tasks)
    env = ansible_env({'ANSIBLE_COLLECTIONS_PATH': collections} if collections else None)
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = ModuleMemory(proc.pid) if memory else None
    if sampler:
        sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.monotonic() - started
    if sampler:
        sampler.done.set()
        sampler.join()
    try:
        result = json.loads(stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        raise RuntimeError('%s: no JSON result (rc %d): %s' % (name, proc.returncode, (stderr or stdout)[-2000:]))
    if proc.returncode != 0 or result.get('failed'):
        raise RuntimeError('%s failed: %s' % (name, result.get('msg')))
    return seconds, result, sampler.figures() if sampler else None


# --- contenders -----------------------------------------------------------------------------------

def db_backup_task(server, dest, recipient):
    options = dict(server.target(), database=DATABASE, dest=str(dest), encryption_recipients=[recipient])
    return {'caretaker.maintenance.db_backup': options}


def run_db_backup(server, workdir, recipient, label):
    seconds, result, memory = timed_playbook(workdir, 'db_backup', [db_backup_task(
        server, workdir / 'backups', recipient)], memory=True)
    manifest = result['manifest_content']
    return {'name': label, 'seconds': seconds, 'module_seconds': manifest['duration_seconds'],
            'size': result['size'], 'path': result['path'], 'memory': memory, 'counts': manifest['counts']}


def run_contenders(server, workdir, recipient):
    env = pg_env(server)
    files = workdir / 'dumps'
    files.mkdir()
    # Untimed: reads the whole database once, so no contender pays for a cold cache.
    timed_shell('pg_dump -Fc -Z0 > /dev/null', env)
    results = {}

    def shell(key, label, command, path):
        results[key] = {'name': label, 'seconds': timed_shell(command, env), 'size': path.stat().st_size,
                        'path': str(path)}
        show(results[key])

    results['ping'] = {'name': 'ansible-playbook ping', 'seconds': timed_playbook(
        workdir, 'ping', [{'ansible.builtin.ping': {}}])[0]}
    show(results['ping'])
    shell('z0', 'pg_dump -Fc -Z0', 'pg_dump -Fc -Z0 -f "%s"' % (files / 'z0.pgdump'), files / 'z0.pgdump')
    os.unlink(results['z0']['path'])
    shell('cli', 'pg_dump -Z0 | zstd | age', 'pg_dump -Fc -Z0 | zstd -T0 -3 -q | age -r %s > "%s"' % (
        recipient, files / 'cli.pgdump.zst.age'), files / 'cli.pgdump.zst.age')
    os.unlink(results['cli']['path'])
    results['db_backup'] = run_db_backup(server, workdir, recipient, 'db_backup')
    show(results['db_backup'])
    shell('fc', 'pg_dump -Fc', 'pg_dump -Fc -f "%s"' % (files / 'fc.pgdump'), files / 'fc.pgdump')
    target = files / 'postgresql_db.sql.gz'
    seconds = timed_playbook(workdir, 'postgresql_db', [{'community.postgresql.postgresql_db': dict(
        login_host=server.host, login_port=server.port, login_user=server.user, login_password=server.password,
        name=DATABASE, state='dump', target=str(target))}])[0]
    results['postgresql_db'] = {'name': 'postgresql_db', 'seconds': seconds, 'size': target.stat().st_size}
    show(results['postgresql_db'])
    target.unlink()
    return results


def run_restores(server, workdir, results, identity_file, expected, baseline=None):
    env = pg_env(server)
    restores = {}

    def shell_restore(key, label, command):
        execute(server, 'postgres', 'CREATE DATABASE restore_%s' % key)
        seconds = timed_shell(command % ('restore_%s' % key), env)
        restores[key] = {'name': label, 'seconds': seconds, 'counts_match': table_counts(server, 'restore_%s' % key) == expected}
        execute(server, 'postgres', 'DROP DATABASE restore_%s' % key)
        show(restores[key])

    shell_restore('bare', 'bare pg_restore', 'pg_restore --no-owner -d %%s "%s"' % results['fc']['path'])
    shell_restore('cli', 'age -d | zstd -d | pg_restore', 'age -d -i "%s" "%s" | zstd -d -q | pg_restore --no-owner -d %%s' % (
        identity_file, results['db_backup']['path']))
    for key, collections in (('verify', None), ('verify_baseline', baseline)):
        if key == 'verify_baseline' and not baseline:
            continue
        seconds, result, _memory = timed_playbook(workdir, 'backup_verify', [{'caretaker.maintenance.backup_verify': dict(
            server.target(), path=results['db_backup']['path'], identity_file=str(identity_file), restore_test=True)}],
            collections=collections)
        restores[key] = {'name': 'backup_verify restore_test' + (' (baseline)' if collections else ''), 'seconds': seconds,
                         'msg': result['msg'], 'counts_match': result['verified'] and all(
                             item['status'] == 'ok' for item in result['checks'] if item['name'].startswith('counts'))}
        show(restores[key])
    seconds, result, _memory = timed_playbook(workdir, 'db_restore', [{'caretaker.maintenance.db_restore': dict(
        server.target(), target_database='restore_module',
        path=results['db_backup']['path'], identity_file=str(identity_file))}])
    restores['db_restore'] = {'name': 'db_restore', 'seconds': seconds,
                              'counts_match': table_counts(server, 'restore_module') == expected}
    execute(server, 'postgres', 'DROP DATABASE restore_module')
    show(restores['db_restore'])
    return restores


def restore_sources(server, workdir, recipient):
    """Only what the restores read: the pg_dump -Fc file and db_backup's artifact."""
    env = pg_env(server)
    files = workdir / 'dumps'
    files.mkdir()
    timed_shell('pg_dump -Fc -Z0 > /dev/null', env)  # untimed in effect: a warm cache for both
    path = files / 'fc.pgdump'
    results = {'fc': {'name': 'pg_dump -Fc', 'seconds': timed_shell('pg_dump -Fc -f "%s"' % path, env),
                      'size': path.stat().st_size, 'path': str(path)}}
    show(results['fc'])
    results['db_backup'] = run_db_backup(server, workdir, recipient, 'db_backup')
    show(results['db_backup'])
    return results


def show(result):
    extra = []
    if result.get('size') is not None:
        extra.append('%.1f MiB' % (result['size'] / 1048576.0))
    if result.get('module_seconds') is not None:
        extra.append('the module: %.1f s' % result['module_seconds'])
    if result.get('memory'):
        extra.append('peak RSS %.1f MiB summed over the module\'s %d processes (largest %s %.1f MiB)' % (
            result['memory']['sum_mib'], len(result['memory']['processes']), result['memory']['largest'],
            result['memory']['largest_mib']))
    if 'counts_match' in result:
        extra.append('row counts %s' % ('match' if result['counts_match'] else 'DIFFER'))
    print('  %-28s %7.2f s  %s' % (result['name'], result['seconds'], ', '.join(extra)), flush=True)


def verdict(ok):
    return 'PASS' if ok else 'MISS'


def report(results, small, figures):
    """The backup lines; restore_lines() gives those of each round of restores."""
    backup, ping = results['db_backup'], results['ping']['seconds']
    lines = []
    ratio = results['fc']['seconds'] / backup['seconds']
    lines.append('db_backup vs pg_dump -Fc: %.2f s vs %.2f s, %.2fx faster (goal >= %.1fx: %s)' % (
        backup['seconds'], results['fc']['seconds'], ratio, GOALS['fc'], verdict(ratio >= GOALS['fc'])))
    floor = backup['seconds'] / results['z0']['seconds']
    lines.append('db_backup vs the -Z0 floor: %.2f s vs %.2f s = %.2fx (goal <= %.1fx: %s); without the '
                 'ansible-playbook fixed cost (ping %.2f s) %.2fx, the module\'s own time %.1f s %.2fx' % (
                     backup['seconds'], results['z0']['seconds'], floor, GOALS['z0'], verdict(floor <= GOALS['z0']),
                     ping, (backup['seconds'] - ping) / results['z0']['seconds'], backup['module_seconds'],
                     backup['module_seconds'] / results['z0']['seconds']))
    ratio = results['postgresql_db']['seconds'] / backup['seconds']
    lines.append('db_backup vs postgresql_db: %.2f s vs %.2f s, %.2fx faster (goal >= %.1fx: %s)' % (
        backup['seconds'], results['postgresql_db']['seconds'], ratio, GOALS['postgresql_db'],
        verdict(ratio >= GOALS['postgresql_db'])))
    lines.append('artifact size: db_backup %d bytes, pg_dump -Fc %d bytes (goal no larger: %s); the command-line '
                 'zstd | age %d bytes, postgresql_db .sql.gz %d bytes' % (
                     backup['size'], results['fc']['size'], verdict(backup['size'] <= results['fc']['size']),
                     results['cli']['size'], results['postgresql_db']['size']))
    peaks = [run['memory']['sum_mib'] for run in (small, backup) if run.get('memory')]
    lines.append('peak memory of db_backup: %s MiB at %.0f MB, %s MiB at %.0f MB (goal < %d MiB at both: %s)' % (
        '%.1f' % small['memory']['sum_mib'] if small.get('memory') else '?', figures['small_bytes'] / 1e6,
        '%.1f' % backup['memory']['sum_mib'] if backup.get('memory') else '?', figures['size_bytes'] / 1e6,
        GOALS['memory_mib'], verdict(len(peaks) == 2 and max(peaks) < GOALS['memory_mib'])))
    return lines


def restore_lines(restores):
    verify, cli, bare = (restores[key]['seconds'] for key in ('verify', 'cli', 'bare'))
    again = restores['db_restore']['seconds']
    goal = GOALS['restore']
    correct = all(run['counts_match'] for run in restores.values())
    baseline = []
    if 'verify_baseline' in restores:
        old = restores['verify_baseline']['seconds']
        baseline = ['baseline: backup_verify restore_test of --baseline-collections %.2f s = %.2fx of the pipeline (%s); '
                    'this tree\'s %.2f s is %.2fx of it' % (old, old / cli, verdict(old / cli <= goal), verify, verify / old)]
    restore = ('restore: backup_verify restore_test %.2f s vs age -d | zstd -d | pg_restore %.2f s = %.2fx (goal <= %.1fx: '
               '%s); vs bare pg_restore %.2f s = %.2fx (%s); db_restore %.2f s = %.2fx of the pipeline (%s)' % (
                   verify, cli, verify / cli, goal, verdict(verify / cli <= goal), bare, verify / bare,
                   verdict(verify / bare <= goal), again, again / cli, verdict(again / cli <= goal)))
    rows = 'restored rows: %s' % ('every restore has the source\'s row counts' if correct else 'a restore DIFFERS')
    return baseline + [restore, rows]


def age_key(workdir):
    identity = workdir / 'backup-key.txt'
    proc = subprocess.run(['age-keygen', '-o', str(identity)], capture_output=True, text=True, check=True)
    return identity, proc.stderr.split('Public key: ', 1)[1].split()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--size-mb', type=int, default=800, help='database size for the contenders (pg_database_size, MB)')
    parser.add_argument('--small-mb', type=int, help='the smaller size for the memory comparison (default: a quarter)')
    parser.add_argument('--restore-only', action='store_true',
                        help='only the restores: build the full size, take the two artifacts they need, restore')
    parser.add_argument('--rounds', type=int, default=1, help='how many times to run the restores (default 1)')
    parser.add_argument('--baseline-collections', metavar='DIR',
                        help='also time backup_verify from the collections in DIR (ansible_collections/caretaker/'
                             'maintenance there, for example git archive of an earlier commit) in every round')
    parser.add_argument('--dir', help='where to create the temporary directory (default: the system temp dir)')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    small_mb = args.small_mb or max(20, args.size_mb // 4)

    figures = {'size_mb': args.size_mb, 'small_mb': small_mb, 'cpus': os.cpu_count(), 'uptime_before': uptime()}
    print('load: %s' % figures['uptime_before'], flush=True)
    rounds = []
    with tempfile.TemporaryDirectory(prefix='caretaker-bench-backup-', dir=args.dir) as tmp:
        workdir = Path(tmp)
        identity, recipient = age_key(workdir)
        server = servers.start_postgresql(workdir / 'servers')
        try:
            execute(server, 'postgres', 'CREATE DATABASE %s' % DATABASE)
            execute(server, DATABASE, SCHEMA)
            small = None
            if not args.restore_only:
                seconds, figures['small_bytes'] = grow(server, small_mb)
                print('PostgreSQL %s on 127.0.0.1:%d; database %s: %.0f MB, built in %.1f s' % (
                    execute(server, 'postgres', 'SHOW server_version')[0][0], server.port, DATABASE,
                    figures['small_bytes'] / 1e6, seconds), flush=True)
                small = run_db_backup(server, workdir, recipient, 'db_backup at %d MB' % small_mb)
                show(small)
            seconds, figures['size_bytes'] = grow(server, args.size_mb)
            expected = table_counts(server, DATABASE)
            print('grown to %.0f MB (%s) in %.1f s; load %s' % (
                figures['size_bytes'] / 1e6, ', '.join('%s %d rows' % item for item in sorted(expected.items())),
                seconds, uptime()), flush=True)
            if args.restore_only:
                results = restore_sources(server, workdir, recipient)
            else:
                results = run_contenders(server, workdir, recipient)
            for number in range(1, args.rounds + 1):
                print('restores, round %d; load: %s' % (number, uptime()), flush=True)
                rounds.append(run_restores(server, workdir, results, identity, expected, args.baseline_collections))
        finally:
            server.stop()
    figures['uptime_after'] = uptime()
    print('load: %s' % figures['uptime_after'])
    print()
    lines = [] if args.restore_only else report(results, small, figures)
    for number, restores in enumerate(rounds, 1):
        lines.extend('round %d: %s' % (number, line) if len(rounds) > 1 else line for line in restore_lines(restores))
    for line in lines:
        print(line)
    if args.json:
        figures.update(small=small, results=results, restores=rounds, summary=lines)
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == '__main__':
    main()
