"""Benchmark: caretaker.maintenance.http_check against its peers on many endpoints.

    .venv/bin/python tests/bench/bench_http_check.py [--endpoints 200] [--delay-ms 50]

A threaded loopback server (tests/support/http_fixtures.py) answers every request after
--delay-ms. The same --endpoints URLs are then checked, one after the other in this run, by:

  a. http_check   one caretaker.maintenance.http_check task via ansible-playbook (concurrency 32)
  b. uri loop     ansible.builtin.uri in a loop over the endpoints via ansible-playbook
  c. check_http   Debian's monitoring-plugins-basic /usr/lib/nagios/plugins/check_http,
                  run once per endpoint, sequentially
and, as reference points that are not compared against a goal:
  r1. ansible-playbook with one ansible.builtin.ping task (the fixed cost of a playbook run)
  r2. a bare Python thread pool of 32 running urllib (the floor for 32-way concurrency)

Each contender runs inside a small wrapper process, and is reported with:
  wall       seconds from starting to the end of its last process (the wrapper's clock);
  max rss    the largest resident set of any single process it ran (getrusage RUSAGE_CHILDREN
             ru_maxrss, read in the wrapper, which runs nothing else);
  tree rss   the largest sum of VmRSS over all its processes at once, sampled from /proc
             every 10 ms (short-lived processes such as each check_http can slip between samples).
psutil is not used (it is not a dependency of the collection).

Every contender must succeed on every endpoint (a failed run is reported as such).
Goals: http_check at least 30x faster than the uri loop and at least 4x faster than the
check_http loop. This is never part of the pass/fail test suite; --strict exits 1 on a
missed goal or a failed contender.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.http_fixtures import AppServer  # noqa: E402
from tests.support.playbook import ansible_env  # noqa: E402

CHECK_HTTP = '/usr/lib/nagios/plugins/check_http'
BIN = Path(sys.executable).parent

# Runs the commands in argv[1] (a JSON list of argv lists) one after the other and
# prints wall time, exit codes and RUSAGE_CHILDREN maxrss (KiB on Linux) as JSON.
WRAPPER = r'''
import json, resource, subprocess, sys, time
commands = json.load(open(sys.argv[1]))
env = json.load(open(sys.argv[2]))
started = time.monotonic()
codes = []
for argv in commands:
    codes.append(subprocess.call(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
wall = time.monotonic() - started
print(json.dumps({"wall": wall, "failed": sum(1 for c in codes if c != 0), "runs": len(codes),
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
'''

THREAD_POOL = r'''
import sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
urls = sys.argv[1:]
def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        return response.status
with ThreadPoolExecutor(max_workers=32) as pool:
    codes = list(pool.map(get, urls))
sys.exit(0 if codes == [200] * len(urls) else 1)
'''


def _descendants(pid):
    found = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir('/proc/%d/task' % current)
        except OSError:
            continue
        for task in tasks:
            try:
                with open('/proc/%d/task/%s/children' % (current, task)) as handle:
                    children = [int(child) for child in handle.read().split()]
            except OSError:
                continue
            found.extend(children)
            stack.extend(children)
    return found


def _rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as handle:
            for line in handle:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeSampler(threading.Thread):
    """Largest sum of VmRSS over the descendants of one process, sampled every 10 ms."""

    def __init__(self, pid):
        threading.Thread.__init__(self, daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            total = sum(_rss_kib(child) for child in _descendants(self.pid))
            self.peak_kib = max(self.peak_kib, total)
            self.done.wait(0.01)


def measure(name, commands, env, workdir):
    commands_file = workdir / ('%s-commands.json' % name)
    env_file = workdir / ('%s-env.json' % name)
    commands_file.write_text(json.dumps(commands))
    env_file.write_text(json.dumps(env))
    proc = subprocess.Popen([sys.executable, '-c', WRAPPER, str(commands_file), str(env_file)],
                            stdout=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out = proc.communicate()[0]
    sampler.done.set()
    sampler.join()
    result = json.loads(out)
    result['name'] = name
    result['tree_rss_kib'] = sampler.peak_kib
    return result


def playbook(path, tasks):
    path.write_text(json.dumps([{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]))
    return [str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=' + sys.executable, str(path)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--endpoints', type=int, default=200)
    parser.add_argument('--delay-ms', type=int, default=50)
    parser.add_argument('--skip', action='append', default=[], choices=['uri', 'check_http', 'reference'],
                        help='leave a contender out (repeatable)')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--strict', action='store_true', help='exit 1 when a goal is missed or a contender fails')
    args = parser.parse_args()

    if 'check_http' not in args.skip and not os.access(CHECK_HTTP, os.X_OK):
        sys.exit('%s not found: apt-get install -y monitoring-plugins-basic (or pass --skip check_http)' % CHECK_HTTP)

    server = AppServer()
    paths = ['/e/%d?ms=%d' % (n, args.delay_ms) for n in range(args.endpoints)]
    urls = [server.url(path) for path in paths]
    env = ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'})
    env.pop('ANSIBLE_CALLBACK_RESULT_FORMAT', None)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix='caretaker-bench-') as tmp:
            workdir = Path(tmp)
            http_check = playbook(workdir / 'http_check.yml', [
                {'name': 'probe', 'register': 'web',
                 'caretaker.maintenance.http_check': {'endpoints': [{'url': url} for url in urls]}},
                {'name': 'verify', 'ansible.builtin.assert': {
                    'that': ["web.status == 'ok'", 'web.checks | length == %d' % len(urls)]}},
            ])
            uri = playbook(workdir / 'uri.yml', [
                {'name': 'probe', 'register': 'web', 'loop': urls,
                 'ansible.builtin.uri': {'url': '{{ item }}', 'return_content': False, 'timeout': 10}},
                {'name': 'verify', 'ansible.builtin.assert': {
                    'that': ['web.results | length == %d' % len(urls)]}},
            ])
            check_http = [[CHECK_HTTP, '-I', '127.0.0.1', '-p', str(server.port), '-u', path, '-t', '10']
                          for path in paths]

            print('%d endpoints answering after %d ms on 127.0.0.1:%d; %d CPUs'
                  % (len(urls), args.delay_ms, server.port, os.cpu_count()), flush=True)
            contenders = [('http_check', [http_check])]
            if 'uri' not in args.skip:
                contenders.append(('uri loop', [uri]))
            if 'check_http' not in args.skip:
                contenders.append(('check_http loop', check_http))
            if 'reference' not in args.skip:
                contenders.append(('ref: ansible-playbook ping', [playbook(workdir / 'ping.yml',
                                                                           [{'ansible.builtin.ping': {}}])]))
                contenders.append(('ref: bare thread pool 32', [[sys.executable, '-c', THREAD_POOL] + urls]))
            for name, commands in contenders:
                result = measure(name.rsplit(':', maxsplit=1)[-1].strip().replace(' ', '_'), commands, env, workdir)
                result['name'] = name
                results.append(result)
                print('  %-28s %8.2f s  max rss %7.1f MiB  tree rss %7.1f MiB  %s'
                      % (name, result['wall'], result['maxrss_kib'] / 1024.0, result['tree_rss_kib'] / 1024.0,
                         'ok' if not result['failed'] else 'FAILED %d of %d runs' % (result['failed'], result['runs'])),
                      flush=True)
    finally:
        server.stop()

    by_name = dict((result['name'], result) for result in results)
    base = by_name['http_check']
    verdicts = []
    print()
    for peer, goal in (('uri loop', 30.0), ('check_http loop', 4.0)):
        if peer not in by_name:
            continue
        ratio = by_name[peer]['wall'] / base['wall']
        memory = by_name[peer]['tree_rss_kib'] / float(base['tree_rss_kib'] or 1)
        met = ratio >= goal and not base['failed'] and not by_name[peer]['failed']
        verdicts.append(met)
        print('http_check is %.1fx faster than the %s (goal %gx: %s); %s uses %.2fx its peak tree RSS'
              % (ratio, peer, goal, 'met' if met else 'MISSED', peer, memory))
    if args.json:
        Path(args.json).write_text(json.dumps({'endpoints': len(urls), 'delay_ms': args.delay_ms,
                                               'results': results}, indent=2))
    if args.strict and not all(verdicts):
        sys.exit(1)


if __name__ == '__main__':
    main()
