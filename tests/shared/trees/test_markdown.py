"""The Markdown tree format (shared/markdown_tree.py): slugs, the topic layout, INDEX.md,
frontmatter both ways, hand-written entries, the type mapping and clear errors."""

from __future__ import annotations

import pytest

from memanto_redis.shared.trees.markdown import (
    FROM_SEED,
    MEMORY_TYPES,
    SEED_TYPES,
    Entry,
    TreeError,
    layout,
    memory_type_of,
    parse_entry,
    read_tree,
    render_entry,
    render_tree,
    seed_type,
    slugify,
    write_tree,
)


def entry(name: str, n: int, tags: tuple[str, ...] = (), **fields) -> Entry:
    values = {
        "name": name, "description": f"About {name}", "memory_type": "fact",
        "content": f"{name} body", "memory_id": f"id-{n:03d}", "tags": tags,
        "confidence": 0.8, "source": "agent", "provenance": "explicit_statement",
        "created_at": f"2025-01-01T00:00:{n:02d}.000Z",
        "updated_at": f"2025-01-01T00:00:{n:02d}.000Z",
    }
    return Entry(**(values | fields))


def test_slugs_are_lowercase_ascii_and_bounded():
    assert slugify("User role") == "user_role"
    assert slugify("Café — résumé: v2!") == "cafe_resume_v2"
    assert slugify("!!!") == "memory"
    assert slugify("!!!", "topic") == "topic"
    assert len(slugify("word " * 40)) <= 60
    assert not slugify("a" * 59 + " b").endswith("_")


def test_slugs_are_unique_in_the_whole_tree_in_creation_order():
    # Given out of order: numbering follows creation time, then id.
    entries = [entry("Note", 3), entry("Note", 1), entry("Note", 2, ("stripe",)),
               entry("Note 2", 4), entry("Index", 5)]
    slugs = {p.entry.memory_id: p.slug for p in layout(entries)}
    assert slugs == {"id-001": "note", "id-002": "note_2", "id-003": "note_3",
                     "id-004": "note_2_2", "id-005": "index_2"}


def test_a_topic_gets_a_folder_at_three_entries_not_two():
    entries = [entry("Retries", 1, ("stripe", "payments")), entry("Webhooks", 2, ("Stripe",)),
               entry("Refunds", 3, ("stripe",)), entry("Deploys", 4, ("ops",)),
               entry("Pager", 5, ("ops",)), entry("User role", 6)]
    files = render_tree(entries)
    assert sorted(files) == ["INDEX.md", "deploys.md", "pager.md", "stripe/INDEX.md",
                             "stripe/refunds.md", "stripe/retries.md", "stripe/webhooks.md",
                             "user_role.md"]
    assert files["INDEX.md"] == (
        "# Memory\n\n"
        "- [Deploys](deploys.md) — About Deploys\n"
        "- [Pager](pager.md) — About Pager\n"
        "- [User role](user_role.md) — About User role\n"
        "- [stripe/](stripe/INDEX.md) — 3 entries\n")
    assert files["stripe/INDEX.md"] == (
        "# stripe\n\n"
        "- [Retries](retries.md) — About Retries\n"
        "- [Webhooks](webhooks.md) — About Webhooks\n"
        "- [Refunds](refunds.md) — About Refunds\n")


def test_index_lines_stay_one_line_and_escape_link_text():
    files = render_tree([entry("A [draft]\nnote", 1, description="two\nlines")])
    line = files["INDEX.md"].splitlines()[2]
    assert line == "- [A \\[draft\\] note](a_draft_note.md) — two lines"


@pytest.mark.parametrize("content", [
    "plain", "ends with a newline\n", "  leading spaces\n\n\ttabs", "---\nnot: frontmatter\n---",
    "windows\r\nline ends", "ünïcødé ✓ 日本語",
])
def test_exported_entries_parse_back_exactly(content):
    original = entry("yes", 1, ("null", "1.0", "a: b"), content=content,
                     description="'quoted' and: colons", memory_type="relationship",
                     confidence=1.0, metadata={"origin": {"ticket": 42}})
    text = render_entry(original)
    assert text.startswith("---\nname: 'yes'\ndescription: '''quoted'' and: colons'\n"
                           "type: user\nmemory_type: relationship\nid: id-001\n")
    parsed = parse_entry(text, "x.md")
    assert parsed == original and parsed.metadata == original.metadata
    assert render_entry(parsed) == text


