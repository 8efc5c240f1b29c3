"""Search by meaning and by words, fused: what every recall of this service runs.

Two rankings of the same filtered documents: the vector's (KNN, cosine) and RediSearch's
full-text BM25 over the `content` field (the query's words, made safe by
`shared/memory/fulltext.py`). `hybrid` fuses them by reciprocal rank (RRF): a document's
score is the sum of 1 / (RRF_K + its rank) over the lists it is in, so a memory found only
by a rare word (a name, a date, "Ticket #12345") surfaces beside those found only by meaning.
Measured on LoCoMo's development conversations (bench/recall_quality.py), RRF with a small
K beat both rankings alone and weighted sums of their scores; see README, "Recall quality".

Every result carries its cosine similarity to the query, whatever the mode ranked it by,
so a score means the same in every mode and `min_similarity` filters alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np
from redis.asyncio import Redis
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery, VectorQuery
from redisvl.query.filter import FilterExpression, Text

from memanto_redis.shared.infra.fulltext import any_word

SearchMode = Literal["hybrid", "semantic", "keyword"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
# Small K favours each list's top ranks (K = 5 and 10 did best, K = 60 clearly worse).
RRF_K = 5
# How deep each list is read before fusing, at least.
FUSION_DEPTH = 50

Hit = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Found:
    hit: Hit
    similarity: float  # cosine similarity to the query, whatever ranked it
    by_words: bool  # whether it holds a word of the query


def cosine_similarity(cosine_distance: str | float) -> float:
    """Cosine distance is 1 - cosine similarity; opposite meanings count as 0."""
    return round(min(1.0, max(0.0, 1.0 - float(cosine_distance))), 6)


async def search(index: AsyncSearchIndex, redis: Redis, expression: FilterExpression,
                 vector: bytes, text: str, limit: int, mode: SearchMode,
                 return_fields: Sequence[str]) -> list[Found]:
    """The `limit` best documents matching `expression`, ranked as `mode` says, each with
    its cosine similarity to `vector`. The rankings carry keys only; the chosen documents'
    fields (and the vectors of those found by words alone) come in one round trip after."""
    if mode == "semantic":
        meaning = await _by_meaning(index, expression, vector, limit)
        return await _fetch(redis, list(meaning), meaning, set(), vector, return_fields)
    if mode == "keyword":
        words = await _by_words(index, expression, text, limit)
        return await _fetch(redis, words, {}, set(words), vector, return_fields)
    depth = max(FUSION_DEPTH, limit)
    meaning, words = await asyncio.gather(_by_meaning(index, expression, vector, depth),
                                          _by_words(index, expression, text, depth))
    scores: dict[str, float] = {}
    for ranking in (list(meaning), words):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda key: -scores[key])[:limit]
    return await _fetch(redis, best, meaning, set(words), vector, return_fields)


async def _by_meaning(index: AsyncSearchIndex, expression: FilterExpression, vector: bytes,
                      limit: int) -> dict[str, float]:
    """The nearest documents' keys, nearest first, with their cosine similarity."""
    query = VectorQuery(vector=vector, vector_field_name="embedding", return_fields=[],
                        filter_expression=expression, num_results=limit, dtype="float32")
    hits = cast(list[Hit], await index.query(query))
    return {hit["id"]: cosine_similarity(hit["vector_distance"]) for hit in hits}


async def _by_words(index: AsyncSearchIndex, expression: FilterExpression, text: str,
                    limit: int) -> list[str]:
    """The keys of the documents holding the query's words, best BM25 first."""
    words = any_word(text)
    if words is None:
        return []
    query = FilterQuery(filter_expression=expression & (Text("content") % words),
                        return_fields=[], num_results=limit)
    query.scorer("BM25")
    query.no_content()
    return [hit["id"] for hit in cast(list[Hit], await index.query(query))]


async def _fetch(redis: Redis, keys: list[str], known: dict[str, float], worded: set[str],
                 vector: bytes, fields: Sequence[str]) -> list[Found]:
    """The documents behind `keys`, in order, with their similarity: known from the vector
    query, else computed from the stored vector (0 for a document without one). A document
    gone meanwhile is left out."""
    if not keys:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, [*fields, "embedding"] if key not in known else list(fields))
        replies = await pipe.execute()
    query = np.frombuffer(vector, dtype=np.float32)
    query_norm = float(np.linalg.norm(query)) or 1.0
    found = []
    for key, values in zip(keys, replies, strict=True):
        if all(value is None for value in values[:len(fields)]):
            continue
        hit: Hit = {name: value.decode() if isinstance(value, bytes) else value
                    for name, value in zip(fields, values, strict=False) if value is not None}
        hit["id"] = key
        similarity = known[key] if key in known else _cosine(query, query_norm, values[-1])
        found.append(Found(hit, similarity, key in worded))
    return found
def _cosine(query: Any, query_norm: float, raw: bytes | None) -> float:
    if not raw:
        return 0.0
    stored = np.frombuffer(raw, dtype=np.float32)
    if stored.shape != query.shape:
        return 0.0
    norm = float(np.linalg.norm(stored)) or 1.0
    return round(min(1.0, max(0.0, float(query @ stored) / (query_norm * norm))), 6)
