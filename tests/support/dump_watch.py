"""Watch a db_backup run from outside: its processes in /proc, its files in the series directory.

Used to stop a dump at a known point (SIGSTOP once data flows), so tests that kill the
server or signal the module hit the middle of a dump without relying on timing.
"""

import os
import signal
import threading
import time
import uuid
from pathlib import Path

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import layout
from tests.support.playbook import run_module

DUMP_TOOLS = ('pg_dump', 'pg_dumpall', 'mariadb-dump', 'mysqldump')
MARKER = 'CARETAKER_TEST_RUN'  # environment variable that tells our module process from others
WAIT = 180  # seconds: a generous limit for things that normally take well under one


def read_proc(pid, name):
    try:
        with open('/proc/%s/%s' % (pid, name), 'rb') as handle:
            return handle.read()
    except OSError:
        return None


def processes():
    """{pid: (comm, cmdline bytes, ppid, state)} of every live process."""
    found = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        stat = read_proc(entry, 'stat')
        cmdline = read_proc(entry, 'cmdline')
        if stat is None or cmdline is None:
            continue
        comm = stat[stat.index(b'(') + 1:stat.rindex(b')')].decode(errors='replace')
        fields = stat[stat.rindex(b')') + 2:].split()
        found[int(entry)] = (comm, cmdline, int(fields[1]), fields[0].decode())
    return found


def all_cmdlines():
    return b'\n'.join(cmdline for comm, cmdline, ppid, state in processes().values())


def module_process(marker=None, module='db_backup'):
    """pid of the AnsiballZ python process running ``module``, or None. With ``marker``, only
    the one whose environment carries it (other test runs on the machine may run db_backup too)."""
    name = ('AnsiballZ_%s.py' % module).encode()
    for pid, (comm, cmdline, ppid, state) in processes().items():
        if name in cmdline and comm.startswith('python') and state not in ('Z', 'X'):
            if marker is None or (b'\0%s=%s\0' % (MARKER.encode(), marker.encode())) in b'\0' + (
                    read_proc(pid, 'environ') or b''):
                return pid
    return None


def dump_tool_of(parent):
    """pid of a dump tool whose parent is ``parent``, or None. ``--version`` probes do not count, nor
    does a process with no command line: one that is exiting has already lost it."""
    for pid, (comm, cmdline, ppid, state) in processes().items():
        if (ppid == parent and comm in DUMP_TOOLS and state not in ('Z', 'X') and cmdline
                and b'\0--version' not in cmdline):
            return pid
    return None


def wait_for(what, condition, timeout=WAIT, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('gave up waiting for %s' % what)


def series_dir(dest, server, database):
    return Path(dest) / layout.series_name(server.engine, server.host, server.port, database)


def temp_files(directory):
    directory = Path(directory)
    return sorted(directory.glob('.*.tmp')) if directory.is_dir() else []


def files(directory):
    directory = Path(directory)
    return sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []


class BackgroundRun(object):
    """run_module in a thread; ``join()`` returns (result, PlaybookRun)."""

    def __init__(self, args, module='caretaker.maintenance.db_backup', **kwargs):
        self.marker = uuid.uuid4().hex
        kwargs['env'] = dict(kwargs.get('env') or {}, **{MARKER: self.marker})
        self.outcome = []
        self.error = []
        self.thread = threading.Thread(target=self._run, args=(module, args), kwargs=kwargs)
        self.thread.daemon = True
        self.thread.start()

    def _run(self, module, args, **kwargs):
        try:
            self.outcome.append(run_module(module, args, **kwargs))
        except BaseException as exc:  # handed to the test thread by join()
            self.error.append(exc)

    @property
    def running(self):
        return self.thread.is_alive()

    def join(self, timeout=600):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), 'ansible-playbook did not finish'
        if self.error:
            raise self.error[0]
        return self.outcome[0]


def state(pid):
    """The one-letter state of a process (R, S, T, Z, ...), or None when it is gone."""
    stat = read_proc(pid, 'stat')
    return stat[stat.rindex(b')') + 2:].split()[0].decode() if stat else None


def _stop(tool):
    try:
        os.kill(tool, signal.SIGSTOP)
    except ProcessLookupError:
        raise AssertionError('the dump tool exited before it could be stopped: make the test table bigger')
    wait_for('the dump tool to stop', lambda: state(tool) in ('T', 'Z', None))
    assert state(tool) == 'T', 'the dump tool exited before it could be stopped: make the test table bigger'


def _has_data(series):
    return any(path.stat().st_size > 0 for path in temp_files(series) if path.exists())


def stop_dump_mid_stream(run, series):
    """Stop the dump tool of ``run`` (SIGSTOP) at a point where it has written part of the dump
    into the temp file in ``series`` and has more to write. Returns (module pid, tool pid).

    The tool is stopped as soon as it is seen, then let run in short slices until data shows
    in the temp file, so it cannot reach the end of a large table whatever the machine's speed.
    """
    module_pid = wait_for('the db_backup module process',
                          lambda: module_process(run.marker) or (not run.running and -1))
    assert module_pid != -1, 'the playbook ended before the module was seen: %r' % (run.join(),)
    tool = wait_for('the dump tool', lambda: dump_tool_of(module_pid) or (not run.running and -1), interval=0.001)
    assert tool != -1, 'the playbook ended before the dump tool was seen: %r' % (run.join(),)
    try:
        _stop(tool)
        deadline = time.monotonic() + WAIT
        while not _has_data(series):
            assert time.monotonic() < deadline, 'no dump data reached the temp file'
            os.kill(tool, signal.SIGCONT)
            time.sleep(0.02)
            _stop(tool)
            drained = time.monotonic() + 0.5  # let the module write out what the slice produced
            while time.monotonic() < drained and not _has_data(series):
                time.sleep(0.01)
    except (AssertionError, ProcessLookupError) as exc:
        run.thread.join(60)
        outcome = run.outcome[0][0] if run.outcome else run.error
        raise AssertionError('%s; the run: %r' % (exc, outcome.get('msg') if isinstance(outcome, dict) else outcome))
    return module_pid, tool
