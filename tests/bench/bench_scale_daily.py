"""Benchmark: playbooks/daily.yml fanned out over 1, 10 and 20 container hosts.

    .venv/bin/python tests/bench/bench_scale_daily.py [--hosts 1,10,20] [--variants NAME,...|none] [--json FILE]

Starts its own dockerd (tests/support/docker_engine.start_engine, stopped by pid at the end),
imports the host image (ensure_host_image: bookworm with Redis, logrotate and the modules'
Python libraries) and runs the largest host count of containers with network_mode none, each
serving a Redis on its loopback with a password and 2,000 keys, and holding an application
log directory: a live log, one rotated yesterday, one 40 days old, one 100 days old.

Each measured run is one ansible-playbook process running daily.yml of a committed revision
(--revision, HEAD by default: unpacked with git archive, the collection installed from its
collections/requirements.yml as a project sync does, so files being edited do not count)
against the first N containers (connection community.docker.docker), as a real host's nightly run does: back up
its Redis (zstd), verify the backup, prune the series; write and validate its logrotate
configuration, compress and delete old logs, scan the log since the last run. Before every
run each host is put back as it was (backups, logrotate file, scan state and logs), untimed,
so every run does the same work per host. A run counts only when its recap shows no failed
or unreachable host and every host then holds exactly one new backup.

Reported per run: wall time, time per host, CPU seconds of the controller (ansible-playbook, its
forks and their docker CLI processes: RUSAGE_CHILDREN), of the containers (their cgroups) and
of the engine (dockerd, containerd, the shims and the runc they start for each docker exec),
the peak RSS summed over ansible-playbook and all its descendants (sampled from /proc every
50 ms) and the peak number of those processes. The containers run on the same two
CPUs as the controller, which real hosts would not. The main configuration is forks 20 (>= every host count),
pipelining on and the hosts' Python interpreter named in the inventory; --variants adds 20-host
runs with one setting changed each (the ssh connection, forks 5, pipelining off, interpreter
discovery, strategy free, the docker_api connection, internal_poll_interval 0.05 s). The ssh
connection is the one real hosts use: each host's master connection (ControlPersist) reaches
an sshd -i through one docker exec, and every task goes over it; --connection ssh makes it
the main configuration. The goal, 20 hosts in under 3x the time of 1 host, is
printed as PASS or MISS; it never fails the run. Load average is printed at start and end.
"""

import argparse
import configparser
import io
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_http_check import TreeSampler, _descendants, _rss_kib  # noqa: E402
from tests.support import docker_engine  # noqa: E402
from tests.support.awx_job import sync_project  # noqa: E402
from tests.support.playbook import ansible_env  # noqa: E402

BIN = Path(sys.executable).parent
GOAL_RATIO = 3.0
LOG_DIR = '/var/log/app'
BACKUP_DEST = '/var/backups/caretaker'
SCAN_STATE = '/var/lib/caretaker/log_scan/app.json'
# name: age in days (0: being written now).
LOGS = {'app.log': 0, 'app.log.1': 1, 'app.log.2': 40, 'app.log.3': 100}
LOG_LINE = '2026-12-01T02:00:00Z INFO GET /api/orders 200 12ms\n'
# Runs in each container: 2,000 keys, then the password from a 0600 file (never on argv).
SEED_REDIS = r'''
import os, redis
r = redis.Redis(host="127.0.0.1", port=6379)
pipe = r.pipeline(transaction=False)
for i in range(2000):
    pipe.set("order:%d" % i, "x" * 200)
pipe.execute()
with open("/root/.redis-password") as handle:
    r.config_set("requirepass", handle.read())
os.unlink("/root/.redis-password")
'''
RESET = 'rm -rf %s %s /etc/logrotate.d/app /var/lib/caretaker && mkdir -p %s' % (BACKUP_DEST, LOG_DIR, LOG_DIR)
COUNT_BACKUPS = "find %s -type f ! -name '*.manifest.json' | wc -l" % BACKUP_DEST
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)', re.M)

MAIN = {'forks': 20, 'pipelining': True, 'interpreter': True, 'strategy': None, 'connection': 'community.docker.docker',
        'poll_interval': None}
