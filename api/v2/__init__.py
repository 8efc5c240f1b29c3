"""The MEMANTO v2 dialect: agents, sessions, API keys, memories and trees."""

from memanto_redis.api.v2 import agents, erasure, files, memories, policy, quotas, trees

# The hot path (remember) first: Starlette tries routes in order.
routes = [*memories.routes, *files.routes, *agents.routes, *trees.routes, *erasure.routes,
          *quotas.routes, *policy.routes]
