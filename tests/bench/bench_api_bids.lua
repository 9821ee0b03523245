-- wrk script for tests/bench/bench_api.sh: valid bids to kitod over HTTPS keep-alive.
--
-- Reads (paths from the environment) BENCH_LOTS: lot ids, one a line; BENCH_TOKENS: bearer
-- tokens of approved buyers, one a line. Each wrk thread takes its own share of the lots (thread
-- t of T: lots t, t+T, ...), so bids on one lot come from one thread in order. Request i of a
-- thread bids on lot i mod L at BENCH_FIRST + (i div L + 1) x BENCH_STEP: every bid on a lot is
-- more than two steps above the one before (the sale's ladder is flat above the opening), so it
-- is above the ask and becomes the new maximum. Buyers rotate; Idempotency-Keys are distinct.
-- There is no response() function: with one, wrk hands every response's headers and body to Lua,
-- client work the hello run (no script) does not do. Statuses are counted from kitod's access
-- log by bench_api.sh. done() prints one line:
--   BIDSTATUS requests=<n> non2xx=<wrk's count of statuses > 399> seconds=<s> p50_us=.. p99_us=..

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local function lines(path)
  local t = {}
  for l in io.lines(path) do
    if #l > 0 then table.insert(t, l) end
  end
  return t
end

function init(args)
  local all = lines(os.getenv("BENCH_LOTS"))
  tokens = lines(os.getenv("BENCH_TOKENS"))
  first = tonumber(os.getenv("BENCH_FIRST"))
  step = tonumber(os.getenv("BENCH_STEP"))
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  lots = {}
  for i, l in ipairs(all) do
    if (i - 1) % nthreads == tid - 1 then table.insert(lots, l) end
  end
  i = 0
  salt = tostring(os.time()) .. "-" .. tostring(tid)
end

function request()
  local n = #lots
  local lot = lots[(i % n) + 1]
  local amount = first + (math.floor(i / n) + 1) * step
  local token = tokens[(i % #tokens) + 1]
  i = i + 1
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. salt .. "-" .. i,
  }
  return wrk.format("POST", "/v1/lots/" .. lot .. "/bids", headers,
                    string.format('{"amount":%d}', amount))
end

function done(summary, latency, requests)
  io.write(string.format("BIDSTATUS requests=%d non2xx=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d\n",
                         summary.requests, summary.errors.status, summary.duration / 1e6,
                         latency:percentile(50), latency:percentile(99),
                         summary.errors.connect + summary.errors.read + summary.errors.write +
                         summary.errors.timeout))
end
