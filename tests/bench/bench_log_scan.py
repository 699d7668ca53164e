"""Benchmark: caretaker.maintenance.log_scan against the runbooks' awk/grep/sort pipelines.

    .venv/bin/python tests/bench/bench_log_scan.py [--size-mb 1024] [--json FILE] [--keep]

Generates a combined access log of --size-mb (many client addresses with a heavy tail,
many paths with and without query strings, about 1 % 5xx, some 401/403, a few attack
probes, a request time at the end of each line) in a temporary directory, then, one after
the other in this one process:

  pipelines   the runbooks' shell pipelines, run one after another:
                status counts   awk '{print $9}' LOG | sort | uniq -c
                top addresses   awk '{print $1}' LOG | sort | uniq -c | sort -rn | head
                5xx rate        grep -c '" 5[0-9][0-9] ' LOG  and  wc -l < LOG
                401/403         grep -c -E '" (401|403) ' LOG
  log_scan    one caretaker.maintenance.log_scan task over the same file through a real
              ansible-playbook run (which computes all of the above and more in one pass).

The greps are anchored on the quote that closes the request line, so that they count
status codes only; the runbooks' looser forms (" 5[0-9][0-9] ", "401\\|403") also match
response sizes, paths and request times and would over-count.

The figures of both must agree: every status code count, the top 10 addresses and their
counts, the 5xx count and line count, the 401/403 count.

Peak memory of log_scan: the kernel's high-water mark of resident memory (VmHWM in
/proc/PID/status) of the module's process (the AnsiballZ_log_scan.py python, found by its
command line) and of any process it starts, read every 10 ms. VmHWM is kept by the kernel,
so a peak between two reads still counts; only growth in the last 10 ms of the process
could be missed. psutil is not used.

Goals: log_scan (the whole ansible-playbook run) no slower than the pipelines one after
another, and its peak resident memory under 100 MiB. They are printed as PASS or MISS and
never make this script fail. The load average (uptime) before and after is printed, since
other work on the machine changes the figures. The generated log is deleted at the end
(unless --keep).
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.playbook import ansible_env  # noqa: E402

BIN = Path(sys.executable).parent
MODULE_SCRIPT = 'AnsiballZ_log_scan.py'

PIPELINES = [
    ('status counts', "awk '{print $9}' \"$LOG\" | sort | uniq -c"),
    ('top addresses', "awk '{print $1}' \"$LOG\" | sort | uniq -c | sort -rn | head"),
    ('5xx count', "grep -c '\" 5[0-9][0-9] ' \"$LOG\""),
    ('line count', "wc -l < \"$LOG\""),
    ('401/403 count', "grep -c -E '\" (401|403) ' \"$LOG\""),
]

USER_AGENTS = [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
    'curl/8.4.0', 'python-requests/2.31.0', 'Googlebot/2.1 (+http://www.google.com/bot.html)',
    'okhttp/4.12.0', 'Go-http-client/1.1',
]
REFERERS = ['-', 'https://shop.example.com/', 'https://shop.example.com/cart', 'https://www.google.com/']
# (status, weight): about 1 % 5xx, 1 % 401, 0.5 % 403.
STATUSES = [(200, 8400), (201, 300), (204, 200), (301, 100), (302, 150), (304, 400), (400, 50), (401, 100),
            (403, 50), (404, 300), (429, 30), (500, 60), (502, 20), (503, 15), (504, 5)]
PROBES = ["/search?q=1'%20OR%20'1'='1", '/index.php?id=1%20UNION%20SELECT%20password%20FROM%20users',
          '/static/..%2f..%2f..%2fetc%2fpasswd', '/comment?text=%3Cscript%3Ealert(1)%3C/script%3E',
          '/download?file=../../../../etc/shadow', '/?q=%22%3E%3Csvg%20onload%3Dalert(1)%3E']


def generate(path, size_bytes, seed=7):
    """Write a combined log of about size_bytes; returns the number of lines."""
    rnd = random.Random(seed)
    clients = ['%d.%d.%d.%d' % (rnd.randint(1, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254))
               for _number in range(200000)]
    # A heavy tail: a few addresses send much of the traffic, most send a little.
    client_weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(clients))]
    statuses, status_weights = zip(*STATUSES)
    templates = ['/api/v1/orders/%d', '/api/v1/users/%d', '/api/v1/products/%d', '/api/v1/products/%d/reviews',
                 '/static/img/p%d.webp', '/blog/post-%d']
    fixed = ['/', '/login', '/logout', '/health', '/api/v1/cart', '/api/v1/search', '/static/js/app.js',
             '/static/css/site.css', '/favicon.ico', '/robots.txt']
    start = 1715000000
    written = lines = 0
    chunk = 20000
    with open(path, 'w') as handle:
        while written < size_bytes:
            picked_clients = rnd.choices(clients, client_weights, k=chunk)
            picked_statuses = rnd.choices(statuses, status_weights, k=chunk)
            out = []
            for index in range(chunk):
                roll = rnd.random()
                if roll < 0.0005:
                    target = rnd.choice(PROBES)
                elif roll < 0.3:
                    target = rnd.choice(fixed)
                else:
                    target = rnd.choice(templates) % rnd.randint(1, 200000)
                    if roll > 0.9:
                        target += '?page=%d&sort=price' % rnd.randint(1, 50)
                moment = time.gmtime(start + (lines + index) // 200)
                stamp = time.strftime('%d/%b/%Y:%H:%M:%S +0000', moment)
                seconds = rnd.expovariate(12.0) if roll > 0.002 else 1.0 + rnd.random() * 8
                out.append('%s - - [%s] "%s %s HTTP/1.1" %d %d "%s" "%s" %.3f\n' % (
                    picked_clients[index], stamp, 'POST' if roll > 0.97 else 'GET', target, picked_statuses[index],
                    rnd.randint(1000, 150000), rnd.choice(REFERERS), rnd.choice(USER_AGENTS), seconds))
            text = ''.join(out)
            handle.write(text)
            written += len(text)
            lines += chunk
    return lines


def uptime():
    return subprocess.run(['uptime'], capture_output=True, text=True, check=False).stdout.strip()


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pipelines(log):
    env = dict(os.environ, LOG=str(log))
    results = []
    for name, command in PIPELINES:
        cpu = children_cpu()
        started = time.monotonic()
        proc = subprocess.run(['bash', '-c', command], env=env, capture_output=True, text=True,
                              check=False)
        results.append({'name': name, 'command': command, 'seconds': time.monotonic() - started,
                        'cpu_seconds': children_cpu() - cpu, 'rc': proc.returncode, 'stdout': proc.stdout})
        print('  %-14s %7.2f s  cpu %6.2f s  %s' % (name, results[-1]['seconds'], results[-1]['cpu_seconds'], command),
              flush=True)
    return results


def pipeline_figures(results):
    out = dict((result['name'], result['stdout']) for result in results)
    codes = {}
    for line in out['status counts'].splitlines():
        count, code = line.split()
        codes[code] = int(count)
    top = []
    for line in out['top addresses'].splitlines():
        count, address = line.split()
        top.append((address, int(count)))
    return {
        'codes': codes,
        'top': top,
        'server_errors': int(out['5xx count'].strip()),
        'lines': int(out['line count'].strip()),
        'auth': int(out['401/403 count'].strip()),
    }


def _children(pid):
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir('/proc/%d/task' % current)
        except OSError:
            continue
        for task in tasks:
            try:
                with open('/proc/%d/task/%s/children' % (current, task)) as handle:
                    kids = [int(kid) for kid in handle.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def _stat_fields(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()
    except OSError:
        return None


def _cpu_seconds(pid, reaped=True):
    """User and system time of a process (and of the children it has reaped) from /proc/PID/stat."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return sum(int(value) for value in fields[11:15 if reaped else 13]) / float(CLOCK_TICKS)


