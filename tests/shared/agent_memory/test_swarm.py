"""SwarmStore.source_for: whose name a new swarm fact may carry, decided by the caller's
principal (its scope's admin flag and agent patterns), never by a key's name."""

from __future__ import annotations

import pytest

from memanto_redis.shared.agent_memory.swarm import SwarmStore
from memanto_redis.shared.auth.scope import Principal, Scope
from memanto_redis.shared.errors import Forbidden

source_for = SwarmStore.source_for


def test_an_admin_flagged_key_names_any_agent_whatever_its_name():
    ops = Principal("ops", Scope(admin=True))
    assert source_for(None, ops) == "ops"
    assert source_for("monitor", ops) == "monitor"
    assert source_for("billing-1", ops) == "billing-1"


def test_a_key_named_admin_without_the_flag_is_a_tenant():
    fake = Principal("admin", Scope.tenant(agents=["support-*"]))
    with pytest.raises(Forbidden, match="outside this API key's scope"):
        source_for("monitor", fake)
    with pytest.raises(Forbidden):
        source_for(None, fake)  # its own name is not an agent it covers


def test_a_tenant_key_names_agents_within_its_scope_only():
    ci = Principal("ci", Scope.tenant(agents=["support-*", "ci"]))
    assert source_for("support-7", ci) == "support-7"
    assert source_for(None, ci) == "ci"  # its own name, which its scope covers
    with pytest.raises(Forbidden, match="'billing-1' is outside"):
        source_for("billing-1", ci)
    read_only = Principal("ro", Scope.tenant(agents=["support-*"], read_only=True))
    with pytest.raises(Forbidden, match="read-only"):
        source_for("support-7", read_only)


def test_a_session_names_only_its_own_agent():
    session = Principal.session("support-7")
    assert source_for(None, session) == "support-7"
    assert source_for("support-7", session) == "support-7"
    with pytest.raises(Forbidden, match="this session's agent 'support-7'"):
        source_for("support-8", session)
