# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DumpSource that reads a dump tool's stdout (pg_dump, mysqldump, ...).

The tool runs in its own process group with stdout on a pipe; stderr is drained by a
thread into a bounded buffer, so a chatty tool can neither block nor grow memory.
``close()`` kills the whole group, so nothing outlives a failed or interrupted backup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import signal
import subprocess
import threading

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup.source import DumpSource
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError, scrub

READ_SIZE = 1024 * 1024
PIPE_SIZE = 1024 * 1024
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, missing from fcntl before Python 3.10


class DumpOptionError(ValueError):
    """Backup options a dump source cannot use; the text names the option and the fix."""


def find_tool(names, package):
    """Full path of the first of ``names`` on PATH, or EngineError naming the package."""
    path = os.environ.get('PATH', os.defpath) + os.pathsep + '/usr/local/bin:/usr/bin:/bin'
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    raise EngineError('%s not found on PATH: install %s' % (' or '.join(names), package))


def tool_version(binary):
    """First line of ``binary --version``, e.g. 'pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'."""
    try:
        proc = subprocess.run([binary, '--version'], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError('%s --version failed: %s' % (binary, exc))
    lines = proc.stdout.decode('utf-8', 'replace').strip().splitlines()
    if proc.returncode != 0 or not lines:
        error = proc.stderr.decode('utf-8', 'replace').strip()
        raise EngineError('%s --version failed (exit %d): %s' % (binary, proc.returncode, error))
    return lines[0].strip()


class BoundedText(object):
    """The first and last few KiB of a stream, enough for any error message."""

    def __init__(self, head=4096, tail=12288):
        self._head = bytearray()
        self._tail = bytearray()
        self._head_size = head
        self._tail_size = tail
        self.dropped = False

    def add(self, data):
        room = self._head_size - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            if len(self._tail) > self._tail_size:
                self.dropped = True
                del self._tail[:len(self._tail) - self._tail_size]

    def text(self):
        middle = b'\n...\n' if self.dropped else b''
        return (bytes(self._head) + middle + bytes(self._tail)).decode('utf-8', 'replace')


def _drain(stream, buffer):
    try:
        while True:
            data = os.read(stream.fileno(), 65536)
            if not data:
                return
            buffer.add(data)
    except (OSError, ValueError):  # the pipe was closed under us by close()
        return


class SideWork(object):
    """A call run on its own thread; ``result()`` joins it and raises what it raised."""

    def __init__(self, work):
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.daemon = True
        self._thread.start()

    def _run(self, work):
        try:
            work()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def join(self):
        self._thread.join()

    def result(self):
        self.join()
        if self._error is not None:
            raise self._error


class ToolDump(DumpSource):
    """Base of the dump sources that run a command-line dump tool.

    Subclasses set ``tool`` and ``error_line`` (a compiled regex: stderr lines that mean
    failure even when the tool exits 0) and implement ``command()`` -> (argv, env).
    Hooks: ``before_dump`` (before the tool starts), ``while_dumping`` (after it started, on a
    thread of its own while the output is read, so the row counts never stall the tool on a
    full pipe; it must not share the reading thread's objects), ``on_output`` (first bytes
    read), ``after_dump`` (clean exit, after while_dumping ended) and ``cleanup`` (always, from
    close(), after while_dumping ended).
    """

    tool = None
    error_line = None

    def __init__(self, label, secrets):
        super(ToolDump, self).__init__()
        self.label = label
        self.secrets = [secret for secret in secrets if secret]
        self.process = None
        self.messages = []
        self._stderr = BoundedText()
        self._stderr_thread = None
        self._side = None
        self._closed = False

    # --- what subclasses fill in
    def command(self):
        raise NotImplementedError

    def before_dump(self):
        pass

    def while_dumping(self):
        pass

    def on_output(self):
        pass

    def after_dump(self):
        pass

    def cleanup(self):
        pass

    # --- the stream
    def _spawn(self, argv, env):
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=env, close_fds=True,
                                            start_new_session=True)
        except OSError as exc:
            raise EngineError('%s: cannot start %s: %s' % (self.label, self.tool, exc))
        try:
            import fcntl
            fcntl.fcntl(self.process.stdout.fileno(), F_SETPIPE_SZ, PIPE_SIZE)
        except (ImportError, OSError):
            pass  # a bigger pipe only saves system calls
        self._stderr_thread = threading.Thread(target=_drain, args=(self.process.stderr, self._stderr))
        self._stderr_thread.daemon = True
        self._stderr_thread.start()

    def chunks(self):
        self.before_dump()
        argv, env = self.command()
        self._spawn(argv, env)
        self._side = SideWork(self.while_dumping)
        stdout = self.process.stdout.fileno()
        seen_output = False
        while True:
            data = os.read(stdout, READ_SIZE)
            if not data:
                break
            if not seen_output:
                seen_output = True
                self.on_output()
            yield data
        status = self.process.wait()
        self._stderr_thread.join()
        text = scrub(self._stderr.text(), self.secrets)
        if status != 0 or (self.error_line is not None and self.error_line.search(text)):
            raise EngineError(self._failure(status, text))
        self._side.result()  # the counts: their error, if any, fails the dump
        self.messages = [line.strip() for line in text.splitlines() if line.strip()]
        self.after_dump()

    def _failure(self, status, text):
        if status < 0:
            how = 'was killed by signal %d' % -status
        elif status:
            how = 'exited with status %d' % status
        else:
            how = 'reported an error'
        lines = [' '.join(line.split()) for line in text.splitlines() if line.strip()]
        detail = '; '.join(lines)
        if len(detail) > 2000:
            detail = '...' + detail[-2000:]
        return '%s: %s %s: %s' % (self.label, self.tool, how, detail or '(no message)')

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            process = self.process
            if process is not None:
                if process.poll() is None:
                    try:
                        # The tool leads its own process group; SIGKILL also works on a stopped tool.
                        os.killpg(process.pid, signal.SIGKILL)
                    except OSError:
                        pass
                process.wait()
                if self._stderr_thread is not None:
                    # The tool is gone, so its stderr is at EOF; join before closing the fd under the thread.
                    self._stderr_thread.join(5)
                for stream in (process.stdout, process.stderr):
                    try:
                        stream.close()
                    except OSError:
                        pass
            if self._side is not None:
                self._side.join()  # cleanup uses the connection the counts run on
        finally:
            self.cleanup()
