"""MEMANTO 0.2.30's own pydantic models as the client: bodies built with its request models
(None fields included, as they serialise), answers parsed with its response models.

The real package is installed beside the venv by the Makefile
(`.venv/memanto-0.2.30`, without its dependencies or console script), imported by the
`memanto` fixture of tests/api/v2/conftest.py."""

from __future__ import annotations

from tests.conftest import new_agent
from tests.support import ADMIN


def _body(model: object) -> dict:
    return model.model_dump(mode="json")  # type: ignore[attr-defined]


def test_remember_batch_recall_and_temporal_parse_as_memanto(client, agent, indexer,
                                                              memanto):
    m, r = memanto.m, memanto.r
    base = f"/api/v2/agents/{agent.agent_id}"
    h = agent.headers
    reply = client.post(f"{base}/remember", headers=h, json=_body(
        m.RememberRequest(content="User prefers email communication")))
    assert reply.status_code == 200, reply.text
    remembered = m.RememberResponse.model_validate(reply.json())
    assert remembered.type == "preference"
    batch = client.post(f"{base}/batch-remember", headers=h, json=_body(m.BatchRememberRequest(
        memories=[m.BatchRememberItem(content="The office is in Paris", type="fact",
                                      tags=["office"], confidence=0.7)])))
    parsed = m.BatchRememberResponse.model_validate(batch.json())
    assert (parsed.agent_id, parsed.successful, parsed.results[0].status) == (
        agent.agent_id, 1, "queued")
    indexer.run(burst=True)
    found = client.post(f"{base}/recall", headers=h,
                        json=_body(r.RecallRequest(query="how to contact the user?")))
    recall = m.RecallResponse.model_validate(found.json())
    assert (recall.agent_id, recall.session_id) == (agent.agent_id, agent.session_id)
    assert recall.memories[0].id == remembered.memory_id
    assert recall.memories[0].status == "active" and recall.memories[0].score > 0
    for path, request in [
        ("recall/recent", r.RecallRecentRequest()),
        ("recall/all", r.RecallRecentRequest()),
        ("recall/as-of", r.RecallAsOfRequest(as_of="2999-01-01")),
        ("recall/changed-since", r.RecallChangedSinceRequest(since="2000-01-01")),
    ]:
        reply = client.post(f"{base}/{path}", headers=h, json=_body(request))
        assert reply.status_code == 200, (path, reply.text)
        temporal = m.TemporalRecallResponse.model_validate(reply.json())
        assert temporal.count == 2 and temporal.agent_id == agent.agent_id, path
    changed = client.post(f"{base}/recall/changed-since", headers=h,
                          json=_body(r.RecallChangedSinceRequest(since="2000-01-01")))
    assert {i["change_type"] for i in changed.json()["memories"]} == {"created"}


def test_edit_expire_restore_delete_parse_as_memanto(client, agent, memanto):
    r = memanto.r
    base = f"/api/v2/agents/{agent.agent_id}"
    h = agent.headers
    memory_id = client.post(f"{base}/remember", headers=h,
                            json={"content": "Budget is 10k"}).json()["memory_id"]
    edit = client.patch(f"{base}/memories/{memory_id}", headers=h,
                        json=_body(r.MemoryEditRequest(confidence=0.5)))
    assert edit.status_code == 200
    assert {k: edit.json()[k] for k in ("status", "action", "updated_fields")} == {
        "status": "updated", "action": "updated", "updated_fields": ["confidence"]}
    empty = client.patch(f"{base}/memories/{memory_id}", headers=h,
                         json=_body(r.MemoryEditRequest()))
    # MEMANTO's bare HTTPException message (routes/memory.py edit_memory).
    assert (empty.status_code, empty.json()) == (
        400, {"detail": "Provide at least one field to update."})
    expired = client.post(f"{base}/memories/{memory_id}/expire", headers=h)
    assert expired.json()["status"] == "expired"
    assert client.post(f"{base}/memories/{memory_id}/restore",
                       headers=h).json()["status"] == "active"
    gone = client.delete(f"{base}/memories/{memory_id}", headers=h).json()
    assert (gone["status"], gone["namespace"]) == ("deleted", f"memanto_agent_{agent.agent_id}")


def test_agent_and_session_answers_parse_as_memanto(client, memanto):
    s = memanto.s
    agent = new_agent(client)
    info = client.get(f"/api/v2/agents/{agent.agent_id}", headers=ADMIN)
    s.AgentInfo.model_validate(info.json())
    s.AgentList.model_validate(client.get("/api/v2/agents", headers=ADMIN).json())
    session = client.post(f"/api/v2/agents/{agent.agent_id}/activate", headers=ADMIN)
    s.Session.model_validate(session.json())
    ended = client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=ADMIN)
    s.SessionSummary.model_validate(ended.json())


def test_memanto_limits_and_envelope(client, agent, r, memanto):
    base = f"/api/v2/agents/{agent.agent_id}"
    h = agent.headers
    long_query = client.post(f"{base}/recall", headers=h, json={"query": "x" * 1001})
    assert long_query.status_code == 413
    assert long_query.json()["detail"]["error"] == "query_too_long"
    too_many = client.post(f"{base}/recall", headers=h, json={"query": "x", "limit": "101"})
    assert (too_many.status_code, too_many.json()["detail"]["error"]) == (400, "k_too_large")
    bad = client.post(f"{base}/remember", headers=h, json={"content": "x", "source": "a b"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "source"]
    # A bad query parameter is placed where FastAPI places it.
    memory_id = client.post(f"{base}/remember", headers=h,
                            json={"content": "x"}).json()["memory_id"]
    for url, name in ((f"{base}/memories/{memory_id}/history?limit=abc", "limit"),
                      (f"{base}/memories/{memory_id}/history?limit=0", "limit"),
                      (f"{base}/memories/{memory_id}/history?cursor=nonsense", "cursor"),
                      (f"{base}/activate?duration_hours=-1", "duration_hours"),
                      (f"{base}/activate?duration_hours=0", "duration_hours"),
                      (f"{base}?delete-backup-too=maybe", "delete-backup-too")):
        method = client.post if "activate" in url else (
            client.delete if "backup" in url else client.get)
        wrong = method(url, headers=ADMIN if method != client.get else h)
        assert wrong.status_code == 422, (url, wrong.text)
        assert [e["loc"] for e in wrong.json()["detail"]] == [["query", name]], url
    expired = client.post(f"{base}/remember", headers=h, json={
        "content": "Old office in Lyon", "status": "expired",
        "expired_at": "2024-01-01T00:00:00Z", "expired_by": "import", "surprise": 1})
    assert expired.status_code == 200
    shown = client.get(f"{base}/memories/{expired.json()['memory_id']}", headers=h).json()
    assert shown["lifecycle"] == "expired"
    no_token = client.post(f"{base}/recall", json={"query": "x"})
    assert no_token.json() == {"detail": "Missing session token. Use X-Session-Token header."}
    bad_token = client.post(f"{base}/recall", json={"query": "x"},
                            headers={"X-Session-Token": "x"})
    assert set(bad_token.json()["detail"]) == {"error", "message", "details"}
    # Other dialects keep their plain detail.
    assert isinstance(client.get("/memories/nope", headers=ADMIN).json()["detail"], str)

