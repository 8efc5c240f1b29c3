"""The web process's own access log: one JSON line per request, written by api/observe.py
(uvicorn's is off), and no credential in any line."""

from __future__ import annotations

import json
import time

import httpx

from tests.support import ADMIN, ADMIN_KEY, unique, wait_until


def _lines(live) -> list[dict]:
    text = (live.logs / "web.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_access_lines_and_no_secrets(live):
    agent_id = unique("logged")
    assert httpx.post(f"{live.url}/api/v2/agents", json={"agent_id": agent_id},
                      headers=ADMIN).status_code == 201
    session = httpx.post(f"{live.url}/api/v2/agents/{agent_id}/activate", json={},
                         headers=ADMIN).json()
    token = session["session_token"]
    marker = unique("req")
    reply = httpx.post(f"{live.url}/api/v2/agents/{agent_id}/remember",
                       json={"content": "logged, not its credentials"},
                       headers={"X-Session-Token": token, "X-Request-ID": marker})
    assert reply.status_code == 200 and reply.headers["x-request-id"] == marker
    # A bad token and a bad key are not logged either.
    httpx.get(f"{live.url}/api/v2/session/info", headers={"X-Session-Token": token + "x"})
    httpx.get(f"{live.url}/api/v2/agents", headers={"Authorization": "Bearer " + ADMIN_KEY})

    line = wait_until(lambda: next((x for x in _lines(live)
                                    if x.get("request_id") == marker), None), 10, 0.1,
                      what="the access line")
    assert line["process"] == "web" and line["level"] == "info"
    assert line["route"] == "/api/v2/agents/{agent_id}/remember"
    assert line["status"] == 200 and line["method"] == "POST"
    assert line["agent_id"] == agent_id and line["duration_ms"] >= 0
    assert {"timestamp", "event", "logger"} <= set(line)

    time.sleep(0.3)  # the last requests' lines
    text = (live.logs / "web.log").read_text(errors="replace")
    assert ADMIN_KEY not in text
    assert token not in text and token.split(".")[2] not in text
    # uvicorn's own access log is off: every request line is ours, in JSON.
    assert '" 200' not in text