VARIANTS = {
    'connection ssh': {'connection': 'ssh'},
    'forks 5 (the default)': {'forks': 5},
    'pipelining off': {'pipelining': False},
    'interpreter discovery': {'interpreter': False},
    'strategy free': {'strategy': 'free'},
    'connection docker_api': {'connection': 'community.docker.docker_api'},
    'internal poll 0.05 s': {'poll_interval': 0.05},
}


def tar_of(files):
    """A tar archive (bytes) of {path: (text, mode, mtime)}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        for path, (text, mode, mtime) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip('/'))
            info.size, info.mode, info.mtime = len(data), mode, mtime
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def log_files(now):
    return {'%s/%s' % (LOG_DIR, name): (LOG_LINE * 500, 0o640, now - days * 86400 - 3600)
            for name, days in LOGS.items()}


def exec_ok(container, command):
    code, output = container.exec_run(['sh', '-c', command])
    if code != 0:
        raise RuntimeError('%s: %s failed (%d): %s' % (container.name, command, code, output.decode(errors='replace')))
    return output.decode()


def cgroup_cpu_seconds(pid):
    """CPU seconds used by the cgroup of process pid: cgroup v1 cpuacct.usage, else v2 cpu.stat."""
    controllers = {}
    for line in Path('/proc/%d/cgroup' % pid).read_text().splitlines():
        _number, names, path = line.split(':', 2)
        for name in names.split(',') or ['']:
            controllers[name] = path
    if 'cpuacct' in controllers:
        return int(Path('/sys/fs/cgroup/cpuacct%s/cpuacct.usage' % controllers['cpuacct']).read_text()) / 1e9
    stat = Path('/sys/fs/cgroup%s/cpu.stat' % controllers['']).read_text()
    return int(dict(line.split() for line in stat.splitlines())['usage_usec']) / 1e6


def _process_cpu_seconds(pid):
    """utime + stime of a process and of its children it has reaped (cutime, cstime)."""
    try:
        fields = Path('/proc/%d/stat' % pid).read_text().rpartition(')')[2].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf('SC_CLK_TCK')


def engine_cpu_seconds(engine):
    """CPU time of our dockerd, its containerd and the containers' shims (with the runc
    processes they reaped): what each docker exec costs outside the container."""
    pids = [engine.pid] + _descendants(engine.pid)
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                cmdline = Path('/proc/%s/cmdline' % entry).read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b'/usr/bin/containerd-shim') and engine.run_dir.encode() in cmdline:
                pids.append(int(entry))
    return sum(_process_cpu_seconds(pid) for pid in set(pids))


class Fleet:
    """The containers, their passwords, and how to put each back as it was."""

    def __init__(self, made, image, count, public_key):
        self.containers = [made.run('h%02d' % number, command=[docker_engine.HOST_ENTRYPOINT, 'redis'])
                           for number in range(1, count + 1)]
        self.passwords = {}
        for container in self.containers:
            docker_engine.wait_for(lambda c=container: c.exec_run(['test', '-f', '/run/caretaker-host.ready'])[0] == 0,
                                   timeout=60, what='%s ready' % container.name)
            container.reload()  # State.Pid, for its cgroup
            password = secrets.token_urlsafe(18)
            container.put_archive('/', tar_of({'/root/.redis-password': (password, 0o600, time.time())}))
            code, output = container.exec_run(['python3', '-c', SEED_REDIS])
            if code != 0:
                raise RuntimeError('%s: seeding Redis failed: %s' % (container.name, output.decode(errors='replace')))
            self.passwords[container.name] = password
            container.put_archive('/', tar_of({'/root/.ssh/authorized_keys': (public_key, 0o600, time.time())}))
            exec_ok(container, 'chmod 700 /root/.ssh && install -d -m 0755 /run/sshd')

    def reset(self, count):
        now = time.time()
        for container in self.containers[:count]:
            exec_ok(container, RESET)
            container.put_archive('/', tar_of(log_files(now)))

    def cpu_seconds(self, count):
        """CPU time the first count containers have used so far, from their cgroups."""
        return sum(cgroup_cpu_seconds(container.attrs['State']['Pid']) for container in self.containers[:count])

    def backups(self, count):
        return {container.name: int(exec_ok(container, COUNT_BACKUPS)) for container in self.containers[:count]}


class SshKey:
    """A key pair of the run's own for the ssh connection: a passphrase-less ed25519 key in the
    run's private directory, removed with it."""

    def __init__(self, workdir):
        self.private = Path(workdir) / 'id_ed25519'
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'bench-scale', '-f', str(self.private)],
                       check=True)
        self.public = Path(str(self.private) + '.pub').read_text()


