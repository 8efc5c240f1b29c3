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
# agent exists), answer a retried Idempotency-Key with what its first request queued, take
# one token per memory from the agent's write bucket, check the agent's memory cap and the
# backlog bound, then write each queued record and append it to the ingest stream.
# KEYS: session, agent, memory-id set, stream, idempotency key (any key when unused), the
# agent's pending set, its write bucket, the quota overrides hash, then one queued-record
# key per item. ARGV: sid, or '' (check the agent exists), or '*' (no check), now, max
# backlog, agent id, idempotency TTL in seconds (0: unused), the records as one JSON array
# (for the idempotency key; '' when unused), write rate a second (0: unlimited), burst,
# most memories (0: no cap), then (id, json) pairs.
# The bucket refills by Redis's clock (TIME), so every web process agrees on it; a refused
# write takes no token.
# Returns 0 accepted, 1 no live session, 2 session replaced, 3 backlog full, 4 no agent,
# {5, the first request's records} for a retry, {6, seconds until enough tokens},
# {7, burst} for a batch larger than the burst, {8, cap} at the memory cap.
REMEMBER = """
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[2]) == 0 then return 4 end
elseif ARGV[1] ~= '*' then
  local sid = redis.call('HGET', KEYS[1], 'sid')
  if not sid then return 1 end
  if sid ~= ARGV[1] then return 2 end
end
local once = tonumber(ARGV[5])
if once > 0 then
  local first = redis.call('GET', KEYS[5])
  if first then return {5, first} end
end
local n = #KEYS - 8
local rate, burst = tonumber(ARGV[7]), tonumber(ARGV[8])
local custom = redis.call('HGET', KEYS[8], ARGV[4])
if custom then
  local r, b = string.match(custom, '^(%S+) (%S+)$')
  rate, burst = tonumber(r), tonumber(b)
end
local tokens, clock
if rate > 0 then
  if n > burst then return {7, tostring(burst)} end
  local t = redis.call('TIME')
  clock = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local held = redis.call('HMGET', KEYS[7], 'tokens', 'at')
  tokens = burst
  if held[1] then
    tokens = math.min(burst, tonumber(held[1]) + math.max(0, clock - tonumber(held[2])) * rate)
  end
  if tokens < n then return {6, tostring((n - tokens) / rate)} end
end
local cap = tonumber(ARGV[9])
if cap > 0 and redis.call('SCARD', KEYS[3]) + n > cap then return {8, ARGV[9]} end
local bound = tonumber(ARGV[3])
if bound > 0 and redis.call('XLEN', KEYS[4]) >= bound then return 3 end
if rate > 0 then
  redis.call('HSET', KEYS[7], 'tokens', tostring(tokens - n), 'at', tostring(clock))
  redis.call('PEXPIRE', KEYS[7], math.ceil(burst / rate * 1000) + 1000)
end
for i = 1, n do
  local id, data = ARGV[8 + 2 * i], ARGV[9 + 2 * i]
  redis.call('HSET', KEYS[8 + i], 'data', data, 'status', 'queued', 'version', 1)
  redis.call('SADD', KEYS[3], id)
  redis.call('ZADD', KEYS[6], ARGV[2], id)
  redis.call('XADD', KEYS[4], '*', 'id', id, 'agent', ARGV[4], 'data', data)
end
if once > 0 then redis.call('SET', KEYS[5], ARGV[6], 'EX', once) end
if ARGV[1] ~= '*' then redis.call('HSET', KEYS[2], 'last_active', ARGV[2]) end
if ARGV[1] ~= '' and ARGV[1] ~= '*' then
  redis.call('HINCRBY', KEYS[1], 'memories_created', n)
end
return 0
"""

# Index one memory unless it was deleted meanwhile, already indexed (a redelivery), or
# edited since this entry was queued (a newer entry carries the newer version); then ack and
# delete its stream entry. Each entry is settled alone: one that fails here stays pending (to
# be retried, then dead-lettered) while the rest of its batch is indexed.
# KEYS: queued record, memory document, ingest stream, the entries' errors hash, the
# agent's pending set. ARGV: group, entry id, version, memory id, then field/value pairs.
# Returns 1 if written.
INDEX_MEMORY = """
local held = redis.call('HGET', KEYS[1], 'version')
local written = 0
if held and held == ARGV[3] then
  redis.call('HSET', KEYS[2], unpack(ARGV, 5))
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[5], ARGV[4])
  written = 1
end
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
return written
"""

# Mark a queued memory failed, keeping the error. KEYS: queued record. ARGV: error.
MARK_FAILED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[1])
return 1
"""

# Start a session, replacing (and so revoking) any earlier one; the agent keeps when and
# which was its latest (RECREATE_SESSION checks it). KEYS: agent, session. ARGV: sid, now,
# expires_at, expires_at in ms. Leaves the agent's pattern in `pattern`; returns false when
# the agent does not exist.
_START_SESSION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local pattern = redis.call('HGET', KEYS[1], 'pattern') or ''
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'sid', ARGV[1], 'started_at', ARGV[2], 'expires_at', ARGV[3],
           'memories_created', 0, 'pattern', pattern)
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'last_active', ARGV[2], 'last_session_at', ARGV[2],
           'last_session_id', ARGV[1])
"""

# An activation: a session started and counted. Returns {the agent's pattern}, or false
# when the agent does not exist.
ACTIVATE = _START_SESSION + """
redis.call('HINCRBY', KEYS[1], 'session_count', 1)
return {pattern}
"""

