"""Realistic short memory texts for the benchmark: the same seed, the same list."""

from __future__ import annotations

import random

TEXT_SEED = 20240611


# -- realistic short memory texts ----------------------------------------------------------

_PEOPLE = ["Alice", "Bob", "Priya", "Chen", "Maria", "Tomasz", "Aisha", "Kenji", "Lucas",
           "Fatima", "The user", "The customer", "The CFO", "Our on-call engineer"]
_TOOLS = ["PostgreSQL", "Redis", "Kafka", "SQLite", "DuckDB", "Elasticsearch", "MongoDB",
          "ClickHouse", "RabbitMQ", "S3", "Terraform", "Kubernetes", "Nomad", "Celery"]
_COMPONENTS = ["billing service", "search API", "mobile app", "nightly export",
               "checkout flow", "auth gateway", "reporting dashboard", "email worker"]
_CHANNELS = ["email", "Slack", "SMS", "phone calls", "Teams", "a weekly summary"]
_TOPICS = ["billing", "outage", "release", "roadmap", "security", "hiring", "invoice"]
_CITIES = ["Lisbon", "Berlin", "Austin", "Nairobi", "Osaka", "Toronto", "Warsaw", "Pune"]
_FOODS = ["peanuts", "shellfish", "gluten", "dairy", "sesame", "eggs"]
_LANGS = ["English", "Portuguese", "German", "Japanese", "Spanish", "French", "Polish"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_TEMPLATES = [
    "{person} prefers {channel} over {channel2} for {topic} updates.",
    "{person} is allergic to {food}; avoid it when ordering lunch for meetings.",
    "Decided to move the {component} from {tool} to {tool2} by {month} to cut p99 latency "
    "by {pct}%.",
    "{person} works from {city} and is usually online between {h1}:00 and {h2}:00 local "
    "time.",
    "Ticket #{num}: {person} reported that the {component} returns HTTP {code} after the "
    "v{major}.{minor} upgrade.",
    "Goal for Q{q}: reduce {topic} tickets by {pct}% and keep the {component} error rate "
    "under {small}%.",
    "{person}'s birthday is on {month} {day}.",
    "Meeting on {weekday} with {person}: agreed to ship the {component} changes behind a "
    "feature flag in v{major}.{minor}.",
    "Learned that the {component} must warm its {tool} cache before {h1}:00, otherwise the "
    "first {num} requests time out.",
    "Always answer {person} in {lang} and keep replies under {small} sentences.",
    "The {component} runs on {small} nodes in {city}; it depends on {tool} {major}.{minor}.",
    "{person} asked to be reminded about the {topic} review every {weekday} at {h2}:30.",
    "Invoice {num} for {person} was paid late; {person2} will follow up by {channel}.",
    "Error seen: {tool} connection pool exhausted in the {component} at {h1}:{minute} UTC "
    "during the {topic} batch job, retried {small} times.",
]


def memory_texts(count: int, seed: int = TEXT_SEED) -> list[str]:
    """`count` distinct short memories; the same seed always gives the same list (so the
    first 2,000 of phase 3's backlog are exactly phase 2's texts)."""
    rng = random.Random(seed)
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < count:
        text = rng.choice(_TEMPLATES).format(
            person=rng.choice(_PEOPLE), person2=rng.choice(_PEOPLE),
            channel=rng.choice(_CHANNELS), channel2=rng.choice(_CHANNELS),
            topic=rng.choice(_TOPICS), component=rng.choice(_COMPONENTS),
            tool=rng.choice(_TOOLS), tool2=rng.choice(_TOOLS), city=rng.choice(_CITIES),
            food=rng.choice(_FOODS), lang=rng.choice(_LANGS), month=rng.choice(_MONTHS),
            weekday=rng.choice(_DAYS), day=rng.randint(1, 28), pct=rng.randint(5, 60),
            h1=rng.randint(6, 11), h2=rng.randint(15, 21), minute=f"{rng.randint(0, 59):02d}",
            num=rng.randint(1000, 99999), code=rng.choice([429, 500, 502, 503, 504]),
            major=rng.randint(1, 9), minor=rng.randint(0, 30), q=rng.randint(1, 4),
            small=rng.randint(2, 9),
        )
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts
