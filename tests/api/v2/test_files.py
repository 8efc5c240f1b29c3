"""upload-file: a real file of each kind becomes memories through the ingest stream, each
chunk found by recall once indexed; MEMANTO's answer; and every bad upload refused with a
clear 4xx that queues nothing."""

from __future__ import annotations

import io
import multiprocessing
import tempfile
import zipfile
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, ConfigDict
from starlette.testclient import TestClient

from memanto_redis.shared.infra import keys
from memanto_redis.shared.memory import files
from memanto_redis.shared.memory.rules import namespace
from tests.conftest import new_agent
from tests.shared.memory.test_files import SAMPLES, pdf_bytes
from tests.support import wait_until


class UploadFileResponse(BaseModel):
    """MEMANTO 0.2.30's answer (memanto.app.models.UploadFileResponse), field for field,
    strict; answers are checked against both this and the real model."""

    model_config = ConfigDict(strict=True, extra="allow")
    agent_id: str
    session_id: str
    namespace: str
    file_name: str
    file_size: int | None = None
    status: str
    message: str = ""


def _url(agent) -> str:
    return f"/api/v2/agents/{agent.agent_id}/upload-file"


def _nothing_queued(r, agent) -> None:
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert r.scard(keys.memory_ids(agent.agent_id)) == 0


def _indexed(r, agent_id: str, ids: list[str]) -> bool:
    """Whether the worker has written each memory's live document (tests.support's
    memories_indexed finds /memories' owners, which v2 memories have not)."""
    return all(r.exists(keys.memory(agent_id, memory_id)) for memory_id in ids)


def _spooled() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("memanto-upload-*")}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_becomes_memories_found_by_recall(client, indexer, r, memanto, kind):
    agent = new_agent(client, "upload")
    data, phrases = SAMPLES[kind]
    before = _spooled()
    reply = client.post(_url(agent), files={"file": (f"sample{kind}", data)},
                        headers=agent.headers)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    for model in (UploadFileResponse, memanto.m.UploadFileResponse):
        model.model_validate(answer)
    assert answer["agent_id"] == agent.agent_id
    assert answer["session_id"] == agent.session_id
    assert answer["namespace"] == namespace(agent.agent_id)
    assert (answer["file_name"], answer["file_size"], answer["status"]) == \
        (f"sample{kind}", len(data), "uploaded")
    ids = answer["memory_ids"]
    assert len(ids) == answer["chunks"] >= 1
    assert _spooled() <= before  # the upload's temporary file is gone

    indexer.run(burst=True)
    assert _indexed(r, agent.agent_id, ids)
    texts = []
    for memory_id in ids:
        memory = client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}",
                            headers=agent.headers).json()
        assert (memory["status"], memory["source"], memory["type"]) == \
            ("indexed", f"sample{kind}", "artifact")
        texts.append(memory["content"])
        found = client.post(f"/api/v2/agents/{agent.agent_id}/recall",
                            json={"query": memory["content"][:500], "limit": 5},
                            headers=agent.headers).json()["memories"]
        assert memory_id in [m["memory_id"] for m in found]
    for phrase in phrases:
        assert any(phrase in text for text in texts), phrase


def test_a_long_file_makes_overlapping_chunks_each_recalled(client, indexer, r):
    agent = new_agent(client, "upload")
    topics = ["volcanoes erupt molten rock", "penguins live in Antarctica",
              "espresso is brewed under pressure", "violins have four strings",
              "glaciers carve valleys slowly", "satellites orbit the earth"]
    paragraphs = [" ".join(f"Note {i}.{j}: {topic}, as fact {j} of topic {i} says."
                           for j in range(12)) for i, topic in enumerate(topics)]
    reply = client.post(_url(agent), files={"file": ("notes.md", "\n\n".join(paragraphs))},
                        headers=agent.headers)
    ids = reply.json()["memory_ids"]
    assert len(ids) >= len(topics)
    indexer.run(burst=True)
    assert _indexed(r, agent.agent_id, ids)
    for i, topic in enumerate(topics):
        found = client.post(f"/api/v2/agents/{agent.agent_id}/recall",
                            json={"query": topic, "limit": 3}, headers=agent.headers).json()
        assert any(f"topic {i}" in m["content"] for m in found["memories"]), topic


