"""Logging for every process, set up once at its start: one JSON object per line
(`LOG_FORMAT=json`, the default, for log routers) or a plain line (`LOG_FORMAT=text`, for
humans).

A line has `timestamp`, `level`, `process` (web, worker, scheduler, jobs), `logger` and
`event` (the message), plus whatever the call passed in `extra=` among FIELDS (the web's
access line: request id, agent id, method, route, status, duration). Secrets never reach a
line: bearer credentials and JWTs are masked in every message, whatever logged them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from typing import IO, Any, Literal

import orjson

# What `extra=` may add to a line, in this order.
FIELDS = ("request_id", "agent_id", "method", "route", "path", "status", "duration_ms",
          "client")
# Third-party loggers that bring their own handlers: theirs are dropped, so that their lines
# come out through ours (and in our shape).
ADOPTED = ("uvicorn", "uvicorn.error", "uvicorn.access", "rq", "rq.worker", "rq.scheduler")
# Bearer credentials, and anything shaped like a JWT (the session tokens).
SECRETS = re.compile(r"(?i)(bearer\s+)\S+|\beyJ[\w-]+\.[\w-]+\.[\w-]*")


def mask(text: str) -> str:
    return SECRETS.sub(lambda m: (m.group(1) or "") + "***", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": _iso(record.created),
            "level": record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "event": mask(record.getMessage()),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = mask(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__(f"%(asctime)s {process} %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{f}={record.__dict__[f]}" for f in FIELDS
                         if record.__dict__.get(f) is not None)
        return mask(super().format(record) + (f" {extra}" if extra else ""))


class AccessLog:
    """The web's access lines, one per request: formatted straight to bytes (no LogRecord,
    no handler chain: the logging module costs ~25 us a line, a third of a remember's CPU)
    and written in batches, at most FLUSH_SECONDS late, by whole lines."""

    FLUSH_SECONDS = 0.05
    MAX_LINES = 512

    def __init__(self, process: str, fmt: Literal["json", "text"], stream: IO[str]) -> None:
        self.process = process
        self.json = fmt == "json"
        self.stream = stream
        self.lines: list[bytes] = []
        self._second = -1
        self._stamp = ""
        self._flush_due: asyncio.TimerHandle | None = None

    def write(self, fields: dict[str, Any]) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        stamp = f"{self._stamp}.{int(now % 1 * 1000):03d}Z"
        if self.json:
            line = orjson.dumps({"timestamp": stamp, "level": "info", "process": self.process,
                                 "logger": "memanto.access", **fields}) + b"\n"
        else:
            line = (f"{stamp} {self.process} INFO {fields['event']} " + " ".join(
                f"{k}={v}" for k, v in fields.items() if k != "event" and v is not None)
                + "\n").encode()
        self.lines.append(line)
        if len(self.lines) >= self.MAX_LINES:
            self.flush()
        elif self._flush_due is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_due = loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        lines, self.lines = self.lines, []
        if not lines:
            return
        try:
            buffer = getattr(self.stream, "buffer", None)
            if buffer is not None:
                self.stream.flush()
                buffer.write(b"".join(lines))
                buffer.flush()
            else:
                self.stream.write(b"".join(lines).decode())
                self.stream.flush()
        except (OSError, ValueError):
            # A closed or broken stderr must not fail the requests: the lines are lost, as
            # logging's own handlers lose them.
            pass


# The process's access log once setup() ran (the web's middleware writes to it); None in a
# process that did not set up its logs (tests), whose access lines go through logging.
access: AccessLog | None = None


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler setup() installed, so a second setup replaces it."""


def setup(process: str, fmt: Literal["json", "text"] = "json", level: str = "INFO") -> None:
    """Send every logger's lines to stderr in `fmt`, tagged with `process`."""
    global access
    if access is not None:
        access.flush()
    access = AccessLog(process, fmt, sys.stderr)
    handler = _Ours(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else TextFormatter(process))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ADOPTED:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
        # From here on at the process's level. (The Procfile starts uvicorn with
        # --log-level warning so that its few lines before this setup, in its own shape,
        # are left out.)
        adopted.setLevel(logging.NOTSET)
    # uvicorn's access log is ours (api/observe.py writes one line per request).
    logging.getLogger("uvicorn.access").disabled = True


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"
