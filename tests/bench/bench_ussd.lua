-- wrk script for tests/bench/bench_ussd.sh: the USSD callback (POST /v1/ussd) as Africa's
-- Talking's gateway posts it, or the same run's baseline (GET /healthz).
--
-- BENCH_USSD_MODE=ussd: request i opens a new session ("B<tid>_<i>") for miner phone i mod N
-- (BENCH_PHONES: one E.164 number a line) with an empty text: her first screen, the main menu
-- of a registered miner (a session written to Redis, her account read from MySQL on a worker).
-- A session's later screens cannot be chained here: wrk does not say which connection a
-- response came on. BENCH_TOKEN is the gateway's secret. BENCH_USSD_MODE=healthz: GET /healthz.
-- BENCH_THINK_MS: each connection waits that long between its answer and its next request (a
-- person reading a screen and typing: 200 connections with a 1 s wait are 200 sessions at about
-- 200 screens a second); 0 is a closed loop (as fast as kitod answers: throughput).
-- done() prints one line: USSDSTATUS requests=<n> non2xx=<n> p50_us=<n> p99_us=<n>

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  mode = os.getenv("BENCH_USSD_MODE") or "ussd"
  token = os.getenv("BENCH_TOKEN")
  phones = {}
  if mode == "ussd" then
    for l in io.lines(os.getenv("BENCH_PHONES")) do
      if #l > 0 then table.insert(phones, l) end
    end
  end
  i = 0
  think = tonumber(os.getenv("BENCH_THINK_MS") or "0")
end

function delay()
  -- jittered around the mean so the 200 connections do not march in step
  if think == 0 then return 0 end
  return math.random(math.floor(think / 2), think + math.floor(think / 2))
end

local function form(s)
  return (s:gsub("[^%w%-%._]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  if mode ~= "ussd" then
    return wrk.format("GET", "/healthz")
  end
  i = i + 1
  local phone = phones[(i % #phones) + 1]
  local body = "sessionId=B" .. tid .. "_" .. i .. "&serviceCode=" .. form("*384*18#") ..
               "&phoneNumber=" .. form(phone) .. "&networkCode=63902&text="
  return wrk.format("POST", "/v1/ussd?token=" .. token,
                    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("USSDSTATUS requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
                         summary.requests, non2xx, latency:percentile(50),
                         latency:percentile(99)))
end
