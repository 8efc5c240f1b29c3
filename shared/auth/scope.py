"""Who may do what: the scope an API key carries, and the principal every core check asks.

A key is either `admin` (everything, key management included) or a tenant key bound to
agent-id patterns and user spaces, with three flags. A session token is a principal too:
its own agent, nothing else. Every refusal for being out of scope is the same 403 whether
or not the thing exists, so a key never learns what lies outside its scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from memanto_redis.shared.errors import Forbidden, InvalidInput
from memanto_redis.shared.memory.rules import USER_ID_RE

# An agent-id pattern: agent-id characters with `*` (any run) and `?` (one character)
# wildcards; `[...]` classes are not taken, so a pattern reads the same everywhere.
AGENT_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.*?-]{1,64}$")
MAX_PATTERNS = 100

OUT_OF_SCOPE = "this API key's scope does not cover {what}"


def _checked(values: Iterable[str], pattern: re.Pattern[str], field: str) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(found) > MAX_PATTERNS:
        raise InvalidInput(f"{field}: at most {MAX_PATTERNS} entries",
                           [{"field": field, "message": "too many", "type": "value_error"}])
    bad = [v for v in found if not pattern.match(v)]
    if bad:
        raise InvalidInput(
            f"{field}: {bad[0]!r} is not valid" + (
                " (agent-id characters with * and ? wildcards, e.g. 'support-*')"
                if field == "agents" else " (a user id)"),
            [{"field": field, "message": f"{bad[0]!r} is not valid", "type": "value_error"}])
    return found


@dataclass(frozen=True, slots=True)
class Scope:
    """What a key may reach. `agents` are fnmatch-style patterns, `users` exact user ids
    (the `/memories` dialect's user spaces)."""

    admin: bool = False
    agents: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    read_only: bool = False
    may_activate: bool = False
    may_manage_agents: bool = False

    @classmethod
    def tenant(cls, agents: Iterable[str] = (), users: Iterable[str] = (), *,
               read_only: bool = False, may_activate: bool = False,
               may_manage_agents: bool = False) -> Scope:
        """A tenant scope, its patterns and user ids validated (InvalidInput names them)."""
        return cls(False, _checked(agents, AGENT_PATTERN_RE, "agents"),
                   _checked(users, USER_ID_RE, "users"), read_only, may_activate,
                   may_manage_agents)

    def to_dict(self) -> dict[str, Any]:
        return {"admin": self.admin, "agents": list(self.agents), "users": list(self.users),
                "read_only": self.read_only, "may_activate": self.may_activate,
                "may_manage_agents": self.may_manage_agents}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scope:
        return cls(bool(raw.get("admin")), tuple(raw.get("agents", ())),
                   tuple(raw.get("users", ())), bool(raw.get("read_only")),
                   bool(raw.get("may_activate")), bool(raw.get("may_manage_agents")))


ADMIN_SCOPE = Scope(admin=True)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a key (`name`, its scope) or an agent's session (`agent`)."""

    name: str
    scope: Scope
    agent: str | None = None  # set for a session token: the one agent it may act as

    @classmethod
    def session(cls, agent_id: str) -> Principal:
        return cls(agent_id, Scope(agents=(agent_id,)), agent=agent_id)

    @property
    def admin(self) -> bool:
        return self.scope.admin and self.agent is None

    @property
    def who(self) -> str:
        """Who, for scoping what a caller leaves behind (idempotency keys)."""
        return f"agent.{self.agent}" if self.agent else f"key.{self.name}"

    def covers_agent(self, agent_id: str) -> bool:
        if self.admin:
            return True
        if self.agent is not None:
            return agent_id == self.agent
        return any(fnmatchcase(agent_id, p) for p in self.scope.agents)

    def covers_user(self, user_id: str) -> bool:
        return self.admin or user_id in self.scope.users

    # -- the checks the core makes ---------------------------------------------------------

    def check_write(self) -> None:
        if self.scope.read_only and not self.admin:
            raise Forbidden("this API key is read-only")

    def check_agent(self, agent_id: str, *, write: bool) -> None:
        """May act on this agent (its memories, sessions' data, schedules, inbox)."""
        if self.agent is not None and agent_id != self.agent:
            raise Forbidden(f"this session belongs to agent {self.agent!r}, not {agent_id!r}")
        if not self.covers_agent(agent_id):
            raise Forbidden(OUT_OF_SCOPE.format(what=f"agent {agent_id!r}"))
        if write:
            self.check_write()

    def check_user(self, user_id: str | None, *, write: bool) -> None:
        """May act on this user's space. A tenant key must name the user: without one a
        call would reach every user's memories."""
        if self.admin:
            return
        if self.agent is not None:
            raise Forbidden("user memories take an API key, not a session token")
        if user_id is None:
            raise InvalidInput("user_id is required with a tenant API key",
                               [{"field": "user_id", "message": "required with a tenant "
                                 "API key", "type": "missing"}])
        if not self.covers_user(user_id):
            raise Forbidden(OUT_OF_SCOPE.format(what=f"user {user_id!r}"))
        if write:
            self.check_write()

    def check_admin(self, what: str) -> None:
        if not self.admin:
            raise Forbidden(f"{what} takes an admin API key")

    def check_activate(self, agent_id: str) -> None:
        """Activating (or ending) an agent's session hands over (or revokes) its token."""
        if self.agent is not None:
            raise Forbidden("activating an agent takes an API key, not a session token")
        self.check_agent(agent_id, write=True)
        if not (self.admin or self.scope.may_activate):
            raise Forbidden("this API key may not activate or deactivate agents "
                            "(create it with may_activate)")

    def check_manage_agents(self, agent_id: str | None = None) -> None:
        """Creating and deleting agents (listing is filtered instead)."""
        if self.agent is not None:
            raise Forbidden("managing agents takes an API key, not a session token")
        if agent_id is not None:
            self.check_agent(agent_id, write=True)
        self.check_write()
        if not (self.admin or self.scope.may_manage_agents):
            raise Forbidden("this API key may not create or delete agents "
                            "(create it with may_manage_agents)")

    def key_agent_filter(self) -> tuple[str, ...] | None:
        """The agent patterns a tenant key's listings keep to; None for an admin key or a
        session (which sees what is shared with every agent, as the swarm)."""
        if self.admin or self.agent is not None:
            return None
        return self.scope.agents
