-- wrk script: POST ~1 KB chat turns to /v1/messages. BENCH_PROFILE picks
-- the traffic (issue 16):
--   repeat  64 prebuilt bodies, each with an email and a phone: 64
--           conversations and 64 customers for the whole run (the old bench;
--           every per-conversation and per-subject structure stays hot).
--   chat    conversation ids keep coming: a conversation lasts 10 turns and
--           its id is never seen again; one turn in five carries a new
--           customer's email or phone (alternately), the rest carry none.
--   worst   every turn is a new conversation and a new customer.
--   backfill  like chat, but every turn is dated BENCH_BACKFILL_DAYS (400)
--           days ago: records that are already past retention, for the
--           sweep-under-load measurement of bench/soak.sh.
--   huge    every turn in one conversation (BENCH_CONV), one in five naming
--           the same customer: a bot that sends everything under one id,
--           for bench/erase.sh.
-- Ids and identifiers are unique per run: each wrk thread has its own
-- prefix (BENCH_RUN plus the thread number), and counts its own turns.
local profile = os.getenv("BENCH_PROFILE") or "repeat"
local token = os.getenv("BENCH_TOKEN") or "dev-ingest-token"
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local backfill_days = tonumber(os.getenv("BENCH_BACKFILL_DAYS") or "400")
local filler = string.rep("The customer asked about delivery windows and the returns policy. ", 12)
local short_filler = string.rep("Thanks, I would like to know when my parcel arrives. ", 18)

local bodies = {}
for i = 1, 64 do
  bodies[i] = string.format(
    '{"conversation_id":"bench-%d","text":"Hello, this is user%d@example.com, call me on +44 7700 9%05d. %s"}',
    i, i, i, filler)
end

local threads = {}
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local n = 0
local prefix
local ts_field = ""
function init(args)
  prefix = run .. "-" .. tostring(tid or 0)
  if profile == "backfill" then
    ts_field = string.format(',"ts":%d', os.time() - backfill_days * 86400)
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- A customer nobody has seen before: the turn number makes it unique.
local function new_customer(k)
  if k % 2 == 0 then
    return string.format("you can email me at c%s.%d@example.net", prefix, k)
  end
  -- +44 7700 9xxxxx is Ofcom's drama range; the rest of the digits vary.
  return string.format("call me back on +44 7%03d %06d", 100 + (k % 900), k % 1000000)
end

local function chat_body(k)
  local conv = string.format("%s-c%d", prefix, math.floor(k / 10))
  local text
  if k % 5 == 0 then
    text = "Hi, " .. new_customer(math.floor(k / 5)) .. ". " .. short_filler
  else
    text = short_filler .. "Turn " .. tostring(k % 10) .. "."
  end
  return string.format('{"conversation_id":"%s","text":"%s"%s}', conv, text, ts_field)
end

local function worst_body(k)
  return string.format('{"conversation_id":"%s-w%d","text":"Hi, %s. %s"}',
    prefix, k, new_customer(k), short_filler)
end

request = function()
  n = n + 1
  local body
  if profile == "chat" or profile == "backfill" then
    body = chat_body(n)
  elseif profile == "worst" then
    body = worst_body(n)
  elseif profile == "huge" then
    body = string.format('{"conversation_id":"%s","text":"Turn %d. %s%s"}', os.getenv("BENCH_CONV"),
      n, short_filler, n % 5 == 0 and " Write to huge.customer@example.com." or "")
  else
    body = bodies[(n % 64) + 1]
  end
  return wrk.format(nil, "/v1/messages", nil, body)
end
