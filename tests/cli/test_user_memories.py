"""The seed's /memories command line (`memanto memories ...`, seed 004), run in this
process against the session's live stack."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.support import ADMIN_KEY, memanto_in_process, memories_indexed, wait_until


@pytest.fixture(scope="module")
def server(live) -> str:
    return live.url


@pytest.fixture
def cli(capsys):
    def run(server: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
        env = {"MEMANTO_HOME": str(tmp_path), "MEMANTO_API_KEY": ADMIN_KEY,
               "MEMANTO_URL": "http://127.0.0.1:1"}
        return memanto_in_process(capsys, ["memories", "--base-url", server, *args], env)

    return run


def test_the_seed_command_line(server, live, tmp_path, cli):
    user = f"cli-{uuid.uuid4().hex[:6]}"
    made = cli(server, tmp_path, "--user-id", user, "--create", "User prefers dark mode",
               "--topics", "preferences,ui", "--json")
    assert made.returncode == 0, made.stderr
    memory_id = json.loads(made.stdout)["memory_id"]
    wait_until(lambda: memories_indexed(live.redis_url, [memory_id]), 30, 0.1, "indexed")

    listed = cli(server, tmp_path, "--user-id", user)
    assert listed.returncode == 0
    assert "User prefers dark mode" in listed.stdout and "(1 memories)" in listed.stdout
    found = cli(server, tmp_path, "--user-id", user, "--search", "dark mode", "--json")
    assert [m["memory_id"] for m in json.loads(found.stdout)["data"]] == [memory_id]
    shown = cli(server, tmp_path, "--memory-id", memory_id, "--user-id", user)
    assert "topics: preferences, ui" in shown.stdout

    updated = cli(server, tmp_path, "--memory-id", memory_id, "--user-id", user, "--update",
                  "User strongly prefers dark mode", "--topics",
                  "preferences,ui,accessibility", "--json")
    assert json.loads(updated.stdout)["topics"] == ["preferences", "ui", "accessibility"]
    wait_until(lambda: "strongly" in cli(server, tmp_path, "--memory-id", memory_id).stdout,
               30, 0.2, "update visible")
    wait_until(lambda: "accessibility" in cli(server, tmp_path, "--topics-list").stdout, 30,
               0.2, "topics listed")

    deleted = cli(server, tmp_path, "--memory-id", memory_id, "--user-id", user, "--delete")
    assert deleted.returncode == 0 and "Deleted" in deleted.stdout
    gone = cli(server, tmp_path, "--memory-id", memory_id)
    assert gone.returncode == 1
    assert gone.stderr.startswith("Error:") and "not found" in gone.stderr
    assert "Traceback" not in gone.stderr

    down = cli("http://127.0.0.1:1", tmp_path, "--user-id", user)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines() == [
        "Error: cannot reach the MEMANTO server at http://127.0.0.1:1 (ConnectError)"]
    no_user = cli(server, tmp_path, "--create", "x")
    assert no_user.returncode == 1 and "--user-id" in no_user.stderr
