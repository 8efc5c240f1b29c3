"""Logging for every process, set up once at its start: one JSON object per line
(`LOG_FORMAT=json`, the default, for log routers) or a plain line (`LOG_FORMAT=text`, for
humans).

A line has `timestamp`, `level`, `process` (web, worker, scheduler, jobs), `logger` and
`event` (the message), plus whatever the call passed in `extra=` among FIELDS (the web's
access line: request id, agent id, method, route, status, duration). Secrets never reach a
line: bearer credentials and JWTs are masked in every message, whatever logged them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, Literal

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


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler setup() installed, so a second setup replaces it."""


def setup(process: str, fmt: Literal["json", "text"] = "json", level: str = "INFO") -> None:
    """Send every logger's lines to stderr in `fmt`, tagged with `process`."""
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
    # uvicorn's access log is ours (api/observe.py writes one line per request).
    logging.getLogger("uvicorn.access").disabled = True


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"
