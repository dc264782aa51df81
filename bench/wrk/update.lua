-- wrk script: PUT /Patient/{id} with a full replacement whose "id" equals the URL id
-- (new telecom, address, ... and `active` toggled now and then); ids drawn at random
-- from the file given after `--`.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = {["Content-Type"] = "application/fhir+json", ["Accept"] = "application/fhir+json"}
local ids, n
local seq = 0

function setup(thread) common.setup(thread) end
function init(args)
  common.init_thread()
  ids = common.read_ids(args[1])
  n = #ids
end

function request()
  seq = seq + 1
  local id = ids[math.random(n)]
  return wrk.format("PUT", "/Patient/" .. id, headers, common.patient_json(id, seq, seq % 7 ~= 0))
end

function response(status, hdrs, body) common.response(status, hdrs, body, false) end
function done(summary, latency, requests) common.done(summary, latency, "update") end
