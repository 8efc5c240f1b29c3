"""`memanto memory export|import` as a user runs them, against the session's live stack (a
real web process and worker): the round trip export -> import into a fresh agent -> export
gives identical trees, and a tree written by hand imports with the documented type mapping.
The verbs run in this process, but for the progress bar, which needs the installed command
on a terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN_KEY, CLI, MEMANTO, memanto_in_process, wait_until

HEADER_KEYS = {"slug", "path", "name", "description", "type", "memory_type", "topic",
               "memory_id"}


@pytest.fixture(scope="module")
def server(live) -> str:
    return live.url


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                      timeout=30) as http:
        yield http


@pytest.fixture
def memanto(server, tmp_path, capsys):
    """Run the `memanto` command as a user would, with the key in the environment."""
    env = {"MEMANTO_HOME": str(tmp_path / "home"), "MEMANTO_URL": server,
           "MEMANTO_API_KEY": ADMIN_KEY}

    def run(*args: str, ok: bool = True, tty: bool = False) -> subprocess.CompletedProcess:
        if tty:
            command = [str(MEMANTO)] if MEMANTO.exists() else CLI
            return on_a_terminal([*command, *args], dict(os.environ, **env))
        done = memanto_in_process(capsys, args, env)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return run


def on_a_terminal(command: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run with stderr on a pseudo-terminal (120 columns), as a user at a shell sees it."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    seen: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=side,
                              text=True, timeout=120)
    finally:
        os.close(side)
    reader.join(5)
    os.close(main)
    done.stderr = b"".join(seen).decode(errors="replace")
    assert done.returncode == 0, done.stderr
    return done


def agent_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def index(api, agent: str) -> dict:
    reply = api.get(f"/api/v2/agents/{agent}/memory-index")
    assert reply.status_code == 200, reply.text
    return reply.json()


def exported(api, agent: str) -> dict[str, dict]:
    """The agent's memories by title, as the export route gives them."""
    page = api.get(f"/api/v2/agents/{agent}/memory-export").json()
    assert not page["has_more"]
    return {m["title"]: m for m in page["memories"]}


SOURCE = [  # a topic of 3 (stripe), one of 2 (ops), a title used twice
    {"content": "Retry card charges three times before failing", "tags": ["stripe", "payments"],
     "type": "instruction", "title": "Stripe retries"},
    {"content": "Webhooks are verified with the signing secret\nWhy: spoofed events cost "
     "money.", "tags": ["stripe"]},
    {"content": "Refunds over 500 EUR need a manager", "tags": ["stripe"], "type": "decision",
     "confidence": 0.95},
    {"content": "Deploys happen on Tuesdays", "tags": ["ops"]},
    {"content": "The pager rotation is weekly", "tags": ["ops", "oncall"],
     "type": "commitment"},
    {"content": "Alice prefers email", "tags": ["contact"], "type": "preference"},
    {"content": "User is a fintech BE engineer who owns payments infra",
     "type": "relationship", "title": "User role"},
    {"content": "Design doc lives at https://example.com/doc", "type": "artifact",
     "title": "User role"},
]


def remember_all(api, agent: str, memories: list[dict]) -> None:
    """Memories written as an agent writes them, with its session, one by one (so each
    has its own millisecond: a tree orders by creation time as exported, then by id)."""
    token = api.post(f"/api/v2/agents/{agent}/activate").json()["session_token"]
    for memory in memories:
        reply = httpx.post(f"{api.base_url}/api/v2/agents/{agent}/remember", json=memory,
                           headers={"X-Session-Token": token})
        assert reply.status_code == 200, reply.text
        time.sleep(0.002)


