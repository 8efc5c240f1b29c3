"""A small Python client for the MEMANTO API; the `memanto` command line is built on it.
It needs only httpx (distribution `memanto-redis-client`, `pip install ./clients/python`).

    from memanto_redis_client import Memanto
    memanto = Memanto("http://localhost:8000", api_key="...")
    memanto.create_agent("support-bot")
    agent = memanto.activate("support-bot")
    memory_id = agent.remember("User prefers email", type="preference",
                               tags=["contact"])["memory_id"]
    agent.get(memory_id)
    agent.recall("how to contact the user?")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


class ClientError(Exception):
    """Anything that went wrong talking to the server, in one line."""


class ServerUnreachable(ClientError):
    pass


class ApiError(ClientError):
    def __init__(self, status: int, detail: str, errors: list | None = None) -> None:
        super().__init__(f"{detail} (HTTP {status})")
        self.status = status
        self.detail = detail
        # For invalid input: each field at fault, {field, message, type}.
        self.errors = errors or []


_NOT_JSON = object()


def _detail(body: dict) -> str:
    """An error answer's message, whatever its envelope: a plain `detail` (as MEMANTO
    answers a missing token, a memory not found, ...), MEMANTO's `{"detail": {"error",
    "message", "details"}}` or a limit of its (`{"error": "k_too_large", "message", ...}`),
    or its 422 list of `{loc, msg}`."""
    detail = body.get("detail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    if isinstance(detail, list) and detail:
        return str(body.get("message") or "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
            if isinstance(e, dict) else str(e) for e in detail))
    return str(detail)


def _field_errors(body: dict) -> list | None:
    """The fields at fault as {field, message, type}: the other dialects' `errors`, or
    MEMANTO's 422 list of {loc, msg, type} read so."""
    errors, detail = body.get("errors"), body.get("detail")
    if isinstance(errors, list):
        return errors
    if not isinstance(detail, list):
        return None
    return [{"field": ".".join(str(p) for p in _where(e.get("loc"))),
             "message": str(e.get("msg")), "type": str(e.get("type"))}
            for e in detail if isinstance(e, dict)]


def _where(loc: object) -> list:
    # ["body", "memories", 3, "content"] -> memories.3.content
    parts = list(loc) if isinstance(loc, list) else []
    return parts[1:] if parts[:1] in (["body"], ["query"], ["path"]) else parts


def _pages(fetch: Callable[[str | None], dict], items: str) -> Iterator[dict]:
    """The `items` of every page, following each page's `next_cursor` from the first."""
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page[items]
        cursor = page.get("next_cursor")
        if not cursor:
            return


def _drop_none(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


class Memanto:
    """Management calls, with an API key."""

    def __init__(self, base_url: str = "http://localhost:8000", api_key: str | None = None,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def request(self, method: str, path: str, *, headers: dict | None = None,
                use_key: bool = True, **kwargs: Any) -> Any:
        sent = dict(headers or {})
        if use_key and self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        try:
            reply = self._http.request(method, path, headers=sent, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach the MEMANTO server at {self.base_url} ({exc.__class__.__name__})"
            ) from None
        try:
            body = reply.json() if reply.content else None
        except ValueError:
            body = _NOT_JSON
        if reply.status_code >= 400:
            if isinstance(body, dict) and body.get("detail"):
                raise ApiError(reply.status_code, _detail(body), _field_errors(body))
            raise ApiError(reply.status_code, self._unexpected(path, reply))
        if body is _NOT_JSON:
            raise ClientError(self._unexpected(path, reply))
        return body

    def _unexpected(self, path: str, reply: httpx.Response) -> str:
        # Another kind of server (or a proxy) answered: say so in one line.
        return (f"unexpected answer from {self.base_url}{path} (HTTP {reply.status_code}, "
                "not a MEMANTO answer): is MEMANTO_URL a MEMANTO server?")

    # -- agents ----------------------------------------------------------------------------
    def create_agent(self, agent_id: str, description: str | None = None,
                     pattern: str | None = None) -> dict:
        return self.request("POST", "/api/v2/agents", json=_drop_none(
            {"agent_id": agent_id, "description": description, "pattern": pattern}))

    def list_agents(self) -> list[dict]:
        return self.request("GET", "/api/v2/agents")["agents"]

    def get_agent(self, agent_id: str) -> dict:
        return self.request("GET", f"/api/v2/agents/{agent_id}")

    def delete_agent(self, agent_id: str, delete_memories: bool = True) -> dict:
        """Delete the agent; its memories too unless `delete_memories` is False (the server,
        as MEMANTO, keeps them by default, for an agent created again under that id)."""
        return self.request("DELETE", f"/api/v2/agents/{agent_id}",
                            params={"delete-backup-too": str(delete_memories).lower()})

    def bootstrap(self, agent_id: str) -> dict:
        return self.request("GET", f"/api/v2/agents/{agent_id}/bootstrap")

    # -- Markdown memory trees -------------------------------------------------------------
    def memory_index(self, agent_id: str, cursor: str | None = None,
                     limit: int | None = None) -> dict:
        """A page of the headers of the agent's tree: `{entries: [{slug, path, name, ...}],
        count, total, next_cursor, has_more}` (500 entries unless `limit`, at most 2000)."""
        return self.request("GET", f"/api/v2/agents/{agent_id}/memory-index",
                            params=_drop_none({"cursor": cursor, "limit": limit}))

    def iter_memory_index(self, agent_id: str, limit: int | None = None) -> Iterator[dict]:
        """Every entry of the agent's memory index, in the tree's order."""
        return _pages(lambda cursor: self.memory_index(agent_id, cursor, limit), "entries")

    def export_page(self, agent_id: str, cursor: str | None = None, limit: int = 100) -> dict:
        """A page of active memories with what a restore needs (`total` on the first)."""
        return self.request("GET", f"/api/v2/agents/{agent_id}/memory-export",
                            params=_drop_none({"cursor": cursor, "limit": limit}))

    def import_memories(self, agent_id: str, memories: list[dict]) -> dict:
        """Queue 1..100 memories, keeping any `memory_id` and times given (409 if held)."""
        return self.request("POST", f"/api/v2/agents/{agent_id}/import",
                            json={"memories": memories})

    def activate(self, agent_id: str, duration_hours: float | None = None) -> AgentHandle:
        session = self.request("POST", f"/api/v2/agents/{agent_id}/activate",
                               json=_drop_none({"duration_hours": duration_hours}))
        return AgentHandle(self, agent_id, session["session_token"], session)

    def agent(self, agent_id: str, session_token: str,
              on_renew: Callable[[dict], None] | None = None) -> AgentHandle:
        """A handle on an agent whose session token you hold. With an API key, a session
        that expired is renewed transparently (and `on_renew` told of the new one)."""
        return AgentHandle(self, agent_id, session_token, on_renew=on_renew)

    def deactivate(self, agent_id: str) -> dict:
        return self.request("POST", f"/api/v2/agents/{agent_id}/deactivate")

    # -- API keys --------------------------------------------------------------------------
    def create_api_key(self, name: str, **scope: object) -> dict:
        """A named key: admin=True, or a tenant key with agents (patterns), users and the
        read_only, may_activate and may_manage_agents flags."""
        return self.request("POST", "/api/v2/apikeys", json={"name": name, **scope})

    def list_api_keys(self) -> list[dict]:
        return self.request("GET", "/api/v2/apikeys")["api_keys"]

    def revoke_api_key(self, name: str) -> dict:
        return self.request("DELETE", f"/api/v2/apikeys/{name}")


class AgentHandle:
    """An agent's memory, through its session token."""

    def __init__(self, client: Memanto, agent_id: str, session_token: str,
                 session: dict | None = None,
                 on_renew: Callable[[dict], None] | None = None) -> None:
        self.client = client
        self.agent_id = agent_id
        self.session_token = session_token
        self.session = session or {}
        self.on_renew = on_renew

    def call(self, method: str, tail: str, **kwargs: Any) -> Any:
        """A request with the session token: `tail` relative to the agent's v2 path, or an
        absolute path. A 401 renews the session once when the client has an API key."""
        path = tail if tail.startswith("/") else f"/api/v2/agents/{self.agent_id}/{tail}"
        return self._renewing(lambda: self._send(method, path, **kwargs))

    def _renewing(self, send: Callable[[], Any]) -> Any:
        """`send()`, and after a 401 once more with a new session if there is an API key."""
        try:
            return send()
        except ApiError as exc:
            if exc.status != 401 or not self.client.api_key:
                raise
        self.renew()
        return send()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, use_key=False,
                                   headers={"X-Session-Token": self.session_token}, **kwargs)

    def renew(self) -> dict:
        """Start a new session for this agent (needs the client's API key)."""
        session = self.client.request("POST", f"/api/v2/agents/{self.agent_id}/activate",
                                      json={})
        self.session_token, self.session = session["session_token"], session
        if self.on_renew:
            self.on_renew(session)
        return session

    # -- writing ---------------------------------------------------------------------------
    def remember(self, content: str, **fields: Any) -> dict:
        return self.call("POST", "remember", json=_drop_none({"content": content, **fields}))

    def batch_remember(self, memories: list[dict]) -> dict:
        return self.call("POST", "batch-remember", json={"memories": memories})

    def edit(self, memory_id: str, **changes: Any) -> dict:
        return self.call("PATCH", f"memories/{memory_id}", json=_drop_none(changes))

    def forget(self, memory_id: str) -> dict:
        return self.call("DELETE", f"memories/{memory_id}")

    def expire(self, memory_id: str, reason: str | None = None) -> dict:
        """Retire a memory (kept, recalled as expired); `reason` becomes its expired_by."""
        return self.call("POST", f"memories/{memory_id}/expire",
                         json=_drop_none({"reason": reason}))

    def restore(self, memory_id: str) -> dict:
        return self.call("POST", f"memories/{memory_id}/restore")

    def upload_file(self, path: str | Path) -> dict:
        """A file's text as memories, one per chunk (.txt .md .csv .json .pdf .docx .xlsx).
        httpx streams the file; it is opened anew if the session must be renewed."""
        file_path = Path(path)

        def send() -> Any:
            with file_path.open("rb") as handle:
                return self._send("POST", f"/api/v2/agents/{self.agent_id}/upload-file",
                                  files={"file": (file_path.name, handle)})

        return self._renewing(send)

    # -- reading ---------------------------------------------------------------------------
    def get(self, memory_id: str) -> dict:
        return self.call("GET", f"memories/{memory_id}")

    def history(self, memory_id: str, cursor: str | None = None,
                limit: int | None = None) -> dict:
        """A page of the memory's versions, oldest first (100 unless `limit`, at most
        1000); pass its `next_cursor` back for the next page."""
        return self.call("GET", f"memories/{memory_id}/history",
                         params=_drop_none({"cursor": cursor, "limit": limit}))

    def iter_history(self, memory_id: str, limit: int | None = None) -> Iterator[dict]:
        """Every version of the memory, oldest first, following the cursor."""
        return _pages(lambda cursor: self.history(memory_id, cursor, limit), "versions")

    def recall(self, query: str, **filters: Any) -> dict:
        return self.call("POST", "recall", json=_drop_none({"query": query, **filters}))

    def as_of(self, as_of: str | float, query: str | None = None, **filters: Any) -> dict:
        return self.call("POST", "recall/as-of",
                          json=_drop_none({"as_of": as_of, "query": query, **filters}))

    def changed_since(self, since: str | float, query: str | None = None,
                      **filters: Any) -> dict:
        return self.call("POST", "recall/changed-since",
                          json=_drop_none({"since": since, "query": query, **filters}))

    def recent(self, **filters: Any) -> dict:
        return self.call("POST", "recall/recent", json=_drop_none(filters))

    def all(self, cursor: str | None = None, **filters: Any) -> dict:
        return self.call("POST", "recall/all", json=_drop_none({"cursor": cursor, **filters}))

    def iter_all(self, **filters: Any) -> Iterator[dict]:
        """Every memory, newest first, following the cursor."""
        return _pages(lambda cursor: self.all(cursor=cursor, **filters), "memories")

    def bootstrap(self) -> dict:
        return self.call("GET", "bootstrap")

    def memory_index(self, cursor: str | None = None, limit: int | None = None) -> dict:
        """A page of the headers of this agent's Markdown tree, to load at session start
        (`next_cursor` asks for the next)."""
        return self.call("GET", "memory-index",
                         params=_drop_none({"cursor": cursor, "limit": limit}))

    # -- short-term memory, the swarm, the inbox, schedules (seed 003) -----------------------
    def _seed(self, tail: str) -> str:
        return f"/api/agents/{self.agent_id}/{tail}"

    def stm_append(self, role: str, content: str, session: str | None = None) -> dict:
        """Add a message to a short-term memory session (the current one by default)."""
        return self.call("POST", self._seed("memory/stm"), json=_drop_none(
            {"role": role, "content": content, "session": session}))

    def stm_read(self, limit: int | None = None, session: str | None = None) -> dict:
        """A session's newest entries, oldest first."""
        return self.call("GET", self._seed("memory/stm"),
                         params=_drop_none({"limit": limit, "session": session}))

    def current_context(self, limit: int | None = None, session: str | None = None) -> dict:
        """`{content}`: the session as current.md."""
        return self.call("GET", self._seed("memory/current"),
                         params=_drop_none({"limit": limit, "session": session}))

    def swarm_post(self, content: str, ttl_seconds: int | None = None,
                   source_agent: str | None = None) -> dict:
        """Share a fact with every agent, for `ttl_seconds`."""
        return self.call("POST", "/api/swarm/facts", json=_drop_none(
            {"content": content, "ttl_seconds": ttl_seconds, "source_agent": source_agent}))

    def swarm_search(self, query: str, **options: Any) -> dict:
        return self.call("POST", "/api/swarm/search",
                         json=_drop_none({"query": query, **options}))

    def inbox(self, after: str | None = None, wait: float | None = None,
              limit: int | None = None) -> dict:
        """Prompts delivered by schedules; pass the `last_id` you got back as `after`."""
        return self.call("GET", self._seed("inbox"),
                         params=_drop_none({"after": after, "wait": wait, "limit": limit}))

    def schedule_create(self, name: str, cron: str, prompt: str, timezone: str | None = None,
                        webhook_url: str | None = None) -> dict:
        return self.call("POST", self._seed("schedules"), json=_drop_none(
            {"name": name, "cron": cron, "prompt": prompt, "timezone": timezone,
             "webhook_url": webhook_url}))

    def schedules(self) -> dict:
        return self.call("GET", self._seed("schedules"))

    def schedule_delete(self, name: str) -> dict:
        return self.call("DELETE", self._seed(f"schedules/{name}"))

    # -- the session -----------------------------------------------------------------------
    def session_info(self) -> dict:
        return self.call("GET", "/api/v2/session/info")

    def extend(self, hours: float) -> dict:
        return self.call("POST", "/api/v2/session/extend", params={"extend_hours": hours})

    def deactivate(self) -> dict:
        return self._send("POST", f"/api/v2/agents/{self.agent_id}/deactivate")
