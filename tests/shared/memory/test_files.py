"""Uploaded files as memories: names and sources, text extracted from each kind of file
(real files, written here with the libraries, a PDF by hand), chunks, and the files that
are refused."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest

from memanto_redis.shared.memory import files
from memanto_redis.shared.memory.files import (
    SOURCE_RE,
    TooManyChunks,
    UnreadableFile,
    UnsupportedFile,
    chunks,
    drafts,
    source_of,
    upload_named,
)
from memanto_redis.shared.memory.rules import MAX_TITLE

# -- sample files, as a user's tools write them --------------------------------------------


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one page per list of lines, Helvetica, a correct xref table."""
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    count = len(pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               ("<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
                + f"] /Count {count} >>").encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, lines in enumerate(pages):
        ops = "BT /F1 11 Tf 72 740 Td 14 TL " + " ".join(
            f"({escape(line)}) Tj T*" for line in lines) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       f"<< /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops.encode()))
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def docx_bytes(heading: str, paragraphs: list[str], table: list[list[str]]) -> bytes:
    document = docx.Document()
    document.add_heading(heading, 1)
    for text in paragraphs:
        document.add_paragraph(text)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, text in enumerate(row):
            grid.cell(r, c).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


PROSE = ("Ada Lovelace wrote the first program for the Analytical Engine. She worked with "
         "Charles Babbage in London.\n\nThe engine was never finished, but her notes "
         "describe loops and subroutines.\n")
SAMPLES: dict[str, tuple[bytes, list[str]]] = {
    # kind: (the file, phrases its memories must hold)
    ".txt": (PROSE.encode(), ["Analytical Engine", "loops and subroutines"]),
    ".md": (b"# Release notes\n\n- Upload files as memories\n- Recall them by meaning\n",
            ["# Release notes", "Upload files as memories"]),
    ".csv": (b"name,role,city\nAda,engineer,London\nGrace,admiral,Arlington\n",
             ["name: Ada; role: engineer; city: London", "name: Grace; role: admiral"]),
    ".json": (json.dumps([{"customer": "Acme", "plan": {"tier": "gold", "seats": 40}},
                          {"customer": "Initech", "notes": "renewal due in March"}]).encode(),
              ["customer: Acme", "plan.tier: gold", "plan.seats: 40",
               "notes: renewal due in March"]),
    ".pdf": (pdf_bytes([["Quarterly report", "Revenue grew by twelve percent."],
                        ["Page two mentions the Berlin office."]]),
             ["Quarterly report", "Revenue grew by twelve percent.", "Berlin office"]),
    ".docx": (docx_bytes("Onboarding", ["New hires get a laptop on day one."],
                         [["Team", "Lead"], ["Search", "Maria"]]),
              ["Onboarding", "laptop on day one", "Team | Lead", "Search | Maria"]),
    ".xlsx": (xlsx_bytes({"Budget": [["item", "cost"], ["servers", 1200], ["coffee", 80]]}),
              ["Sheet Budget", "item: servers; cost: 1200", "item: coffee; cost: 80"]),
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return path


def _texts(tmp_path: Path, name: str, data: bytes, **kw: int) -> list[str]:
    return [d.content for d in drafts(_write(tmp_path, name, data), upload_named(name),
                                      max_chunks=kw.pop("max_chunks", 100), **kw)]


# -- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, name, kind", [
    ("report.PDF", "report.PDF", ".pdf"),
    ("../../etc/notes.txt", "notes.txt", ".txt"),
    ("C:\\Users\\ada\\plan.xlsx", "plan.xlsx", ".xlsx"),
    ("  data.json ", "data.json", ".json"),
])
def test_upload_named_keeps_the_last_path_component(sent, name, kind):
    upload = upload_named(sent)
    assert (upload.name, upload.kind) == (name, kind)


@pytest.mark.parametrize("sent", ["virus.exe", "archive.tar.gz", "noextension", "", None,
                                  "..", "notes.txt/", "image.png"])
def test_other_kinds_are_unsupported_and_named(sent):
    with pytest.raises(UnsupportedFile) as caught:
        upload_named(sent)
    assert "not supported" in caught.value.message
    assert ".pdf" in caught.value.message


@pytest.mark.parametrize("name, source", [
    ("report.pdf", "report.pdf"),
    ("Q3 report (final).docx", "Q3_report_final_.docx"),
    ("résumé.txt", "r_sum_.txt"),
    ("???", "upload"),
    ("x" * 100 + ".xlsx", "x" * 59 + ".xlsx"),
])
def test_source_is_a_valid_memanto_source(name, source):
    assert source_of(name) == source
    assert SOURCE_RE.match(source_of(name))


def test_any_name_makes_a_valid_source():
    for name in ["a b", "日本語.txt", "-.-", "a" * 300, ".hidden.md", "tab\there.csv", "x.y" * 40]:
        assert SOURCE_RE.match(source_of(name)), name


# -- each kind of file ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_of_file_gives_its_text(tmp_path, kind):
    data, phrases = SAMPLES[kind]
    memories = drafts(_write(tmp_path, "f", data), upload_named(f"sample{kind}"), 100)
    text = "\n".join(m.content for m in memories)
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    first = memories[0]
    assert first.source == f"sample{kind}"
    assert (first.type, first.provenance, first.tags) == ("artifact", "imported", ["upload"])
    assert first.metadata == {"file_name": f"sample{kind}", "chunk": 1,
                              "chunks": len(memories)}


def test_text_keeps_paragraphs_and_a_bom_is_dropped(tmp_path):
    (text,) = _texts(tmp_path, "a.txt", "\ufeffFirst line\nsame paragraph\n\n\n\nSecond."
                     .encode())
    assert text == "First line\nsame paragraph\n\nSecond."


