"""Embeddings as a service, with real processes on the loopback: a web process and an ingest
worker that cannot import torch (a `torch` package that refuses, first on their PYTHONPATH)
embed through a real `memanto embed-server`; while that server is away, writes still queue,
/ready names the service, recall answers 503, and the worker holds its batch; once it is
up, the memory is indexed and recalled by meaning. RemoteVectorizer is checked against the
same server.

MEMANTO_TEST_PY312=/path/to/python runs the web and the worker with that interpreter (a
torch-free venv: `python3.12 -m venv V && V/bin/pip install ./clients/python .`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from memanto_redis.cli import processes
from memanto_redis.shared.infra.remote_embeddings import (
    MAX_TEXTS_PER_REQUEST,
    EmbeddingRefused,
    EmbeddingsUnavailable,
    RemoteVectorizer,
)
from memanto_redis.shared.infra.settings import Settings
from tests.conftest import new_agent
from tests.support import (
    ROOT,
    free_port,
    service_env,
    start_redis,
    stop,
    wait_until,
    worker_ready,
)

KEY = "embed-service-key-0123456789"
# Imported by a process that must not import these, they leave a note and refuse.
REFUSING = ("import os, pathlib\n"
            "pathlib.Path(os.environ['MEMANTO_TEST_IMPORTED']).open('a').write(__name__ + '\\n')\n"
            "raise ImportError(__name__ + ' is not installed in a torch-free process')\n")
PYTHON = os.environ.get("MEMANTO_TEST_PY312") or sys.executable


@pytest.fixture(scope="module")
def embed_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def embed_server(embed_port, tmp_path_factory):
    """The real `memanto embed-server` (started when first asked for), with a key."""
    log = tmp_path_factory.mktemp("embed") / "embed.log"
    env = {**os.environ, "MEMANTO_EMBEDDINGS_API_KEY": KEY, "HF_HUB_OFFLINE": "1"}
    proc = processes.start_embed_server(embed_port, log, env=env, cwd=ROOT,
                                        extra=["--max-wait-ms", "20"])
    yield f"http://127.0.0.1:{embed_port}"
    stop(proc)


@pytest.fixture(scope="module")
def torchless(tmp_path_factory, embed_port):
    """A Redis, and a web process and a worker for which torch cannot be imported, pointed
    at the embed-server's port (not started yet)."""
    root = tmp_path_factory.mktemp("torchless")
    for name in ("torch", "sentence_transformers"):
        (root / "refuse" / name).mkdir(parents=True)
        (root / "refuse" / name / "__init__.py").write_text(REFUSING)
    imported = root / "imported.txt"
    started = []
    try:
        redis_port = free_port()
        started.append(start_redis(redis_port, root / "redis"))
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = service_env(redis_url, PYTHONPATH=str(root / "refuse"),
                          MEMANTO_TEST_IMPORTED=str(imported), MEMANTO_BLOCK_MS="100",
                          MEMANTO_EMBEDDINGS_URL=f"http://127.0.0.1:{embed_port}",
                          MEMANTO_EMBEDDINGS_API_KEY=KEY, MEMANTO_EMBEDDINGS_DIMS="384")
        worker_log = root / "worker.log"
        worker = processes.start_worker(worker_log, env=env, cwd=ROOT, python=PYTHON)
        started.append(worker)
        port = free_port()
        started.append(processes.start_web(port, root / "web.log", env=env, cwd=ROOT,
                                           python=PYTHON, timeout=60))
        wait_until(lambda: worker_ready(worker, worker_log), 60, 0.1, what="ingest worker")
        yield f"http://127.0.0.1:{port}", imported, root
    finally:
        for proc in reversed(started):
            stop(proc)


def test_web_and_worker_without_torch_embed_through_the_service(torchless, request):
    url, imported, root = torchless
    with httpx.Client(base_url=url, timeout=10) as http:
        remote = new_agent(http, "remote")
        base = f"/api/v2/agents/{remote.agent_id}"
        agent = remote.headers
        # The service is away: the door still queues, /ready and recall say why.
        remembered = http.post(f"{base}/remember", headers=agent, json={
            "content": "Dana's cat is called Miso and hates the vacuum cleaner"})
        assert remembered.status_code == 200, remembered.text
        other = http.post(f"{base}/remember", headers=agent, json={
            "content": "The quarterly budget review moved to Thursday"}).json()["memory_id"]
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert "embedding service at http://127.0.0.1" in ready.json()["detail"]
        early = http.post(f"{base}/recall", headers=agent,
                          json={"query": "pets", "search_mode": "semantic"})
        assert early.status_code == 503 and early.headers["Retry-After"] == "2"
        wait_until(lambda: "holding" in (root / "worker.log").read_text(), 10, 0.1,
                   what="the worker to hold its batch")

        request.getfixturevalue("embed_server")  # the service comes up
        ids = [remembered.json()["memory_id"], other]

        def indexed() -> bool:
            return all(http.get(f"{base}/memories/{memory_id}",
                                headers=agent).json()["status"] == "indexed"
                       for memory_id in ids)

        wait_until(indexed, 30, 0.1, what="indexing")
        wait_until(lambda: http.get("/ready").status_code == 200, 10, 0.2, what="/ready")
        found = http.post(f"{base}/recall", headers=agent,
                          json={"query": "which pet does Dana have?",
                                "search_mode": "semantic", "limit": 2}).json()
        assert found["memories"][0]["memory_id"] == ids[0], found
        assert found["memories"][0]["similarity"] > found["memories"][1]["similarity"]
    assert not imported.exists(), imported.read_text()  # torch was never even tried


def test_remote_vectorizer_matches_the_local_model(embed_server, vectorizer):
    remote = RemoteVectorizer.from_settings(Settings(embeddings_url=embed_server + "/v1",
                                                     embeddings_api_key=KEY))
    assert remote.dims == 384  # asked of the service
    texts = [f"note {i}: the meeting moved to room {i % 7}" for i in range(300)]
    vectors = remote.embed_many(texts, as_buffer=True)  # two requests of at most 256
    assert len(texts) > MAX_TEXTS_PER_REQUEST and len(vectors) == len(texts)
    local = vectorizer.embed_many(texts[:5], batch_size=5, as_buffer=True)
    for ours, theirs in zip(vectors[:5], local, strict=True):
        assert np.allclose(np.frombuffer(ours, np.float32), np.frombuffer(theirs, np.float32),
                           atol=1e-5)
    with pytest.raises(EmbeddingRefused, match="refused the text"):
        remote.embed("x" * 100_001)


def test_remote_vectorizer_errors_say_what_is_wrong(embed_server):
    wrong_key = RemoteVectorizer(url=embed_server, model="all-MiniLM-L6-v2", api_key="nope")
    with pytest.raises(EmbeddingsUnavailable, match="answered 401"):
        wrong_key.embed("hello")
    wrong_model = RemoteVectorizer(url=embed_server, model="text-embedding-3-small",
                                   api_key=KEY)
    with pytest.raises(EmbeddingsUnavailable, match="not served here"):
        wrong_model.embed("hello")
    wrong_size = RemoteVectorizer(url=embed_server, model="all-MiniLM-L6-v2", api_key=KEY,
                                  dims=768)
    with pytest.raises(EmbeddingsUnavailable, match="expects 768"):
        wrong_size.embed("hello")
    nobody = RemoteVectorizer(url=f"http://user:secret@127.0.0.1:{free_port()}",
                              model="m", timeout=2)
    with pytest.raises(EmbeddingsUnavailable, match="does not answer") as caught:
        nobody.embed("hello")
    assert "secret" not in str(caught.value)


def test_the_py312_interpreter_is_torch_free():
    if "MEMANTO_TEST_PY312" not in os.environ:
        pytest.skip("set MEMANTO_TEST_PY312 to a torch-free venv's python")
    probe = ("import importlib.util, sys; "
             "sys.exit(any(importlib.util.find_spec(m) for m in ('torch', "
             "'sentence_transformers')))")
    assert os.spawnv(os.P_WAIT, PYTHON, [PYTHON, "-c", probe]) == 0
    assert Path(PYTHON).exists()
