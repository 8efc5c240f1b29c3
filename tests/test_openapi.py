"""The OpenAPI document the app serves, checked against the live app: every route is in it,
every operation in it answers when called with its credentials, and it is valid OpenAPI 3.1."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.routing import Route

from memanto_redis.api.openapi import REF
from memanto_redis.api.v2.models import MemoryIn
from memanto_redis.shared.memory.imports import ImportIn
from tests.conftest import ADMIN, new_agent
from tests.support import ADMIN_KEY

# Answers that prove the route was never reached (Starlette's own, not a handler's).
ROUTER_MISSES = {(404, "Not Found"), (405, "Method Not Allowed")}
V2 = "/api/v2/agents/{agent_id}"


@pytest.fixture(scope="module")
def spec(client) -> dict[str, Any]:
    reply = client.get("/openapi.json")
    assert reply.status_code == 200, reply.text
    return reply.json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items()
            for method, op in ops.items()]


def test_served_without_credentials_and_valid_openapi_31(client, spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # Nothing loaded from elsewhere: no scripts, no remote styles or fonts.
    assert "<script" not in page.text and "//" not in page.text.replace("<!doctype", "")


def test_every_route_of_the_app_is_documented(client, spec):
    routes = {(method, route.path): sorted(route.param_convertors)
              for route in client.app.routes if isinstance(route, Route)
              for method in route.methods - {"HEAD"}}
    documented = {(method, path): sorted(p["name"] for p in op["parameters"]
                                         if p["in"] == "path")
                  for method, path, op in _operations(spec)}
    assert documented == routes


def test_auth_schemes_and_the_error_shape(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"] == schemes["apiKey"] | {"type": "http", "scheme": "bearer"}
    assert schemes["sessionToken"] == schemes["sessionToken"] | {
        "type": "apiKey", "in": "header", "name": "X-Session-Token"}
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "errors"}
    assert set(spec["components"]["schemas"]["FieldError"]["required"]) == {
        "field", "message", "type"}
    for method, path, op in _operations(spec):
        if path in ("/", "/openapi.json", "/docs", "/health", "/live", "/ready", "/metrics"):
            assert op["security"] == []
            continue
        assert op["security"], (method, path)
        kind = "V2Error" if path.startswith("/api/v2/") else "Error"
        for code, answer in op["responses"].items():
            if code.startswith("4"):
                assert answer == {"$ref": f"#/components/responses/{kind}{code}"}
        assert "401" in op["responses"]


def _error_schema(spec: dict[str, Any], method: str, path: str, code: int) -> Any:
    """A validator of the answer documented for `code` (its refs resolved in `spec`)."""
    ref = spec["paths"][path][method]["responses"][str(code)]["$ref"].rsplit("/", 1)[-1]
    schema = spec["components"]["responses"][ref]["content"]["application/json"]["schema"]
    return Draft202012Validator(schema | {"components": spec["components"]})


def test_error_answers_are_as_documented(client, spec, agent):
    """/api/v2 answers MEMANTO's envelope, its limits, its bare messages and FastAPI's 422
    list; the other dialects their Error; each as the document says, with every status it
    lists there."""
    remember, recall = f"{V2}/remember", f"{V2}/recall"
    h = {"X-Session-Token": agent.token}
    a = agent.agent_id
    cases = [
        ("post", remember, 422, client.post(f"/api/v2/agents/{a}/remember", headers=h,
                                            json={"content": ""})),
        ("post", remember, 422, client.post(f"/api/v2/agents/{a}/remember", headers=h,
                                            content=b"{not json")),
        ("post", recall, 400, client.post(f"/api/v2/agents/{a}/recall", headers=h,
                                          json={"query": "q", "limit": 101})),
        ("post", recall, 413, client.post(f"/api/v2/agents/{a}/recall", headers=h,
                                          json={"query": "q" * 1001})),
        ("post", recall, 401, client.post(f"/api/v2/agents/{a}/recall",
                                          json={"query": "q"})),
        ("get", f"{V2}/memories/{{memory_id}}", 404,
         client.get(f"/api/v2/agents/{a}/memories/nope", headers=h)),
        ("post", "/api/v2/agents", 409, client.post("/api/v2/agents", headers=ADMIN,
                                                    json={"agent_id": a})),
        ("post", "/api/agents/{name}/memory/ltm", 422,
         client.post(f"/api/agents/{a}/memory/ltm", headers=ADMIN, json={"content": ""})),
        ("get", "/api/agents/{name}/memory/ltm/{id}", 404,
         client.get(f"/api/agents/{a}/memory/ltm/nope", headers=ADMIN)),
    ]
    for method, path, code, reply in cases:
        assert reply.status_code == code, (path, reply.text)
        errors = [e.message for e in _error_schema(spec, method, path, code)
                  .iter_errors(reply.json())]
        assert errors == [], (path, code, reply.json())
    limit = cases[2][3].json()["detail"]
    assert limit == {"error": "k_too_large", "message": "k exceeds maximum of 100",
                     "actual_k": 101, "max_k": 100}
    # MEMANTO's bare messages: no token, a memory not found.
    assert all(isinstance(cases[i][3].json()["detail"], str) for i in (4, 5))
    # The schemas tell the shapes apart: an envelope is no Error, and the reverse.
    assert not _error_schema(spec, "get", "/api/agents/{name}/memory/ltm/{id}", 404) \
        .is_valid(cases[6][3].json())
    assert not _error_schema(spec, "post", recall, 400).is_valid(cases[7][3].json())


def test_bodies_are_the_request_models(spec):
    """A body is the schema of the model its handler parses, its $defs among the
    components."""
    schemas = spec["components"]["schemas"]
    ops = spec["paths"]
    remember = remember_op(spec)["requestBody"]
    assert remember["content"]["application/json"]["schema"] == {
        "$ref": REF.format(model="MemoryIn")}
    assert schemas["MemoryIn"] == MemoryIn.model_json_schema(ref_template=REF)
    restore = ImportIn.model_json_schema(ref_template=REF)
    assert schemas["ImportItem"] == restore.pop("$defs")["ImportItem"]
    assert schemas["ImportIn"] == restore
    stm = ops["/api/agents/{name}/memory/stm"]["post"]["requestBody"]["content"]
    assert len(stm["application/json"]["schema"]["oneOf"]) == 2
    listing = {p["name"]: p for p in ops["/memories"]["get"]["parameters"]}
    assert {"user_id", "topics", "limit", "page", "sort_by"} <= set(listing)
    assert listing["limit"]["schema"]["maximum"] == 100
    assert listing["topics"]["schema"]["type"] == "array"
    inbox = {p["name"] for p in ops["/api/agents/{name}/inbox"]["get"]["parameters"]}
    assert inbox == {"name", "after", "wait", "limit"}
    headers = [p["name"] for p in remember_op(spec)["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]


def remember_op(spec: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = spec["paths"]["/api/v2/agents/{agent_id}/remember"]["post"]
    return op


@pytest.fixture
def things(client, indexer) -> dict[str, str]:
    """One of each thing a path names, so that every documented path leads somewhere."""
    agent = new_agent(client, "openapi")
    a = agent.agent_id
    memory = client.post(f"/api/v2/agents/{a}/remember", headers=agent.headers,
                         json={"content": "The OpenAPI test's memory"}).json()["memory_id"]
    ltm = client.post(f"/api/agents/{a}/memory/ltm", headers=ADMIN,
                      json={"content": "a long-term memory"}).json()["id"]
    user_memory = client.post("/memories", headers=ADMIN,
                              json={"memory": "likes tea", "user_id": "u-openapi"}).json()
    schedule = client.post(f"/api/agents/{a}/schedules", headers=ADMIN, json={
        "name": "daily", "cron": "0 9 * * *", "prompt": "good morning"})
    assert schedule.status_code == 201, schedule.text
    key = f"openapi-{uuid.uuid4().hex[:8]}"
    # an admin key: a tenant key needs agents or users (scoped keys)
    assert client.post("/api/v2/apikeys", headers=ADMIN,
                       json={"name": key, "admin": True}).status_code == 201
    indexer.run(burst=True)
    return {"agent": a, "token": agent.token, "memory_id": memory, "id": ltm,
            "agno_memory_id": user_memory["memory_id"], "schedule": "daily", "key": key}


def _path(path: str, things: dict[str, str]) -> str:
    values = {"agent_id": things["agent"], "memory_id": things["memory_id"],
              "id": things["id"], "schedule": things["schedule"], "user_id": "u-openapi"}
    if path.startswith("/api/v2/apikeys/"):
        values["name"] = things["key"]
    else:
        values["name"] = things["agent"]
    if path.startswith("/memories/"):
        values["memory_id"] = things["agno_memory_id"]
    return path.format(**values)


def _order(op: tuple[str, str, dict[str, Any]]) -> tuple[bool, bool]:
    # What replaces or ends the session, or the agent, goes last, after every other delete
    # (a purge erases as a delete does: the agent's purge ends its sessions).
    method, path, _ = op
    return path.endswith(("/activate", "/deactivate")) or path == "/api/v2/agents/{agent_id}", \
        _ends(method, path)


def _ends(method: str, path: str) -> bool:
    return method == "DELETE" or path.endswith("/purge")


def test_every_documented_operation_answers_with_its_credentials(client, spec, things):
    headers = {"apiKey": ADMIN, "xApiKey": {"X-Api-Key": ADMIN_KEY},
               "sessionToken": {"X-Session-Token": things["token"]}}
    wrong = []
    for method, path, op in sorted(_operations(spec), key=_order):
        schemes = [name for requirement in op["security"] for name in requirement] or [None]
        # What ends something is called once, with the first credentials it takes.
        if _ends(method, path) or path.endswith("/deactivate"):
            schemes = schemes[:1]
        for scheme in schemes:
            reply = client.request(method, _path(path, things), content=b"{}",
                                   headers={"Content-Type": "application/json"}
                                   | headers.get(scheme or "", {}))
            detail = reply.json().get("detail") if reply.status_code >= 400 else None
            # v2's detail may be MEMANTO's envelope or a 422 list; a router miss is a string
            miss = isinstance(detail, str) and (reply.status_code, detail) in ROUTER_MISSES
            if miss or reply.status_code in (401, 403) \
                    or reply.status_code >= 500 or str(reply.status_code) not in op["responses"]:
                wrong.append((method, path, scheme, reply.status_code, reply.text[:200]))
            if path.endswith("/activate") and reply.status_code == 200:
                headers["sessionToken"] = {"X-Session-Token": reply.json()["session_token"]}
    assert wrong == [], "\n".join(map(str, wrong))


def test_docs_page_lists_every_operation(client, spec):
    page = client.get("/docs").text
    for method, path, _ in _operations(spec):
        assert f"<td>{method}</td><td>{path}</td>" in page