def _hwm_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as handle:
            for line in handle:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _is_module(pid):
    """The python running AnsiballZ_log_scan.py (not the shells that start it)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            argv = handle.read().split(b'\0')
    except OSError:
        return False
    return os.path.basename(argv[0]) not in (b'sh', b'bash', b'dash') and any(
        arg.endswith(MODULE_SCRIPT.encode()) for arg in argv[1:])


class ModuleMemory(threading.Thread):
    """VmHWM of the module's process (and its children) under one ansible-playbook, read every 10 ms."""

    def __init__(self, playbook_pid):
        threading.Thread.__init__(self, daemon=True)
        self.playbook_pid = playbook_pid
        self.peak_kib = {}
        self.cpu_seconds = {}
        self.first_seen = None
        self.last_seen = None
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            modules = [pid for pid in _children(self.playbook_pid) if _is_module(pid)]
            for pid in modules:
                fields = _stat_fields(pid)
                if fields is None or int(fields[1]) in modules:
                    continue  # a worker the module forked: counted below, under its parent
                # The module's time, its reaped workers' included, plus the workers still running.
                workers = _children(pid)
                cpu = _cpu_seconds(pid)
                running = [_cpu_seconds(child, reaped=False) for child in workers]
                if cpu is not None:
                    total = cpu + sum(value for value in running if value is not None)
                    self.cpu_seconds[pid] = max(self.cpu_seconds.get(pid, 0), total)
                for member in [pid] + workers:
                    hwm = _hwm_kib(member)
                    if hwm is not None:
                        self.peak_kib[member] = max(self.peak_kib.get(member, 0), hwm)
                        now = time.monotonic()
                        self.first_seen = self.first_seen or now
                        self.last_seen = now
            self.done.wait(0.01)


