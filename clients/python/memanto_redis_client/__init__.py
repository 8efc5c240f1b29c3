"""The Python client for a MEMANTO server; it needs only httpx.

    from memanto_redis_client import Memanto
    memanto = Memanto("http://localhost:8000", api_key="...")
    agent = memanto.activate("support-bot")
"""

from memanto_redis_client.client import (
    AgentHandle,
    ApiError,
    ClientError,
    Memanto,
    ServerUnreachable,
)

__all__ = ["AgentHandle", "ApiError", "ClientError", "Memanto", "ServerUnreachable"]
