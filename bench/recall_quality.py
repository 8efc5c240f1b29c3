"""Recall quality on LoCoMo: does recall bring back the turns that answer a question?

    .venv/bin/python bench/recall_quality.py /work/shared/data/locomo/locomo10-dev.json \
        [--conversations N] [--modes hybrid,semantic,keyword] [--workers 1] [--json OUT]

Starts its own stack (embedded Redis on a free port with a temporary data dir, one web
process, ingest workers; secrets of this run only) and stops every process it started by
PID, also on error. For each conversation: one agent; every dialogue turn remembered as one
memory, `[<session date>] <speaker>: <text>`, through batch-remember; once all are indexed,
every question of categories 1-4 asked through v2 recall (limit 10) in each search mode.

Scores: hit@k (any evidence turn in the top k) and recall@k (the share of the question's
evidence turns in the top k), k = 1, 5, 10, over questions with evidence. Two references are
computed in-process in the same run over the same memory texts: the same model's exact
cosine ranking (vector-only) and plain BM25 (rank-bm25's BM25Okapi over lowercased `\\w+`
tokens; the `bench` extra). Recall latency is timed client-side; the embedding floor is one
query embedded in-process with the web process's thread count, as the web process does it.

LoCoMo is CC BY-NC 4.0: it is read from its path, and nothing of it is written but scores.
The exit code is 0 whether goals are met or missed; 1 only when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.lag import percentile  # noqa: E402
from bench.report import machine_info, verdict  # noqa: E402
from bench.stack import (  # noqa: E402
    Agent,
    Context,
    RunFailed,
    banner,
    log_tail,
    new_agent,
    run_in_context,
    start_stack,
)
from memanto_redis.cli.processes import start_worker, wait_until  # noqa: E402
from memanto_redis.shared.infra.hybrid import SEARCH_MODES  # noqa: E402
from memanto_redis.shared.infra.settings import Settings  # noqa: E402

KS = (1, 5, 10)
LIMIT = max(KS)
BATCH = 100  # batch-remember's most memories per request
# LoCoMo's question categories as its data numbers them; 5 (adversarial) is left out.
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
REFERENCES = ("ref cosine", "ref BM25")
WARMUP = 3  # untimed recalls per mode and query embeddings before each conversation's timed ones
# Goals, in points of recall@10.
OVER_REFERENCES = 0.02  # hybrid above the better reference
OVER_VECTOR = 0.10  # hybrid above the cosine reference (vector-only)
LATENCY_GAP_MS = 8.0  # a recall's p95 within this of the embedding floor's p95
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")  # "D3:13"; the data also holds "D:11:26"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Question:
    index: int  # in the conversation's `qa`
    text: str
    category: int
    evidence: frozenset[str]  # dia_ids


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    dia_ids: list[str]
    contents: list[str]  # what is remembered, turn by turn
    questions: list[Question]
    dropped_evidence: int  # evidence ids naming no turn of the conversation


@dataclass(frozen=True)
class Ranked:
    """One ranker's answer to one question: the dia_ids it put first, best first."""

    conversation: str
    question: int
    category: int
    ranker: str
    evidence: frozenset[str]
    top: tuple[str, ...]

    def hit(self, k: int) -> float:
        return float(not self.evidence.isdisjoint(self.top[:k]))

    def recall(self, k: int) -> float:
        return len(self.evidence.intersection(self.top[:k])) / len(self.evidence)


def load_conversations(path: Path, limit: int | None) -> list[Conversation]:
    samples = json.loads(path.read_text())
    return [_conversation(sample, n) for n, sample in enumerate(samples[:limit])]


