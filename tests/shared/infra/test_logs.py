"""shared/infra/logs.py: one JSON object per line, or text, and credentials masked."""

from __future__ import annotations

import asyncio
import json
import logging

from memanto_redis.shared.infra import logs

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("memanto.test", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_json_line_has_the_fields_and_masks_secrets():
    line = logs.JsonFormatter("web").format(_record(
        "got %s and %s", f"Bearer key-{TOKEN[:5]}", TOKEN, request_id="r1", route="/x",
        status=200, duration_ms=1.5, agent_id="a"))
    data = json.loads(line)
    assert "\n" not in line
    assert data["process"] == "web" and data["level"] == "warning"
    assert data["logger"] == "memanto.test" and data["timestamp"].endswith("Z")
    assert {k: data[k] for k in ("request_id", "route", "status", "duration_ms",
                                 "agent_id")} == {"request_id": "r1", "route": "/x",
                                                  "status": 200, "duration_ms": 1.5,
                                                  "agent_id": "a"}
    assert "key-" not in data["event"] and TOKEN not in data["event"]
    assert data["event"] == "got Bearer *** and ***"


def test_text_format_for_humans():
    line = logs.TextFormatter("worker").format(_record("hello %s", TOKEN, status=503))
    assert " worker WARNING hello *** status=503" in line


def test_setup_replaces_its_own_handler_only(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(logs, "access", None)  # this process's access log stays as it was
    for name in logs.ADOPTED:
        adopted = logging.getLogger(name)
        monkeypatch.setattr(adopted, "handlers", list(adopted.handlers))
        monkeypatch.setattr(adopted, "propagate", adopted.propagate)
        monkeypatch.setattr(adopted, "disabled", adopted.disabled)
        monkeypatch.setattr(adopted, "level", adopted.level)
    other = logging.NullHandler()
    root.addHandler(other)
    logs.setup("web", "json")
    logs.setup("web", "text", "DEBUG")
    ours = [h for h in root.handlers if isinstance(h, logs._Ours)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.TextFormatter)
    assert other in root.handlers and root.level == logging.DEBUG
    assert logging.getLogger("uvicorn.access").disabled


def test_access_lines_are_written_whole_in_batches(tmp_path):
    path = tmp_path / "access.log"

    async def serve(writer: logs.AccessLog) -> tuple[str, str]:
        for i in range(3):
            writer.write({"event": f"GET /x {200 + i}", "status": 200 + i, "agent_id": None})
        before = path.read_text()  # batched: nothing yet
        await asyncio.sleep(logs.AccessLog.FLUSH_SECONDS * 3)
        return before, path.read_text()

    with path.open("w") as stream:
        before, after = asyncio.run(serve(logs.AccessLog("web", "json", stream)))
    assert before == ""
    lines = [json.loads(line) for line in after.splitlines()]
    assert [line["status"] for line in lines] == [200, 201, 202]
    assert lines[0]["process"] == "web" and lines[0]["logger"] == "memanto.access"
    assert "agent_id" in lines[0] and lines[0]["event"] == "GET /x 200"
