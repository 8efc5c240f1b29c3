"""Keeps the Procfile's processes running: what `memanto dev` (so `make run`) runs them with.

Each program runs in a session of its own, its output forwarded line by line behind its
name. One that exits unexpectedly is started again after a pause that doubles with each
quick exit (0.5 s up to 10 s; back to 0.5 s once it has stayed up a minute); one that has
to be restarted more than `max_restarts` times in a minute is given up, loudly, and the
others keep serving. SIGINT, SIGTERM or SIGHUP stop the programs tier by tier, highest
first (the Procfile's processes, then Redis), each with SIGTERM and then SIGKILL after its
grace time; a second signal kills what is left of the tier being stopped.

The Procfile is read as honcho reads it: `name: command`, `${VAR:-default}`, `${VAR}` and
`$VAR` expanded from the environment. A simple command is run directly (its PID is the
program's own); one with shell syntax (pipes, `&&`, redirections) runs under `sh -c`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?-)([^}]*))?\}|\$(\w+)")
SHELL_SYNTAX = set("|&;<>()`")
# The Procfile's one-off step run before a deploy's processes start (Heroku's release
# phase): not a process to keep running (locally the web and the worker make the indexes).
RELEASE = "release"


@dataclass(frozen=True)
class RestartPolicy:
    first_pause: float = 0.5
    max_pause: float = 10.0
    # A program up this long is healthy again: its next exit pauses first_pause.
    stable_after: float = 60.0
    # More restarts than this within `window` seconds and the program is given up.
    max_restarts: int = 5
    window: float = 60.0


@dataclass(frozen=True)
class Program:
    name: str
    argv: list[str]
    # Programs start by tier, lowest first (each tier once the one below is ready) and stop
    # highest first: the embedded Redis is tier 0, the Procfile's processes tier 1.
    tier: int = 1
    # At the first start, what the next tier waits for (e.g. Redis answering PING).
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 30.0
    # After SIGTERM, how long before SIGKILL.
    grace: float = 20.0


def expand(command: str, env: Mapping[str, str]) -> str:
    """`${VAR:-default}` (default when unset or empty), `${VAR-default}` (when unset),
    `${VAR}` and `$VAR` (empty when unset), as sh expands them."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        current = env.get(name)
        if match.group(2) == ":-":
            return current if current else match.group(3)
        if match.group(2) == "-":
            return current if current is not None else match.group(3)
        return current or ""

    return VARIABLE.sub(value, command)


