"""`memanto schedule ...` as a user runs it (in this process), against the session's live
stack."""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
import pytest

from tests.support import ADMIN_KEY, memanto_in_process


@pytest.fixture(scope="module")
def server(live) -> str:
    return live.url


@pytest.fixture
def memanto(capsys):
    def run(server: str, home, *args: str) -> subprocess.CompletedProcess:
        env = {"MEMANTO_HOME": str(home), "MEMANTO_URL": server, "MEMANTO_API_KEY": ADMIN_KEY}
        return memanto_in_process(capsys, args, env)

    return run


def test_schedule_verbs(server, tmp_path, memanto):
    name = f"sched-{uuid.uuid4().hex[:6]}"
    assert memanto(server, tmp_path, "agent", "create", name).returncode == 0
    assert memanto(server, tmp_path, "agent", "activate", name).returncode == 0

    added = memanto(server, tmp_path, "schedule", "add", "daily_report", "--cron", "0 9 * * *",
                    "--prompt", "Generate and send daily report", "--timezone",
                    "Europe/Paris", "--webhook", "https://hooks.example.invalid/hook")
    assert added.returncode == 0, added.stderr
    assert "Schedule 'daily_report' added" in added.stdout
    assert "Next run:" in added.stdout
    assert "Webhook secret: whsec_" in added.stdout

    listed = memanto(server, tmp_path, "schedule", "list", "--json")
    (schedule,) = json.loads(listed.stdout)["schedules"]
    assert (schedule["name"], schedule["cron"], schedule["timezone"], schedule["run_count"]) \
        == ("daily_report", "0 9 * * *", "Europe/Paris", 0)
    assert "webhook_secret" not in schedule and "whsec_" not in listed.stdout
    text = memanto(server, tmp_path, "schedule", "list")
    assert "daily_report" in text.stdout and "Generate and send daily report" in text.stdout

    assert "No runs yet." in memanto(server, tmp_path, "schedule", "runs", "daily_report").stdout

    duplicate = memanto(server, tmp_path, "schedule", "add", "daily_report", "--cron",
                        "* * * * *", "--prompt", "x")
    assert duplicate.returncode == 1 and duplicate.stderr.startswith("Error:")
    bad_cron = memanto(server, tmp_path, "schedule", "add", "bad", "--cron", "every day",
                       "--prompt", "x")
    assert bad_cron.returncode == 1 and "cron" in bad_cron.stderr
    assert "Traceback" not in bad_cron.stderr

    # With --agent and the API key, no session is needed.
    other = f"sched-{uuid.uuid4().hex[:6]}"
    memanto(server, tmp_path, "agent", "create", other)
    by_key = memanto(server, tmp_path, "schedule", "add", "hourly", "--agent", other,
                     "--cron", "0 * * * *", "--prompt", "Check server health")
    assert by_key.returncode == 0, by_key.stderr
    seen = httpx.get(f"{server}/api/agents/{other}/schedules",
                     headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    assert [s["name"] for s in seen["schedules"]] == ["hourly"]

    deleted = memanto(server, tmp_path, "schedule", "delete", "daily_report")
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    assert "No schedules." in memanto(server, tmp_path, "schedule", "list").stdout
    missing = memanto(server, tmp_path, "schedule", "runs", "daily_report")
    assert missing.returncode == 1 and "not found" in missing.stderr