def ssh_vars(name, key):
    """The ssh connection to a container with no network: each host's one master connection
    (ControlPersist, as Ansible sets it) reaches an sshd -i started by one docker exec (the
    ProxyCommand); every task then goes over that master, pipelined, as to a real host."""
    proxy = 'docker exec -i %s /usr/sbin/sshd -i' % name
    return {'ansible_host': name, 'ansible_user': 'root', 'ansible_ssh_private_key_file': str(key.private),
            'ansible_ssh_common_args': '-o ProxyCommand="%s" -o StrictHostKeyChecking=no '
                                       '-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR' % proxy}


def host_vars(name, password, config, engine, key):
    hostvars = {
        'ansible_connection': config['connection'],
        'backup_dest': BACKUP_DEST,
        'backup_databases': [{'engine': 'redis', 'login_host': '127.0.0.1', 'login_port': 6379,
                              'login_password': password}],
        'backup_retention': {'keep_last': 3},
        'log_maintenance_logrotate': [{'name': 'app', 'paths': [LOG_DIR + '/app.log'], 'frequency': 'daily',
                                       'rotate': 14, 'copytruncate': True}],
        'log_maintenance_cleanup': [{'name': 'app logs', 'paths': [LOG_DIR], 'compress_after_days': 30,
                                     'delete_after_days': 90, 'min_idle': 10}],
        'log_maintenance_scan': [{'name': 'app log', 'paths': [LOG_DIR + '/app.log'], 'format': 'text',
                                  'state_file': SCAN_STATE}],
    }
    if config['interpreter']:
        hostvars['ansible_python_interpreter'] = '/usr/bin/python3'
    if config['connection'].endswith('docker_api'):
        hostvars['ansible_docker_docker_host'] = engine.base_url
    if config['connection'] == 'ssh':
        hostvars.update(ssh_vars(name, key))
    return hostvars


def write_inventory(path, fleet, count, config, engine, key):
    hosts = {container.name: host_vars(container.name, fleet.passwords[container.name], config, engine, key)
             for container in fleet.containers[:count]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the passwords
    with os.fdopen(fd, 'w') as handle:
        json.dump({'all': {'hosts': hosts}}, handle)


class PlaybookSampler(TreeSampler):
    """Peak RSS of ansible-playbook and its descendants together, and peak process count,
    every 50 ms (every 10 ms the walk over /proc took a fifth of a CPU from the run)."""

    def __init__(self, pid):
        TreeSampler.__init__(self, pid)
        self.peak_processes = 0

    def run(self):
        while not self.done.is_set():
            pids = [self.pid] + _descendants(self.pid)
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in pids))
            self.peak_processes = max(self.peak_processes, len(pids))
            self.done.wait(0.05)


class Revision:
    """A committed revision of the collection, unpacked and installed the way a project sync
    installs it, so the figures belong to that commit and not to files being edited."""

    def __init__(self, revision, where):
        self.commit = subprocess.run(['git', 'rev-parse', '--short', revision], cwd=str(ROOT), capture_output=True,
                                     text=True, check=True).stdout.strip()
        self.root = Path(where) / 'project'
        self.root.mkdir()
        archive = subprocess.run(['git', 'archive', self.commit], cwd=str(ROOT), capture_output=True, check=True).stdout
        subprocess.run(['tar', '-x', '-C', str(self.root)], input=archive, check=True)
        self.collections = sync_project(self.root, Path(where) / 'collections')

    def config(self, path, poll_interval=None):
        """Its ansible.cfg with the installed collection, and with internal_poll_interval (it has
        no environment variable): how often the controller's main process checks on its forks."""
        config = configparser.ConfigParser(interpolation=None)
        config.read(self.root / 'ansible.cfg')
        config['defaults']['collections_path'] = str(self.collections)
        if poll_interval:
            config['defaults']['internal_poll_interval'] = str(poll_interval)
        with open(path, 'w') as handle:
            config.write(handle)
        return path