def test_the_same_idempotency_key_stores_a_file_once(client, r):
    agent = new_agent(client, "upload")
    headers = agent.headers | {"Idempotency-Key": "upload-once-1"}
    first = client.post(_url(agent), files={"file": ("a.txt", b"Once only.")},
                        headers=headers).json()
    again = client.post(_url(agent), files={"file": ("a.txt", b"Once only.")},
                        headers=headers).json()
    assert again["memory_ids"] == first["memory_ids"]
    assert r.scard(keys.memory_ids(agent.agent_id)) == 1


def test_a_path_in_the_file_name_is_dropped_and_the_source_made_valid(client):
    agent = new_agent(client, "upload")
    reply = client.post(_url(agent), files={"file": ("../../etc/My notes (v2).txt", b"Hi.")},
                        headers=agent.headers).json()
    assert reply["file_name"] == "My notes (v2).txt"
    assert reply["source"] == "My_notes_v2_.txt"


def test_other_fields_are_ignored(client):
    agent = new_agent(client, "upload")
    reply = client.post(_url(agent), files={"file": ("a.txt", b"Kept.")},
                        data={"type": "preference", "note": "x"}, headers=agent.headers)
    assert reply.status_code == 200
    assert reply.json()["chunks"] == 1


# -- refused -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, status, says", [
    ("virus.exe", b"MZ", 400, "File type '.exe' is not supported"),
    ("noext", b"text", 400, "is not supported"),
    ("empty.txt", b"", 422, "empty.txt is empty"),
    ("blank.txt", b"\n \n", 422, "blank.txt holds no text"),
    ("bad.pdf", b"%PDF-1.7 garbage", 422, "bad.pdf cannot be read as a .pdf file"),
    ("blank.pdf", pdf_bytes([[]]), 422, "blank.pdf holds no text"),
    ("bad.docx", b"not a zip", 422, "bad.docx is not a .docx file"),
    ("bad.xlsx", b"a,b", 422, "bad.xlsx is not a .xlsx file"),
    ("bad.json", b"{", 422, "bad.json is not valid JSON"),
    ("bin.txt", b"\x00\x01\x02", 422, "bin.txt is not text"),
    ("latin.csv", b"caf\xe9,x\n1,2", 422, "latin.csv is not UTF-8 text"),
])
def test_bad_files_are_named_and_queue_nothing(client, r, name, data, status, says):
    agent = new_agent(client, "upload")
    before = _spooled()
    reply = client.post(_url(agent), files={"file": (name, data)}, headers=agent.headers)
    assert reply.status_code == status, reply.text
    assert says in reply.text
    _nothing_queued(r, agent)
    assert _spooled() <= before


@pytest.mark.parametrize("request_kw, says", [
    ({"json": {"file": "notes.txt"}}, "multipart/form-data"),
    ({"content": b"file=abc", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     "multipart/form-data"),
    ({"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}},
     "multipart/form-data"),  # no boundary
    ({"data": {"file": "not a file part"}, "files": {"other": ("a.txt", b"x")}},
     "expected a file, got a text field"),
    ({"files": {"document": ("a.txt", b"wrong field")}}, "Field required"),
    ({"files": [("file", ("a.txt", b"one")), ("file", ("b.txt", b"two"))]},
     "send one file per upload"),
    ({"content": b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\""
                 b"\r\n\r\ncut short",
      "headers": {"Content-Type": "multipart/form-data; boundary=b"}}, "no end"),
    ({"content": b"garbage without any boundary",
      "headers": {"Content-Type": "multipart/form-data; boundary=b"}}, "malformed multipart"),
])
def test_bad_bodies_are_422_and_queue_nothing(client, r, request_kw, says):
    agent = new_agent(client, "upload")
    headers = agent.headers | request_kw.pop("headers", {})
    reply = client.post(_url(agent), headers=headers, **request_kw)
    assert reply.status_code == 422, reply.text
    assert says in reply.text
    _nothing_queued(r, agent)


def test_credentials_are_checked_before_the_body(client, r):
    agent, other = new_agent(client, "upload"), new_agent(client, "upload")
    files = {"file": ("a.txt", b"secret")}
    assert client.post(_url(agent), files=files).status_code == 401
    assert client.post(_url(agent), files=files,
                       headers={"X-Session-Token": "not-a-token"}).status_code == 401
    assert client.post(_url(agent), files=files, headers=other.headers).status_code == 403
    client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=agent.headers)
    assert client.post(_url(agent), files=files, headers=agent.headers).status_code == 401
    _nothing_queued(r, agent)


@pytest.fixture(scope="module")
def small(settings, vectorizer):
    """The service with a 4 KB upload limit and at most 3 chunks a file."""
    from memanto_redis.api.app import create_app

    limited = settings.varied(max_upload_bytes=4096, max_upload_chunks=3)
    with TestClient(create_app(limited, vectorizer)) as test_client:
        yield test_client


def test_a_file_over_the_size_limit_is_413(small, r):
    agent = new_agent(small, "upload")
    before = _spooled()
    at_limit = b'"Exactly at the limit."'.ljust(4096)
    assert small.post(_url(agent), files={"file": ("a.json", at_limit)},
                      headers=agent.headers).status_code == 200
    r.delete(keys.INGEST_STREAM)
    agent = new_agent(small, "upload")
    reply = small.post(_url(agent), files={"file": ("big.txt", b"x" * 4097)},
                       headers=agent.headers)
    assert reply.status_code == 413
    assert "MEMANTO_MAX_UPLOAD_BYTES" in reply.text
    _nothing_queued(r, agent)
    assert _spooled() <= before


def test_a_declared_length_over_the_limit_is_413_before_reading(small, r):
    agent = new_agent(small, "upload")
    body = iter([b"--b\r\n"])  # the rest never comes: the answer must not wait for it
    reply = small.post(_url(agent), content=body, headers=agent.headers | {
        "Content-Type": "multipart/form-data; boundary=b", "Content-Length": "999999999"})
    assert reply.status_code == 413
    _nothing_queued(r, agent)


def test_a_file_of_more_chunks_than_allowed_is_refused_whole(small, r):
    agent = new_agent(small, "upload")
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 180 for i in range(4))
    reply = small.post(_url(agent), files={"file": ("long.txt", text[:4000])},
                       headers=agent.headers)
    assert reply.status_code == 422
    assert "more than 3 memories" in reply.text
    _nothing_queued(r, agent)


