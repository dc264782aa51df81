-- wrk script: GET the request paths of the file given after `--`, one per line, in turn
-- (each thread starts at a random line). bench/search.py writes one file per query kind.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = {["Accept"] = "application/fhir+json"}
local paths, n, at

function setup(thread) common.setup(thread) end
function init(args)
  common.init_thread()
  paths = common.read_ids(args[1])
  n = #paths
  at = math.random(n) - 1
end

function request()
  at = at % n + 1
  return wrk.format("GET", paths[at], headers)
end

function response(status, hdrs, body) common.response(status, hdrs, body, false) end
function done(summary, latency, requests) common.done(summary, latency, "search") end
