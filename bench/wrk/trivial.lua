-- wrk script: GET /ping on bench/baseline_trivial.py (the ceiling for one uvicorn process).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

function setup(thread) common.setup(thread) end
function init(args) common.init_thread() end
function request() return wrk.format("GET", "/ping") end
function response(status, hdrs, body) common.response(status, hdrs, body, false) end
function done(summary, latency, requests) common.done(summary, latency, "trivial") end
