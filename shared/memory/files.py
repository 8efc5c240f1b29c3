"""Uploaded files as memories: the text of a txt, md, csv, json, pdf, docx or xlsx file,
cut into overlapping chunks that each become one memory.

Everything here reads a file already on disk (the web layer streams the upload there), so
no file is held whole in memory but a JSON document, which its parser needs whole. Chunks
are produced lazily: extraction stops as soon as a file makes more chunks than allowed.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from memanto_redis.shared.errors import InvalidInput, MemantoError
from memanto_redis.shared.memory.record import Draft
from memanto_redis.shared.memory.rules import MAX_TITLE

SUPPORTED = (".csv", ".docx", ".json", ".md", ".pdf", ".txt", ".xlsx")
# all-MiniLM-L6-v2 reads at most 256 word pieces (~1,000 characters of English): a longer
# chunk would be embedded by its beginning alone.
CHUNK_CHARS = 1000
# Enough of the previous chunk (a sentence or two) that a fact cut in two is found whole
# in one of them.
OVERLAP_CHARS = 150
# What a docx or xlsx (zip archives) may unpack to: a few kilobytes can inflate to gigabytes.
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
# And any one XML part of it: the parsers build the whole tree in memory, at ~40 times the
# XML's size (a 32 MB document.xml of empty paragraphs took 1.2 GB and 51 s of CPU). A real
# document's text part is rarely a megabyte.
MAX_XML_PART_BYTES = 8 * 1024 * 1024
# MEMANTO's rule for a memory's source, which an upload's is (its file name).
SOURCE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEFAULT_NAME = "upload"

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_BLANK_LINES = re.compile(r"\n\s*\n")
_NOT_SOURCE = re.compile(r"[^A-Za-z0-9._-]+")


class UnsupportedFile(MemantoError):
    """A file of a kind that is not read (named by its extension)."""


class UnreadableFile(InvalidInput):
    """The file is not what its extension says, is damaged, or holds no text."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"field": "file", "message": message,
                                    "type": "file_unreadable"}])


