-- wrk script: POST /Communication, each to one of BENCH_RECIPIENTS municipalities in turn
-- (Organization/kommun-0000 ...), as bench/subscriptions.py's subscriptions filter on.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = {["Content-Type"] = "application/fhir+json", ["Accept"] = "application/fhir+json"}
local recipients = tonumber(os.getenv("BENCH_RECIPIENTS") or "100")
local seq = 0

function setup(thread) common.setup(thread) end
function init(args) common.init_thread() end

function request()
  seq = seq + 1
  local body = string.format(
    '{"resourceType":"Communication","status":"completed","category":[{"coding":'
      .. '[{"system":"http://example.org/lus","code":"inskrivningsmeddelande"}]}],'
      .. '"recipient":[{"reference":"Organization/kommun-%04d"}],'
      .. '"payload":[{"contentString":"Meddelande %d"}]}',
    (seq * 7 + (tid or 0)) % math.max(recipients, 1), seq)
  return wrk.format("POST", "/Communication", headers, body)
end

function response(status, hdrs, body) common.response(status, hdrs, body, false) end
function done(summary, latency, requests) common.done(summary, latency, "communication") end
