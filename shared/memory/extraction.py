"""An upload's text extracted in a process of its own, with a time and a memory limit.

Parsing a PDF, a docx or an xlsx is CPU work in Python: in the web process it would hold
the GIL against every other request, and a file crafted to parse slowly could hold a thread
for good. Here each file is read by a child forked from a small server process that has only
the parsers imported (multiprocessing's forkserver: a fork costs milliseconds, and none of
the web process's state comes along: no Redis connection, no model, no request; the
environment does, as for any child). The parent kills the child when its time is up; the
child's own limits (memory, and CPU a little past the time) hold even if the parent dies.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import resource
from multiprocessing.connection import Connection
from pathlib import Path

from memanto_redis.shared.errors import Unavailable
from memanto_redis.shared.memory import files
from memanto_redis.shared.memory.files import TooManyChunks, UnreadableFile, Upload
from memanto_redis.shared.memory.record import Draft

log = logging.getLogger("memanto.uploads")

# Address space for one extraction: the parsers' trees of the largest parts allowed
# (files.MAX_XML_PART_BYTES at ~40 times) with room to spare.
MEMORY_BYTES = 2 * 1024 * 1024 * 1024

_REFUSALS: dict[str, type[UnreadableFile | TooManyChunks]] = {
    "UnreadableFile": UnreadableFile, "TooManyChunks": TooManyChunks}

_context = multiprocessing.get_context("forkserver")
# The server imports the parsers once; each child forked from it has them.
_context.set_forkserver_preload([__name__, "pypdf", "docx", "openpyxl"])


class TookTooLong(UnreadableFile):
    """The file's text was not extracted within the time allowed."""


def _lower(which: int, most: int) -> None:
    """Lower a limit of this process to `most`, never above the hard limit it has (a
    container may set one lower): a limit can only be lowered."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        most = min(most, hard)
    if soft == resource.RLIM_INFINITY or soft > most:
        resource.setrlimit(which, (most, hard))


def _extract(path: str, upload: Upload, max_chunks: int, seconds: float,
             answer: Connection) -> None:
    """In the child: the drafts, or the refusal, sent back in one message."""
    try:
        _lower(resource.RLIMIT_AS, MEMORY_BYTES)
        _lower(resource.RLIMIT_CPU, math.ceil(seconds) + 1)
        answer.send(("drafts", files.drafts(Path(path), upload, max_chunks)))
    except (UnreadableFile, TooManyChunks) as exc:
        answer.send((type(exc).__name__, exc.message))
    except MemoryError:
        answer.send(("UnreadableFile", f"{upload.name} needs too much memory to read"))
    except Exception as exc:  # noqa: BLE001 (a parser's own failure: the file's fault)
        answer.send(("failed", f"{type(exc).__name__}: {exc}"[:300]))
    finally:
        answer.close()


def drafts(path: Path, upload: Upload, max_chunks: int, seconds: float) -> list[Draft]:
    """files.drafts(path, upload, max_chunks), read by a child process within `seconds`
    (blocking: run it in a thread). TookTooLong past them; UnreadableFile if the child
    dies or its parser fails; Unavailable if no child can be started."""
    receiving, sending = _context.Pipe(duplex=False)
    child = _context.Process(target=_extract, name="memanto-upload-text", daemon=True,
                             args=(str(path), upload, max_chunks, seconds, sending))
    try:
        child.start()  # the first one starts the server
    except Exception as exc:  # noqa: BLE001 (the machine's fault, not the file's)
        receiving.close()
        sending.close()
        log.error("upload: cannot start a process to read it: %s", exc)
        raise Unavailable("uploads cannot be read right now; retry shortly") from None
    sending.close()
    try:
        if not receiving.poll(seconds):
            raise TookTooLong(f"{upload.name} took more than {seconds:g} s to read")
        kind, value = receiving.recv()
    except EOFError:  # the child died without a word (a limit, a signal)
        child.join(1)
        log.warning("upload %s: the reading process ended with %s and no answer",
                    upload.kind, child.exitcode)
        raise UnreadableFile(f"{upload.name} could not be read") from None
    finally:
        receiving.close()
        if child.is_alive():  # (a child that has ended is reaped: its pid is never signalled)
            child.kill()
        child.join()
    if kind == "drafts":
        return list(value)
    if kind in _REFUSALS:
        raise _REFUSALS[kind](value)
    log.warning("upload %s: extraction failed: %s", upload.kind, value)
    raise UnreadableFile(f"{upload.name} could not be read")