class TooManyChunks(InvalidInput):
    """The file's text makes more memories than one upload may queue."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"field": "file", "message": message,
                                    "type": "file_too_long"}])


@dataclass(frozen=True, slots=True)
class Upload:
    """A file received: the name it was sent with (no folders), and its kind."""

    name: str
    kind: str  # one of SUPPORTED

    @property
    def source(self) -> str:
        return source_of(self.name)


def upload_named(filename: str | None) -> Upload:
    """The upload of a file sent as `filename`: its last path component (either slash),
    refused unless its extension is a supported kind."""
    name = re.split(r"[\\/]", filename or "")[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable()) or DEFAULT_NAME
    if name in (".", ".."):
        name = DEFAULT_NAME
    kind = Path(name).suffix.lower()
    if kind not in SUPPORTED:
        raise UnsupportedFile(f"File type '{kind or name}' is not supported. "
                              f"Allowed types: {', '.join(SUPPORTED)}")
    return Upload(name, kind)


def source_of(name: str) -> str:
    """A file name as a valid memory source (SOURCE_RE): other characters become '_', and a
    long name keeps its extension."""
    source = _NOT_SOURCE.sub("_", name).strip("_") or DEFAULT_NAME
    if len(source) > 64:
        suffix = Path(source).suffix[:16]
        source = source[: 64 - len(suffix)] + suffix
    return source


# -- extraction: each kind of file as blocks of text (paragraphs, rows) --------------------

def _text_lines(path: Path, name: str) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for line in handle:
                if "\x00" in line:
                    raise UnreadableFile(f"{name} is not text (it holds NUL bytes)")
                yield line
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{name} is not UTF-8 text (byte {exc.start} of a line "
                             "cannot be read)") from None


def _paragraphs(path: Path, name: str) -> Iterator[str]:
    """Plain text and Markdown: paragraphs (blank-line separated)."""
    lines: list[str] = []
    for line in _text_lines(path, name):
        if line.strip():
            lines.append(line.rstrip())
        elif lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


def _record(header: list[str], row: Iterable[object]) -> str:
    """One row as 'column: value' pairs (its position when the column has no name)."""
    cells = [("" if v is None else str(v)).strip() for v in row]
    pairs = [f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {value}"
             for i, value in enumerate(cells) if value]
    return "; ".join(pairs)


def _csv_rows(path: Path, name: str) -> Iterator[str]:
    """Each row of a CSV file, labelled by the header row."""
    sample = "".join(islice(_text_lines(path, name), 20))
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    header: list[str] | None = None
    rows = 0
    try:
        for row in csv.reader(_text_lines(path, name), dialect):
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                continue
            rows += 1
            yield _record(header, row)
    except csv.Error as exc:
        raise UnreadableFile(f"{name} is not a readable CSV file: {exc}") from None
    if header and not rows:
        # One row alone may be data as well as a header: it is kept as text.
        yield ", ".join(cell for cell in header if cell)


def _json_blocks(path: Path, name: str) -> Iterator[str]:
    """A JSON document: each item of a top-level list, or each top-level key of an object,
    as 'path: value' lines."""
    try:
        with path.open("rb") as handle:
            document = json.load(handle)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise UnreadableFile(f"{name} is not valid JSON: {exc}") from None
    if isinstance(document, list):
        for item in document:
            yield "\n".join(_json_lines(item, ""))
    elif isinstance(document, dict):
        for key, value in document.items():
            yield "\n".join(_json_lines(value, str(key)))
    else:
        yield "\n".join(_json_lines(document, ""))


def _json_lines(value: object, prefix: str) -> Iterator[str]:
    # Iterative: a deeply nested document must not exhaust the stack.
    stack: list[tuple[str, object]] = [(prefix, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed([(f"{where}.{k}" if where else str(k), v)
                                   for k, v in item.items()]))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{where}.{i}" if where else str(i), v)
                                   for i, v in enumerate(item)]))
        elif item is not None and str(item).strip():
            text = item if isinstance(item, str) else json.dumps(item)
            yield f"{where}: {text}" if where else text


def _unzipped_size_checked(path: Path, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(f"{name} is not a {Path(name).suffix.lower()} file "
                             f"(not a zip archive: {exc})") from None
    size = sum(info.file_size for info in parts)
    if size > MAX_UNZIPPED_BYTES:
        raise UnreadableFile(f"{name} unpacks to {size} bytes, more than "
                             f"{MAX_UNZIPPED_BYTES}")
    for info in parts:
        if info.filename.endswith(".xml") and info.file_size > MAX_XML_PART_BYTES:
            raise UnreadableFile(f"{name}: its part {info.filename} unpacks to "
                                 f"{info.file_size} bytes, more than {MAX_XML_PART_BYTES}")


def _pdf_pages(path: Path, name: str) -> Iterator[str]:
    from pypdf import PdfReader  # imported on use: only uploads need it

    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableFile(f"{name} is encrypted")
    for page in reader.pages:
        yield from _BLANK_LINES.split(page.extract_text() or "")


def _docx_blocks(path: Path, name: str) -> Iterator[str]:
    import docx
    from docx.table import Table

    _unzipped_size_checked(path, name)
    for block in docx.Document(str(path)).iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                yield " | ".join(cell for cell in cells if cell)
        else:
            yield block.text


def _xlsx_rows(path: Path, name: str) -> Iterator[str]:
    import openpyxl

    _unzipped_size_checked(path, name)
    # Read-only: rows are streamed from the archive, not loaded as a whole sheet. A handle,
    # not the path: openpyxl judges a path by its extension, and the spooled file has none.
    with path.open("rb") as handle:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            for sheet in book.worksheets:
                header: list[str] | None = None
                for row in sheet.iter_rows(values_only=True):
                    if all(v is None or not str(v).strip() for v in row):
                        continue
                    if header is None:
                        header = [("" if v is None else str(v)).strip() for v in row]
                        yield f"Sheet {sheet.title}: " + ", ".join(h for h in header if h)
                        continue
                    yield _record(header, row)
        finally:
            book.close()


EXTRACTORS: dict[str, Callable[[Path, str], Iterator[str]]] = {
    ".txt": _paragraphs, ".md": _paragraphs, ".csv": _csv_rows, ".json": _json_blocks,
    ".pdf": _pdf_pages, ".docx": _docx_blocks, ".xlsx": _xlsx_rows,
}
# How blocks are joined inside a chunk: paragraphs by a blank line, rows by a line break.
JOINERS = {".csv": "\n", ".xlsx": "\n", ".json": "\n"}


def blocks(path: Path, upload: Upload) -> Iterator[str]:
    """The file's text, block by block. Any failure of a parser is the file's fault: a
    parser of damaged or hostile files raises errors of every kind, and each of them means
    the same to the caller (this file cannot be read), never a server error."""
    reader = EXTRACTORS[upload.kind](path, upload.name)
    while True:
        try:
            block = next(reader)
        except StopIteration:
            return
        except MemantoError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the docstring
            raise UnreadableFile(f"{upload.name} cannot be read as a {upload.kind} file: "
                                 f"{type(exc).__name__}: {exc}"[:500]) from None
        yield block


# -- chunking ------------------------------------------------------------------------------

def _pieces(text: str, size: int) -> Iterator[str]:
    """A block longer than `size` as sentences, and a sentence longer than that as runs of
    words (a word longer than that is cut)."""
    if len(text) <= size:
        yield text
        return
    for sentence in _SENTENCE_END.split(text):
        if len(sentence) <= size:
            yield sentence
            continue
        run = ""
        for word in sentence.split():
            while len(word) > size:
                if run:
                    yield run
                    run = ""
                yield word[:size]
                word = word[size:]
            if run and len(run) + 1 + len(word) > size:
                yield run
                run = ""
            run = f"{run} {word}" if run else word
        if run:
            yield run


def chunks(texts: Iterable[str], size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS,
           joiner: str = "\n\n") -> Iterator[str]:
    """Blocks of text packed into chunks of at most `size` characters, cut at block, then
    sentence, then word boundaries. Each chunk after the first starts with the last whole
    sentences (or words) of the one before, up to `overlap` characters."""
    units: list[tuple[str, str]] = []  # (separator before it, text)
    length = 0  # of the units joined, without the first separator

    def joined() -> str:
        return "".join(sep + text for sep, text in units)[len(units[0][0]):]

    for block in texts:
        block = "\n".join(line.rstrip() for line in block.strip().splitlines())
        if not block:
            continue
        # Pieces leave room for the overlap that starts the next chunk.
        for i, piece in enumerate(_pieces(block, max(size - overlap, size // 2))):
            sep = joiner if i == 0 else " "
            if units and length + len(sep) + len(piece) > size:
                yield joined()
                units = _tail(units, overlap)
                length = len(joined()) if units else 0
                while units and length + len(sep) + len(piece) > size:
                    units.pop(0)
                    length = len(joined()) if units else 0
            if units:
                length += len(sep) + len(piece)
            else:
                length = len(piece)
            units.append((sep, piece))
    if units:
        yield joined()


def _tail(units: list[tuple[str, str]], overlap: int) -> list[tuple[str, str]]:
    """The end of a chunk that the next one repeats: its last whole units that fit in
    `overlap` (never all of them), else the last sentences of its last unit, else its last
    words."""
    kept: list[tuple[str, str]] = []
    total = 0
    for sep, text in reversed(units[1:]):
        if total + len(text) + len(sep) > overlap:
            break
        kept.insert(0, (sep, text))
        total += len(text) + len(sep)
    if kept or overlap <= 0:
        return kept
    last = units[-1][1]
    sentences = _SENTENCE_END.split(last)[1:]  # the last unit's own last sentences
    while sentences and len(" ".join(sentences)) > overlap:
        sentences.pop(0)
    if sentences:
        return [("", " ".join(sentences))]
    cut = last[-overlap:]
    space = cut.find(" ")
    words = cut[space + 1:] if 0 <= space < len(cut) - 1 else ""
    return [("", words)] if words and words != last else []


def drafts(path: Path, upload: Upload, max_chunks: int, size: int = CHUNK_CHARS,
           overlap: int = OVERLAP_CHARS) -> list[Draft]:
    """The memories a file makes: one per chunk, its file name as source, in file order.
    UnreadableFile when it holds no text; TooManyChunks past `max_chunks`."""
    if path.stat().st_size == 0:
        raise UnreadableFile(f"{upload.name} is empty")
    joiner = JOINERS.get(upload.kind, "\n\n")
    texts = list(islice(chunks(blocks(path, upload), size, overlap, joiner), max_chunks + 1))
    if not texts:
        raise UnreadableFile(f"{upload.name} holds no text")
    if len(texts) > max_chunks:
        raise TooManyChunks(f"the text of {upload.name} makes more than {max_chunks} "
                            "memories (MEMANTO_MAX_UPLOAD_CHUNKS): split the file")
    stem = Path(upload.name).name
    return [Draft(content=text, type="artifact", title=_title(stem, i, len(texts)),
                  source=upload.source, provenance="imported", tags=["upload"],
                  metadata={"file_name": upload.name, "chunk": i, "chunks": len(texts)})
            for i, text in enumerate(texts, start=1)]


def _title(name: str, i: int, n: int) -> str:
    part = f" ({i}/{n})" if n > 1 else ""
    room = MAX_TITLE - len(part)
    return (name if len(name) <= room else name[: room - 3] + "...") + part
