"""MEMANTO v2's memory policy: the agent's policy, the presets, and sweeps on demand (the
scheduler runs the apply sweep nightly too). The agent's session token or an API key."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import agent_access, services
from memanto_redis.api.body import parse
from memanto_redis.api.v2.errors import Plain
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory import policy_presets
from memanto_redis.shared.memory.policy import MemoryPolicy
from memanto_redis.shared.memory.policy_presets import UnknownPreset
from memanto_redis.shared.memory.policy_sweep import (
    PolicyStore,
    PolicySweeper,
    Report,
    expired_at,
)


class PolicyPresetRequest(BaseModel):
    """MEMANTO's body for adopting a preset."""

    name: str = Field(description="Preset name, e.g. 'balanced'")


class PolicyApplyRequest(BaseModel):
    """MEMANTO's body for a sweep or a purge (none at all: not a dry run)."""

    dry_run: bool = Field(False, description="Report what would change without writing "
                                             "anything")

    @field_validator("dry_run", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value


def _sweeper(request: Request) -> PolicySweeper:
    svc = services(request)
    return PolicySweeper(svc.memories, svc.editor, PolicyStore(svc.redis))


async def _agent(request: Request) -> str:
    agent_id: str = request.path_params["agent_id"]
    # MEMANTO serves its policy routes to sessions: a request with no credential at all is
    # told to send the token (an API key is served too).
    await agent_access(request, agent_id, session_route=True)
    return agent_id


async def get_policy(request: Request) -> JSONResponse:
    agent_id = await _agent(request)
    policy = await PolicyStore(services(request).redis).get(agent_id)
    return JSONResponse({"agent_id": agent_id, "policy": policy.shown(),
                         "is_empty": policy.is_empty()})


async def set_policy(request: Request) -> JSONResponse:
    agent_id = await _agent(request)
    svc = services(request)
    policy = await parse(request, MemoryPolicy, svc.settings.max_body_bytes)
    path = await PolicyStore(svc.redis).put(agent_id, policy)
    return JSONResponse({"agent_id": agent_id, "policy": policy.shown(), "path": path})


async def list_presets(request: Request) -> JSONResponse:
    await _agent(request)
    return JSONResponse({"presets": policy_presets.summaries()})


async def get_preset(request: Request) -> JSONResponse:
    await _agent(request)
    name = request.path_params["name"]
    policy = policy_presets.preset(name)
    return JSONResponse({"name": name, "description": policy_presets.describe(name),
                         "policy": policy.shown()})


async def adopt_preset(request: Request) -> JSONResponse:
    agent_id = await _agent(request)
    svc = services(request)
    body = await parse(request, PolicyPresetRequest, svc.settings.max_body_bytes)
    try:
        policy = policy_presets.preset(body.name)
    except UnknownPreset as exc:
        # The request is wrong (400, as MEMANTO), where reading the preset is a 404.
        raise Plain(400, exc.message) from None
    await PolicyStore(svc.redis).put(agent_id, policy)
    return JSONResponse({"agent_id": agent_id, "preset": body.name, "policy": policy.shown()})


async def apply_policy(request: Request) -> JSONResponse:
    agent_id = await _agent(request)
    svc = services(request)
    body = await parse(request, PolicyApplyRequest, svc.settings.max_body_bytes, optional=True)
    sweeper = _sweeper(request)
    policy = await sweeper.policies.get(agent_id)
    report = await sweeper.apply(agent_id, time.time(), body.dry_run, policy)
    return JSONResponse({
        "agent_id": agent_id, "dry_run": report.dry_run, "policy_is_empty": policy.is_empty(),
        "scanned": report.scanned, "already_expired": report.already_expired,
        "matched": report.matched, "expired": report.done, "per_rule": report.per_rule,
        "memories": [{"id": m.memory_id, "title": m.title, "type": m.type,
                      "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
                      "expired_by": reason} for m, reason in report.memories],
        "errors": report.errors, "evaluated_at": iso(report.evaluated_at),
    })


async def purge_expired(request: Request) -> JSONResponse:
    agent_id = await _agent(request)
    svc = services(request)
    body = await parse(request, PolicyApplyRequest, svc.settings.max_body_bytes, optional=True)
    now = time.time()
    sweeper = _sweeper(request)
    policy = await sweeper.policies.get(agent_id)
    report = await sweeper.purge(agent_id, now, body.dry_run, policy)
    if report is None:  # the policy purges nothing
        return JSONResponse({"agent_id": agent_id, "dry_run": body.dry_run, "enabled": False,
                             "matched": 0, "purged": 0, "memories": [], "errors": [],
                             "evaluated_at": iso(now)})
    return JSONResponse(_purged(report, policy))


def _purged(report: Report, policy: MemoryPolicy) -> dict[str, Any]:
    return {
        "agent_id": report.agent_id, "dry_run": report.dry_run, "enabled": True,
        "purge_expired_after": policy.purge_expired_after, "matched": report.matched,
        "purged": report.done,
        "memories": [{"id": m.memory_id, "title": m.title, "expired_at": iso(expired_at(m)),
                      "expired_by": reason or None} for m, reason in report.memories],
        "errors": report.errors, "evaluated_at": iso(report.evaluated_at),
    }


POLICY = "/api/v2/agents/{agent_id}/policy"

routes = [
    Route(POLICY, get_policy, methods=["GET"]),
    Route(POLICY, set_policy, methods=["PUT"]),
    Route(POLICY + "/presets", list_presets, methods=["GET"]),
    Route(POLICY + "/presets/{name}", get_preset, methods=["GET"]),
    Route(POLICY + "/preset", adopt_preset, methods=["POST"]),
    Route(POLICY + "/apply", apply_policy, methods=["POST"]),
    Route(POLICY + "/purge", purge_expired, methods=["POST"]),
]
