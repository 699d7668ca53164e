"""Benchmark: caretaker.maintenance.data_retention archiving against one big transaction, on PostgreSQL.

    .venv/bin/python tests/bench/bench_data_retention.py [--rows 1000000] [--newer 100000] [--batch-size 10000]

Starts its own PostgreSQL 15 (tests/support/servers.start_postgresql) in a temp dir and stops it by pid.
Builds one template database: table events (bigint primary key, timestamptz created_at with an index,
status, a 100-byte payload), --rows rows older than the 90-day cut-off and --newer rows younger, inserted
in time order, then VACUUM ANALYZE. Each contender gets an identical fresh copy (CREATE DATABASE ... TEMPLATE)
and archives every row older than 90 days into events_archive:

  a. single statement  one transaction from psycopg2: CREATE TABLE events_archive (LIKE events ...);
                       INSERT INTO events_archive SELECT * FROM events WHERE created_at < cutoff;
                       DELETE FROM events WHERE created_at < cutoff; COMMIT
  b. data_retention    one caretaker.maintenance.data_retention task (action archive, --batch-size rows
                       per batch, no pause) through a real ansible-playbook run
and, as a reference point, an ansible-playbook run of one ansible.builtin.ping task (the fixed cost of
starting ansible-playbook, included in b's time).

While each contender runs, a second session loops: take the oldest row not yet moved with
SELECT ... FOR UPDATE (lock_timeout 120 s, so a blocked attempt waits it out; found from the previous
oldest row on, so the probe itself stays cheap), then UPDATE one of the
newest rows, each in its own transaction rolled back at once, 20 ms apart. The longest wait of each kind
is what the application would have felt.

Each contender runs --rounds times (3), alternating which goes first; the best time of each counts
(other work on the machine only ever adds time).
Goal: data_retention's total time within 1.5x of the single statement. The goals are printed as
PASS or MISS; this is information, never part of the pass/fail suite, and it never fails on a timing.
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
sys.path.insert(0, str(ROOT))

from tests.support import servers  # noqa: E402
from tests.support.playbook import ansible_env  # noqa: E402

BIN = Path(sys.executable).parent
TIME_GOAL = 1.5
OLDER_THAN = '90d'
ARCHIVE_LIKE = 'LIKE events INCLUDING ALL EXCLUDING DEFAULTS EXCLUDING IDENTITY EXCLUDING GENERATED'


def connect(server, database):
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                            dbname=database, application_name='bench')
    conn.autocommit = True
    return conn


def execute(server, database, *statements):
    conn = connect(server, database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def build_template(server, rows, newer):
    """Old rows from 1000 to 100 days ago, newer ones from 60 days ago to now, in time order."""
    execute(server, 'postgres', 'CREATE DATABASE bench_template')
    started = time.monotonic()
    execute(server, 'bench_template',
            'CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, status text NOT NULL,'
            ' payload text NOT NULL)',
            "INSERT INTO events SELECT g, now() - interval '1000 days' + (g - 1) * (interval '900 days' / %d),"
            " (ARRAY['completed', 'failed', 'open'])[1 + g %% 3], repeat(md5(g::text), 3) || 'xxxx'"
            " FROM generate_series(1, %d) g" % (rows, rows),
            "INSERT INTO events SELECT %d + g, now() - interval '60 days' + (g - 1) * (interval '60 days' / %d),"
            " 'open', repeat(md5(g::text), 3) || 'xxxx' FROM generate_series(1, %d) g" % (rows, max(newer, 1), newer),
            'CREATE INDEX events_created_at ON events (created_at)',
            'VACUUM ANALYZE events')
    size = execute(server, 'bench_template', "SELECT pg_size_pretty(pg_total_relation_size('events'))")[0][0]
    return time.monotonic() - started, size


class Prober(threading.Thread):
    """A second session taking short row locks while a contender runs; keeps the longest waits."""

    def __init__(self, server, database):
        super().__init__(daemon=True)
        self.conn = connect(server, database)
        self.stop = threading.Event()
        self.waits = {'old row FOR UPDATE': [], 'new row UPDATE': []}
        self.error = None

    def _timed(self, cur, kind, statement, params):
        started = time.monotonic()
        cur.execute('BEGIN')
        try:
            cur.execute(statement, params)
        finally:
            cur.execute('ROLLBACK')
        self.waits[kind].append(time.monotonic() - started)

    def run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute("SET lock_timeout = '120s'")
                cur.execute('SELECT max(id), min(created_at) FROM events')
                newest, oldest = cur.fetchone()
                while not self.stop.is_set():
                    # From the last oldest row on: both contenders move rows oldest first, and the
                    # probe must not pay for walking the index entries of rows already moved.
                    cur.execute("SELECT id, created_at FROM events WHERE created_at >= %s"
                                " AND created_at < now() - interval '90 days' ORDER BY created_at LIMIT 1", (oldest,))
                    found = cur.fetchone()
                    if found:
                        oldest = found[1]
                        self._timed(cur, 'old row FOR UPDATE', 'SELECT id FROM events WHERE id = %s FOR UPDATE', found[:1])
                    self._timed(cur, 'new row UPDATE', 'UPDATE events SET status = status WHERE id = %s', (newest,))
                    self.stop.wait(0.02)
        except Exception as exc:  # reported with the figures; the contender's run goes on
            self.error = '%s' % exc
        finally:
            self.conn.close()

    def summary(self):
        return dict((kind, {'attempts': len(waits), 'max_ms': round(1000 * max(waits or [0]), 1)})
                    for kind, waits in self.waits.items())


def single_statement(server, database):
    conn = connect(server, database)
    try:
        with conn.cursor() as cur:
            started = time.monotonic()
            cur.execute('BEGIN')
            cur.execute('CREATE TABLE events_archive (%s)' % ARCHIVE_LIKE)
            cur.execute("INSERT INTO events_archive SELECT * FROM events WHERE created_at < now() - interval '90 days'")
            cur.execute("DELETE FROM events WHERE created_at < now() - interval '90 days'")
            cur.execute('COMMIT')
            return time.monotonic() - started, {}
    finally:
        conn.close()


def playbook(workdir, name, tasks):
    path = workdir / ('%s.yml' % name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # connection options hold the password
    with os.fdopen(fd, 'w') as handle:
        json.dump([{'name': name, 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}], handle)
    return [str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=' + sys.executable, str(path)]


def run_playbook(command):
    started = time.monotonic()
    proc = subprocess.run(command, cwd=str(ROOT), env=ansible_env(), capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('ansible-playbook failed (rc %d): %s' % (proc.returncode, proc.stdout[-2000:]))
    return wall, json.loads(proc.stdout)


def data_retention(server, database, workdir, batch_size):
    target = dict(server.target(), database=database)
    task = {'caretaker.maintenance.data_retention': dict(target, batch_size=batch_size, rules=[dict(
        table='events', timestamp_column='created_at', older_than=OLDER_THAN, action='archive')])}
    wall, data = run_playbook(playbook(workdir, 'data_retention', [task]))
    rule = data['plays'][0]['tasks'][0]['hosts']['localhost']['rules'][0]
    return wall, dict((key, rule[key]) for key in ('matched', 'affected', 'left', 'batches', 'batch_order', 'seconds'))


def measure(server, name, func, *args):
    database = 'bench_%s' % name.replace(' ', '_')
    # A file copy between two checkpoints: each contender starts with no dirty buffers of the copy.
    execute(server, 'postgres', 'CREATE DATABASE %s TEMPLATE bench_template STRATEGY FILE_COPY' % database)
    try:
        prober = Prober(server, database)
        prober.start()
        try:
            wall, extra = func(server, database, *args)
        finally:
            prober.stop.set()
            prober.join(timeout=150)
        counts = execute(server, database, "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_archive),"
                                           " (SELECT count(*) FROM events_archive a JOIN events e USING (id))")[0]
        return dict(name=name, wall=wall, waits=prober.summary(), prober_error=prober.error,
                    source=counts[0], archive=counts[1], in_both=counts[2], **extra)
    finally:
        execute(server, 'postgres', 'DROP DATABASE %s WITH (FORCE)' % database)


def load():
    with open('/proc/loadavg') as handle:
        return ' '.join(handle.read().split()[:3])


def show(result):
    waits = '; '.join('%s longest %.1f ms (%d tries)' % (kind, item['max_ms'], item['attempts'])
                      for kind, item in result['waits'].items())
    extra = ''
    if 'batches' in result:
        extra = '  [matched %d, affected %d, left %d, %d batches by %s; the rule took %.2f s]' % (
            result['matched'], result['affected'], result['left'], result['batches'], result['batch_order'],
            result['seconds'])
    print('  %-18s %7.2f s  source %d, archive %d, in both %d%s' % (
        result['name'], result['wall'], result['source'], result['archive'], result['in_both'], extra))
    print('  %-18s %s%s' % ('', waits, '  PROBER ERROR: %s' % result['prober_error'] if result['prober_error'] else ''),
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rows', type=int, default=1000000, help='rows older than the cut-off')
    parser.add_argument('--newer', type=int, default=100000, help='rows younger than the cut-off')
    parser.add_argument('--batch-size', type=int, default=10000)
    parser.add_argument('--rounds', type=int, default=3, help='runs of each contender, alternating; the best counts')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()

    print('load average at start: %s; %d CPUs' % (load(), os.cpu_count()), flush=True)
    results = {'single statement': [], 'data_retention': []}
    pings = []
    with tempfile.TemporaryDirectory(prefix='caretaker-bench-') as tmp:
        server = servers.start_postgresql(Path(tmp) / 'servers')
        try:
            seconds, size = build_template(server, args.rows, args.newer)
            print('PostgreSQL %s on 127.0.0.1:%d; template: %d old + %d newer rows, %s, built in %.1f s'
                  % (execute(server, 'postgres', 'SHOW server_version')[0][0], server.port, args.rows, args.newer,
                     size, seconds), flush=True)
            contenders = [('single statement', single_statement, ()),
                          ('data_retention', data_retention, (Path(tmp), args.batch_size))]
            for number in range(args.rounds):
                print('round %d (load average %s)' % (number + 1, load()), flush=True)
                pings.append(run_playbook(playbook(Path(tmp), 'ping', [{'ansible.builtin.ping': {}}]))[0])
                print('  %-18s %7.2f s  (reference: the fixed cost of ansible-playbook)'
                      % ('ansible-playbook ping', pings[-1]))
                # Alternate who goes first, so neither always meets the other's leftovers (checkpoints, cache).
                for name, func, extra in (contenders if number % 2 == 0 else contenders[::-1]):
                    results[name].append(measure(server, name, func, *extra))
                    show(results[name][-1])
        finally:
            server.stop()
    report(args, results, pings)


def report(args, results, pings):
    single = min(results['single statement'], key=lambda result: result['wall'])
    batched = min(results['data_retention'], key=lambda result: result['wall'])
    ping = min(pings)
    ratio = batched['wall'] / single['wall']
    correct = all(result['source'] == args.newer and result['archive'] == args.rows and not result['in_both']
                  for runs in results.values() for result in runs)
    print()
    print('load average at end: %s' % load())
    print('time (best of %d): data_retention %.2f s / single statement %.2f s = %.2fx (goal <= %.1fx: %s)'
          % (args.rounds, batched['wall'], single['wall'], ratio, TIME_GOAL, 'PASS' if ratio <= TIME_GOAL else 'MISS'))
    module = batched['wall'] - ping
    print('time without the ansible-playbook fixed cost (best ping %.2f s): %.2f s = %.2fx'
          % (ping, module, module / single['wall']))
    for kind in single['waits']:
        print('longest %s wait, all rounds: data_retention %.1f ms, single statement %.1f ms' % (
            kind, max(result['waits'][kind]['max_ms'] for result in results['data_retention']),
            max(result['waits'][kind]['max_ms'] for result in results['single statement'])))
    print('rows: %s (every run left %d newer rows and archived %d, none in both tables)'
          % ('PASS' if correct else 'MISS', args.newer, args.rows))
    if args.json:
        Path(args.json).write_text(json.dumps({'rows': args.rows, 'newer': args.newer, 'batch_size': args.batch_size,
                                               'pings': pings, 'ratio': ratio, 'results': results}, indent=2))


if __name__ == '__main__':
    main()
