-- wrk script: POSTs pre-made collect requests, each once, from `start` (epoch seconds)
-- for `duration` seconds, then sends nothing more, so that every request sent is
-- answered before wrk exits (stored rows can then be checked against the answers).
-- Arguments after `--`: the requests file prefix (one file per thread; a line is
-- items, content type, user agent, X-Forwarded-For and body, tab-separated), the env
-- key, start, duration. Prints one line: BENCH {json}.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]])
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(0, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  start, stop = tonumber(args[3]), tonumber(args[3]) + tonumber(args[4])
  requests, sizes, statuses = {}, {}, {}
  for line in io.lines(args[1] .. "." .. id) do
    local items, kind, agent, address, body = line:match("^(%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = { ["Content-Type"] = kind, ["User-Agent"] = agent, ["X-Forwarded-For"] = address,
                      ["Origin"] = "https://www.bench-site.example", ["X-AscendKit-Env-Key"] = args[2] }
    table.insert(requests, wrk.format("POST", nil, headers, body))
    table.insert(sizes, tonumber(items))
  end
  position, sent, items_sent, answered, accepted, duplicates, wraps, first, last = 0, 0, 0, 0, 0, 0, 0, 0, 0
  verified = id ~= 0 -- wrk asks thread 0 for one request to check the script, and never sends it
end

function delay()
  local moment = now()
  if moment < start then return math.ceil((start - moment) * 1000) end
  if moment >= stop then return 3600000 end
  return 0
end

function request()
  if not verified then
    verified = true
    return requests[1]
  end
  position = position + 1
  if position > #requests then position, wraps = 1, wraps + 1 end
  sent, items_sent = sent + 1, items_sent + sizes[position]
  if first == 0 then first = now() end
  return requests[position]
end

function response(status, headers, body)
  answered, last = answered + 1, now()
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 then
    accepted = accepted + tonumber(body:match('"accepted":%s*(%d+)') or 0)
    duplicates = duplicates + tonumber(body:match('"duplicates":%s*(%d+)') or 0)
  end
end

function done(summary, latency, requests)
  local total = { sent = 0, items_sent = 0, answered = 0, accepted = 0, duplicates = 0, wraps = 0 }
  local first_sent, last_answer, by_status = math.huge, 0, {}
  for _, thread in ipairs(threads) do
    for name, value in pairs(total) do total[name] = value + thread:get(name) end
    if thread:get("first") > 0 then first_sent = math.min(first_sent, thread:get("first")) end
    last_answer = math.max(last_answer, thread:get("last"))
    for status, count in pairs(thread:get("statuses")) do by_status[status] = (by_status[status] or 0) + count end
  end
  local parts = {}
  for name, value in pairs(total) do table.insert(parts, string.format('"%s":%d', name, value)) end
  for status, count in pairs(by_status) do table.insert(parts, string.format('"status_%d":%d', status, count)) end
  local errors = summary.errors
  io.write(string.format('BENCH {%s,"first":%.6f,"last":%.6f,"p50_us":%d,"p99_us":%d,"socket_errors":%d}\n',
    table.concat(parts, ","), first_sent == math.huge and 0 or first_sent, last_answer, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout))
end
