"""The per-agent dialect of seed 003: short- and long-term memory, the swarm, scheduled
prompts and the inbox."""

from memanto_redis.api.agent_memory import memory, schedules, swarm

routes = [*schedules.routes, *memory.routes, *swarm.routes]
