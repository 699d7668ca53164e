"""Drive the Debian ``age`` CLI, which reads passphrases only from a terminal, through a pty."""

import os
import pty
import select
import shutil
import time

AGE = shutil.which('age')
AGE_KEYGEN = shutil.which('age-keygen')


def run_with_passphrase(args, passphrase, timeout=120, program=None):
    """Run ``age args`` (or ``program args``, e.g. bash running a pipeline with age in it) with a
    pty as its terminal, answering every passphrase prompt.

    Returns (exit status, terminal output). Output files must be given with -o or a redirection.
    """
    program = program or AGE
    pid, master = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal, so age's /dev/tty is ours
        try:
            os.execv(program, [program] + list(args))
        finally:
            os._exit(127)
    seen = b''
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal (exited)
                break
            if not data:
                break
            seen += data
            # One answer per prompt: "Enter passphrase...:" and "Confirm passphrase:".
            while seen.lower().count(b'passphrase') > answered:
                os.write(master, passphrase + b'\n')
                answered += 1
        else:
            os.kill(pid, 9)
    finally:
        _pid, status = os.waitpid(pid, 0)
        os.close(master)
    return os.waitstatus_to_exitcode(status), seen.decode(errors='replace')