def _conversation(sample: dict[str, Any], position: int) -> Conversation:
    conv = sample["conversation"]
    dia_ids: list[str] = []
    contents: list[str] = []
    n = 1
    while f"session_{n}_date_time" in conv:
        when = conv[f"session_{n}_date_time"]
        for turn in conv.get(f"session_{n}") or []:
            dia_ids.append(turn["dia_id"])
            contents.append(f"[{when}] {turn['speaker']}: {turn['text']}")
        n += 1
    known = set(dia_ids)
    questions, dropped = [], 0
    for index, qa in enumerate(sample["qa"]):
        if qa.get("category") not in CATEGORIES:
            continue
        named = {f"D{s}:{t}" for item in qa.get("evidence") or []
                 for s, t in _EVIDENCE.findall(str(item))}
        dropped += len(named - known) + sum(not _EVIDENCE.search(str(item))
                                            for item in qa.get("evidence") or [])
        if named & known:  # questions without evidence are skipped
            questions.append(Question(index, qa["question"], qa["category"],
                                      frozenset(named & known)))
    return Conversation(sample.get("sample_id", f"conversation-{position}"), dia_ids, contents,
                        questions, dropped)


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class References:
    """The in-process rankings over one conversation's memory texts."""

    def __init__(self, vectorizer: Any, contents: list[str], ids: list[str]) -> None:
        from rank_bm25 import BM25Okapi

        self.ids = ids
        self.vectors = _unit(np.array(vectorizer.embed_many(contents, batch_size=64),
                                      dtype=np.float32))
        self.bm25 = BM25Okapi([tokens(text) for text in contents])

    def cosine(self, query: np.ndarray) -> tuple[str, ...]:
        scores = self.vectors @ _unit(query)
        return tuple(self.ids[i] for i in np.argsort(-scores, kind="stable")[:LIMIT])

    def bm25_top(self, text: str) -> tuple[str, ...]:
        scores = self.bm25.get_scores(tokens(text))
        order = np.argsort(-scores, kind="stable")[:LIMIT]
        return tuple(self.ids[i] for i in order if scores[i] > 0)  # only what shares a word


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


@dataclass
class Run:
    ranked: list[Ranked]
    latency_ms: dict[str, list[float]]  # per mode, client-side, every recall
    first_ms: dict[str, list[float]]  # per mode, the recalls that asked a question first
    floor_ms: list[float]  # one query embedded in-process
    index_seconds: list[float]
    load: list[str]  # the 1-minute load average at the start and at the end


def remember_all(ctx: Context, agent: Agent, conv: Conversation) -> dict[str, str]:
    """Every turn as one memory, 100 per batch-remember; memory id -> dia_id."""
    by_id: dict[str, str] = {}
    url = f"/api/v2/agents/{agent.agent_id}/batch-remember"
    for start in range(0, len(conv.contents), BATCH):
        chunk = conv.contents[start:start + BATCH]
        reply = ctx.client.post(url, headers=agent.headers,
                                json={"memories": [{"content": text} for text in chunk]})
        reply.raise_for_status()
        for item in reply.json()["results"]:
            if "memory_id" not in item:
                raise RuntimeError(f"batch-remember refused a turn: {item}")
            by_id[item["memory_id"]] = conv.dia_ids[start + item["index"]]
    return by_id


def wait_indexed(ctx: Context, agent: Agent, ids: list[str], timeout: float) -> None:
    """Until every memory's status is `indexed`: poll the newest pending one, and sweep the
    rest once it is (several workers do not index in order)."""
    pending = list(ids)
    deadline = time.monotonic() + timeout

    def status(memory_id: str) -> str:
        reply = ctx.client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}",
                               headers=agent.headers)
        reply.raise_for_status()
        body = reply.json()
        if body["status"] == "failed":
            raise RuntimeError(f"memory {memory_id} failed to index: {body.get('error')}")
        return str(body["status"])

    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} memories not indexed after {timeout:.0f} s")
        if status(pending[-1]) == "indexed":
            pending = [memory_id for memory_id in pending if status(memory_id) != "indexed"]
        else:
            time.sleep(0.2)


