"""What every worker process does at start and stop: logging, signals, clear errors."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from memanto_redis.shared.errors import MemantoError
from memanto_redis.shared.infra.settings import ConfigError


class StopFlag:
    """Set by SIGTERM/SIGINT so the loop finishes its current batch and exits."""

    def __init__(self) -> None:
        self.stopped = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, *_: object) -> None:
        self.stopped = True

    def __call__(self) -> bool:
        return self.stopped


def run_main(name: str, body: Callable[[], None]) -> None:
    """Run a worker's body; configuration and Redis problems end it with one clear line."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    try:
        body()
    except (ConfigError, MemantoError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)