# MEMANTO's auto-recreate: start a session (as ACTIVATE) in place of the lapsed one named
# by ARGV[5], only while no session is live, that one was the agent's latest and it was
# not deactivated. As in MEMANTO, it does not count as one of the agent's sessions.
# Returns as ACTIVATE, or false when it does not apply.
RECREATE_SESSION = """
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
if redis.call('HGET', KEYS[1], 'last_session_id') ~= ARGV[5] then return false end
if redis.call('HGET', KEYS[1], 'ended_session_id') == ARGV[5] then return false end
""" + _START_SESSION + """
return {pattern}
"""

# Push a live session's expiry later. KEYS: session. ARGV: sid, new expires_at, in ms.
# Returns 0 when the session is not the live one.
EXTEND = """
if redis.call('HGET', KEYS[1], 'sid') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""

# Renew a live session near its end, as MEMANTO does. KEYS: session. ARGV: sid, now,
# seconds before the end from which to renew, the renewed length in seconds, the longest a
# session may live from its start in seconds. Returns {expires_at, started_at} as they now
# stand (unchanged when not near the end or at its longest), or false when not the live one.
RENEW_SESSION = """
local record = redis.call('HMGET', KEYS[1], 'sid', 'expires_at', 'started_at')
if record[1] ~= ARGV[1] then return false end
local now, ends = tonumber(ARGV[2]), tonumber(record[2])
local renewed = math.min(now + tonumber(ARGV[4]), tonumber(record[3]) + tonumber(ARGV[5]))
if ends - now > tonumber(ARGV[3]) or renewed <= ends then return {record[2], record[3]} end
local stamp = string.format('%.3f', renewed)
redis.call('HSET', KEYS[1], 'expires_at', stamp)
redis.call('PEXPIREAT', KEYS[1], math.floor(renewed * 1000))
return {stamp, record[3]}
"""

# End a session and return its record; the agent remembers it was ended (so it is never
# recreated). KEYS: session, agent. ARGV: the caller's sid, or '' for an admin. Returns the
# record as a flat list, or an empty list when nothing was ended.
DEACTIVATE = """
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return record end
local sid = redis.call('HGET', KEYS[1], 'sid')
if ARGV[1] ~= '' and sid ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'ended_session_id', sid)
end
return record
"""

# Append short-term memory entries. KEYS: the session's list, its id counter, the agent's
# current-session pointer, the agent's set of sessions. ARGV: max entries, idle seconds,
# session id, now, most sessions per agent (0: no cap), then (role, content) pairs. Each
# entry gets the next id; the list keeps its newest max entries; all four keys expire
# after the idle time. Returns the new entries' first id, or -1 when a new session would
# pass the cap (the set may still name sessions that expired: the caller prunes them).
STM_APPEND = """
local cap = tonumber(ARGV[5])
if cap > 0 and redis.call('SISMEMBER', KEYS[4], ARGV[3]) == 0
    and redis.call('SCARD', KEYS[4]) >= cap then
  return -1
end
local first = nil
for i = 6, #ARGV, 2 do
  local id = redis.call('INCR', KEYS[2])
  first = first or id
  redis.call('RPUSH', KEYS[1], cjson.encode({id = id, role = ARGV[i], content = ARGV[i + 1],
                                            timestamp = tonumber(ARGV[4])}))
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('EXPIRE', KEYS[4], ARGV[2])
return first
"""

# Add a swarm fact unless the agent it is written in the name of holds too many live ones.
# KEYS: the fact's hash, the agent's written set (fact id -> expiry). ARGV: now, expiry in
# seconds, expiry in ms, most live facts (0: no cap), fact id, then field/value pairs.
# The set forgets expired facts first, and lives as long as its longest-lived fact.
# Returns 1 when added, 0 at the cap.
SWARM_ADD = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('ZCARD', KEYS[2]) >= cap then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
local left = redis.call('PTTL', KEYS[2])
if left < 0 or left < tonumber(ARGV[3]) - tonumber(ARGV[1]) * 1000 then
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
return 1
"""

# Create a cron schedule unless one of that name exists or the agent has too many.
# KEYS: schedule hash, the agent's schedule names, the due set. ARGV: name, due member,
# created_at, next_run, most schedules allowed, then field/value pairs.
# Returns 1 when created, 0 when the name is taken, 2 when the agent is at its limit.
CREATE_SCHEDULE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 2 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1
"""

# Keep a lock only while we still hold it. KEYS: lock. ARGV: our token, ttl in ms.
# Returns 1 when renewed, 0 when the lock expired or another process holds it.
RENEW_LOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# Give a lock up only if it is ours. KEYS: lock. ARGV: our token. Returns 1 if released.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# Put a fired prompt in the agent's inbox and mark the run delivered, keeping the inbox id.
# KEYS: inbox stream, run hash. ARGV: inbox max length, delivered_at, then the entry's
# field/value pairs. Returns the inbox entry id.
DELIVER_PROMPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
redis.call('HSET', KEYS[2], 'status', 'delivered', 'delivered_at', ARGV[2], 'inbox_id', id)
return id
"""

# Record one webhook attempt on a run, unless the run is gone (schedule deleted, run
# trimmed). KEYS: run hash. ARGV: field/value pairs. Returns the attempts so far, or -1.
RECORD_WEBHOOK_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local attempts = redis.call('HINCRBY', KEYS[1], 'webhook_attempts', 1)
redis.call('HSET', KEYS[1], unpack(ARGV))
return attempts
"""