def _slow_docx() -> bytes:
    """A real docx whose text part is just under the size allowed, all empty paragraphs:
    accepted by every check, and seconds of parsing."""
    import docx

    made = io.BytesIO()
    docx.Document().save(made)
    out = io.BytesIO()
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                head, _, tail = data.partition(b"<w:body>")
                room = files.MAX_XML_PART_BYTES - len(data) - 16
                data = head + b"<w:body>" + b"<w:p/>" * (room // 6) + tail
                assert len(data) < files.MAX_XML_PART_BYTES
            z.writestr(item, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def hurried(settings, vectorizer):
    """The service giving an upload's text one second."""
    from memanto_redis.api.app import create_app

    with TestClient(create_app(settings.varied(upload_read_seconds=1.0), vectorizer)) as tc:
        yield tc


def test_a_file_slow_to_read_is_stopped_at_the_time_limit(hurried, r):
    agent = new_agent(hurried, "upload")
    assert hurried.post(_url(agent), files={"file": ("quick.txt", b"A quick note.")},
                        headers=agent.headers).status_code == 200
    r.delete(keys.INGEST_STREAM)
    agent = new_agent(hurried, "upload")
    reply = hurried.post(_url(agent), files={"file": ("slow.docx", _slow_docx())},
                         headers=agent.headers)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["msg"] == "slow.docx took more than 1 s to read"
    _nothing_queued(r, agent)
    # The child reading it was killed, not left to finish; the next file is read.
    assert not [p for p in multiprocessing.active_children() if p.name == "memanto-upload-text"]
    assert hurried.post(_url(agent), files={"file": ("next.md", b"# Next\nRead at once.")},
                        headers=agent.headers).status_code == 200


def test_a_served_web_process_reads_uploads_in_its_reader_processes(live):
    """Through a real uvicorn web process and ingest worker: the reader processes start
    under the server, a PDF and a docx become memories, and recall finds them."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        agent = new_agent(http, "upload-live")
        for kind in (".pdf", ".docx"):
            data, phrases = SAMPLES[kind]
            reply = http.post(f"/api/v2/agents/{agent.agent_id}/upload-file",
                              files={"file": (f"live{kind}", data)}, headers=agent.headers)
            assert reply.status_code == 200, reply.text
            first = next(iter(phrases))

            def found(first=first) -> bool:
                reply = http.post(f"/api/v2/agents/{agent.agent_id}/recall",
                                  headers=agent.headers, json={"query": first, "limit": 3},
                                  timeout=30)
                return reply.status_code == 200 and any(
                    first in m["content"] for m in reply.json()["memories"])

            wait_until(found, 60, 0.2, what=f"the {kind} upload recalled")