def ssh_masters(control_dir):
    """The ssh master connections left running by a run (ControlPersist), found by their
    control path directory."""
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                argv = Path('/proc/%s/cmdline' % entry).read_bytes().split(b'\0')
            except OSError:
                continue
            if argv[0].endswith(b'ssh') and any(str(control_dir).encode() in arg for arg in argv):
                pids.append(int(entry))
    return pids


def stop_ssh_masters(control_dir):
    """CPU seconds of the run's ssh masters and their ProxyCommand (their parent is not
    ansible-playbook, so RUSAGE_CHILDREN misses them); then stop them, by process id."""
    masters = ssh_masters(control_dir)
    cpu = sum(_process_cpu_seconds(pid) for master in masters for pid in [master] + _descendants(master))
    for pid in masters:
        os.kill(pid, signal.SIGTERM)
    docker_engine.wait_for(lambda: not ssh_masters(control_dir), timeout=30, what='the ssh masters to stop')
    return cpu


def exec_count(engine, since, until):
    """The docker execs the engine started between two times: with the docker connection,
    the commands the run sent to the hosts (one per module run when pipelined)."""
    client = engine.client()
    try:
        # The API takes whole seconds: the events' own nanoseconds leave out the untimed reset.
        events = client.events(since=int(since), until=int(until) + 1, decode=True,
                               filters={'type': 'container', 'event': 'exec_start'})
        return sum(1 for event in events if since * 1e9 <= event['timeNano'] <= until * 1e9)
    finally:
        client.close()


def run_daily(revision, workdir, logs, fleet, count, config, engine, label, key):
    fleet.reset(count)
    inventory = workdir / 'hosts.json'
    write_inventory(inventory, fleet, count, config, engine, key)
    control_dir = Path(tempfile.mkdtemp(prefix='cp-', dir=str(workdir)))
    env = ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default', 'DOCKER_HOST': engine.base_url,
                       'ANSIBLE_PIPELINING': str(config['pipelining']),
                       'ANSIBLE_SSH_CONTROL_PATH_DIR': str(control_dir),
                       'ANSIBLE_CONFIG': str(revision.config(workdir / 'ansible.cfg', config['poll_interval']))})
    if config['strategy']:
        env['ANSIBLE_STRATEGY'] = config['strategy']
    argv = [str(BIN / 'ansible-playbook'), '-i', str(inventory), '-f', str(config['forks']),
            str(revision.root / 'playbooks' / 'daily.yml')]
    log = logs / ('%s-%d.log' % (re.sub(r'\W+', '-', label), count))
    hosts_cpu, engine_cpu = fleet.cpu_seconds(count), engine_cpu_seconds(engine)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, 'w') as out:
        since = time.time()
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=str(revision.root), env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = PlaybookSampler(proc.pid)
        sampler.start()
        proc.wait()
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    execs = exec_count(engine, since, time.time())
    # ansible-playbook, its forks and their docker CLI or ssh processes, all reaped by the end,
    # and the ssh masters, which are not.
    ssh_cpu = stop_ssh_masters(control_dir)
    controller_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) + ssh_cpu
    hosts_cpu, engine_cpu = fleet.cpu_seconds(count) - hosts_cpu, engine_cpu_seconds(engine) - engine_cpu
    text = log.read_text()
    if any(password in text for password in fleet.passwords.values()):
        raise RuntimeError('a Redis password reached the output of %s' % log)
    found = RECAP.findall(text)
    recap = {host: (int(unreachable), int(failed)) for host, _ok, _changed, unreachable, failed, _skipped in found}
    # Tasks per host, as the recap counts them: the ones that ran (ok) and the skipped ones.
    tasks = sorted({(int(ok), int(skipped)) for _host, ok, _changed, _unreachable, _failed, skipped in found})
    backups = fleet.backups(count)
    problems = []
    if proc.returncode != 0:
        problems.append('rc %d' % proc.returncode)
    if len(recap) != count or any(recap[host] != (0, 0) for host in recap):
        problems.append('recap %s' % recap)
    if set(backups.values()) != {1}:
        problems.append('backups per host %s' % backups)
    return {'label': label, 'hosts': count, 'wall': wall, 'per_host': wall / count, 'ok': not problems,
            'problems': problems, 'controller_cpu': controller_cpu, 'hosts_cpu': hosts_cpu,
            'engine_cpu': engine_cpu, 'ssh_master_cpu': ssh_cpu, 'tasks_ok_skipped': tasks, 'docker_execs': execs,
            'peak_rss_mib': sampler.peak_kib / 1024.0, 'peak_processes': sampler.peak_processes,
            'config': config, 'log': str(log)}