def test_csv_with_semicolons_and_a_lone_header(tmp_path):
    assert _texts(tmp_path, "a.csv", b"a;b\n1;2\n") == ["a: 1; b: 2"]
    assert _texts(tmp_path, "b.csv", b"only,one,row\n") == ["only, one, row"]


def test_json_scalars_objects_and_deep_nesting(tmp_path):
    assert _texts(tmp_path, "a.json", b'"just text"') == ["just text"]
    assert _texts(tmp_path, "b.json", b'{"a": {"b": [1, null, "x"]}, "c": true}') == \
        ["a.b.0: 1\na.b.2: x\nc: true"]
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(UnreadableFile):  # too deep for the parser, or no text at all
        _texts(tmp_path, "deep.json", deep)


# -- chunks --------------------------------------------------------------------------------

SENTENCES = [f"Sentence number {i} says that item {i} costs {i * 7} euros." for i in range(200)]


def _paragraphs() -> list[str]:
    return [" ".join(SENTENCES[i:i + 5]) for i in range(0, len(SENTENCES), 5)]


def test_chunks_are_bounded_overlap_and_cover_everything():
    cut = list(chunks(_paragraphs(), size=400, overlap=80))
    assert len(cut) > 10
    assert all(len(c) <= 400 for c in cut)
    for sentence in SENTENCES:  # nothing lost
        assert any(sentence in c for c in cut), sentence
    for before, after in zip(cut, cut[1:], strict=False):  # each repeats the end of the last
        first_sentence = re.split(r"(?<=\.)\s+", after)[0]
        assert first_sentence in before
    for c in cut:  # cut at sentence boundaries
        assert c.startswith("Sentence number") and c.endswith(".")


def test_short_paragraphs_stay_whole_and_together():
    cut = list(chunks(["One.", "Two.", "Three."], size=100, overlap=20))
    assert cut == ["One.\n\nTwo.\n\nThree."]


def test_a_sentence_longer_than_a_chunk_is_cut_at_words_then_characters():
    words = " ".join(f"w{i:04d}" for i in range(600))  # one 3,599-character sentence
    cut = list(chunks([words], size=1000, overlap=150))
    assert all(len(c) <= 1000 for c in cut)
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in cut)
    assert all(any(f"w{i:04d}" in c for c in cut) for i in range(600))
    assert cut[0][-20:] in cut[1]  # the overlap, at words
    (blob,) = [list(chunks(["x" * 2500], size=1000, overlap=150))]
    assert "".join(blob) == "x" * 2500 and all(len(c) <= 1000 for c in blob)


def test_titles_number_the_chunks_within_the_limit(tmp_path):
    name = "n" * 120 + ".txt"
    data = "\n\n".join(_paragraphs()).encode()
    memories = drafts(_write(tmp_path, name, data), upload_named(name), 100)
    assert len(memories) > 1
    assert all(len(m.title or "") <= MAX_TITLE for m in memories)
    assert memories[0].title.endswith(f"(1/{len(memories)})")
    assert [m.metadata["chunk"] for m in memories] == list(range(1, len(memories) + 1))


# -- refused files -------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, says", [
    ("empty.txt", b"", "is empty"),
    ("blank.md", b"  \n\n\t\n", "holds no text"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
    ("binary.txt", b"MZ\x00\x00PE", "not text"),
    ("bad.json", b'{"a": ', "not valid JSON"),
    ("nothing.json", b"[null, {}, []]", "holds no text"),
    ("bad.pdf", b"%PDF-1.4 this is not really a pdf", "cannot be read as a .pdf"),
    ("text.pdf", b"hello", "cannot be read as a .pdf"),
    ("blank.pdf", pdf_bytes([[]]), "holds no text"),
    ("bad.docx", b"PK\x03\x04 not a zip", "not a .docx file"),
    ("plain.xlsx", b"a,b\n1,2\n", "not a .xlsx file"),
    ("wrong.docx", xlsx_bytes({"S": [["a"]]}), "cannot be read as a .docx"),
    ("wrong.xlsx", docx_bytes("h", [], [["a"]]), "cannot be read as a .xlsx"),
])
def test_unreadable_files_are_named(tmp_path, name, data, says):
    with pytest.raises(UnreadableFile) as caught:
        _texts(tmp_path, name, data)
    assert says in caught.value.message
    assert name in caught.value.message
    assert caught.value.errors[0]["field"] == "file"


def test_a_zip_that_unpacks_too_far_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_UNZIPPED_BYTES", 1_000_000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * 2_000_000)
    assert len(out.getvalue()) < 10_000
    with pytest.raises(UnreadableFile, match="unpacks to 2000000 bytes"):
        _texts(tmp_path, "bomb.docx", out.getvalue())


def test_a_file_of_more_chunks_than_allowed_is_refused_whole(tmp_path):
    data = "\n\n".join(_paragraphs()).encode()
    assert len(_texts(tmp_path, "long.txt", data, max_chunks=1000)) > 5
    with pytest.raises(TooManyChunks, match="more than 5 memories"):
        _texts(tmp_path, "long.txt", data, max_chunks=5)


def test_one_xml_part_too_large_to_parse_is_refused(tmp_path):
    """The reviewer's bomb: an 84 KB docx whose document.xml is 32 MB of empty paragraphs
    took 1.2 GB and 51 s to parse. Refused before parsing, however small the archive."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:p/>" * (files.MAX_XML_PART_BYTES // 6 + 1))
    assert len(out.getvalue()) < 200_000
    with pytest.raises(UnreadableFile, match="word/document.xml unpacks to"):
        _texts(tmp_path, "paragraphs.docx", out.getvalue())
