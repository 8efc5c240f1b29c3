"""The MEMANTO v2 dialect: a file uploaded into the agent's memory (upload-file).

Thin adapter: the session is checked before a byte of the body is read, the file streamed
to disk (api/uploads.py), its text cut into memories by a child process with a time limit
(shared/memory/extraction.py, shared/memory/files.py),
and the memories queued in one round trip, as a batch-remember's are: all or nothing.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import once, services, session_claims
from memanto_redis.api.uploads import received_file
from memanto_redis.shared.auth.sessions import authorize
from memanto_redis.shared.memory import extraction, files
from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.memory.rules import namespace

_EXTRACTION = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-text")


class UploadForm(BaseModel):
    """The upload's multipart/form-data body, for the OpenAPI document (api/uploads.py
    reads it as a stream)."""

    file: bytes = Field(description=f"the file: {', '.join(files.SUPPORTED)}")


async def upload_file(request: Request) -> JSONResponse:
    """Upload a file (.txt, .md, .csv, .json, .pdf, .docx, .xlsx) into the agent's memory.

    multipart/form-data with the file in a field named `file` (at most
    MEMANTO_MAX_UPLOAD_BYTES). Its text is cut into chunks of about 1,000 characters that
    overlap a little, at paragraph and sentence boundaries, and each chunk is queued as a
    memory (type artifact, provenance imported, tag upload) whose source is the file's
    name; recall finds them once indexed. A file of another kind answers 400 and one that
    cannot be read, or holds no text, 422; nothing is queued then."""
    claims = session_claims(request)
    authorize(claims, request.path_params["agent_id"])
    svc = services(request)
    write_once = once(request, f"agent.{claims.agent_id}")
    # Before the body: an upload with a dead session, or from an agent over its write
    # quota, is refused without reading it.
    await svc.memories.ensure_may_write(claims.agent_id, claims)
    await svc.sessions.check(claims)
    settings = svc.settings
    async with received_file(request, "file", settings.max_upload_bytes,
                             files.upload_named) as (path, upload, size):
        # One file's text extracted at a time per web process, by a child process that is
        # killed past MEMANTO_UPLOAD_READ_SECONDS; this thread only waits for it, beside the
        # default pool that query embeddings use: a costly file delays other uploads only.
        drafts = await asyncio.get_running_loop().run_in_executor(
            _EXTRACTION, extraction.drafts, path, upload, settings.max_upload_chunks,
            settings.upload_read_seconds)
    memories = await svc.memories.remember(claims.agent_id, drafts, claims, once=write_once)
    return JSONResponse(uploaded(claims.agent_id, claims.session_id, upload, size, memories))


def uploaded(agent_id: str, session_id: str, upload: files.Upload, size: int,
             memories: list[Memory]) -> dict[str, Any]:
    """MEMANTO's UploadFileResponse, with the memories the file became."""
    return {
        "agent_id": agent_id,
        "session_id": session_id,
        "namespace": namespace(agent_id),
        "file_name": upload.name,
        "file_size": size,
        "status": "uploaded",
        "message": f"{len(memories)} chunk(s) of {upload.name} queued as memories",
        "source": upload.source,
        "chunks": len(memories),
        "memory_ids": [m.memory_id for m in memories],
    }


routes = [
    Route("/api/v2/agents/{agent_id}/upload-file", upload_file, methods=["POST"]),
]
