"""Receiving one file of a multipart/form-data body, streamed to a temporary file.

Starlette's own form parser keeps each file in memory up to 1 MB and takes any size; this
one writes every byte to disk as it arrives, stops at the size limit, and checks the file's
name as soon as its part's headers are read, before any of its bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Generic, TypeVar

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from memanto_redis.api.errors import FileTooLarge, PayloadTooLarge
from memanto_redis.shared.errors import InvalidInput

# Room for the other fields and the parts' headers, beyond the file itself.
FORM_OVERHEAD = 64 * 1024

T = TypeVar("T")


def _invalid(message: str, kind: str = "value_error") -> InvalidInput:
    return InvalidInput(message, [{"field": "file", "message": message, "type": kind}])


class _FilePart(Generic[T]):
    """The parser's callbacks: the part named `field` goes to `handle`, others are skipped."""

    def __init__(self, field: str, handle: IO[bytes], max_bytes: int,
                 check_name: Callable[[str], T]) -> None:
        self.field, self.handle, self.max_bytes = field, handle, max_bytes
        self.check_name = check_name
        self.header_name, self.header_value = b"", b""
        self.disposition = b""
        self.writing = False
        self.name: T | None = None
        self.complete = False
        self.size = 0
        self.pending: list[bytes] = []

    def on_part_begin(self) -> None:
        self.disposition, self.writing = b"", False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if options.get(b"name", b"").decode("utf-8", "replace") != self.field:
            return
        if self.name is not None:
            raise _invalid(f"send one file per upload (a second '{self.field}' part came)")
        raw = options.get(b"filename")
        if raw is None:  # a text field: there is no file to read
            raise _invalid(f"{self.field}: expected a file, got a text field (a part "
                           "without a filename)")
        self.name = self.check_name(raw.decode("utf-8", "replace"))
        self.writing = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.writing:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise FileTooLarge(f"the file is larger than {self.max_bytes} bytes "
                               "(MEMANTO_MAX_UPLOAD_BYTES)", self.max_bytes)
        self.pending.append(data[start:end])

    def on_part_end(self) -> None:
        if self.writing:
            self.complete = True
        self.writing = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {name: getattr(self, name) for name in (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished", "on_part_data", "on_part_end")}


@contextlib.asynccontextmanager
async def received_file(request: Request, field: str, max_bytes: int,
                        check_name: Callable[[str], T]) -> AsyncIterator[
                            tuple[Path, T, int]]:
    """The multipart body's `field` file, on disk while the block runs (then removed):
    its path, what `check_name` made of its file name (called before its bytes are read,
    so that it can refuse them), and its size."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise _invalid(f"send the file as multipart/form-data, in a field named '{field}'",
                       "missing")
    limit = max_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FileTooLarge(f"the file is larger than {max_bytes} bytes "
                           "(MEMANTO_MAX_UPLOAD_BYTES)", max_bytes)
    folder = Path(tempfile.mkdtemp(prefix="memanto-upload-"))
    try:
        path = folder / "file"
        with path.open("wb") as handle:
            part = _FilePart(field, handle, max_bytes, check_name)
            parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
            total = 0
            try:
                async for chunk in request.stream():
                    total += len(chunk)
                    if total > limit:
                        raise PayloadTooLarge(f"the body is larger than {limit} bytes", limit)
                    parser.write(chunk)
                    if part.pending:
                        # Off the event loop: a slow disk must not stall other requests.
                        await asyncio.to_thread(handle.writelines, part.pending)
                        part.pending = []
                parser.finalize()
            except FormParserError as exc:
                raise _invalid(f"malformed multipart body: {exc}") from None
        if part.name is None:
            raise _invalid(f"{field}: Field required (a file part named '{field}')",
                           "missing")
        if not part.complete:  # the body ended inside the file: it was cut short
            raise _invalid("malformed multipart body: the file's part has no end")
        yield path, part.name, part.size
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