def command_argv(command: str, env: Mapping[str, str]) -> list[str]:
    """The argv that runs one Procfile command."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    if any(set(token) <= SHELL_SYNTAX for token in lexer):
        # Pipes, lists, redirections: only a shell runs those.
        return ["/bin/sh", "-c", command]
    return shlex.split(expand(command, env))


def read_procfile(path: Path, env: Mapping[str, str], tier: int = 1) -> list[Program]:
    programs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PROCFILE_LINE.match(line.strip())
        if match is None:
            raise ValueError(f"{path}:{number}: not a `name: command` line: {line!r}")
        if match.group(1) == RELEASE:
            continue
        programs.append(Program(match.group(1), command_argv(match.group(2), env), tier=tier))
    if not programs:
        raise ValueError(f"{path} names no process")
    return programs


@dataclass
class Child:
    """One program and its current process."""

    program: Program
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    pause: float = 0.0
    restart_at: float | None = None
    restarts: deque[float] = field(default_factory=deque)
    given_up: bool = False


class Output:
    """Lines of every program on one stream, each behind its program's name."""

    COLOURS = ("36", "33", "32", "35", "34", "31")

    def __init__(self, stream: IO[str], names: list[str]) -> None:
        self.stream = stream
        self.width = max(len(name) for name in [*names, "memanto"])
        self.lock = threading.Lock()
        tty = hasattr(stream, "isatty") and stream.isatty()
        self.colour = {name: self.COLOURS[i % len(self.COLOURS)] if tty else ""
                       for i, name in enumerate(["memanto", *names])}

    def line(self, name: str, text: str) -> None:
        label = f"{time.strftime('%H:%M:%S')} {name:<{self.width}} |"
        colour = self.colour.get(name, "")
        if colour:
            label = f"\033[{colour}m{label}\033[0m"
        # A closed terminal or pipe must not stop the copying: a program whose output is
        # not read would block on its next write.
        with self.lock, contextlib.suppress(OSError, ValueError):
            self.stream.write(f"{label} {text.rstrip()}\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        self.line("memanto", text)

    def forward(self, name: str, pipe: IO[bytes]) -> None:
        """Copy one process's output until it closes (run in a thread of its own)."""
        with pipe:
            for raw in iter(pipe.readline, b""):
                self.line(name, raw.decode(errors="replace"))


class Supervisor:
    def __init__(self, programs: list[Program], env: Mapping[str, str], *,
                 cwd: Path | str | None = None, stream: IO[str] | None = None,
                 policy: RestartPolicy | None = None) -> None:
        self.children = [Child(program) for program in programs]
        # Python children write their output at once rather than in 8 KB blocks.
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.cwd = cwd
        self.policy = policy or RestartPolicy()
        self.out = Output(stream or sys.stdout, [p.name for p in programs])
        # Set by the signal handlers (a plain counter: a handler must not take a lock the
        # code it interrupted may hold).
        self.signals = 0

    @property
    def stopping(self) -> bool:
        return self.signals > 0

    # -- signals ----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signals += 1

    # -- starting ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start every program, tier by tier, waiting for each tier's `ready` checks."""
        for tier in sorted({c.program.tier for c in self.children}):
            members = [c for c in self.children if c.program.tier == tier]
            for child in members:
                self._spawn(child)
            for child in members:
                self._wait_ready(child)

    def _wait_ready(self, child: Child) -> None:
        ready = child.program.ready
        if ready is None:
            return
        deadline = time.monotonic() + child.program.ready_timeout
        while not ready():
            if self.stopping:
                raise KeyboardInterrupt
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(f"{child.program.name} exited ({child.proc.returncode}) "
                                   "before it was ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.program.name} not ready after "
                                   f"{child.program.ready_timeout:.0f} s")
            time.sleep(0.1)

    def _spawn(self, child: Child) -> None:
        proc = subprocess.Popen(
            child.program.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches only the supervisor, which
            # stops the programs in order; the group also holds whatever it forks.
            start_new_session=True,
        )
        assert proc.stdout is not None
        threading.Thread(target=self.out.forward, args=(child.program.name, proc.stdout),
                         name=f"output-{child.program.name}", daemon=True).start()
        child.proc = proc
        child.started_at = time.monotonic()
        child.restart_at = None
        self.out.say(f"{child.program.name} started (pid {proc.pid})")

    # -- watching ---------------------------------------------------------------------------

    def run(self) -> int:
        """Watch and restart until a signal; then stop everything. 1 if any program was
        given up, else 0."""
        try:
            while not self.stopping:
                self.poll()
                if all(c.given_up for c in self.children):
                    self.out.say("every program was given up; stopping")
                    break
                time.sleep(0.1)
        finally:
            self.stop()
        return 1 if any(c.given_up for c in self.children) else 0

    def poll(self) -> None:
        """One look at every program: restart what is due, note what exited."""
        now = time.monotonic()
        for child in self.children:
            self._watch(child, now)

    def _watch(self, child: Child, now: float) -> None:
        if child.given_up:
            return
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._spawn(child)
            return
        if child.proc is None or child.proc.poll() is None:
            return
        code = child.proc.returncode
        name = child.program.name
        # Just reaped, so its PID (the group's id) is not yet anyone else's.
        self._end_group(child.proc.pid)
        policy = self.policy
        up_for = now - child.started_at
        child.pause = (policy.first_pause if up_for >= policy.stable_after or not child.pause
                       else min(policy.max_pause, child.pause * 2))
        while child.restarts and child.restarts[0] < now - policy.window:
            child.restarts.popleft()
        if len(child.restarts) >= policy.max_restarts:
            child.given_up = True
            self.out.say(f"!!! {name} exited ({_describe(code)}) after {len(child.restarts)} "
                         f"restarts in {policy.window:.0f} s: GIVING UP on {name}; the other "
                         "processes keep running. Fix the cause and restart `make run`.")
            return
        child.restarts.append(now)
        child.restart_at = now + child.pause
        self.out.say(f"{name} exited ({_describe(code)}) after {up_for:.1f} s; "
                     f"restarting in {child.pause:.1f} s")

    @staticmethod
    def _end_group(pgid: int, sig: int = signal.SIGTERM) -> None:
        """Signal a program's process group: the one this supervisor made for it, which
        also holds what it forked (RQ's scheduler and work horse outlive a killed `rq
        worker`). Called only while the program runs or right after it was reaped, so the
        id is still the group's. ProcessLookupError: nothing is left in it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every program, highest tier first, each with SIGTERM then SIGKILL."""
        for tier in sorted({c.program.tier for c in self.children}, reverse=True):
            members = [c for c in self.children if c.program.tier == tier]
            self._stop_tier(members)

    def _stop_tier(self, members: list[Child]) -> None:
        live = [c for c in members if c.proc is not None and c.proc.poll() is None]
        for child in members:
            child.restart_at = None
        for child in live:
            assert child.proc is not None
            self.out.say(f"stopping {child.program.name} (pid {child.proc.pid})")
            # The program itself: it stops what it forked in its own way (an `rq worker`
            # lets its running job finish).
            os.kill(child.proc.pid, signal.SIGTERM)
        signals = self.signals
        deadline = time.monotonic() + max((c.program.grace for c in live), default=0)
        while any(c.proc is not None and c.proc.poll() is None for c in live):
            # A further Ctrl-C while stopping means: now.
            if time.monotonic() > deadline or self.signals > max(signals, 1):
                break
            time.sleep(0.05)
        for child in live:
            assert child.proc is not None
            if child.proc.poll() is None:
                self.out.say(f"{child.program.name} (pid {child.proc.pid}) did not stop; "
                             "killing it")
            # With anything it forked and left behind.
            self._end_group(child.proc.pid, signal.SIGKILL)
            child.proc.wait()


def _describe(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
