"""The memory policy routes (api/v2/policy.py) as a MEMANTO client calls them: the policy,
the presets, the apply sweep (dry run and real) and the purge, with bad input refused."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ADMIN, new_agent
from tests.support import import_indexed

DAY = 86_400


def _base(agent_id: str) -> str:
    return f"/api/v2/agents/{agent_id}/policy"


def _ago(days: float) -> float:
    return time.time() - days * DAY


def _memory(client, agent, memory_id: str) -> dict:
    reply = client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}",
                       headers=agent.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _lifecycle(memory: dict) -> str:
    # The answer's name for it is being aligned with MEMANTO's (status active/expired).
    return memory.get("lifecycle") or memory["status"]


# The body MEMANTO's client sends: its pydantic model dumped, None fields included.
MEMANTO_BODY = {
    "version": 1,
    "retention": {"context": "7d", "fact": "never"},
    "rules": [
        {"name": "pinned", "match": {"type": None, "tags": ["pinned"], "source": None,
                                     "provenance": None, "confidence_below": None},
         "expire_after": "never"},
        {"name": "scratch", "match": {"type": None, "tags": ["scratch"], "source": None,
                                      "provenance": None, "confidence_below": "0.9"},
         "expire_after": "2d"},
    ],
    "purge_expired_after": "6mo",
    "some_future_field": True,
}


def test_a_policy_is_set_and_read_back_as_memanto_shows_it(client, agent):
    base = _base(agent.agent_id)
    empty = client.get(base, headers=agent.headers).json()
    assert empty == {"agent_id": agent.agent_id, "is_empty": True, "policy": {
        "version": 1, "retention": {}, "rules": [], "purge_expired_after": "never"}}
    reply = client.put(base, json=MEMANTO_BODY, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["agent_id"] == agent.agent_id and body["path"]
    shown = body["policy"]
    # Conditions not set are left out, numeric strings are numbers, unknown fields dropped.
    assert shown["rules"][0] == {"name": "pinned", "match": {"tags": ["pinned"]},
                                 "expire_after": "never"}
    assert shown["rules"][1]["match"] == {"tags": ["scratch"], "confidence_below": 0.9}
    assert "some_future_field" not in shown
    again = client.get(base, headers=ADMIN).json()
    assert again == {"agent_id": agent.agent_id, "policy": shown, "is_empty": False}


@pytest.mark.parametrize("policy, field", [
    ({"retention": {"context": "7 days"}}, "retention"),
    ({"retention": {"rumour": "7d"}}, "retention"),
    ({"retention": {"context": "0d"}}, "retention"),
    ({"purge_expired_after": "soon"}, "purge_expired_after"),
    ({"rules": [{"name": "r", "expire_after": "1.5d"}]}, "rules.0.expire_after"),
    ({"rules": [{"name": "bad name!"}]}, "rules.0.name"),
    ({"rules": [{"expire_after": "1d"}]}, "rules.0.name"),
    ({"rules": [{"name": "a"}, {"name": "a"}]}, "duplicate rule name"),
    ({"rules": [{"name": "a", "match": {"type": ["rumour"]}}]}, "rules.0.match.type"),
    ({"rules": [{"name": "a", "match": {"confidence_below": 2}}]},
     "rules.0.match.confidence_below"),
    ({"retention": ["context"]}, "retention"),
])
def test_a_bad_policy_is_refused_naming_the_field_and_changes_nothing(client, agent, policy,
                                                                       field):
    base = _base(agent.agent_id)
    assert client.put(base, json={"retention": {"event": "30d"}},
                      headers=agent.headers).status_code == 200
    reply = client.put(base, json=policy, headers=agent.headers)
    assert reply.status_code == 422, reply.text
    assert field in reply.text
    assert client.get(base, headers=agent.headers).json()["policy"]["retention"] == {
        "event": "30d"}


def test_malformed_json_is_refused(client, agent):
    reply = client.put(_base(agent.agent_id), content=b"{not json",
                       headers={**agent.headers, "Content-Type": "application/json"})
    assert 400 <= reply.status_code < 500 and reply.status_code != 404


def test_presets_are_listed_previewed_and_adopted(client, agent):
    base = _base(agent.agent_id)
    listed = client.get(f"{base}/presets", headers=agent.headers).json()["presets"]
    assert [p["name"] for p in listed] == ["conservative", "balanced", "aggressive"]
    balanced = listed[1]
    assert (balanced["rule_count"], balanced["retention"]["context"],
            balanced["purge_expired_after"]) == (3, "7d", "never")
    preview = client.get(f"{base}/presets/aggressive", headers=agent.headers).json()
    assert preview["name"] == "aggressive" and preview["description"]
    assert preview["policy"]["purge_expired_after"] == "365d"
    # Previewing adopts nothing.
    assert client.get(base, headers=agent.headers).json()["is_empty"] is True
    reply = client.post(f"{base}/preset", json={"name": "balanced"}, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["preset"] == "balanced"
    assert client.get(base, headers=agent.headers).json()["policy"] == reply.json()["policy"]


def test_bad_preset_requests(client, agent):
    base = _base(agent.agent_id)
    missing = client.get(f"{base}/presets/lenient", headers=agent.headers)
    assert missing.status_code == 404 and "balanced" in missing.text
    unknown = client.post(f"{base}/preset", json={"name": "lenient"}, headers=agent.headers)
    assert unknown.status_code == 400 and "lenient" in unknown.text
    nameless = client.post(f"{base}/preset", json={}, headers=agent.headers)
    assert nameless.status_code == 422 and "name" in nameless.text
    assert client.get(base, headers=agent.headers).json()["is_empty"] is True


def test_callers_are_the_agent_or_an_api_key(client, agent):
    base = _base(agent.agent_id)
    # With no credential, MEMANTO's policy routes ask for the session token, in its words.
    for path in (base, f"{base}/presets"):
        bare = client.get(path)
        assert bare.status_code == 401
        assert bare.json() == {"detail": "Missing session token. Use X-Session-Token header."}
    assert client.get(base, headers={"X-Api-Key": "mk_wrong"}).status_code == 401
    other = new_agent(client)
    assert client.get(base, headers=other.headers).status_code == 403
    assert client.post(f"{base}/apply", headers=other.headers).status_code == 403
    assert client.get(_base("no-such-agent-xyz"), headers=ADMIN).status_code == 404


def test_apply_expires_exactly_the_memories_past_their_time(client, indexer):
    agent = new_agent(client)
    base = _base(agent.agent_id)
    old_context, fresh_context, old_fact, pinned, scratch, guess = import_indexed(
        client, indexer, agent.agent_id, [
            {"content": "The user is debugging the login page", "type": "context",
             "created_at": _ago(10)},
            {"content": "The user is now on the billing page", "type": "context",
             "created_at": _ago(1)},
            {"content": "The user lives in Lisbon", "type": "fact", "created_at": _ago(400)},
            {"content": "Keep this context around", "type": "context", "tags": ["pinned"],
             "created_at": _ago(50)},
            {"content": "Scratch: try the other API", "type": "fact", "tags": ["scratch"],
             "created_at": _ago(4)},
            {"content": "The user may like jazz", "type": "preference",
             "provenance": "inferred", "confidence": 0.3, "created_at": _ago(20)},
        ])
    # Edited yesterday: its age counts from the edit, so it stays.
    edited = import_indexed(client, indexer, agent.agent_id, [
        {"content": "The user is reading the docs", "type": "context",
         "created_at": _ago(30), "updated_at": _ago(1)}])[0]
    assert client.post(f"{base}/preset", json={"name": "balanced"},
                       headers=agent.headers).status_code == 200

    dry = client.post(f"{base}/apply", json={"dry_run": True}, headers=agent.headers).json()
    assert (dry["dry_run"], dry["policy_is_empty"], dry["scanned"], dry["already_expired"],
            dry["matched"], dry["expired"]) == (True, False, 7, 0, 3, 0)
    assert dry["per_rule"] == {"retention.context": 1, "scratch-notes": 1,
                               "low-confidence-guesses": 1}
    assert {m["id"]: m["expired_by"] for m in dry["memories"]} == {
        old_context: "retention.context", scratch: "scratch-notes",
        guess: "low-confidence-guesses"}
    assert all(m["created_at"].endswith("Z") for m in dry["memories"])
    # A dry run changes nothing: no memory expired, no version written.
    for memory_id in (old_context, scratch, guess):
        shown = _memory(client, agent, memory_id)
        assert (_lifecycle(shown), shown["version"]) == ("active", 1)

    # No body at all is MEMANTO's default: a real sweep.
    done = client.post(f"{base}/apply", headers=agent.headers).json()
    assert (done["dry_run"], done["matched"], done["expired"], done["errors"]) == (
        False, 3, 3, [])
    for memory_id in (old_context, scratch, guess):
        shown = _memory(client, agent, memory_id)
        assert (_lifecycle(shown), shown["version"]) == ("expired", 2)
    for memory_id in (fresh_context, old_fact, pinned, edited):
        assert _lifecycle(_memory(client, agent, memory_id)) == "active"
    history = client.get(f"/api/v2/agents/{agent.agent_id}/memories/{old_context}/history",
                         headers=agent.headers)
    assert history.status_code == 200 and len(history.json()["versions"]) == 2
    # Expired memories are left alone by the next sweep, which finds nothing more.
    again = client.post(f"{base}/apply", json={"dry_run": None}, headers=ADMIN).json()
    assert (again["matched"], again["already_expired"], again["scanned"]) == (0, 3, 4)


def test_apply_under_an_empty_policy_expires_nothing(client, indexer):
    agent = new_agent(client)
    import_indexed(client, indexer, agent.agent_id, [
        {"content": "An old note", "type": "context", "created_at": _ago(900)}])
    report = client.post(f"{_base(agent.agent_id)}/apply", json={},
                         headers=agent.headers).json()
    assert (report["policy_is_empty"], report["scanned"], report["matched"]) == (True, 1, 0)


@pytest.mark.parametrize("body", [{"dry_run": "maybe"}, {"dry_run": [True]}, [1]])
def test_bad_apply_and_purge_bodies(client, agent, body):
    for route in ("apply", "purge"):
        reply = client.post(f"{_base(agent.agent_id)}/{route}", json=body,
                            headers=agent.headers)
        assert reply.status_code == 422, reply.text


def test_purge_is_off_unless_the_policy_sets_a_window(client, indexer):
    agent = new_agent(client)
    base = _base(agent.agent_id)
    report = client.post(f"{base}/purge", json={"dry_run": True}, headers=agent.headers).json()
    assert (report["enabled"], report["matched"], report["purged"]) == (False, 0, 0)
    assert client.put(base, json={"retention": {"context": "1d"},
                                  "purge_expired_after": "30d"},
                      headers=agent.headers).status_code == 200
    (old,) = import_indexed(client, indexer, agent.agent_id, [
        {"content": "Yesterday's scratch state", "type": "context", "created_at": _ago(40)}])
    assert client.post(f"{base}/apply", headers=agent.headers).json()["expired"] == 1
    # Expired just now: not yet 30 days ago, so nothing is purged.
    report = client.post(f"{base}/purge", headers=agent.headers).json()
    assert (report["enabled"], report["purge_expired_after"], report["matched"],
            report["purged"]) == (True, "30d", 0, 0)
    assert _lifecycle(_memory(client, agent, old)) == "expired"
