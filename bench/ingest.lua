-- wrk script: POST ~1 KB messages, each with an email and a phone number,
-- cycling through 64 pre-built bodies so wrk spends its time sending.
local bodies = {}
local filler = string.rep("The customer asked about delivery windows and the returns policy. ", 12)
for i = 1, 64 do
  bodies[i] = string.format(
    '{"conversation_id":"bench-%d","text":"Hello, this is user%d@example.com, call me on +44 7700 9%05d. %s"}',
    i, i, i, filler)
end
local n = 0
local token = os.getenv("BENCH_TOKEN") or "dev-ingest-token"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/messages", nil, bodies[(n % 64) + 1])
end
