"""The `memanto` command line, driven as a user drives it: each verb runs with its saved
state in a throwaway MEMANTO_HOME and talks to the session's live stack (a real web process
and a real ingest worker). Verbs run in this process (`memanto_redis.cli.main.main`); a few
tests run the installed `memanto` command instead, proving the entry point and its exit
status. Outputs are checked against seed 000's formats."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import (
    ADMIN_KEY,
    free_port,
    memanto_in_process,
    memanto_process,
    wait_until,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


# -- the server: the session's live stack -----------------------------------------------------

@pytest.fixture(scope="module")
def server(live) -> str:
    return live.url


# -- running the command line -----------------------------------------------------------------

Runner = Callable[[Sequence[str], Mapping[str, str]], subprocess.CompletedProcess]


@dataclass
class Run:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def __str__(self) -> str:
        return (f"memanto {' '.join(self.argv)} -> exit {self.code}\n"
                f"--- stdout\n{self.out}--- stderr\n{self.err}")


class Cli:
    """`memanto ...` with MEMANTO_HOME, MEMANTO_URL and MEMANTO_API_KEY of this test, run by
    `runner` (in this process, or the installed command as a process of its own)."""

    def __init__(self, home: Path, url: str, api_key: str | None, runner: Runner) -> None:
        self.home = home
        self.runner = runner
        self.env = {"MEMANTO_HOME": str(home), "MEMANTO_URL": url}
        if api_key:
            self.env["MEMANTO_API_KEY"] = api_key

    @property
    def config_path(self) -> Path:
        return self.home / "config.json"

    def config(self) -> dict:
        return json.loads(self.config_path.read_text())

    def run(self, *argv: str, env: dict[str, str] | None = None) -> Run:
        proc = self.runner(argv, self.env | (env or {}))
        result = Run(argv, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in result.err, str(result)
        return result

    def ok(self, *argv: str, env: dict[str, str] | None = None) -> Run:
        result = self.run(*argv, env=env)
        assert result.code == 0, str(result)
        return result

    def fails(self, *argv: str, env: dict[str, str] | None = None) -> str:
        """Exit 1 with exactly one line on stderr, starting 'Error:'; returns that line."""
        result = self.run(*argv, env=env)
        assert result.code == 1, str(result)
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), str(result)
        return lines[0]

    # -- a few steps many tests take --------------------------------------------------------

    def new_agent(self, prefix: str = "agent", activate: bool = True) -> str:
        name = f"cli-{prefix}-{uuid.uuid4().hex[:8]}"
        self.ok("agent", "create", name)
        if activate:
            self.ok("agent", "activate", name)
        return name

    def remember(self, text: str, *options: str) -> str:
        out = self.ok("remember", text, *options).out
        found = re.search(rf"^Memory ID: ({UUID})$", out, re.M)
        assert found, out
        return found.group(1)

    def show(self, memory_id: str) -> dict:
        return self.ok("memory", "show", memory_id, "--json").json()

    def wait_indexed(self, memory_id: str, content: str | None = None) -> dict:
        """Poll `memory show --json` until the worker has indexed it (with this content)."""
        def indexed() -> dict | None:
            memory = self.show(memory_id)
            done = memory["status"] == "indexed" and content in (None, memory["content"])
            return memory if done else None

        return wait_until(indexed, 30, 0.1, what=f"memory {memory_id} indexed")


@pytest.fixture
def in_process(capsys) -> Runner:
    return lambda argv, env: memanto_in_process(capsys, argv, env)


@pytest.fixture
def cli(server, tmp_path, in_process) -> Cli:
    return Cli(tmp_path / "memanto-home", server, ADMIN_KEY, in_process)


@pytest.fixture
def installed_cli(server, tmp_path) -> Cli:
    """The installed `memanto` command, each verb a process of its own."""
    return Cli(tmp_path / "memanto-home", server, ADMIN_KEY, memanto_process)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)


def field(out: str, label: str) -> str:
    found = re.search(rf"^{re.escape(label)}\s*(.*)$", out, re.M)
    assert found, f"no {label!r} line in:\n{out}"
    return found.group(1).strip()


def recalled_ids(cli: Cli, query: str, *options: str) -> list[str]:
    return [m["memory_id"] for m in cli.ok("recall", query, *options, "--json").json()["memories"]]


# -- agents -----------------------------------------------------------------------------------

def test_agent_create_prints_the_seed_lines_and_a_duplicate_fails_cleanly(installed_cli):
    """Through the installed command: its output, and an error's exit status and line."""
    cli = installed_cli
    name = f"cli-create-{uuid.uuid4().hex[:8]}"
    out = cli.ok("agent", "create", name, "--description", "Tracks project decisions").out
    assert lines_of(out) == [f"Agent '{name}' created successfully", f"Agent ID: {name}",
                             f"Namespace: memanto_agent_{name}"]

    error = cli.fails("agent", "create", name, "--description", "again")
    assert name in error and "already exists" in error

    listed = {a["agent_id"]: a for a in cli.ok("agent", "list", "--json").json()["agents"]}
    assert listed[name]["description"] == "Tracks project decisions"


