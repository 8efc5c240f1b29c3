"""The `scheduler` process: the cron clock.

Cron schedules are not built yet (see the scheduler issue); until then this process
checks its Redis connection and idles, so the Procfile's process model is complete.
"""

from __future__ import annotations

import logging
import time

from shared.config import Settings
from shared.redis_conn import connect
from workers.process import StopFlag, run_main

log = logging.getLogger("memanto.scheduler")


def main() -> None:
    settings = Settings.from_env()
    stop = StopFlag()
    connect(settings.redis_url, wait_seconds=30)
    log.info("scheduler idle: no schedules to fire yet")
    while not stop():
        time.sleep(0.5)


if __name__ == "__main__":
    run_main("scheduler", main)