def recall(ctx: Context, agent: Agent, query: str, mode: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    reply = ctx.client.post(f"/api/v2/agents/{agent.agent_id}/recall", headers=agent.headers,
                            json={"query": query, "limit": LIMIT, "search_mode": mode})
    elapsed_ms = (time.perf_counter() - started) * 1000
    reply.raise_for_status()
    return [m["memory_id"] for m in reply.json()["memories"]], elapsed_ms


def embed_queries(vectorizer: Any, texts: list[str],
                  threads: int) -> tuple[np.ndarray, list[float]]:
    """The questions' vectors, each embedded alone as the web process does it (its thread
    count, `embed(..., as_buffer=True)`), and the time each took: the embedding floor."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for text in texts[:WARMUP]:
            vectorizer.embed(text, as_buffer=True)
        vectors, times = [], []
        for text in texts:
            started = time.perf_counter()
            raw = vectorizer.embed(text, as_buffer=True)
            times.append((time.perf_counter() - started) * 1000)
            vectors.append(np.frombuffer(raw, dtype=np.float32))
    finally:
        torch.set_num_threads(before)
    return np.array(vectors), times


def run_conversation(ctx: Context, vectorizer: Any, settings: Settings, conv: Conversation,
                     modes: list[str], stamp: str, out: Run) -> None:
    banner(f"{conv.sample_id}: {len(conv.contents)} turns, {len(conv.questions)} questions")
    agent = new_agent(ctx, re.sub(r"[^A-Za-z0-9_.-]", "-", f"locomo-{conv.sample_id}-{stamp}")[:64])
    started = time.perf_counter()
    by_id = remember_all(ctx, agent, conv)
    # Embedded while the workers index the same texts: the two compete for the CPU, but
    # neither is timed here.
    refs = References(vectorizer, conv.contents, conv.dia_ids)
    wait_indexed(ctx, agent, list(by_id), timeout=120 + len(by_id) / 5)
    out.index_seconds.append(time.perf_counter() - started)
    print(f"remembered and indexed in {out.index_seconds[-1]:.1f} s", flush=True)

    texts = [q.text for q in conv.questions]
    query_vectors, floor = embed_queries(vectorizer, texts, settings.web_embed_threads)
    out.floor_ms += floor
    for mode in modes:  # on texts of their own, so that no timed query is one seen before
        for n in range(WARMUP):
            recall(ctx, agent, f"warm-up question {n} of {conv.sample_id}", mode)
    for j, (question, vector) in enumerate(zip(conv.questions, query_vectors, strict=True)):
        def ranked(ranker: str, top: Iterable[str], q: Question = question) -> Ranked:
            return Ranked(conv.sample_id, q.index, q.category, ranker, q.evidence, tuple(top))

        # Interleaved, so the machine's noise falls on every mode alike, and each mode asks
        # a third of the questions first: a later asking may find the query's embedding
        # cached by the web process, the first never does.
        turn = j % len(modes)
        for mode in modes[turn:] + modes[:turn]:
            ids, elapsed_ms = recall(ctx, agent, question.text, mode)
            out.latency_ms.setdefault(mode, []).append(elapsed_ms)
            if mode == modes[turn]:
                out.first_ms.setdefault(mode, []).append(elapsed_ms)
            out.ranked.append(ranked(mode, (by_id[i] for i in ids if i in by_id)))
        out.ranked.append(ranked("ref cosine", refs.cosine(vector)))
        out.ranked.append(ranked("ref BM25", refs.bm25_top(question.text)))


def scores(ranked: list[Ranked]) -> dict[str, float]:
    n = len(ranked) or 1
    table = {f"hit@{k}": sum(r.hit(k) for r in ranked) / n for k in KS}
    table.update({f"recall@{k}": sum(r.recall(k) for r in ranked) / n for k in KS})
    return table


def summarize(run: Run, rankers: list[str], convs: list[Conversation],
              seconds: float, args: argparse.Namespace) -> dict[str, Any]:
    def of(ranker: str, **where: Any) -> list[Ranked]:
        return [r for r in run.ranked if r.ranker == ranker
                and all(getattr(r, key) == value for key, value in where.items())]

    rows = {ranker: scores(of(ranker)) for ranker in rankers}
    per_conv = {c.sample_id: {ranker: scores(of(ranker, conversation=c.sample_id))["recall@10"]
                              for ranker in rankers} | {"questions": len(c.questions)}
                for c in convs}
    per_cat = {CATEGORIES[cat]: {ranker: scores(of(ranker, category=cat))["recall@10"]
                                 for ranker in rankers}
               | {"questions": len(of(rankers[0], category=cat))}
               for cat in CATEGORIES if of(rankers[0], category=cat)}
    same = [a.top == b.top for a, b in zip(of("semantic"), of("ref cosine"), strict=False)]
    verdicts: dict[str, Any] = {}
    if "hybrid" in rows:
        hybrid = rows["hybrid"]["recall@10"]
        best = max(rows[ref]["recall@10"] for ref in REFERENCES)
        cosine = rows["ref cosine"]["recall@10"]
        verdicts = {"over_references": round(hybrid - best, 4),
                    "over_references_ok": hybrid - best >= OVER_REFERENCES,
                    "over_vector": round(hybrid - cosine, 4),
                    "over_vector_ok": hybrid - cosine >= OVER_VECTOR}
    latency = {mode: {"p50": percentile(times, 50), "p95": percentile(times, 95),
                      "first_p50": percentile(run.first_ms.get(mode, []), 50),
                      "first_p95": percentile(run.first_ms.get(mode, []), 95),
                      "first_n": len(run.first_ms.get(mode, []))}
               for mode, times in run.latency_ms.items()}
    return {
        "date": date.today().isoformat(), "machine": machine_info(),
        "data": str(args.path), "conversations": len(convs),
        "questions": sum(len(c.questions) for c in convs),
        "dropped_evidence_ids": sum(c.dropped_evidence for c in convs),
        "turns": sum(len(c.contents) for c in convs), "workers": args.workers,
        "load_average": run.load,
        "rows": rows, "per_conversation": per_conv, "per_category": per_cat,
        "semantic_equals_cosine": sum(same) / len(same) if same else None,
        "verdicts": verdicts, "latency_ms": latency,
        "floor_ms": {"p50": percentile(run.floor_ms, 50), "p95": percentile(run.floor_ms, 95)},
        "index_seconds": [round(s, 2) for s in run.index_seconds],
        "runtime_seconds": round(seconds, 1),
        "per_question": [{"conversation": r.conversation, "question": r.question,
                          "category": r.category, "ranker": r.ranker,
                          **{f"hit@{k}": r.hit(k) for k in KS},
                          **{f"recall@{k}": r.recall(k) for k in KS}} for r in run.ranked],
    }


def label(ranker: str) -> str:
    return ranker if ranker in REFERENCES else f"service {ranker}"


def print_report(res: dict[str, Any], rankers: list[str]) -> None:
    banner(f"Recall quality: {res['conversations']} conversations, {res['turns']} turns, "
           f"{res['questions']} questions (categories 1-4 with evidence)")
    metrics = [f"hit@{k}" for k in KS] + [f"recall@{k}" for k in KS]
    print(f"{'':18}" + "".join(f"{m:>10}" for m in metrics))
    for ranker in rankers:
        print(f"{label(ranker):18}" + "".join(f"{res['rows'][ranker][m]:>10.3f}"
                                             for m in metrics))
    for title, table in (("recall@10 per conversation", res["per_conversation"]),
                         ("recall@10 per category", res["per_category"])):
        print(f"\n{title}\n{'':18}" + "".join(f"{label(r):>17}" for r in rankers)
              + f"{'questions':>11}")
        for name, row in table.items():
            print(f"{name:18}" + "".join(f"{row[r]:>17.3f}" for r in rankers)
                  + f"{row['questions']:>11}")
    if res["semantic_equals_cosine"] is not None:
        print(f"\nservice semantic's top 10 identical to the exact cosine ranking for "
              f"{res['semantic_equals_cosine']:.1%} of questions")
    if res["dropped_evidence_ids"]:
        print(f"evidence ids naming no turn, ignored: {res['dropped_evidence_ids']}")
    v = res["verdicts"]
    if v:
        print(f"\n{verdict(v['over_references_ok'])}  hybrid recall@10 at least "
              f"{OVER_REFERENCES * 100:.0f} points above the better reference: "
              f"{v['over_references'] * 100:+.1f} points")
        print(f"{verdict(v['over_vector_ok'])}  hybrid recall@10 at least "
              f"{OVER_VECTOR * 100:.0f} points above vector-only (ref cosine): "
              f"{v['over_vector'] * 100:+.1f} points")
    floor = res["floor_ms"]
    print(f"\nembedding floor (one query in-process): p50 {floor['p50']:.1f} ms, "
          f"p95 {floor['p95']:.1f} ms")
    print("recall latency, client-side, ms: every recall | each question's first asking "
          "(never a cached query)")
    print(f"{'':10}{'p50':>8}{'p95':>8} |{'p50':>8}{'p95':>8}{'n':>6} | first p95 - floor p95 "
          f"(goal <= {LATENCY_GAP_MS:.0f} ms)")
    for mode, lat in res["latency_ms"].items():
        print(f"{mode:10}{lat['p50']:>8.1f}{lat['p95']:>8.1f} |{lat['first_p50']:>8.1f}"
              f"{lat['first_p95']:>8.1f}{lat['first_n']:>6} | "
              f"{lat['first_p95'] - floor['p95']:+.1f}")
    machine = res["machine"]
    print(f"\n{res['date']}, {machine['nproc']} cores ({machine['cpu']}), "
          f"{res['workers']} ingest worker(s); load average {' -> '.join(res['load_average'])}"
          f" (start -> end); runtime {res['runtime_seconds']:.0f} s")


def load_average() -> str:
    """The 1-minute load average: the machine is shared, and latency reads with it."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    out = Run([], {}, {}, [], [], [load_average()])
    convs = load_conversations(args.path, args.conversations)
    start_stack(ctx)
    settings = Settings.from_env(ctx.env())
    workers = []
    for n in range(args.workers):
        log = ctx.log(f"worker-{n}")
        workers.append((ctx.track(start_worker(log, env=ctx.env(), cwd=ROOT)), log))
    # Loaded while the workers load theirs.
    from memanto_redis.shared.infra.embeddings import load_vectorizer

    vectorizer = load_vectorizer(settings.embed_model)
    for proc, log in workers:
        wait_until(lambda p=proc, path=log: _worker_ready(p, path), 120, 0.2, "ingest worker")
    stamp = str(int(time.time()))
    for conv in convs:
        run_conversation(ctx, vectorizer, settings, conv, args.modes, stamp, out)
    ctx.stop_all()  # before the report: nothing of the stack outlives its measurements
    out.load.append(load_average())
    rankers = [*args.modes, *REFERENCES]
    res = summarize(out, rankers, convs, time.perf_counter() - started, args)
    print_report(res, rankers)
    return res


def _worker_ready(proc: Any, log: Path) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"ingest worker exited: {log_tail(log)}")
    return bool(re.search(r"consumer \S+ ready", log_tail(log, 20000)))


def _modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in SEARCH_MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"modes are a comma-separated list of "
                                         f"{', '.join(SEARCH_MODES)}")
    return modes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("path", type=Path, help="a LoCoMo JSON file (locomo10.json's shape)")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N")
    parser.add_argument("--modes", type=_modes, default=list(SEARCH_MODES),
                        help="comma-separated search modes (default: all)")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1,
                        help="ingest workers")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        res = run_in_context("memanto-recall-", lambda ctx: run(ctx, args))
    except RunFailed:
        return 1
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
