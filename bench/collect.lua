-- wrk: POST pre-made collect requests, each once, from `start` (epoch s) for `duration` s, then
-- nothing more, so every request sent is answered before wrk exits. Arguments: the requests file
-- prefix (a file per thread; a line: items, content type, user agent, X-Forwarded-For, body,
-- tab-separated), the env key, start, duration. Prints one line: BENCH {json}.
local ffi = require("ffi")
ffi.cdef("typedef struct { long s; long ns; } bench_time; int clock_gettime(int, bench_time *);")
local clock = ffi.new("bench_time")
local function now() ffi.C.clock_gettime(0, clock); return tonumber(clock.s) + tonumber(clock.ns) / 1e9 end
local threads = {}

function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end

function init(args)
  start, stop, requests, sizes, statuses = tonumber(args[3]), tonumber(args[3]) + tonumber(args[4]), {}, {}, {}
  for line in io.lines(args[1] .. "." .. id) do
    local items, kind, agent, address, body = line:match("^(%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(requests, wrk.format("POST", nil, {["Content-Type"] = kind, ["User-Agent"] = agent,
      ["X-Forwarded-For"] = address, ["Origin"] = "https://www.bench-site.example", ["X-AscendKit-Env-Key"] = args[2]},
      body))
    table.insert(sizes, tonumber(items))
  end
  position, sent, items_sent, answered, accepted, duplicates, wraps, first, last = 0, 0, 0, 0, 0, 0, 0, 0, 0
  verified = id ~= 0 -- wrk asks thread 0 for one request to check the script and never sends it
end

function delay()
  local moment = now()
  if moment < start then return math.ceil((start - moment) * 1000) end
  return moment < stop and 0 or 3600000
end

function request()
  if not verified then verified = true; return requests[1] end
  position = position + 1
  if position > #requests then position, wraps = 1, wraps + 1 end
  sent, items_sent, first = sent + 1, items_sent + sizes[position], first > 0 and first or now()
  return requests[position]
end

function response(status, headers, body)
  answered, last, statuses[status] = answered + 1, now(), (statuses[status] or 0) + 1
  if status == 202 then
    accepted = accepted + tonumber(body:match('"accepted":%s*(%d+)') or 0)
    duplicates = duplicates + tonumber(body:match('"duplicates":%s*(%d+)') or 0)
  end
end

function done(summary, latency, requests)
  local total, parts = { sent = 0, items_sent = 0, answered = 0, accepted = 0, duplicates = 0, wraps = 0 }, {}
  local first_sent, last_answer, by_status = math.huge, 0, {}
  for _, thread in ipairs(threads) do
    for name, value in pairs(total) do total[name] = value + thread:get(name) end
    if thread:get("first") > 0 then first_sent = math.min(first_sent, thread:get("first")) end
    last_answer = math.max(last_answer, thread:get("last"))
    for status, n in pairs(thread:get("statuses")) do by_status[status] = (by_status[status] or 0) + n end
  end
  for name, value in pairs(total) do table.insert(parts, string.format('"%s":%d', name, value)) end
  for status, n in pairs(by_status) do table.insert(parts, string.format('"status_%d":%d', status, n)) end
  local e = summary.errors
  io.write(string.format('BENCH {%s,"first":%.6f,"last":%.6f,"p50_us":%d,"p99_us":%d,"socket_errors":%d}\n',
    table.concat(parts, ","), first_sent == math.huge and 0 or first_sent, last_answer, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
