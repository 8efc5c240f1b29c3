"""The type of an untyped memory: a table of realistic sentences (every type at least
twice), typos, determinism, speed, and the door answering with the type it stored."""

from __future__ import annotations

import time

import pytest

from memanto_redis.shared.memory import classify as module
from memanto_redis.shared.memory.classify import classify
from memanto_redis.shared.memory.rules import MEMORY_TYPES

TABLE = [
    ("User prefers email communication", "preference"),
    ("The user dislikes long meetings and would rather get a summary", "preference"),
    ("My favorite editor is Neovim", "preference"),
    ("She doesn't like spicy food", "preference"),
    ("Always answer in British English", "instruction"),
    ("Never commit secrets to the repository", "instruction"),
    ("Use tabs for indentation in Go files", "instruction"),
    ("You must run the linter before pushing", "instruction"),
    ("We decided to use PostgreSQL instead of MySQL", "decision"),
    ("The team went with Kubernetes for deployment", "decision"),
    ("Our goal is to reach 10k monthly active users by Q3", "goal"),
    ("Alice wants to become a staff engineer within two years", "goal"),
    ("I will send the contract to Bob by Friday", "commitment"),
    ("Remind me to renew the TLS certificate next month", "commitment"),
    ("Action item: Carol follows up with legal", "commitment"),
    ("Met with the design team yesterday to review the new onboarding flow", "event"),
    ("Version 2.1 was released on 2024-03-14", "event"),
    ("We launched the beta to 50 customers last week", "event"),
    ("Learned that batching embeddings cuts ingest time by half", "learning"),
    ("The root cause was a missing index on the orders table", "learning"),
    ("Lesson: write the migration before the code", "learning"),
    ("The deploy failed with a ConnectionRefusedError from Redis", "error"),
    ("Checkout crashes when the cart is empty", "error"),
    ("NullPointerException in the payment service after the upgrade", "error"),
    ("Dana is my manager and reports to the CTO", "relationship"),
    ("Tom is Sarah\u2019s brother", "relationship"),
    ("Currently working on the billing migration", "context"),
    ("The project is in progress and waiting on the security review", "context"),
    ("Noticed that recall latency spikes every night around 2am", "observation"),
    ("The user usually asks for examples in Python", "observation"),
    ("The quarterly report is saved in reports/q3_summary.pdf", "artifact"),
    ("Design doc for the search service: https://example.com/docs/search", "artifact"),
    ("The API endpoint is /v2/orders and listens on port 8080", "fact"),
    ("Paris is the capital of France", "fact"),
    ("The service is written in Rust", "fact"),
    ("Bob lives in Berlin", "fact"),
    # Typos of cue words, caught by rapidfuzz when nothing matches as written.
    ("The user perfers dark mode", "preference"),
    ("Final decison: monorepo", "decision"),
    # Nothing to go by: a fact.
    ("Zebra quantum lattice harmonics", "fact"),
    ("hello", "fact"),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_table(text, expected):
    assert classify(text) == expected


def test_the_table_covers_every_type():
    assert {expected for _, expected in TABLE} == set(MEMORY_TYPES)


def test_same_text_same_type():
    for text, expected in TABLE:
        assert {classify(text) for _ in range(3)} == {expected}
        # Surrounding space says nothing about the type, nor does case (but in class
        # names such as ValueError, which are told by their case).
        assert classify(f"  {text}\n") == expected
        if "Error" not in text and "Exception" not in text:
            assert classify(text.upper()) == expected


def test_the_longest_phrase_wins_at_a_position():
    # "don't like" is a preference, not the instruction "don't".
    assert classify("The customer don't like cold calls") == "preference"
    assert classify("Don't deploy on Fridays") == "instruction"


def test_a_long_memory_is_read_only_in_its_opening():
    opening = "We decided to move the billing service to Go. "
    assert classify(opening + "filler words here " * 2000) == "decision"
    assert classify("filler words here " * 2000 + "We decided to do it") == "fact"


def test_fast_enough_for_the_door():
    texts = [text for text, _ in TABLE]
    rounds = 50
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            classify(text)
    per_call = (time.perf_counter() - start) / (rounds * len(texts))
    # ~5 us on a quiet 2-core machine; the bound leaves room for a busy one.
    assert per_call < 200e-6, f"{per_call * 1e6:.1f} us per call"
    worst = "zebra quantum lattice harmonics " * 500
    start = time.perf_counter()
    classify(worst)
    assert time.perf_counter() - start < 0.05


def test_every_cue_phrase_is_within_the_phrase_length():
    assert all(0 < len(words) <= module.MAX_PHRASE for words in module.PHRASES)


def test_remember_without_type_answers_the_classified_type(client, agent):
    base = f"/api/v2/agents/{agent.agent_id}"
    reply = client.post(f"{base}/remember",
                        json={"content": "User prefers email communication"},
                        headers=agent.headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["type"] == "preference"
    stored = client.get(f"{base}/memories/{reply.json()['memory_id']}",
                        headers=agent.headers).json()
    assert stored["type"] == "preference"
    # null is "not given"; a type that is given is kept as it is.
    assert client.post(f"{base}/remember", json={"content": "We decided on Redis",
                                                 "type": None},
                       headers=agent.headers).json()["type"] == "decision"
    assert client.post(f"{base}/remember", json={"content": "We decided on Redis",
                                                 "type": "fact"},
                       headers=agent.headers).json()["type"] == "fact"


def test_batch_remember_classifies_each_item(client, agent):
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember", json={"memories": [
        {"content": "Checkout crashes when the cart is empty"},
        {"content": "Remind me to renew the TLS certificate", "type": "goal"},
        {"content": "Dana is my manager"},
    ]}, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    assert [r["type"] for r in reply.json()["results"]] == ["error", "goal", "relationship"]
