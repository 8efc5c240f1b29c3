"""The web process: `uvicorn memanto_redis.api.app:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any, NoReturn

from starlette.applications import Starlette
from starlette.middleware import Middleware

from memanto_redis.api import agent_memory, agno, health, mcp, metrics, openapi, v2
from memanto_redis.api import services as services_module
from memanto_redis.api.errors import EXCEPTION_HANDLERS
from memanto_redis.api.observe import Observe
from memanto_redis.api.renewal import Renewal
from memanto_redis.api.services import Services
from memanto_redis.shared.errors import MemantoError
from memanto_redis.shared.infra import logs
from memanto_redis.shared.infra.remote_embeddings import shown
from memanto_redis.shared.infra.settings import ConfigError, Settings

log = logging.getLogger("memanto.api")


# What the web process says once recall can be served (cli/processes.py waits for it).
MODEL_READY = "web: embedding model loaded"


def _give_up(exc: Exception) -> NoReturn:
    # A misconfiguration deserves one clear line; uvicorn would print the lifespan's
    # traceback instead, so leave before it can.
    print(f"web: {exc}", file=sys.stderr, flush=True)
    os._exit(3)


async def _load_model(svc: Services) -> None:
    """The model loads while the rest is served; a model that cannot load ends the process
    as a bad setting at start would."""
    try:
        seconds = await svc.model.load()
    except (ConfigError, MemantoError) as exc:
        _give_up(exc)
    log.info("%s in %.1f s", MODEL_READY, seconds)


def create_app(settings: Settings | None = None, vectorizer: Any = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Services]]:
        try:
            current = settings or Settings.from_env()
            if settings is None:  # the process's own app, not a test's: its logs are ours
                logs.setup("web", current.log_format, current.log_level)
            svc = await services_module.build(current, vectorizer)
        except (ConfigError, MemantoError) as exc:
            _give_up(exc)
        loading = None if svc.model.ready else asyncio.create_task(_load_model(svc))
        if current.embeddings_url:  # nothing loads: the service embeds
            log.info("%s (the embedding service at %s, %d dimensions)", MODEL_READY,
                     shown(current.embeddings_url), svc.model.dims)
        try:
            yield {"services": svc}
        finally:
            if loading is not None:
                loading.cancel()
            await svc.close()
            if logs.access is not None:
                logs.access.flush()

    return Starlette(
        routes=[*v2.routes, *agent_memory.routes, *agno.routes, *openapi.routes, mcp.route,
                *health.routes, *metrics.routes],
        middleware=[Middleware(Observe), Middleware(Renewal)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=mcp.with_sessions(lifespan),
    )


app = create_app()
