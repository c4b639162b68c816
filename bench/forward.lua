-- bench/forward.sh: one signed Twilio callback, the same every time
-- (FWD_BODY, FWD_SIG from the environment); the bot gets it unsigned.
wrk.method = "POST"
wrk.body = os.getenv("FWD_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local sig = os.getenv("FWD_SIG")
if sig and sig ~= "" then wrk.headers["X-Twilio-Signature"] = sig end
-- FWD_DELAY_MS paces each connection (a webhook stream, not a flood): the
-- latency wrk reports starts when a request is written, after the delay.
local pace = tonumber(os.getenv("FWD_DELAY_MS") or "0")
if pace > 0 then function delay() return pace end end
