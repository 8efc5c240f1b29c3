"""The access checks the dialects share, made in the core: scope first, existence after,
so a caller out of scope gets the same 403 whether or not the thing exists."""

from __future__ import annotations

from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.auth.scope import Principal


async def agent(principal: Principal, agents: AgentStore, agent_id: str, *,
                write: bool) -> None:
    """May `principal` act on this agent (and, for a key, does it exist)? A session's own
    agent exists while its session lives, which the request's work checks."""
    principal.check_agent(agent_id, write=write)
    if principal.agent is None:
        await agents.require(agent_id)


async def activate(principal: Principal, agents: AgentStore, agent_id: str) -> None:
    principal.check_activate(agent_id)
    await agents.require(agent_id)
