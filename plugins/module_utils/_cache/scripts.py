# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Lua scripts redis_cleanup acts through. Each one checks again, atomically, what the read phase
saw before it changes a key, and returns one flag per key or job (1 acted, 0 left alone), so a key an
application touched in between is left alone and the counts are exact."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# KEYS: keys; ARGV[1]: seconds, or '' to delete. The keys that still have no TTL get one (EXPIRE),
# or are UNLINKed (memory freed in the background).
WITHOUT_TTL = """
local flags = {}
for i, key in ipairs(KEYS) do
  flags[i] = 0
  if redis.call('TTL', key) == -1 then
    if ARGV[1] == '' then
      redis.call('UNLINK', key)
    else
      redis.call('EXPIRE', key, ARGV[1])
    end
    flags[i] = 1
  end
end
return flags
"""

# KEYS: keys; ARGV[1]: seconds. UNLINK the ones idle (OBJECT IDLETIME) at least that long.
DELETE_IDLE = """
local flags = {}
local limit = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  flags[i] = 0
  local idle = redis.call('OBJECT', 'IDLETIME', key)
  if idle and idle >= limit then
    redis.call('UNLINK', key)
    flags[i] = 1
  end
end
return flags
"""

# KEYS: keys; ARGV: per key its type (string or hash), the hash field (or '') and the SHA-1 of the value
# read. UNLINK the ones whose value is still the one read: a session used since keeps its new lastActivity.
DELETE_IF_UNCHANGED = """
local flags = {}
for i, key in ipairs(KEYS) do
  flags[i] = 0
  local kind, field, seen = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local current
  if redis.call('TYPE', key).ok == kind then
    if kind == 'string' then
      current = redis.call('GET', key)
    else
      current = redis.call('HGET', key, field)
    end
  end
  if current and redis.sha1hex(current) == seen then
    redis.call('UNLINK', key)
    flags[i] = 1
  end
end
return flags
"""

# Removes finished jobs of one Bull or BullMQ queue, the way the libraries' cleanJobsInSet does, one
# job at a time with every key of it, never an active (locked, or listed in active) job.
# KEYS[1] the completed or failed zset, KEYS[2] the active list,
# KEYS[3] Bull: the priority zset; BullMQ: the events stream,
# KEYS[4] Bull: the rate limiter index hash; BullMQ: the meta hash.
# ARGV[1] the job key prefix (bull:<queue>:), ARGV[2] bull or bullmq, ARGV[3] the cutoff in ms,
# ARGV[4..] job ids.
CLEAN_JOBS = """
local rcall = redis.call
local prefix, flavour, cutoff = ARGV[1], ARGV[2], tonumber(ARGV[3])
local active = {}
for _, id in ipairs(rcall('LRANGE', KEYS[2], 0, -1)) do
  active[id] = true
end
local flags = {}
local removed = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local jobKey = prefix .. id
  local flag = 0
  if rcall('ZSCORE', KEYS[1], id) and not active[id] and rcall('EXISTS', jobKey .. ':lock') == 0 then
    local fields = rcall('HMGET', jobKey, 'finishedOn', 'processedOn', 'timestamp', 'parentKey')
    local stamp = fields[1]
    if flavour == 'bull' then
      stamp = fields[1] or fields[2] or fields[3]
    end
    local old = (not stamp) or ((tonumber(stamp) or 0) < cutoff)
    local parent = fields[4]
    if old and flavour == 'bullmq' and parent and parent ~= '' then
      if rcall('SISMEMBER', parent .. ':dependencies', jobKey) == 1 then
        old = false
      end
    end
    if old then
      rcall('ZREM', KEYS[1], id)
      if flavour == 'bullmq' then
        rcall('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies', jobKey .. ':processed',
              jobKey .. ':failed', jobKey .. ':unsuccessful')
      else
        rcall('ZREM', KEYS[3], id)
        rcall('DEL', jobKey, jobKey .. ':logs')
        local limited = rcall('HGET', KEYS[4], id)
        if limited then
          rcall('SREM', limited, id)
          rcall('HDEL', KEYS[4], id)
        end
      end
      flag = 1
      removed = removed + 1
    end
  end
  flags[i - 3] = flag
end
if flavour == 'bullmq' and removed > 0 then
  local maxlen = rcall('HGET', KEYS[4], 'opts.maxLenEvents') or 10000
  rcall('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 'event', 'cleaned', 'count', removed)
end
return flags
"""
