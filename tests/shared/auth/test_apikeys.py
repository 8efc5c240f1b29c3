"""Named API keys: created once, stored as digests, usable, listable, revocable."""

from __future__ import annotations

import hashlib
import json
import uuid

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN


def test_named_key_lifecycle(client, r):
    name = f"ci-{uuid.uuid4().hex[:6]}"
    created = client.post("/api/v2/apikeys", json={"name": name, "admin": True},
                          headers=ADMIN)
    assert created.status_code == 201
    key = created.json()["api_key"]
    assert created.json()["admin"] is True
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert json.loads(r.hget(keys.API_KEYS, digest))["name"] == name
    stored = b"".join(v for kv in r.hgetall(keys.API_KEYS).items() for v in kv)
    stored += b"".join(r.hvals(keys.API_KEY_NAMES))
    assert key.encode() not in stored  # only the digest is kept

    named = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v2/agents", headers=named).status_code == 200
    agent_id = f"k-{uuid.uuid4().hex[:6]}"
    assert client.post("/api/v2/agents", json={"agent_id": agent_id},
                       headers=named).status_code == 201

    listing = client.get("/api/v2/apikeys", headers=ADMIN).json()["api_keys"]
    mine = next(k for k in listing if k["name"] == name)
    assert key not in str(listing)
    assert mine["prefix"] == key[:7] and mine["admin"] is True

    # A named admin key manages keys too: admin is a flag, not the name "admin".
    assert client.get("/api/v2/apikeys", headers=named).status_code == 200
    assert client.post("/api/v2/apikeys", json={"name": name, "admin": True},
                       headers=ADMIN).status_code == 409
    assert client.post("/api/v2/apikeys", json={"name": "bad name"},
                       headers=ADMIN).status_code == 422

    assert client.delete(f"/api/v2/apikeys/{name}", headers=ADMIN).status_code == 200
    assert client.get("/api/v2/agents", headers=named).status_code == 401
    assert not r.hexists(keys.API_KEYS, digest)
    assert client.delete(f"/api/v2/apikeys/{name}", headers=ADMIN).status_code == 404
