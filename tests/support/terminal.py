"""A command run with a terminal of its own (a pseudo-terminal as its controlling tty), its
standard output kept apart: what a person sees on the screen vs. what a log would keep."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Seen:
    terminal: str  # written to /dev/tty
    output: str  # standard output and error, as a service's log would keep them


def _take_terminal() -> None:
    """In the child, after setsid: its standard input (the pty) becomes its controlling tty."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(
    env: dict[str, str], ready: Callable[[], bool], *args: str, timeout: float = 60
) -> Seen:
    """`aftercare ARGS` on a terminal until `ready()` (or it exits), then SIGTERM."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reminders", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
        preexec_fn=_take_terminal,
    )
    screen = bytearray()
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None and not ready():
            assert time.monotonic() < deadline, "the command never got ready"
            screen += _drain(master, 0.1)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=timeout)
        screen += _drain(master, 0.2)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(slave)
        os.close(master)
    return Seen(screen.decode(errors="replace").replace("\r\n", "\n"), out)


def _drain(fd: int, wait: float) -> bytes:
    got = b""
    while select.select([fd], [], [], wait)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
        wait = 0.05
    return got
