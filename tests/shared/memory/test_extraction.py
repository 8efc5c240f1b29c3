"""An upload's text read in a child process: the same memories as reading it in process,
each refusal back as its own kind, and a child that fails or dies is an unreadable file."""

from __future__ import annotations

import multiprocessing
import resource
import subprocess
import sys

import pytest

from memanto_redis.shared.memory import extraction, files
from memanto_redis.shared.memory.files import TooManyChunks, UnreadableFile
from tests.shared.memory.test_files import SAMPLES
from tests.support import ROOT


def _written(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path, files.upload_named(name)


@pytest.mark.parametrize("kind", [".docx", ".pdf", ".xlsx"])
def test_a_child_reads_what_the_parsers_read_in_process(tmp_path, kind):
    path, upload = _written(tmp_path, f"sample{kind}", SAMPLES[kind][0])
    assert extraction.drafts(path, upload, 100, 60) == files.drafts(path, upload, 100)
    assert not [p for p in multiprocessing.active_children()
                if p.name == "memanto-upload-text"]


def test_refusals_come_back_as_themselves(tmp_path):
    path, upload = _written(tmp_path, "long.txt",
                            "\n\n".join(f"Paragraph {i}. " + "word " * 200
                                        for i in range(5)).encode())
    with pytest.raises(TooManyChunks, match="more than 2 memories"):
        extraction.drafts(path, upload, 2, 60)
    path, upload = _written(tmp_path, "broken.json", b'{"a": ')
    with pytest.raises(UnreadableFile) as caught:
        extraction.drafts(path, upload, 100, 60)
    assert "broken.json" in caught.value.message
    assert caught.value.errors[0]["field"] == "file"


def test_a_failure_inside_the_child_is_an_unreadable_file(tmp_path):
    # The file is gone before the child opens it: its error is the file's, told plainly.
    path, upload = tmp_path / "gone.txt", files.upload_named("gone.txt")
    with pytest.raises(UnreadableFile, match="^gone.txt could not be read$"):
        extraction.drafts(path, upload, 100, 60)


def test_a_host_with_a_lower_memory_limit_still_reads_files(tmp_path):
    """Where the service runs under a hard memory limit lower than the child's own (a
    container's `ulimit -v`), the child keeps the host's limit instead of failing to set
    its own, and files are read."""
    path, _ = _written(tmp_path, "note.txt", b"A note read under a lower limit.")
    hard = 1536 * 1024 * 1024
    assert hard < extraction.MEMORY_BYTES

    def lower_the_limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))

    code = ("import sys; from pathlib import Path; "
            "from memanto_redis.shared.memory import extraction, files; "
            "print(len(extraction.drafts(Path(sys.argv[1]), files.upload_named('note.txt'), "
            "10, 60)))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=120, preexec_fn=lower_the_limit, cwd=ROOT)
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
