"""Signed webhook requests for fired prompts.

The body is JSON `{agent, schedule, prompt, scheduled_for, fired_at}`. The header
`X-Memanto-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body bytes under the
schedule's secret (shown once, when the schedule was created). A receiver recomputes it
over the bytes it received, compares in constant time, and may use `scheduled_for` (signed,
and the same on every retry) to drop a repeat and `fired_at` to refuse stale replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from memanto_redis.shared.infra.times import iso

SIGNATURE_HEADER = "X-Memanto-Signature"


def body(agent_id: str, schedule: str, prompt: str, scheduled_for: int,
         fired_at: float) -> bytes:
    return json.dumps({"agent": agent_id, "schedule": schedule, "prompt": prompt,
                       "scheduled_for": iso(scheduled_for), "fired_at": iso(fired_at)},
                      separators=(",", ":")).encode()


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(secret: str, raw: bytes, signature: str) -> bool:
    """What a receiver does (written in Python, for the tests and the README)."""
    return hmac.compare_digest(sign(secret, raw), signature)


def headers(secret: str, raw: bytes, delivery: str, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "memanto-webhooks/1",
        SIGNATURE_HEADER: sign(secret, raw),
        # When this attempt was sent (not signed; `fired_at` in the body is).
        "X-Memanto-Timestamp": str(int(time.time())),
        # agent/schedule/scheduled_for epoch seconds: the same on every retry.
        "X-Memanto-Delivery": delivery,
        "X-Memanto-Attempt": str(attempt),
    }
