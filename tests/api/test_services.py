"""The web process's resources: everything but the embedding model is served at once, and
what needs an embedding answers 503 with Retry-After until the model is loaded."""

from __future__ import annotations

import gc
import json
import threading

import pytest
from starlette.testclient import TestClient

from memanto_redis.api import app as app_module
from memanto_redis.api import services
from memanto_redis.cli import processes
from memanto_redis.shared.infra.embeddings import model_path
from tests.conftest import new_agent
from tests.support import problem, wait_until


@pytest.fixture
def slow_model(monkeypatch, vectorizer):
    """The model loads only once the test lets it."""
    gate = threading.Event()

    def load(name: str, threads: int | None = None):
        assert gate.wait(60), "the test never let the model load"
        return vectorizer

    monkeypatch.setattr(services, "load_vectorizer", load)
    yield gate
    gate.set()
    gc.unfreeze()  # what the load froze is this test process's, not a web process's


def test_writes_are_served_before_the_model_is_loaded(settings, slow_model):
    with TestClient(app_module.create_app(settings)) as app:
        agent = new_agent(app, prefix="early")
        url = f"/api/v2/agents/{agent.agent_id}"
        remembered = app.post(f"{url}/remember", json={"content": "the model is not here yet"},
                              headers=agent.headers)
        assert remembered.status_code == 200, remembered.text
        memory_id = remembered.json()["memory_id"]
        assert app.get(f"{url}/memories/{memory_id}", headers=agent.headers).status_code == 200
        listed = app.post(f"{url}/recall/recent", json={}, headers=agent.headers)
        assert listed.status_code == 200, listed.text

        early = app.post(f"{url}/recall", json={"query": "model"}, headers=agent.headers)
        assert early.status_code == 503
        assert early.headers["Retry-After"] == str(services.ModelLoading.retry_after)
        assert "loading" in problem(early)
        swarm = app.post("/api/swarm/search", json={"query": "model"}, headers=agent.headers)
        assert swarm.status_code == 503

        slow_model.set()
        wait_until(lambda: app.post(f"{url}/recall", json={"query": "model"},
                                    headers=agent.headers).status_code == 200,
                   30, 0.05, what="recall once the model is loaded")


def test_the_bundled_models_size_is_read_from_its_folder(vectorizer, tmp_path):
    assert services.folder_dims(model_path("all-MiniLM-L6-v2")) == vectorizer.dims == 384
    assert services.folder_dims(str(tmp_path)) is None
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "2_Dense").mkdir()
    transformer, pooling, dense, normalize = (
        {"path": path, "type": f"sentence_transformers.models.{kind}"}
        for path, kind in (("", "Transformer"), ("1_Pooling", "Pooling"),
                           ("2_Dense", "Dense"), ("3_Normalize", "Normalize")))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 768, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": True}))
    (folder / "2_Dense" / "config.json").write_text(json.dumps({"out_features": 256}))
    (folder / "modules.json").write_text(json.dumps([transformer, pooling, normalize]))
    assert services.folder_dims(str(folder)) == 1536  # two pooling modes, side by side
    (folder / "modules.json").write_text(json.dumps([transformer, pooling, dense, normalize]))
    assert services.folder_dims(str(folder)) == 256
    (folder / "modules.json").write_text(json.dumps([transformer]))
    assert services.folder_dims(str(folder)) is None  # unsure: the model itself tells


def test_the_ready_line_is_the_one_process_helpers_wait_for():
    assert processes.MODEL_READY == app_module.MODEL_READY
