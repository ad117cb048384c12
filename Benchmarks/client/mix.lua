-- wrk script for Benchmarks/client/overhead: the example app's mixed workload.
--   70% GET /items/{id}: 80% of them over 80 hot ids (cache hits once warm), 20% over 1,000 cold
--       ids (mostly misses, each a 1-3 ms fake query, in a 100-entry LRU cache)
--   20% GET /search?q=: 50 distinct queries (2-5 ms fake query each)
--   10% POST /chat: 1,000 distinct prompts over three models; 30% carry an X-Request-Id that
--       repeats within the run (answered again, counted once)
-- Each thread seeds its own generator, so runs with the same threads draw the same sequence.
-- done() prints one line "WRK {json}" with the counts and latency percentiles in microseconds.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local models = { "gpt-4o", "gpt-4o-mini", "claude-sonnet" }
local json_headers = { ["Content-Type"] = "application/json" }

function init(args)
  math.randomseed(1000 + tid)
end

function request()
  local r = math.random()
  if r < 0.70 then
    local id
    if math.random() < 0.8 then id = math.random(0, 79) else id = math.random(80, 1079) end
    return wrk.format("GET", "/items/" .. id)
  elseif r < 0.90 then
    return wrk.format("GET", "/search?q=term" .. math.random(0, 49))
  else
    local n = math.random(0, 999)
    local body = '{"model":"' .. models[n % 3 + 1] .. '","prompt":"question ' .. n .. ' about how the cache behaves under load"}'
    if math.random() < 0.3 then
      return wrk.format("POST", "/chat", { ["Content-Type"] = "application/json", ["X-Request-Id"] = "wrk-" .. tid .. "-" .. n }, body)
    end
    return wrk.format("POST", "/chat", json_headers, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
