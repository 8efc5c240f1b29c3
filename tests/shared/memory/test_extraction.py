"""An upload's text read in a child process: the same memories as reading it in process,
each refusal back as its own kind, and a child that fails or dies is an unreadable file."""

from __future__ import annotations

import multiprocessing

import pytest

from memanto_redis.shared.memory import extraction, files
from memanto_redis.shared.memory.files import TooManyChunks, UnreadableFile
from tests.shared.memory.test_files import SAMPLES


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
