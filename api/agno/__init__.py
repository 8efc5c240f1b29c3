"""The /memories dialect of agno's AgentOS (seed 004)."""

from memanto_redis.api.agno.routes import routes

__all__ = ["routes"]