def test_agent_list_text_and_json(cli):
    name = cli.new_agent("list")
    cli.wait_indexed(cli.remember("The team ships on Thursdays", "--type", "fact"))

    out = cli.ok("agent", "list").out
    assert lines_of(out)[0] == "Available Agents:"
    found = re.search(rf"^\d+\. {re.escape(name)}\n   Created: ({WHEN})\n   Memories: (\d+)\n"
                      rf"   Last Active: ({WHEN})$", out, re.M)
    assert found, out
    assert int(found.group(2)) == 1
    assert when(found.group(1)) <= when(found.group(3))

    data = cli.ok("agent", "list", "--json").json()
    assert data["count"] == len(data["agents"]) >= 1
    (mine,) = [a for a in data["agents"] if a["agent_id"] == name]
    assert mine["memory_count"] == 1
    assert mine["namespace"] == f"memanto_agent_{name}"
    assert mine["session_active"] is True


def test_agent_delete_needs_yes_without_a_terminal(cli):
    name = cli.new_agent("delete")
    cli.remember("Something to be deleted with the agent")

    error = cli.fails("agent", "delete", name)
    assert "--yes" in error
    assert name in [a["agent_id"] for a in cli.ok("agent", "list", "--json").json()["agents"]]
    assert cli.config()["agent_id"] == name

    out = cli.ok("agent", "delete", name, "--yes", "--delete-memories").out
    assert re.fullmatch(rf"Agent '{re.escape(name)}' deleted \(1 memories removed\)\n", out), out
    assert name not in [a["agent_id"] for a in cli.ok("agent", "list", "--json").json()["agents"]]
    # It was the active agent: its saved session went with it.
    saved = cli.config()
    assert saved["agent_id"] is None and saved["session_token"] is None
    assert "no active session" in cli.fails("remember", "after the delete")
    assert "not found" in cli.fails("agent", "delete", name, "--yes")


# -- sessions ---------------------------------------------------------------------------------

def test_activate_saves_the_session_then_info_and_extend(cli):
    name = cli.new_agent("session", activate=False)
    out = cli.ok("agent", "activate", name).out
    assert lines_of(out)[0] == f"Session activated for agent '{name}'"
    session_id = field(out, "Session ID:")
    assert re.fullmatch(r"sess_[0-9a-f]{12}", session_id)
    printed_token = field(out, "Session Token:")
    expires = when(field(out, "Expires At:"))
    assert timedelta(hours=5, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=6)
    assert str(cli.config_path) in out

    assert stat.S_IMODE(cli.config_path.stat().st_mode) == 0o600
    saved = cli.config()
    assert saved["agent_id"] == name and saved["session_id"] == session_id
    assert printed_token.endswith("...") and saved["session_token"].startswith(printed_token[:-3])
    # The key came from the environment: it stays there, not in the file.
    assert "api_key" not in saved and ADMIN_KEY not in cli.config_path.read_text()

    out = cli.ok("session", "info").out
    assert lines_of(out)[:2] == ["Current Session Information:", ""]
    assert field(out, "Agent ID:") == name
    assert field(out, "Session ID:") == session_id
    assert field(out, "Session Token:") == f"{saved['session_token'][:7]}... (truncated)"
    assert when(field(out, "Expires At:")) == expires
    assert field(out, "Time Until Expiry:") in ("5h 59m", "6h 0m")

    out = cli.ok("session", "extend", "--hours", "2").out
    assert lines_of(out)[0] == "Session extended successfully"
    new_expiry = when(field(out, "New expiry time:"))
    assert abs((new_expiry - expires) - timedelta(hours=2)) <= timedelta(seconds=1)
    assert cli.config()["expires_at"].startswith(new_expiry.strftime("%Y-%m-%dT%H:%M:%S"))
    assert stat.S_IMODE(cli.config_path.stat().st_mode) == 0o600

    out = cli.ok("session", "info").out
    assert when(field(out, "Expires At:")) == new_expiry
    assert field(out, "Time Until Expiry:") in ("7h 59m", "8h 0m")
    assert cli.ok("session", "info", "--json").json()["session_id"] == session_id