def test_hand_written_entry_with_only_name_description_type():
    text = ("---\nname: User role\ndescription: User is a fintech BE engineer\ntype: user\n"
            "---\n\nThe user is a backend engineer at a fintech company.\n\n")
    parsed = parse_entry(text, "memory/user_role.md")
    assert parsed == Entry(name="User role", description="User is a fintech BE engineer",
                           memory_type="preference",
                           content="The user is a backend engineer at a fintech company.")
    # What the import route is sent: no id, no times (the server gives new ones).
    assert parsed.to_api() == {
        "content": "The user is a backend engineer at a fintech company.",
        "title": "User role", "description": "User is a fintech BE engineer",
        "type": "preference", "tags": []}


def test_hand_written_entries_are_read_leniently():
    crlf = "---\r\nname: Retries\r\ntype: feedback\r\ntags: payments, cards\r\n---\r\nBody\r\n"
    parsed = parse_entry("\ufeff" + crlf, "stripe/retries.md", folder="stripe")
    # The folder is the topic, so it becomes the first tag; no description: the first line.
    assert (parsed.tags, parsed.description, parsed.content) == (
        ("stripe", "payments", "cards"), "Body", "Body")
    moved = parse_entry("---\nname: N\ntype: project\ntags: [x, Stripe]\n"
                        "created_at: 2025-03-01T10:00:00Z\n---\nB", "s/n.md", folder="stripe")
    assert moved.tags == ("Stripe", "x")
    assert moved.created_at == "2025-03-01T10:00:00.000Z"
    # A memory type may stand in `type` directly; `memory_type` wins over `type`.
    assert parse_entry("---\nname: N\ntype: decision\n---\nB", "n.md").memory_type == "decision"
    assert parse_entry("---\nname: N\ntype: user\nmemory_type: goal\n---\nB",
                       "n.md").memory_type == "goal"


def test_type_mapping_both_ways():
    assert FROM_SEED == {"user": "preference", "feedback": "instruction",
                         "project": "context", "reference": "artifact"}
    for kind in SEED_TYPES:
        assert seed_type(memory_type_of(kind)) == kind
    assert {t: seed_type(t) for t in MEMORY_TYPES} == {
        "fact": "project", "preference": "user", "goal": "project", "decision": "project",
        "artifact": "reference", "learning": "feedback", "event": "project",
        "instruction": "feedback", "relationship": "user", "context": "project",
        "observation": "project", "commitment": "project", "error": "feedback"}
    with pytest.raises(ValueError, match="type must be one of user, feedback"):
        memory_type_of("people")


@pytest.mark.parametrize("text, problem", [
    ("just some notes\n", "no frontmatter"),
    ("---\nname: [unclosed\ntype: user\n---\nB", "not valid YAML"),
    ("---\n- a list\n---\nB", "must be fields"),
    ("---\nname: N\ntype: people\n---\nB", "type must be one of"),
    ("---\ndescription: D\ntype: user\n---\nB", "name is required"),
    ("---\nname: N\ntype: user\n---\n  \n", "the body is empty"),
    ("---\nname: N\ntype: user\ndesciption: typo\n---\nB", "unknown field\\(s\\) desciption"),
    ("---\nname: N\ntype: user\nconfidence: 2\n---\nB", "confidence: .*less than or equal"),
    ("---\nname: N\ntype: user\nid: 'bad id!'\n---\nB", "id: String should match"),
    ("---\nname: " + "n" * 101 + "\ntype: user\n---\nB", "name: .*at most 100"),
])
def test_bad_entries_name_the_file_and_the_problem(text, problem):
    with pytest.raises(TreeError, match=f"^notes/bad.md: .*{problem}"):
        parse_entry(text, "notes/bad.md")


def test_read_tree_reports_every_bad_file_and_skips_indexes(tmp_path):
    entries = [entry(f"Stripe {i}", i, ("stripe",)) for i in range(3)] + [entry("Solo", 4)]
    write_tree(tmp_path, render_tree(entries))
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / ".obsidian" / "workspace.md").write_text("not an entry")
    assert sorted(read_tree(tmp_path), key=lambda e: e.memory_id) == entries

    (tmp_path / "broken.md").write_text("no frontmatter here")
    (tmp_path / "stripe" / "copy.md").write_text(render_entry(entries[0]))
    (tmp_path / "latin1.md").write_bytes("---\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TreeError) as caught:
        read_tree(tmp_path)
    lines = caught.value.message.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        str(tmp_path / "broken.md"), str(tmp_path / "latin1.md"),
        str(tmp_path / "stripe" / "stripe_0.md")]
    assert "id id-000 is also used by" in lines[2]
    with pytest.raises(TreeError, match="not a folder"):
        read_tree(tmp_path / "missing")