def test_export_import_export_gives_identical_trees(memanto, api, tmp_path):
    source, copy = agent_name("tree-src"), agent_name("tree-copy")
    memanto("agent", "create", source)
    remember_all(api, source, SOURCE)
    wait_until(lambda: index(api, source)["count"] == len(SOURCE), 60, 0.2,
               what="the source memories indexed")

    first = tmp_path / "first"
    done = memanto("memory", "export", source, str(first), "--json")
    assert json.loads(done.stdout) | {"dir": ""} == {
        "agent_id": source, "dir": "", "memories": 8, "files": 10, "topics": ["stripe"]}
    files = tree(first)
    assert sorted(files) == [
        "INDEX.md", "alice_prefers_email.md", "deploys_happen_on_tuesdays.md",
        "stripe/INDEX.md", "stripe/refunds_over_500_eur_need_a_manager.md",
        "stripe/stripe_retries.md", "stripe/webhooks_are_verified_with_the_signing_secret.md",
        "the_pager_rotation_is_weekly.md", "user_role.md", "user_role_2.md"]
    assert files["INDEX.md"].decode() == (
        "# Memory\n\n"
        "- [Deploys happen on Tuesdays](deploys_happen_on_tuesdays.md) — Deploys happen on "
        "Tuesdays\n"
        "- [The pager rotation is weekly](the_pager_rotation_is_weekly.md) — The pager "
        "rotation is weekly\n"
        "- [Alice prefers email](alice_prefers_email.md) — Alice prefers email\n"
        "- [User role](user_role.md) — User is a fintech BE engineer who owns payments infra\n"
        "- [User role](user_role_2.md) — Design doc lives at https://example.com/doc\n"
        "- [stripe/](stripe/INDEX.md) — 3 entries\n")
    assert files["stripe/INDEX.md"].decode().splitlines()[2:] == [
        "- [Stripe retries](stripe_retries.md) — Retry card charges three times before "
        "failing",
        "- [Webhooks are verified with the signing secret]"
        "(webhooks_are_verified_with_the_signing_secret.md) — Webhooks are verified with "
        "the signing secret",
        "- [Refunds over 500 EUR need a manager](refunds_over_500_eur_need_a_manager.md) — "
        "Refunds over 500 EUR need a manager"]
    webhooks = files["stripe/webhooks_are_verified_with_the_signing_secret.md"].decode()
    head, body = webhooks.split("\n---\n")
    assert head.splitlines()[1:5] == [
        "name: Webhooks are verified with the signing secret",
        "description: Webhooks are verified with the signing secret",
        "type: project", "memory_type: fact"]
    assert body == "Webhooks are verified with the signing secret\n" \
                   "Why: spoofed events cost money.\n"

    # The index an agent loads at session start agrees with the tree, headers only.
    headers = index(api, source)
    assert all(set(e) == HEADER_KEYS for e in headers["entries"])
    assert {e["path"] for e in headers["entries"]} == set(files) - {"INDEX.md",
                                                                    "stripe/INDEX.md"}
    assert {e["topic"] for e in headers["entries"]} == {None, "stripe"}

    memanto("agent", "create", copy)
    done = memanto("memory", "import", copy, str(first), "--wait")
    assert f"Imported 8 memories into '{copy}' (all indexed)" in done.stdout
    second = tmp_path / "second"
    memanto("memory", "export", copy, str(second))
    assert tree(second) == files

    # Importing the same ids again is refused, and nothing is half-done.
    again = memanto("memory", "import", copy, str(first), ok=False)
    assert again.returncode == 1 and "already holds" in again.stderr
    assert index(api, copy)["count"] == 8
    # An export never mixes into a folder that holds files, unless told to replace them.
    refused = memanto("memory", "export", copy, str(second), ok=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    (second / "stripe" / "stale.md").write_text("from an older export")
    (second / "notes.txt").write_text("mine")
    memanto("memory", "export", copy, str(second), "--force")
    assert tree(second) == files | {"notes.txt": b"mine"}


HAND_WRITTEN = {
    "INDEX.md": "- [User role](user_role.md) — written by hand, ignored on import\n",
    "user_role.md": "---\nname: User role\ndescription: User is a fintech BE engineer\n"
                    "type: user\n---\nThe user is a backend engineer at a fintech company.\n",
    "feedback_no_pii.md": "---\nname: No PII\ndescription: never log card numbers\n"
                          "type: feedback\n---\n\nNever log card numbers.\n\n"
                          "Why: PCI scope.\n",
    "stripe/INDEX.md": "# stripe\n",
    "stripe/retries.md": "---\nname: Retries\ndescription: Charges retry 3 times\n"
                         "type: project\n---\nCharges are retried three times.\n",
    "stripe/keys.md": "---\nname: API keys\ndescription: Where the keys live\n"
                      "type: reference\n---\nSee the vault, path payments/stripe.\n",
    "stripe/webhooks.md": "---\nname: Webhooks\ndescription: Verify signatures\n"
                          "type: project\n---\nVerify every webhook signature.\n",
}


def test_a_hand_written_tree_imports_with_the_type_mapping(memanto, api, tmp_path):
    agent = agent_name("tree-hand")
    memanto("agent", "create", agent)
    root = tmp_path / "hand"
    for rel, text in HAND_WRITTEN.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    done = memanto("memory", "import", agent, str(root), "--wait", "--json")
    answer = json.loads(done.stdout)
    assert (answer["imported"], answer["status"]) == (5, "indexed")

    memories = exported(api, agent)
    assert {title: (m["type"], m["tags"], m["provenance"]) for title, m in memories.items()} \
        == {"User role": ("preference", [], "imported"),
            "No PII": ("instruction", [], "imported"),
            "Retries": ("context", ["stripe"], "imported"),
            "API keys": ("artifact", ["stripe"], "imported"),
            "Webhooks": ("context", ["stripe"], "imported")}
    assert memories["No PII"]["content"] == "Never log card numbers.\n\nWhy: PCI scope."
    assert memories["No PII"]["description"] == "never log card numbers"
    assert set(answer["memory_ids"]) == {m["memory_id"] for m in memories.values()}

    headers = {e["name"]: e for e in index(api, agent)["entries"]}
    assert headers["User role"] | {"memory_id": ""} == {
        "slug": "user_role", "path": "user_role.md", "name": "User role",
        "description": "User is a fintech BE engineer", "type": "user",
        "memory_type": "preference", "topic": None, "memory_id": ""}
    assert (headers["API keys"]["path"], headers["API keys"]["type"]) == (
        "stripe/api_keys.md", "reference")

    out = tmp_path / "out"
    memanto("memory", "export", agent, str(out))
    files = tree(out)
    assert sorted(files) == ["INDEX.md", "no_pii.md", "stripe/INDEX.md", "stripe/api_keys.md",
                             "stripe/retries.md", "stripe/webhooks.md", "user_role.md"]
    lines = files["INDEX.md"].decode().splitlines()
    assert "- [No PII](no_pii.md) — never log card numbers" in lines
    assert lines[-1] == "- [stripe/](stripe/INDEX.md) — 3 entries"
    assert files["user_role.md"].decode().startswith(
        "---\nname: User role\ndescription: User is a fintech BE engineer\ntype: user\n"
        "memory_type: preference\nid: ")
    # Its own descriptions (kept apart from the content) survive a further round trip.
    restored = agent_name("tree-hand")
    memanto("agent", "create", restored)
    memanto("memory", "import", restored, str(out), "--wait")
    memanto("memory", "export", restored, str(tmp_path / "again"))
    assert tree(tmp_path / "again") == files


def test_a_bad_tree_is_refused_naming_each_file(memanto, api, tmp_path):
    agent = agent_name("tree-bad")
    memanto("agent", "create", agent)
    root = tmp_path / "bad"
    root.mkdir()
    (root / "good.md").write_text("---\nname: Fine\ntype: user\n---\nA fine entry.\n")
    (root / "notes.md").write_text("Just some notes, no frontmatter.\n")
    (root / "typo.md").write_text("---\nname: T\ntype: people\n---\nBody\n")
    done = memanto("memory", "import", agent, str(root), ok=False)
    assert done.returncode == 1
    assert f"{root / 'notes.md'}: no frontmatter" in done.stderr
    assert f"{root / 'typo.md'}: type must be one of" in done.stderr
    assert index(api, agent)["count"] == 0  # nothing sent
    missing = memanto("memory", "import", "no-such-agent-here", str(tmp_path / "nope"),
                      ok=False)
    assert missing.returncode == 1 and "not a folder" in missing.stderr
    (root / "notes.md").unlink()
    (root / "typo.md").unlink()
    unknown = memanto("memory", "import", "no-such-agent-here", str(root), ok=False)
    assert unknown.returncode == 1 and "not found" in unknown.stderr


def test_a_long_export_shows_a_progress_bar_on_a_terminal(memanto, api, tmp_path):
    agent = agent_name("tree-long")
    memanto("agent", "create", agent)
    root = tmp_path / "long"
    root.mkdir()
    for i in range(150):  # two requests each way
        (root / f"n{i}.md").write_text(f"---\nname: Note {i}\ntype: project\n---\n"
                                       f"Service {i} deploys at {i % 24}:00.\n")
    done = memanto("memory", "import", agent, str(root), "--wait")
    assert done.stdout.startswith("Imported 150 memories") and done.stderr == ""

    shown = memanto("memory", "export", agent, str(tmp_path / "on-tty"), tty=True)
    assert "exporting:" in shown.stderr and "/150" in shown.stderr
    assert shown.stdout.startswith(f"Exported 150 memories of '{agent}'")
    piped = memanto("memory", "export", agent, str(tmp_path / "piped"))
    assert piped.stderr == ""  # no bar when stderr is not a terminal
    assert tree(tmp_path / "piped") == tree(tmp_path / "on-tty")
    assert len(tree(tmp_path / "piped")) == 151
