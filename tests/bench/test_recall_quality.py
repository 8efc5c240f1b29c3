"""bench/recall_quality.py end to end on a tiny made-up conversation set of LoCoMo's shape:
its own stack comes up and goes down, the table is printed, every score is a share, and
hybrid recall puts first the one turn that holds a question's rare words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rank_bm25", reason="the `bench` extra (pip install -e '.[bench]')")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "recall_quality.py"

# Two conversations, two sessions each. In each, one turn alone holds the words of its
# planted question (no other turn shares a word with it beyond stopwords), so keyword
# search finds only that turn and hybrid must rank it first.
CAFE = [
    ("Ana", "Hi Ben! How was your weekend?"),
    ("Ben", "Pretty calm. I cooked paella for my parents on Saturday."),
    ("Ana", "Paella sounds lovely. I tried baking sourdough bread again."),
    ("Ben", "Did the loaf rise this time?"),
    ("Ana", "It did, finally. My starter is three months old now."),
    ("Ben", "Nice. I have been hiking a lot in the hills near my town."),
    ("Ana", "Which trail do you like most?"),
    ("Ben", "The ridge path. On clear days you see the sea from up there."),
    ("Ana", "I should join you some time, I need more fresh air."),
    ("Ben", "Any time! Bring good shoes, it gets muddy."),
    ("Ana", "My cousin finally posted me the Quixotrel manuscript from Lisbon."),
    ("Ben", "Wow, that must be exciting for your research."),
    ("Ana", "Very. I am translating its first chapter this month."),
    ("Ben", "I started learning the guitar, mostly folk songs."),
    ("Ana", "Play me something next time we meet!"),
    ("Ben", "Only if you bake bread for me."),
    ("Ana", "Deal. My dog Pepper would love a walk on your ridge path too."),
    ("Ben", "Pepper is welcome, my neighbours have dogs as well."),
    ("Ana", "We moved to a flat with a garden last year, so Pepper is happy."),
    ("Ben", "Gardens make such a difference for dogs."),
]
CLUB = [
    ("Kofi", "Lena, are you coming to practice on Thursday?"),
    ("Lena", "Yes, but I might be late because of my shift at the hospital."),
    ("Kofi", "No problem, coach starts with drills anyway."),
    ("Lena", "My knee still hurts a little from the last match."),
    ("Kofi", "Ice it tonight and stretch before practice."),
    ("Lena", "I will. Our squad lifted the Zembrowicz trophy back in 2019, remember?"),
    ("Kofi", "Of course, best season ever."),
    ("Lena", "I am saving money for a trip to Japan next spring."),
    ("Kofi", "Japan! Tokyo or Kyoto?"),
    ("Lena", "Both, plus a few days of hiking near Mount Fuji."),
    ("Kofi", "I painted my kitchen yellow over the holidays."),
    ("Lena", "Bold choice. Does it feel brighter?"),
    ("Kofi", "Much brighter, my mornings are better now."),
    ("Lena", "I adopted a kitten from the shelter, her name is Miso."),
    ("Kofi", "Miso is a cute name. Is she calm?"),
    ("Lena", "Not at all, she climbs every curtain."),
    ("Kofi", "My sister is getting married in October."),
    ("Lena", "Congratulations to her! Are you giving a speech?"),
    ("Kofi", "Yes, and I am nervous about it already."),
    ("Lena", "Practice it on me, I am a kind audience."),
]


def _sample(sample_id: str, turns: list[tuple[str, str]], dates: tuple[str, str],
            qa: list[dict]) -> dict:
    half = len(turns) // 2
    sessions = {1: turns[:half], 2: turns[half:]}
    conversation: dict = {"speaker_a": turns[0][0], "speaker_b": turns[1][0]}
    for n, session in sessions.items():
        conversation[f"session_{n}_date_time"] = dates[n - 1]
        conversation[f"session_{n}"] = [{"speaker": speaker, "dia_id": f"D{n}:{i}", "text": text}
                                        for i, (speaker, text) in enumerate(session, start=1)]
    return {"sample_id": sample_id, "conversation": conversation, "qa": qa}


DATA = [
    _sample("cafe", CAFE, ("10:00 am on 3 March, 2024", "4:15 pm on 9 April, 2024"), [
        {"question": "Who posted the Quixotrel manuscript?", "answer": "her cousin",
         "evidence": ["D2:1"], "category": 4},
        {"question": "What does Ben cook for his parents?", "answer": "paella",
         "evidence": ["D1:2"], "category": 4},
        {"question": "What are Ana's hobbies?", "answer": "baking, translating",
         "evidence": ["D1:3", "D2:3"], "category": 1},
        {"question": "Would Ana like a dog-friendly home?", "answer": "yes",
         "evidence": [], "category": 3},  # no evidence: skipped
        {"question": "What did Ben say about cats?", "answer": "nothing",
         "evidence": ["D1:1"], "category": 5},  # adversarial: skipped
    ]),
    _sample("club", CLUB, ("7:30 pm on 12 May, 2023", "9:05 am on 2 June, 2023"), [
        {"question": "Which squad lifted the Zembrowicz trophy?", "answer": "their squad",
         "evidence": ["D1:6", "D9:99"], "category": 2},  # D9:99 names no turn
        {"question": "Where is Lena travelling next spring?", "answer": "Japan",
         "evidence": ["D1:8"], "category": 4},
        {"question": "What is the name of Lena's kitten?", "answer": "Miso",
         "evidence": ["D2:4"], "category": 4},
    ]),
]
PLANTED = {("cafe", 0), ("club", 0)}  # (conversation, question index)


def test_recall_quality_on_a_tiny_set(tmp_path):
    data = tmp_path / "tiny-locomo.json"
    data.write_text(json.dumps(DATA))
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(SCRIPT), str(data), "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for row in ("service hybrid", "service semantic", "service keyword", "ref cosine",
                "ref BM25", "recall@10 per conversation", "embedding floor"):
        assert row in done.stdout, done.stdout

    res = json.loads(out.read_text())
    assert res["questions"] == 6 and res["dropped_evidence_ids"] == 1
    for ranker, row in res["rows"].items():
        assert set(row) == {f"{m}@{k}" for m in ("hit", "recall") for k in (1, 5, 10)}
        assert all(0.0 <= value <= 1.0 for value in row.values()), (ranker, row)
    planted = [q for q in res["per_question"]
               if (q["conversation"], q["question"]) in PLANTED and q["ranker"] == "hybrid"]
    assert len(planted) == 2 and all(q["hit@1"] == 1.0 for q in planted), planted
    assert all(lat["p95"] > 0 for lat in res["latency_ms"].values())
