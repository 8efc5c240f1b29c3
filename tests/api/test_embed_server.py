"""`memanto embed-server`'s app, in process over the session's real model: OpenAI's answer
shape, concurrent requests sharing model calls, bad input refused with a 4xx that names it
(and no model call), and the optional Bearer key."""

from __future__ import annotations

import asyncio
import base64
import struct

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from memanto_redis.api.embed_server import MAX_CHARS, MAX_TEXTS, ServedModel, create_app

KEY = "embed-test-key-0123456789"


@pytest.fixture(scope="module")
def model(vectorizer) -> ServedModel:
    return ServedModel("all-MiniLM-L6-v2", vectorizer.dims,
                       lambda texts: vectorizer.embed_many(texts, batch_size=len(texts)))


def counts(app: TestClient) -> dict:
    return app.get("/health").json()


def test_answers_in_openais_shape(model, vectorizer):
    with TestClient(create_app(model)) as app:
        texts = ["the cat sat on the mat", "quarterly revenue grew"]
        answer = app.post("/v1/embeddings", json={"input": texts, "model": model.name})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["object"] == "list" and body["model"] == model.name
        assert [item["index"] for item in body["data"]] == [0, 1]
        assert body["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
        for item, text in zip(body["data"], texts, strict=True):
            assert item["object"] == "embedding"
            assert np.allclose(item["embedding"], vectorizer.embed(text), atol=1e-5)
        # One string is one text; base64 is the same float32 values, little-endian.
        single = app.post("/v1/embeddings", json={"input": texts[0],
                                                  "encoding_format": "base64"}).json()
        packed = base64.b64decode(single["data"][0]["embedding"])
        assert np.allclose(struct.unpack(f"<{model.dims}f", packed),
                           body["data"][0]["embedding"], atol=1e-6)
        listed = app.get("/v1/models").json()
        assert [m["id"] for m in listed["data"]] == [model.name]
        assert counts(app)["dims"] == 384


def test_concurrent_requests_share_model_calls(model, vectorizer):
    app = create_app(model, max_batch=64, max_wait=0.05)
    texts = [f"memory number {i} about topic {i % 5}" for i in range(24)]

    async def ask_all() -> list[list[float]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embed") as http:
            answers = await asyncio.gather(*(
                http.post("/v1/embeddings", json={"input": [text]}) for text in texts))
        return [a.json()["data"][0]["embedding"] for a in answers]

    with TestClient(app) as client:
        vectors = client.portal.call(ask_all)
        seen = counts(client)
    assert seen["requests"] == len(texts) and seen["texts"] == len(texts)
    assert seen["model_calls"] < len(texts) / 4, seen  # 24 requests, a few model calls
    assert seen["largest_batch"] > 1
    # Each request got its own text's vector back, not a neighbour's.
    expected = vectorizer.embed_many(texts, batch_size=len(texts))
    assert np.allclose(vectors, expected, atol=1e-5)


@pytest.mark.parametrize(("body", "status", "names"), [
    (b"not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b"{}", 400, "input"),
    (b'{"input": []}', 400, "must not be empty"),
    (b'{"input": ["fine", "  "]}', 400, "input[1] is empty"),
    (b'{"input": [[101, 2023]]}', 400, "token arrays"),
    (b'{"input": ["a", 3]}', 400, "list of strings"),
    (b'{"input": "a", "model": "text-embedding-3-small"}', 404, "not served here"),
    (b'{"input": "a", "encoding_format": "int8"}', 400, "encoding_format"),
    (b'{"input": "a", "dimensions": 128}', 400, "dimensions must be 384"),
])
def test_bad_input_is_refused_by_name(model, body, status, names):
    with TestClient(create_app(model)) as app:
        answer = app.post("/v1/embeddings", content=body,
                          headers={"Content-Type": "application/json"})
        assert answer.status_code == status, answer.text
        assert names in answer.json()["error"]["message"]
        assert counts(app)["model_calls"] == 0


def test_too_many_or_too_long_texts_are_refused(model):
    with TestClient(create_app(model)) as app:
        many = app.post("/v1/embeddings", json={"input": ["a"] * (MAX_TEXTS + 1)})
        assert many.status_code == 400 and str(MAX_TEXTS) in many.json()["error"]["message"]
        long = app.post("/v1/embeddings", json={"input": ["ok", "x" * (MAX_CHARS + 1)]})
        assert long.status_code == 400
        assert f"input[1] has {MAX_CHARS + 1} characters" in long.json()["error"]["message"]
        assert counts(app)["model_calls"] == 0


def test_a_key_when_set_is_asked_for(model):
    with TestClient(create_app(model, api_key=KEY)) as app:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            refused = app.post("/v1/embeddings", json={"input": "a"}, headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_api_key"
            assert app.get("/v1/models", headers=headers).status_code == 401
        allowed = app.post("/v1/embeddings", json={"input": "a"},
                           headers={"Authorization": f"Bearer {KEY}"})
        assert allowed.status_code == 200
        assert app.get("/health").status_code == 200  # a probe needs no key
