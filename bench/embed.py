"""Phase 2, raw embedding: texts/s of the model alone (embed_many), in a subprocess.

    python -m bench.embed --texts 2000   (the subprocess; prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.cpu import CpuMeter, CpuShare
from bench.stack import ROOT, Context, banner, log_tail
from bench.texts import TEXT_SEED, memory_texts

MODEL = "all-MiniLM-L6-v2"
EMBED_BATCH = 64


@dataclass
class EmbedResult:
    texts: int
    seconds: float
    load_seconds: float
    torch_threads: int
    cpu: CpuShare

    @property
    def rate(self) -> float:
        return self.texts / self.seconds


def embed_child(count: int) -> None:
    """Runs in a subprocess: load the model, warm it up, time embed_many over the texts."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from memanto_redis.shared.infra.embeddings import load_vectorizer

    texts = memory_texts(count)
    started = time.perf_counter()
    vectorizer = load_vectorizer(MODEL)
    load_seconds = time.perf_counter() - started
    # Warm up on other texts, so no timed batch finds its exact shape already seen.
    vectorizer.embed_many(memory_texts(4 * EMBED_BATCH, seed=TEXT_SEED + 2),
                          batch_size=EMBED_BATCH, as_buffer=True)
    started = time.perf_counter()
    vectors = vectorizer.embed_many(texts, batch_size=EMBED_BATCH, as_buffer=True)
    seconds = time.perf_counter() - started
    assert len(vectors) == count and all(len(v) == 4 * vectorizer.dims for v in vectors)
    import torch

    print(json.dumps({"texts": count, "seconds": seconds, "load_seconds": load_seconds,
                      "torch_threads": torch.get_num_threads()}))


def phase_embed(ctx: Context, args: argparse.Namespace, again: bool = False) -> EmbedResult:
    if again:
        banner("Phase 2, again after phase 3: raw embedding, to show how much the machine "
               "drifted")
    else:
        banner(f"Phase 2: raw embedding, {args.embed_texts} texts, embed_many(batch_size="
               f"{EMBED_BATCH}, as_buffer=True), model alone in a subprocess")
    log = ctx.log("embed")
    meter = CpuMeter(ctx.live_pids)
    with log.open("ab") as err:
        done = subprocess.run(
            [sys.executable, "-m", "bench.embed", "--texts", str(args.embed_texts)],
            cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=subprocess.PIPE,
            stderr=err, text=True, timeout=900, check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"embedding subprocess failed: {log_tail(log)}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    result = EmbedResult(data["texts"], data["seconds"], data["load_seconds"],
                         data["torch_threads"], meter.share())
    print(f"raw: {result.rate:,.1f} texts/s ({result.texts} texts in {result.seconds:.2f} s; "
          f"model load {result.load_seconds:.1f} s; torch threads {result.torch_threads})")
    print(f"     {result.cpu.describe()} (model load included)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the raw embedding measure, run as a child")
    parser.add_argument("--texts", type=int, required=True)
    embed_child(parser.parse_args(argv).texts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
