-- wrk script: GET /Patient/{id} with a Bearer token (env BENCH_TOKEN), ids drawn at random
-- from the file given after `--`. Used by bench/auth.py.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = {["Accept"] = "application/fhir+json"}
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
local ids, n

function setup(thread) common.setup(thread) end
function init(args)
  common.init_thread()
  ids = common.read_ids(args[1])
  n = #ids
end

function request()
  return wrk.format("GET", "/Patient/" .. ids[math.random(n)], headers)
end

function response(status, hdrs, body) common.response(status, hdrs, body, false) end
function done(summary, latency, requests) common.done(summary, latency, "read") end