def test_an_expired_session_is_renewed_transparently(cli):
    name = cli.new_agent("renew", activate=False)
    out = cli.ok("agent", "activate", name, "--hours", "0.0005").out  # 1.8 s
    old = cli.config()
    assert old["session_id"] == field(out, "Session ID:")
    expires = datetime.fromisoformat(old["expires_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)

    memory_id = cli.remember("Written after the first session had expired")

    new = cli.config()
    assert new["agent_id"] == name
    assert new["session_token"] != old["session_token"]
    assert new["session_id"] != old["session_id"]
    assert stat.S_IMODE(cli.config_path.stat().st_mode) == 0o600
    info = cli.ok("session", "info").out
    assert field(info, "Session ID:") == new["session_id"]
    assert field(info, "Time Until Expiry:") in ("5h 59m", "6h 0m")
    assert cli.show(memory_id)["session_id"] == new["session_id"]


def test_deactivate_clears_the_saved_session(cli):
    name = cli.new_agent("deactivate")
    cli.remember("One memory in this session")

    out = cli.ok("agent", "deactivate").out
    assert lines_of(out) == [f"Session deactivated for agent '{name}'",
                             "Memories created in the session: 1"]
    saved = cli.config()
    assert saved["agent_id"] == name
    assert saved["session_token"] is None and saved["session_id"] is None

    assert "session" in cli.fails("remember", "x")
    assert "session" in cli.fails("session", "info")
    assert "session" in cli.fails("agent", "deactivate")
    status = cli.ok("status").out
    assert field(status, "Session:") == "none (memanto agent activate NAME)"


# -- memories ---------------------------------------------------------------------------------

OLD = "The user prefers dark roast coffee in the morning"
NEW = "The user switched to green tea and no longer drinks coffee"


def test_remember_recall_edit_history_and_temporal_recall(cli):
    cli.new_agent("memory")
    out = cli.ok("remember", OLD, "--type", "preference", "--tags", "a,b",
                 "--confidence", "0.9").out
    assert lines_of(out)[0] == "Memory stored (queued)"
    memory_id = field(out, "Memory ID:")
    assert re.fullmatch(UUID, memory_id)

    memory = cli.wait_indexed(memory_id)
    assert memory["content"] == OLD and memory["type"] == "preference"
    assert memory["tags"] == ["a", "b"] and memory["confidence"] == 0.9
    assert memory["version"] == 1

    out = cli.ok("recall", "what coffee does the user like in the morning").out
    found = re.search(rf"^1\. \[(\d\.\d\d)\] {re.escape(OLD)} \(preference\)\n"
                      rf"   ID: {memory_id}  Created: {WHEN}$", out, re.M)
    assert found, out
    assert 0.3 < float(found.group(1)) <= 1.0

    data = cli.ok("recall", "coffee", "--type", "preference", "--json").json()
    assert data["count"] == 1
    (hit,) = data["memories"]
    assert hit["memory_id"] == memory_id and hit["content"] == OLD
    assert hit["type"] == "preference" and 0 < hit["similarity"] <= 1
    assert recalled_ids(cli, "coffee", "--type", "fact") == []
    assert recalled_ids(cli, "coffee", "--tags", "b") == [memory_id]
    assert recalled_ids(cli, "coffee", "--tags", "zzz") == []

    time.sleep(0.2)
    before_edit = datetime.now(UTC).isoformat()
    time.sleep(0.2)
    out = cli.ok("memory", "edit", memory_id, "--content", NEW).out
    assert lines_of(out)[0] == "Memory updated"
    assert f"Memory {memory_id} (version 2)" in out
    assert field(out, "Content:") == NEW
    cli.wait_indexed(memory_id, NEW)

    out = cli.ok("recall", "what does the user drink now").out
    assert NEW in out and OLD not in out and memory_id in out

    # What the agent held before the edit, and what changed since then.
    out = cli.ok("recall", "coffee", "--as-of", before_edit).out
    assert OLD in out and NEW not in out and memory_id in out
    out = cli.ok("recall", "coffee", "--changed-since", before_edit).out
    assert NEW in out and OLD not in out
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert cli.ok("recall", "coffee", "--changed-since", later).out == "No memories found.\n"
    data = cli.ok("recall", "coffee", "--as-of", before_edit, "--json").json()
    assert [m["content"] for m in data["memories"]] == [OLD]

    out = cli.ok("memory", "history", memory_id).out
    history = lines_of(out)
    assert history[0] == f"History of memory {memory_id}:"
    (v1,) = [line for line in history if line.startswith("v1 ")]
    (v2,) = [line for line in history if line.startswith("v2 ")]
    assert re.fullmatch(rf"v1 created +{WHEN} -> {WHEN}  \[active\] {re.escape(OLD)}", v1)
    assert re.fullmatch(rf"v2 updated +{WHEN} -> now  \[active\] {re.escape(NEW)}", v2)
    versions = cli.ok("memory", "history", memory_id, "--json").json()["versions"]
    assert [(v["version"], v["content"], v["current"]) for v in versions] == [
        (1, OLD, False), (2, NEW, True)]
    # A page at a time: the first ends with how to ask for the next.
    first = lines_of(cli.ok("memory", "history", memory_id, "-n", "1").out)
    assert [line[:3] for line in first if line.startswith("v")] == ["v1 "]
    cursor = first[-1].split(" --cursor ")[1]
    assert first[-1] == f"Later versions: memanto memory history {memory_id} --cursor {cursor}"
    rest = cli.ok("memory", "history", memory_id, "--cursor", cursor, "--json").json()
    assert [v["version"] for v in rest["versions"]] == [2] and not rest["has_more"]
    assert "limit" in cli.fails("memory", "history", memory_id, "--limit", "0")


def test_expire_restore_and_forget(cli):
    cli.new_agent("lifecycle")
    memory_id = cli.remember("The office wifi password rotates every Monday",
                             "--type", "fact")
    cli.wait_indexed(memory_id)
    query = "when does the wifi password change"
    assert recalled_ids(cli, query) == [memory_id]

    assert cli.ok("memory", "expire", memory_id).out == f"Memory {memory_id} expired\n"
    # As MEMANTO's, recall shows expired memories too, labelled, unless --active.
    assert cli.ok("recall", query, "--active").out == "No memories found.\n"
    assert "(fact, expired)" in cli.ok("recall", query).out
    assert recalled_ids(cli, query, "--active") == []
    assert recalled_ids(cli, query, "--expired") == [memory_id]
    assert field(cli.ok("memory", "show", memory_id).out, "Status:") == "indexed / expired"

    assert cli.ok("memory", "restore", memory_id).out == f"Memory {memory_id} restored\n"
    assert memory_id in cli.ok("recall", query).out
    assert recalled_ids(cli, query) == [memory_id]

    assert cli.ok("memory", "forget", memory_id).out == f"Memory {memory_id} forgotten\n"
    error = cli.fails("memory", "show", memory_id)
    assert memory_id in error and "not found" in error
    assert recalled_ids(cli, query) == []
    # The history outlives the memory.
    out = cli.ok("memory", "history", memory_id).out
    assert re.search(rf"^deleted at {WHEN}$", out, re.M), out
    assert "not found" in cli.fails("memory", "forget", memory_id)


def test_bootstrap_card(cli):
    name = cli.new_agent("bootstrap")
    ids = [cli.remember("Alice Johnson is a customer since 2021", "--type", "fact"),
           cli.remember("Ticket 12345 was about a billing error", "--type", "fact"),
           cli.remember("Alice prefers email contact", "--type", "preference",
                        "--confidence", "0.95")]
    for memory_id in ids:
        cli.wait_indexed(memory_id)

    out = cli.ok("agent", "bootstrap", name).out
    card = lines_of(out)
    assert card[0] == f"Agent Metadata: {name}"
    assert re.fullmatch(WHEN, field(out, "Created:"))
    assert field(out, "Total Memories:") == "3"
    start = card.index("Memory Breakdown:")
    assert card[start + 1:start + 3] == ["├── facts: 2", "└── preferences: 1"]
    assert re.fullmatch(rf"{WHEN} \((fact|preference)\)", field(out, "Last Memory:"))
    samples = card[card.index("Sample Memories:") + 1:]
    assert sorted(samples) == sorted([
        "- Alice Johnson is a customer since 2021 (fact)",
        "- Ticket 12345 was about a billing error (fact)",
        "- Alice prefers email contact (preference)"])

    # Without a name: the active agent's card.
    assert lines_of(cli.ok("agent", "bootstrap").out)[0] == f"Agent Metadata: {name}"
    data = cli.ok("agent", "bootstrap", name, "--json").json()
    assert data["total_memories"] == 3
    assert data["memory_breakdown"] == {"fact": 2, "preference": 1}


# -- API keys, status, errors -----------------------------------------------------------------

def test_named_api_keys(cli):
    name = f"cli-key-{uuid.uuid4().hex[:8]}"
    out = cli.ok("apikey", "create", name, "--agents", "cli-named-key-*,other-*",
                 "--may-manage-agents").out
    created = lines_of(out)
    assert created[0] == f"API key '{name}' created:"
    key = created[1]
    assert re.fullmatch(r"mk_[A-Za-z0-9_-]{20,}", key)
    assert "not shown again" in created[2]

    try:
        listing = cli.ok("apikey", "list").out
        assert re.search(rf"^{re.escape(name)} +{re.escape(key[:7])}\.\.\.  created {WHEN}"
                         r"  agents cli-named-key-\*,other-\*  may-manage-agents$",
                         listing, re.M), listing
        assert key not in listing
        keys_json = cli.ok("apikey", "list", "--json").json()
        assert key not in json.dumps(keys_json)
        assert name in [k["name"] for k in keys_json["api_keys"]]

        as_named = {"MEMANTO_API_KEY": key}
        agent = cli.new_agent("named-key", activate=False)
        listed = cli.ok("agent", "list", "--json", env=as_named).json()["agents"]
        assert agent in [a["agent_id"] for a in listed]
        assert "Available Agents:" in cli.ok("agent", "list", env=as_named).out
        assert "admin API key" in cli.fails("apikey", "list", env=as_named)
    finally:
        out = cli.ok("apikey", "revoke", name).out
    assert out == f"API key '{name}' revoked\n"

    error = cli.fails("agent", "list", env=as_named)
    assert "valid management credential" in error
    assert name not in cli.ok("apikey", "list").out
    assert "no API key named" in cli.fails("apikey", "revoke", name)


def test_status_shows_server_and_session(cli, server):
    out = cli.ok("status").out
    assert field(out, "Server:") == f"{server} (reachable)"
    assert field(out, "Config:") == str(cli.config_path)
    assert field(out, "API key:") == "set"
    assert field(out, "Session:") == "none (memanto agent activate NAME)"

    name = cli.new_agent("status")
    out = cli.ok("status").out
    assert field(out, "Server:") == f"{server} (reachable)"
    assert re.fullmatch(rf"agent '{re.escape(name)}', expires {WHEN} \(in (5h 59m|6h 0m)\)",
                        field(out, "Session:")), out
    data = cli.ok("status", "--json").json()
    assert data["server_url"] == server and data["api_key"] is True
    assert data["agent_id"] == name and data["session"]["agent_id"] == name
    # Readiness, and the live stack's ingest worker by its heartbeat.
    assert field(out, "Ready:") == "yes (Redis, search index, embedding model)"
    assert re.search(r"^  worker +\S+ +beat \d+\.\d s ago$", out, re.M), out
    assert "worker" in {p["kind"] for p in data["processes"]} and data["ready"] is True


def test_unreachable_server_is_one_error_line(cli):
    name = cli.new_agent("unreachable")
    closed = f"http://127.0.0.1:{free_port()}"
    elsewhere = {"MEMANTO_URL": closed}
    for argv in (["agent", "list"], ["status"], ["agent", "create", "x"], ["session", "info"],
                 ["remember", "offline"], ["recall", "anything"], ["apikey", "list"]):
        result = cli.run(*argv, env=elsewhere)
        assert result.code == 1, str(result)
        assert result.out == "", str(result)
        assert lines_of(result.err) == [f"Error: cannot reach the MEMANTO server at {closed} "
                                        "(ConnectError)"], str(result)
    # The saved session was left alone.
    assert cli.config()["agent_id"] == name
    assert field(cli.ok("session", "info").out, "Agent ID:") == name


def test_wrong_api_key_is_one_error_line(cli):
    wrong = {"MEMANTO_API_KEY": "not-the-key"}
    for argv in (["agent", "list"], ["status"], ["agent", "create", "x"], ["apikey", "list"]):
        error = cli.fails(*argv, env=wrong)
        assert "valid management credential" in error
    assert "no API key" in cli.fails("agent", "list", env={"MEMANTO_API_KEY": ""})


# -- known bugs -------------------------------------------------------------------------------

class _NotMemanto(BaseHTTPRequestHandler):
    """Some other web service: HTML pages, 200 for GET, 404 for anything else."""

    def _answer(self, status: int) -> None:
        body = b"<!DOCTYPE html>\n<html>\n<body>\n<h1>Another service</h1>\n</body>\n</html>\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200)

    def do_POST(self) -> None:
        self._answer(404)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_service() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NotMemanto)
    # A short poll interval: shutdown() waits for the loop to look.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def offline_cli(tmp_path, in_process) -> Cli:
    """A command line whose MEMANTO_URL is set per call (no MEMANTO server needed)."""
    return Cli(tmp_path / "memanto-home", f"http://127.0.0.1:{free_port()}", ADMIN_KEY,
               in_process)


@pytest.fixture
def installed_offline_cli(tmp_path) -> Cli:
    """The same, as the installed `memanto` command."""
    return Cli(tmp_path / "memanto-home", f"http://127.0.0.1:{free_port()}", ADMIN_KEY,
               memanto_process)


def test_a_non_json_answer_is_one_error_line(installed_offline_cli, other_service):
    error = installed_offline_cli.fails("agent", "list", env={"MEMANTO_URL": other_service})
    assert other_service in error


def test_a_non_json_error_page_is_one_error_line(offline_cli, other_service):
    error = offline_cli.fails("agent", "create", "x", env={"MEMANTO_URL": other_service})
    assert "404" in error


def test_a_config_file_that_is_not_an_object_does_not_crash(offline_cli):
    offline_cli.home.mkdir(parents=True)
    offline_cli.config_path.write_text("[]\n")
    # With no server to reach, the one line is about the server, not the file.
    assert "cannot reach" in offline_cli.fails("agent", "list")


# -- MEMANTO's verbs and flags (issue 9) ------------------------------------------------------

def test_top_level_edit_and_forget_and_short_flags(cli):
    cli.new_agent("aliases")
    memory_id = cli.remember("Deploys happen on Tuesdays", "-t", "decision", "-c", "0.7",
                             "-s", "planning-bot", "-p", "inferred")
    memory = cli.wait_indexed(memory_id)
    assert (memory["type"], memory["confidence"], memory["source"], memory["provenance"]) == \
        ("decision", 0.7, "planning-bot", "inferred")

    out = cli.ok("edit", memory_id, "-t", "fact", "-c", "0.95", "-s", "ops-bot").out
    assert lines_of(out)[0] == "Memory updated"
    memory = cli.wait_indexed(memory_id)
    assert (memory["type"], memory["confidence"], memory["source"]) == ("fact", 0.95, "ops-bot")
    assert recalled_ids(cli, "when are deploys", "-t", "fact", "-n", "1") == [memory_id]
    assert recalled_ids(cli, "when are deploys", "-t", "decision") == []

    assert cli.ok("forget", memory_id, "-f").out == f"Memory {memory_id} forgotten\n"
    assert "not found" in cli.fails("memory", "show", memory_id)
    assert "not found" in cli.fails("forget", memory_id)


def test_recall_recent_active_expired_and_min_similarity(cli):
    cli.new_agent("flags")
    ids = [cli.remember(text, "-t", "fact") for text in (
        "The staging database is called atlas", "Lunch is served at noon",
        "The VPN needs a hardware key")]
    for memory_id in ids:
        cli.wait_indexed(memory_id)
    newest = [m["memory_id"] for m in cli.ok("recall", "--recent", "-n", "2", "--json")
              .json()["memories"]]
    assert newest == ids[:0:-1]
    out = cli.ok("memory", "expire", ids[0], "-r", "renamed").out
    assert out == f"Memory {ids[0]} expired\n"
    recent = lambda *flags: [m["memory_id"] for m in cli.ok(  # noqa: E731
        "recall", "--recent", *flags, "--json").json()["memories"]]
    assert recent("--expired") == [ids[0]]
    assert ids[0] not in recent("--active") and set(recent("--active")) == set(ids[1:])
    assert set(recent()) == set(ids)
    assert recalled_ids(cli, "what is the staging database", "--min-similarity", "0.99") == []
    assert ids[0] in recalled_ids(cli, "what is the staging database", "--min-similarity",
                                  "0.3")

    assert "give a query" in cli.fails("recall")
    assert "leave out the query" in cli.fails("recall", "lunch", "--recent")
    assert "--active" in cli.fails("recall", "--as-of", "2025-01-01", "--active")


def test_agent_delete_keeps_memories_unless_asked(cli):
    name = cli.new_agent("keep")
    memory_id = cli.remember("The agent's notes survive its deletion", "-t", "fact")
    cli.wait_indexed(memory_id)

    out = cli.ok("agent", "delete", name, "-f").out
    assert out == (f"Agent '{name}' deleted (its memories are kept: creating it again "
                   "brings them back)\n")
    cli.ok("agent", "create", name)
    cli.ok("agent", "activate", name)
    assert [m["memory_id"] for m in cli.ok("recall", "--recent", "--json").json()[
        "memories"]] == [memory_id]

    out = cli.ok("agent", "delete", name, "--force", "--delete-memories").out
    assert out == f"Agent '{name}' deleted (1 memories removed)\n"
    cli.ok("agent", "create", name)
    cli.ok("agent", "activate", name)
    assert cli.ok("recall", "--recent").out == "No memories found.\n"
    assert "--yes" in cli.fails("agent", "delete", name, "--keep-memories")


def test_upload_a_file_as_memories(cli, tmp_path):
    cli.new_agent("upload")
    notes = tmp_path / "team notes.md"
    notes.write_text("# Team\n\nMaria leads the search team.\n\nOn-call rotates weekly.\n")
    out = cli.ok("upload", str(notes)).out
    assert lines_of(out)[0] == "File uploaded: 1 chunk(s) queued as memories"
    assert field(out, "File:") == f"team notes.md  ({notes.stat().st_size} bytes)"
    assert field(out, "Source:") == "team_notes.md"
    (memory_id,) = cli.ok("upload", str(notes), "--json").json()["memory_ids"]
    memory = cli.wait_indexed(memory_id)
    assert memory["source"] == "team_notes.md" and "Maria leads" in memory["content"]
    assert memory_id in recalled_ids(cli, "who leads the search team")

    assert "file not found" in cli.fails("upload", str(tmp_path / "missing.txt"))
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    assert "not supported" in cli.fails("upload", str(tmp_path / "tool.exe"))
    (tmp_path / "empty.txt").write_bytes(b"")
    error = cli.fails("upload", str(tmp_path / "empty.txt"))
    assert error == "Error: empty.txt is empty (HTTP 422)"
