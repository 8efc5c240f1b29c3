"""How /api/v2 reports errors: MEMANTO's envelope, even when Redis is lost (the one error
that does not come from our error family); the other dialects keep their plain detail."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis
from starlette.requests import Request

from memanto_redis.api.errors import redis_down
from memanto_redis.shared.infra import keys
from tests.conftest import new_agent
from tests.support import ADMIN


def _answer_to(path: str) -> tuple[int, dict[str, object], str | None]:
    request = Request({"type": "http", "method": "GET", "path": path, "headers": [],
                       "query_string": b""})
    reply = asyncio.run(redis_down(request, redis.ConnectionError("connection refused")))
    return reply.status_code, json.loads(bytes(reply.body)), reply.headers.get("Retry-After")


def test_losing_redis_on_v2_answers_memanto_envelope():
    status, body, retry = _answer_to("/api/v2/agents/a/recall")
    assert (status, retry) == (503, "5")
    assert body == {"detail": {"error": "ServiceUnavailable",
                               "message": "storage is unavailable; retry shortly",
                               "details": {}}}


def test_losing_redis_elsewhere_keeps_the_plain_detail():
    status, body, retry = _answer_to("/api/agents/a/memory")
    assert (status, retry) == (503, "5")
    assert body == {"detail": "storage is unavailable; retry shortly"}


# -- MEMANTO 0.2.30's error answers, route by route ------------------------------------------

# Every name `detail.error` may hold in an envelope: MEMANTO's, and generic ones for what it
# lacks; never a Python class name of ours.
MEMANTO_NAMES = {"ValidationError", "AuthenticationError", "AuthorizationError",
                 "SessionExpired", "SessionNotFound", "InvalidSessionToken", "AgentNotFound",
                 "AgentAlreadyExists", "NotFound", "Conflict", "RateLimited",
                 "ServiceUnavailable", "InternalServerError"}


def _envelope(reply, status: int, error: str) -> str:
    assert reply.status_code == status, reply.text
    detail = reply.json()["detail"]
    assert set(detail) == {"error", "message", "details"} and detail["error"] == error
    assert error in MEMANTO_NAMES
    return detail["message"]


def _bare(reply, status: int) -> str:
    assert reply.status_code == status, reply.text
    detail = reply.json()["detail"]
    assert isinstance(detail, str), detail
    return detail


def test_session_token_errors_carry_memanto_names(client):
    agent = new_agent(client)
    recall = f"/api/v2/agents/{agent.agent_id}/recall"
    assert _bare(client.post(recall, json={"query": "x"}), 401) == (
        "Missing session token. Use X-Session-Token header.")
    _envelope(client.post(recall, json={"query": "x"}, headers={"X-Session-Token": "nope"}),
              401, "InvalidSessionToken")
    assert client.post(f"/api/v2/agents/{agent.agent_id}/deactivate",
                       headers=ADMIN).status_code == 200
    _envelope(client.post(recall, json={"query": "x"}, headers=agent.headers), 401,
              "InvalidSessionToken")
    _envelope(client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=ADMIN),
              404, "SessionNotFound")
    # Another agent's session, as MEMANTO's enforce_session_scope answers it.
    mine = new_agent(client)
    _envelope(client.post(recall, json={"query": "x"}, headers=mine.headers), 403,
              "AuthorizationError")


def test_an_expired_session_is_session_expired(client):
    agent = new_agent(client, duration_hours=1.5 / 3600)  # 1.5 seconds
    time.sleep(2.0)
    _envelope(client.post(f"/api/v2/agents/{agent.agent_id}/recall", json={"query": "x"},
                          headers=agent.headers), 401, "SessionExpired")


def test_agent_errors_carry_memanto_names(client):
    agent = new_agent(client)
    _envelope(client.post("/api/v2/agents", json={"agent_id": agent.agent_id},
                          headers=ADMIN), 409, "AgentAlreadyExists")
    for reply in (client.get("/api/v2/agents/no-such-agent-x", headers=ADMIN),
                  client.post("/api/v2/agents/no-such-agent-x/activate", headers=ADMIN)):
        _envelope(reply, 404, "AgentNotFound")
    for headers in ({}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        assert _bare(client.get("/api/v2/agents", headers=headers), 401).startswith(
            "Unauthorized. Agent management endpoints require")


def test_memory_errors_are_memanto_bare_messages(client, agent):
    base = f"/api/v2/agents/{agent.agent_id}"
    h = agent.headers
    missing = "mem_does_not_exist"
    for reply in (client.patch(f"{base}/memories/{missing}", headers=h,
                               json={"content": "x"}),
                  client.post(f"{base}/memories/{missing}/expire", headers=h,
                              json={"reason": None}),
                  client.post(f"{base}/memories/{missing}/restore", headers=h)):
        assert _bare(reply, 404) == f"Memory '{missing}' was not found."
    assert _bare(client.delete(f"{base}/memories/{missing}", headers=h), 404) == (
        f"Memory '{missing}' was not found for agent '{agent.agent_id}'")
    memory_id = client.post(f"{base}/remember", headers=h,
                            json={"content": "Budget is 10k"}).json()["memory_id"]
    empty = client.patch(f"{base}/memories/{memory_id}", headers=h,
                         json={"content": None, "tags": None})
    assert _bare(empty, 400) == "Provide at least one field to update."


def test_unknown_presets_and_files_are_memanto_bare_messages(client, agent, r):
    base = f"/api/v2/agents/{agent.agent_id}"
    h = agent.headers
    shown = _bare(client.get(f"{base}/policy/presets/nope", headers=h), 404)
    assert shown.startswith("Unknown preset 'nope'. Must be one of: ")
    assert _bare(client.post(f"{base}/policy/preset", headers=h, json={"name": "nope"}),
                 400) == shown
    before = r.xlen(keys.INGEST_STREAM)
    refused = client.post(f"{base}/upload-file", headers=h,
                          files={"file": ("notes.exe", b"MZ")})
    assert _bare(refused, 400) == ("File type '.exe' is not supported. Allowed types: "
                                   ".csv, .docx, .json, .md, .pdf, .txt, .xlsx")
    assert r.xlen(keys.INGEST_STREAM) == before


def test_limits_are_flat_as_memanto_costguard(client, agent, memanto):
    base = f"/api/v2/agents/{agent.agent_id}"
    h = agent.headers
    guard = memanto.CostGuard
    memory_id = client.post(f"{base}/remember", headers=h,
                            json={"content": "Budget is 10k"}).json()["memory_id"]
    long_text = lambda: guard.validate_text_length("x" * 10_001, "Memory content")  # noqa: E731
    for path, body, check in (
            ("recall", {"query": "x", "limit": "101"}, lambda: guard.validate_k_limit(101)),
            ("recall", {"query": "x" * 1001}, lambda: guard.validate_query_length("x" * 1001)),
            ("remember", {"content": "x" * 10_001}, long_text),
            (f"memories/{memory_id}", {"content": "x" * 10_001}, long_text)):
        send = client.patch if path.startswith("memories") else client.post
        ours = send(f"{base}/{path}", headers=h, json=body)
        with pytest.raises(memanto.HTTPException) as theirs:
            check()
        assert (ours.status_code, ours.json()) == (theirs.value.status_code,
                                                   {"detail": theirs.value.detail})
    big = client.post(f"{base}/upload-file", content=iter([b"--b\r\n"]), headers=h | {
        "Content-Type": "multipart/form-data; boundary=b", "Content-Length": "999999999"})
    assert big.status_code == 413
    assert set(big.json()["detail"]) == {"error", "message", "max_bytes"}
    assert big.json()["detail"]["error"] == "file_too_large"
    huge = client.post(f"{base}/remember", headers=h, content=b"x" * 3_000_000)
    assert huge.status_code == 413
    assert huge.json()["detail"]["error"] == "request_too_large"


def test_no_answer_names_a_python_class(client):
    """Errors of kinds MEMANTO does not have are named by their meaning."""
    replies = [
        client.delete("/api/v2/apikeys/no-such-key-x", headers=ADMIN),
        client.post("/api/v2/agents", headers=ADMIN | {"Content-Type": "multipart/form-data"},
                    content=b"x"),
    ]
    assert [_envelope(reply, status, name) for reply, status, name in zip(
        replies, (404, 415), ("NotFound", "ValidationError"), strict=True)]
