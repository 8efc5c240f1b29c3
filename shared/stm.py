"""Short-term memory storage: per agent and session, newest N entries, expiring when idle.

`append` queues the write on whatever client or pipeline it is given, sync or asyncio, so
the web process and the RQ jobs share one way of writing it.
"""

from __future__ import annotations

import time
from typing import Any

from shared import keys, scripts

ROLES = ("user", "assistant", "system", "tool")


class StmWriter:
    def __init__(self, redis: Any, max_entries: int, idle_seconds: int) -> None:
        self._script = redis.register_script(scripts.STM_APPEND)
        self.max_entries = max_entries
        self.idle_seconds = idle_seconds

    def append(self, agent_id: str, session_id: str, entries: list[tuple[str, str]],
               client: Any = None, now: float | None = None) -> Any:
        """Append (role, content) pairs; returns the script call (await it on asyncio, or
        read it from the pipeline's results)."""
        args: list[Any] = [self.max_entries, self.idle_seconds, session_id,
                           repr(time.time() if now is None else now)]
        for role, content in entries:
            args += [role, content]
        return self._script(
            keys=[keys.stm(agent_id, session_id), keys.stm_seq(agent_id, session_id),
                  keys.stm_current(agent_id)],
            args=args, client=client,
        )
