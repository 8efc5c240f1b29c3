"""What every worker process does at start and stop: settings, logging, signals, clear
errors."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from memanto_redis.shared.errors import MemantoError
from memanto_redis.shared.infra import logs
from memanto_redis.shared.infra.settings import ConfigError, Settings


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


def run_main(name: str, body: Callable[[Settings], None]) -> None:
    """Read the settings, set up the logs, run a worker's body; configuration and Redis
    problems end it with one clear line."""
    try:
        settings = Settings.from_env()
        logs.setup(name, settings.log_format, settings.log_level)
        body(settings)
    except (ConfigError, MemantoError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)
