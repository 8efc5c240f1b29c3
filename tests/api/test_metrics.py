"""GET /metrics: the web's own figures by route template, the workers' from Redis, the
ingest backlog and lag read at scrape time, and the optional token."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from memanto_redis.api.app import create_app
from memanto_redis.shared.infra import keys, metrics
from memanto_redis.shared.infra.heartbeat import Heartbeat


def scrape(client, **headers) -> dict[str, list]:
    reply = client.get("/metrics", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(reply.text)}


def value(families, name: str, sample: str | None = None, **labels: str) -> float:
    found = [s.value for s in families[name] if (sample is None or s.name == sample)
             and all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, (name, labels, families.get(name))
    return sum(found)


def test_requests_counted_by_route_template(client, agent):
    before = scrape(client)
    for _ in range(3):
        client.get(f"/api/v2/agents/{agent.agent_id}/memories/nope", headers=agent.headers)
    client.get("/no/such/path")
    client.request("BREW", "/no/such/path")
    after = scrape(client)
    route = "/api/v2/agents/{agent_id}/memories/{memory_id}"

    def count(families, **labels):
        try:
            return value(families, "memanto_http_requests", "memanto_http_requests_total",
                         **labels)
        except (AssertionError, KeyError):
            return 0

    assert count(after, route=route, status="404", method="GET") - count(
        before, route=route, status="404", method="GET") == 3
    assert count(after, route="unmatched", status="404") >= 1
    assert count(after, method="OTHER", route="unmatched") >= 1
    assert "BREW" not in client.get("/metrics").text
    # No path with an agent's id in it becomes a label.
    assert agent.agent_id not in client.get("/metrics").text
    assert value(after, "memanto_http_request_duration_seconds",
                 "memanto_http_request_duration_seconds_count", route=route) >= 3


@pytest.fixture
def bounded(settings, vectorizer):
    with TestClient(create_app(settings.varied(max_backlog=2, metrics_token="s3cret"),
                               vectorizer)) as bounded_client:
        yield bounded_client


def test_token_and_backlog_rejections(bounded, r):
    assert bounded.get("/metrics").status_code == 401
    assert bounded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    token = {"Authorization": "Bearer s3cret"}
    before = scrape(bounded, **token)
    with r.pipeline() as pipe:
        for i in range(3):
            pipe.xadd(keys.INGEST_STREAM, {"n": i})
        pipe.execute()
    from tests.conftest import new_agent

    agent = new_agent(bounded)
    reply = bounded.post(f"/api/v2/agents/{agent.agent_id}/remember",
                         json={"content": "over the bound"}, headers=agent.headers)
    assert reply.status_code == 503
    after = scrape(bounded, **token)

    def rejected(families):
        return sum(s.value for s in families.get("memanto_http_rejections", [])
                   if s.labels.get("reason") == "backlog" and s.name.endswith("_total"))

    assert rejected(after) - rejected(before) == 1
    assert value(after, "memanto_ingest_backlog") == 3
    assert value(after, "memanto_ingest_lag_seconds") >= 0


def test_worker_figures_from_redis(client, r):
    r.delete(keys.METRICS)
    tally = metrics.Tally(r)
    tally.inc(metrics.INDEXED, 5)
    tally.inc(metrics.WEBHOOKS, outcome="delivered")
    tally.inc(metrics.WEBHOOKS, 2, outcome="failed")
    tally.observe(metrics.EMBED_SECONDS, 0.02)
    tally.observe(metrics.EMBED_SECONDS, 3.0)
    tally.flush()
    tally.inc(metrics.INDEXED, 1)
    tally.flush()
    # Entries waiting, the oldest a few seconds old.
    r.xadd(keys.INGEST_STREAM, {"n": 1}, id=f"{int((time.time() - 5) * 1000)}-0")
    r.xadd(keys.INGEST_STREAM, {"n": 2})
    r.xadd(keys.DEAD_LETTER_STREAM, {"n": 3})
    beat = Heartbeat(r, "worker", "test-worker", 5)
    beat.beat()
    try:
        families = scrape(client)
    finally:
        beat.stop()
        r.delete(keys.METRICS)
    assert value(families, "memanto_ingest_indexed", "memanto_ingest_indexed_total") == 6
    assert value(families, "memanto_webhook_attempts", outcome="failed") == 2
    assert value(families, "memanto_webhook_attempts", outcome="delivered") == 1
    name = "memanto_ingest_embed_seconds"
    assert value(families, name, name + "_count") == 2
    assert value(families, name, name + "_bucket", le="0.025") == 1
    assert value(families, name, name + "_bucket", le="+Inf") == 2
    assert value(families, name, name + "_sum") == pytest.approx(3.02)
    assert value(families, "memanto_ingest_backlog") == 2
    assert 4 < value(families, "memanto_ingest_lag_seconds") < 60
    assert value(families, "memanto_ingest_dead_letters") == 1
    assert value(families, "memanto_processes", kind="worker") >= 1


def test_several_web_processes_share_a_multiprocess_folder(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR: what each process counted is summed by whichever serves."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = ("from memanto_redis.api.observe import REQUESTS; "
             "REQUESTS.labels('GET', '/x', '200').inc()")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    served = subprocess.run(
        [sys.executable, "-c", "import sys; from memanto_redis.api.metrics import _own; "
                               "sys.stdout.write(_own().decode())"],
        env=env, check=True, timeout=60, capture_output=True, text=True).stdout
    families = {f.name: f.samples for f in text_string_to_metric_families(served)}
    assert value(families, "memanto_http_requests", "memanto_http_requests_total",
                 route="/x") == 2
