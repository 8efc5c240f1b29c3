"""`memanto memory export|import AGENT DIR`: an agent's memories as a Markdown tree in seed
002's format (shared/markdown_tree.py), over the API with the API key."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from memanto_redis.cli import output
from memanto_redis.cli.config import CliConfig
from memanto_redis.shared.trees.markdown import (
    INDEX,
    Entry,
    TreeError,
    read_tree,
    render_tree,
    write_tree,
)
from memanto_redis_client import ApiError, Memanto

PAGE = 100
# Imports are sent in requests of at most PAGE memories and this many bytes, well under
# the server's default body limit (2 MiB).
MAX_REQUEST_BYTES = 1_500_000
POLL_SECONDS = 0.5


def _client(config: CliConfig) -> Memanto:
    if not config.api_key:
        output.fail("no API key: set MEMANTO_API_KEY (the key `make run` printed)")
    return Memanto(config.server_url, config.api_key)


def _progress(args: argparse.Namespace, total: int | None, what: str) -> tqdm:
    """A bar on stderr for runs longer than one request (PAGE memories), on a terminal
    only: scripts (--json, pipes) and short runs never see it."""
    short = total is not None and total <= PAGE
    return tqdm(total=total, desc=what, unit=" memories", file=sys.stderr, leave=False,
                disable=args.json or short or not sys.stderr.isatty())


# -- export --------------------------------------------------------------------------------

def export(args: argparse.Namespace, config: CliConfig) -> None:
    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        output.fail(f"{root} is not a folder")
    if _has_files(root) and not args.force:
        output.fail(f"{root} is not empty: name a new folder, or pass --force to replace "
                    "the Markdown files in it")
    client = _client(config)
    memories = []
    page = client.export_page(args.agent, limit=PAGE)
    with _progress(args, page.get("total"), "exporting") as bar:
        while True:
            memories += page["memories"]
            bar.update(len(page["memories"]))
            if not page["next_cursor"]:
                break
            page = client.export_page(args.agent, page["next_cursor"], PAGE)
    files = render_tree([Entry.from_api(m) for m in memories])
    # Cleared only now that the memories are in hand: a failed export leaves DIR as it was.
    if args.force:
        _clear(root)
    write_tree(root, files)
    topics = sorted({rel.split("/")[0] for rel in files if "/" in rel})
    summary = {"agent_id": args.agent, "dir": str(root), "memories": len(memories),
               "files": len(files), "topics": topics}
    folders = f", topic folders: {', '.join(t + '/' for t in topics)}" if topics else ""
    output.emit(summary, args.json, f"Exported {len(memories)} memories of '{args.agent}' "
                f"to {root}/ ({INDEX}{folders})")


def _has_files(root: Path) -> bool:
    return root.is_dir() and any(root.iterdir())


def _clear(root: Path) -> None:
    """Remove a previous tree's Markdown files and the folders they leave empty; other
    files (and hidden folders) stay."""
    for path in sorted(root.rglob("*.md"), reverse=True):
        if not any(part.startswith(".") for part in path.relative_to(root).parts):
            path.unlink()
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not folder.name.startswith(".") and not any(folder.iterdir()):
            folder.rmdir()


# -- import --------------------------------------------------------------------------------

def import_tree(args: argparse.Namespace, config: CliConfig) -> None:
    try:
        entries = read_tree(Path(args.dir))
    except TreeError as exc:
        output.fail(exc.message)
    if not entries:
        output.fail(f"{args.dir} holds no Markdown entries")
    client = _client(config)
    ids: list[str] = []
    with _progress(args, len(entries), "importing") as bar:
        for batch in _batches([e.to_api() for e in entries]):
            try:
                reply = client.import_memories(args.agent, batch)
            except ApiError as exc:
                done = f"; {len(ids)} of {len(entries)} were queued before" if ids else ""
                output.fail(f"{exc}{done}")
            ids += [m["memory_id"] for m in reply["memories"]]
            bar.update(len(batch))
    if args.wait:
        _wait_indexed(client, args, ids)
    status = "indexed" if args.wait else "queued"
    summary = {"agent_id": args.agent, "dir": args.dir, "imported": len(ids),
               "status": status, "memory_ids": ids}
    note = "all indexed" if args.wait else "queued: the worker indexes them shortly"
    output.emit(summary, args.json, f"Imported {len(ids)} memories into '{args.agent}' "
                f"({note})")


def _batches(items: list[dict]) -> Iterator[list[dict]]:
    batch: list[dict] = []
    size = 0
    for item in items:
        # ASCII-escaped JSON: the largest the body can be, whatever the client sends.
        item_size = len(json.dumps(item)) + 1
        if batch and (len(batch) == PAGE or size + item_size > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def _wait_indexed(client: Memanto, args: argparse.Namespace, ids: list[str]) -> None:
    """Poll the memory index (headers only) until every imported memory is in it."""
    waiting = set(ids)
    deadline = time.monotonic() + args.timeout
    with _progress(args, len(ids), "indexing") as bar:
        while True:
            listed = {e["memory_id"] for e in client.iter_memory_index(args.agent)}
            done = len(ids) - len(waiting - listed)
            bar.update(done - bar.n)
            waiting -= listed
            if not waiting:
                return
            if time.monotonic() > deadline:
                output.fail(f"{len(waiting)} of {len(ids)} memories not indexed after "
                            f"{args.timeout:g} s (e.g. {sorted(waiting)[0]}); they stay "
                            "queued")
            time.sleep(POLL_SECONDS)