def run_log_scan(log, workdir):
    play = workdir / 'log_scan.yml'
    play.write_text(json.dumps([{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'scan', 'caretaker.maintenance.log_scan': {'paths': [str(log)], 'top': 10, 'fail_on': 'never'}}]}]))
    cmd = [str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           '-e', 'ansible_python_interpreter=' + sys.executable, str(play)]
    cpu = children_cpu()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    memory = ModuleMemory(proc.pid)
    memory.start()
    stdout, stderr = proc.communicate()
    seconds = time.monotonic() - started
    playbook_cpu = children_cpu() - cpu
    memory.done.set()
    memory.join()
    try:
        result = json.loads(stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        result = {'failed': True, 'msg': 'no JSON result (rc %d): %s' % (proc.returncode, stderr[-2000:])}
    module_seconds = (memory.last_seen - memory.first_seen) if memory.first_seen else None
    times = {'seconds': seconds, 'cpu_seconds': playbook_cpu, 'module_seconds': module_seconds,
             'module_cpu_seconds': sum(memory.cpu_seconds.values()) if memory.cpu_seconds else None}
    return result, times, memory.peak_kib


def _fmt(value, digits=2):
    return '?' if value is None else '%.*f' % (digits, value)


def compare(pipes, result):
    """Differences between the pipelines' figures and log_scan's, as text lines."""
    problems = []
    codes = result.get('status_counts', {}).get('codes', {})
    if codes != pipes['codes']:
        problems.append('status counts differ: pipelines %s, log_scan %s' % (pipes['codes'], codes))
    top = [(entry['client'], entry['count']) for entry in result.get('top_clients', [])]
    if [count for _address, count in top] != [count for _address, count in pipes['top']]:
        problems.append('top address counts differ: pipelines %s, log_scan %s' % (pipes['top'], top))
    else:
        # Equal counts may come in either order; the address behind each count must match.
        by_count = {}
        for address, count in pipes['top']:
            by_count.setdefault(count, set()).add(address)
        for address, count in top:
            if address not in by_count.get(count, ()):
                problems.append('top address %s (%d) not in the pipelines\' top list' % (address, count))
    if result.get('server_errors') != pipes['server_errors']:
        problems.append('5xx: pipelines %s, log_scan %s' % (pipes['server_errors'], result.get('server_errors')))
    if result.get('lines') != pipes['lines'] or result.get('requests') != pipes['lines']:
        problems.append('lines: pipelines %s, log_scan lines %s requests %s'
                        % (pipes['lines'], result.get('lines'), result.get('requests')))
    if result.get('auth_failures', {}).get('total') != pipes['auth']:
        problems.append('401/403: pipelines %s, log_scan %s' % (pipes['auth'], result.get('auth_failures')))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--size-mb', type=int, default=1024, help='size of the generated log (MiB)')
    parser.add_argument('--dir', help='where to create the temporary directory (default: the system temp dir)')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--keep', action='store_true', help='keep the generated log (its path is printed)')
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix='caretaker-bench-logscan-', dir=args.dir))
    log = workdir / 'access.log'
    figures = {'size_mb': args.size_mb, 'cpus': os.cpu_count(), 'locale': os.environ.get('LC_ALL') or
               os.environ.get('LANG') or 'POSIX'}
    try:
        print('generating %d MiB of combined access log in %s ...' % (args.size_mb, workdir), flush=True)
        started = time.monotonic()
        lines = generate(log, args.size_mb << 20)
        figures.update(lines=lines, bytes=log.stat().st_size, generate_seconds=time.monotonic() - started)
        print('  %d lines, %d bytes in %.1f s' % (lines, figures['bytes'], figures['generate_seconds']), flush=True)

        figures['uptime_before'] = uptime()
        print('load: %s' % figures['uptime_before'], flush=True)
        print('pipelines, one after another (locale %s):' % figures['locale'], flush=True)
        pipes = run_pipelines(log)
        failed = [pipe['name'] for pipe in pipes if pipe['rc'] != 0]
        pipes_seconds = sum(pipe['seconds'] for pipe in pipes)
        pipes_cpu = sum(pipe['cpu_seconds'] for pipe in pipes)
        print('  %-14s %7.2f s  cpu %6.2f s%s' % ('total', pipes_seconds, pipes_cpu,
                                                  '  FAILED: %s' % ', '.join(failed) if failed else ''), flush=True)

        print('log_scan via ansible-playbook:', flush=True)
        result, times, peak = run_log_scan(log, workdir)
        scan_seconds = times['seconds']
        peak_mib = max(peak.values()) / 1024.0 if peak else None
        total_mib = sum(peak.values()) / 1024.0 if peak else None
        print('  %-14s %7.2f s  cpu %6.2f s  (the module: %s s, cpu %s s, its processes included)' % (
            'playbook', scan_seconds, times['cpu_seconds'], _fmt(times['module_seconds']),
            _fmt(times['module_cpu_seconds'])), flush=True)
        print('  peak RSS (VmHWM): %s MiB in the largest process; %s MiB summed over its %d processes '
              '(shared pages counted in each)' % (_fmt(peak_mib, 1), _fmt(total_mib, 1), len(peak)), flush=True)
        if result.get('failed'):
            print('  log_scan FAILED: %s' % result.get('msg'), flush=True)
        else:
            print('  %s' % result.get('msg'), flush=True)
        figures['uptime_after'] = uptime()
        print('load: %s' % figures['uptime_after'], flush=True)

        problems = compare(pipeline_figures(pipes), result) if not failed and not result.get('failed') else [
            'no comparison: a contender failed']
        print()
        print('figures agree: %s' % ('yes' if not problems else 'NO'))
        for problem in problems:
            print('  ' + problem)
        speed = 'PASS' if scan_seconds <= pipes_seconds else 'MISS'
        memory = 'PASS' if total_mib is not None and total_mib < 100 else 'MISS'
        print('goal: log_scan no slower than the pipelines: %s (%.2f s vs %.2f s, %.2fx)'
              % (speed, scan_seconds, pipes_seconds, pipes_seconds / scan_seconds if scan_seconds else 0))
        print('      CPU time, for information: playbook %.2f s (module %s s) vs pipelines %.2f s'
              % (times['cpu_seconds'], _fmt(times['module_cpu_seconds']), pipes_cpu))
        print('goal: log_scan peak RSS under 100 MiB: %s (%s MiB summed over its processes, %s MiB in the largest)'
              % (memory, _fmt(total_mib, 1), _fmt(peak_mib, 1)))
        figures.update(
            pipelines=[dict((key, pipe[key]) for key in ('name', 'command', 'seconds', 'cpu_seconds', 'rc'))
                       for pipe in pipes],
            pipelines_seconds=pipes_seconds, pipelines_cpu_seconds=pipes_cpu, log_scan=times,
            peak_rss_mib=peak_mib, peak_rss_sum_mib=total_mib, figures_agree=not problems, problems=problems,
            speed_goal=speed, memory_goal=memory, approximate=result.get('approximate'))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
    finally:
        if args.keep:
            print('kept %s' % log)
        else:
            shutil.rmtree(str(workdir), ignore_errors=True)


if __name__ == '__main__':
    main()
