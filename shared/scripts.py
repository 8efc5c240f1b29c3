"""Lua scripts: each makes a check and its writes one atomic round trip.

Each script touches only keys it is given; per-agent keys share the agent's hash tag.
"""

from __future__ import annotations

# Create an agent unless it exists. KEYS: agent hash, agents zset. ARGV: id, now, then
# field/value pairs. Returns 1 when created, 0 when it already existed.
CREATE_AGENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1
"""

# Accept memories: check the session (or, for an API-key caller who has none, that the
# agent exists), the backlog bound, then write each queued record and append it to the
# ingest stream. KEYS: session, agent, memory-id set, stream, then one queued-record key
# per item. ARGV: sid or '', now, max backlog, agent id, then (id, json) pairs.
# Returns 0 accepted, 1 no live session, 2 session replaced, 3 backlog full, 4 no agent.
REMEMBER = """
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[2]) == 0 then return 4 end
else
  local sid = redis.call('HGET', KEYS[1], 'sid')
  if not sid then return 1 end
  if sid ~= ARGV[1] then return 2 end
end
local bound = tonumber(ARGV[3])
if bound > 0 and redis.call('XLEN', KEYS[4]) >= bound then return 3 end
local n = #KEYS - 4
for i = 1, n do
  local id, data = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  redis.call('HSET', KEYS[4 + i], 'data', data, 'status', 'queued')
  redis.call('SADD', KEYS[3], id)
  redis.call('XADD', KEYS[4], '*', 'id', id, 'agent', ARGV[4], 'data', data)
end
redis.call('HSET', KEYS[2], 'last_active', ARGV[2])
if ARGV[1] ~= '' then redis.call('HINCRBY', KEYS[1], 'memories_created', n) end
return 0
"""

# Index one memory unless it was deleted meanwhile or already indexed (a redelivery).
# KEYS: queued record, memory document. ARGV: field/value pairs. Returns 1 if written.
INDEX_MEMORY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV))
redis.call('DEL', KEYS[1])
return 1
"""

# Mark a queued memory failed, keeping the error. KEYS: queued record. ARGV: error.
MARK_FAILED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[1])
return 1
"""

# Start a session, replacing (and so revoking) any earlier one. KEYS: agent, session.
# ARGV: sid, now, expires_at, expires_at in ms. Returns 0 when the agent does not exist.
ACTIVATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'sid', ARGV[1], 'started_at', ARGV[2], 'expires_at', ARGV[3],
           'memories_created', 0)
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
return 1
"""

# Push a live session's expiry later. KEYS: session. ARGV: sid, new expires_at, in ms.
# Returns 0 when the session is not the live one.
EXTEND = """
if redis.call('HGET', KEYS[1], 'sid') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""

# End a session and return its record. KEYS: session. ARGV: the caller's sid, or '' for
# an admin. Returns the record as a flat list, or an empty list when nothing was ended.
DEACTIVATE = """
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return record end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'sid') ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[1])
return record
"""

# Append short-term memory entries. KEYS: the session's list, its id counter, the agent's
# current-session pointer. ARGV: max entries, idle seconds, session id, now, then
# (role, content) pairs. Each entry gets the next id; the list keeps its newest max entries;
# all three keys expire after the idle time. Returns the new entries' first id.
STM_APPEND = """
local first = nil
for i = 5, #ARGV, 2 do
  local id = redis.call('INCR', KEYS[2])
  first = first or id
  redis.call('RPUSH', KEYS[1], cjson.encode({id = id, role = ARGV[i], content = ARGV[i + 1],
                                            timestamp = tonumber(ARGV[4])}))
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[2])
return first
"""
