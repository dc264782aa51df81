-- wrk script: POST /Patient with a varied Swedish Patient per request.
-- Created ids (from the Location header of 201s) are written by done() to
-- the file named by the BENCH_IDS_OUT environment variable.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local headers = {["Content-Type"] = "application/fhir+json", ["Accept"] = "application/fhir+json"}
local seq = 0

function setup(thread) common.setup(thread) end
function init(args) common.init_thread() end

function request()
  seq = seq + 1
  return wrk.format("POST", "/Patient", headers, common.patient_json(nil, seq))
end

function response(status, hdrs, body) common.response(status, hdrs, body, true) end
function done(summary, latency, requests) common.done(summary, latency, "create") end