def show(result):
    status = 'ok' if result['ok'] else 'FAILED (%s; see %s)' % ('; '.join(result['problems']), result['log'])
    print('%-22s %2d hosts %6.1f s %5.2f s/host  cpu: controller %5.1f s, hosts %5.1f s, engine %5.1f s  '
          'peak rss %6.1f MiB %2d procs  tasks/host (ok+skipped) %s  docker execs %d  %s'
          % (result['label'], result['hosts'], result['wall'], result['per_host'], result['controller_cpu'],
             result['hosts_cpu'], result['engine_cpu'], result['peak_rss_mib'], result['peak_processes'],
             ' '.join('%d+%d' % pair for pair in result['tasks_ok_skipped']), result['docker_execs'], status),
          flush=True)


def measure(args, revision, workdir, logs, counts, variants):
    """The runs, in one dockerd of our own with one set of containers."""
    results = []
    engine = docker_engine.start_engine(own=True)
    try:
        image = docker_engine.ensure_host_image(engine)
        with docker_engine.Containers(engine, image) as made:
            largest = max(counts + ([args.variant_hosts] if variants else []))
            key = SshKey(workdir)
            fleet = Fleet(made, image, largest, key.public)
            print('%d containers of %s ready' % (largest, image), flush=True)
            runs = [('main', count, MAIN) for count in counts]
            runs += [(name, args.variant_hosts, dict(MAIN, **VARIANTS[name])) for name in variants]
            for label, count, config in runs:
                results.append(run_daily(revision, workdir, logs, fleet, count, config, engine, label, key))
                show(results[-1])
    finally:
        engine.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--hosts', default='1,10,20', help='host counts of the main configuration')
    parser.add_argument('--variants', default=','.join(VARIANTS),
                        help='20-host variants to run too, comma-separated, or "none"')
    parser.add_argument('--variant-hosts', type=int, default=20, help='host count of the variant runs')
    parser.add_argument('--connection', choices=['community.docker.docker', 'ssh'], default=MAIN['connection'],
                        help='the connection of the main configuration')
    parser.add_argument('--revision', default='HEAD', help='the commit whose playbooks and collection run')
    parser.add_argument('--json', help='write the figures to this file')
    args = parser.parse_args()
    counts = [int(item) for item in args.hosts.split(',')]
    MAIN['connection'] = args.connection
    variants = [] if args.variants == 'none' else [item.strip() for item in args.variants.split(',')]
    unknown = [item for item in variants if item not in VARIANTS]
    if unknown:
        parser.error('unknown variants %s; choose from %s' % (unknown, ', '.join(VARIANTS)))
    load_start = os.getloadavg()
    print('load average at start: %.2f %.2f %.2f' % load_start, flush=True)
    logs = Path(tempfile.mkdtemp(prefix='bench-scale-logs-'))
    tmp = tempfile.mkdtemp(prefix='bench-scale-')
    try:
        revision = Revision(args.revision, tmp)
        print('revision %s' % revision.commit, flush=True)
        results = measure(args, revision, Path(tmp), logs, counts, variants)
    finally:
        shutil.rmtree(tmp)  # the inventory there holds the passwords
    load_end = os.getloadavg()
    main_runs = {result['hosts']: result for result in results if result['label'] == 'main' and result['ok']}
    verdict = None
    if 1 in main_runs and 20 in main_runs:
        ratio = main_runs[20]['wall'] / main_runs[1]['wall']
        verdict = 'PASS' if ratio < GOAL_RATIO else 'MISS'
        print('t(20)/t(1) = %.2fx: %s (goal: under %.0fx)' % (ratio, verdict, GOAL_RATIO))
    print('load average at end: %.2f %.2f %.2f' % load_end)
    if args.json:
        Path(args.json).write_text(json.dumps({'revision': revision.commit, 'load_start': load_start,
                                               'load_end': load_end, 'verdict': verdict,
                                               'results': results}, indent=2) + '\n')
    if all(result['ok'] for result in results):
        shutil.rmtree(logs)
        return 0
    print('the logs of the runs are in %s' % logs)
    return 1


if __name__ == '__main__':
    sys.exit(main())
