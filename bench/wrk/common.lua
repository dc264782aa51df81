-- Shared by the wrk scripts: a Patient generator (kept alike with bench/patients.py)
-- and the bookkeeping that counts statuses per thread and prints one precise
-- result line from done():   BENCH_RESULT {json}
--
-- Loaded with dofile() by create.lua / read.lua / update.lua / trivial.lua.

local M = {}

local PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
local HSA_ID = "urn:oid:1.2.752.29.4.19"

local GIVEN_F = {"Åsa", "Märta", "Ingrid", "Birgitta", "Gunnel", "Solveig", "Ulla", "Karin",
  "Margareta", "Britt-Marie", "Göta", "Elsa", "Anna-Lena", "Kerstin", "Maj-Britt"}
local GIVEN_M = {"Åke", "Göran", "Björn", "Sören", "Örjan", "Lennart", "Bengt", "Håkan",
  "Kjell", "Per-Olof", "Stig", "Jöns", "Rune", "Sven-Åke", "Ture"}
local FAMILY = {"Åström", "Öberg", "Ängström", "Sjöström", "Bäckström", "Löfgren", "Lindqvist",
  "Nordström", "Håkansson", "Jönsson", "Sjögren", "Ekström", "Strömberg",
  "Östlund", "Fältskog", "Söderberg", "Wåhlin", "Hägglund"}
local STREETS = {"Storgatan", "Kyrkogatan", "Västra Ågatan", "Östra Hamngatan", "Björkvägen",
  "Ringvägen", "Järnvägsgatan", "Skolgatan", "Sjövägen", "Tallstigen",
  "Ängsvägen", "Gärdesgatan", "Hälsingegatan", "Ödegårdsvägen"}
local CITIES = {
  {"Uppsala", "752", "Uppsala kommun", "Uppsala län"},
  {"Örebro", "702", "Örebro kommun", "Örebro län"},
  {"Västerås", "722", "Västerås stad", "Västmanlands län"},
  {"Linköping", "582", "Linköpings kommun", "Östergötlands län"},
  {"Jönköping", "553", "Jönköpings kommun", "Jönköpings län"},
  {"Umeå", "903", "Umeå kommun", "Västerbottens län"},
  {"Gävle", "802", "Gävle kommun", "Gävleborgs län"},
  {"Luleå", "972", "Luleå kommun", "Norrbottens län"},
  {"Malmö", "211", "Malmö stad", "Skåne län"},
  {"Göteborg", "413", "Göteborgs stad", "Västra Götalands län"}}
local CLINICS = {"Vårdcentralen Fjärdingen", "Vårdcentralen Östermalm", "Hälsocentralen Ålidhem",
  "Vårdcentralen Tärnan", "Närhälsan Högsbo", "Vårdcentralen Bäckby",
  "Hälsocentralen Södermalm", "Vårdcentralen Årstaberg"}
local RELATIONS = {{"C", "Emergency Contact"}, {"N", "Next-of-Kin"}, {"F", "Federal Agency"}}
local MARITAL = {{"M", "Married"}, {"W", "Widowed"}, {"D", "Divorced"}, {"S", "Never Married"}}

local random = math.random
local fmt = string.format
local concat = table.concat

local function pick(list) return list[random(#list)] end

local function luhn_digit(nine)
  local total = 0
  for i = 1, 9 do
    local p = tonumber(nine:sub(i, i)) * ((i % 2 == 1) and 2 or 1)
    total = total + math.floor(p / 10) + p % 10
  end
  return (10 - total % 10) % 10
end

local function personnummer()
  local year = random(1925, 1960)
  local month = random(1, 12)
  local day = random(1, 28)
  local sex = random(0, 9)
  local nine = fmt("%02d%02d%02d%02d%d", year % 100, month, day, random(0, 99), sex)
  local gender = (sex % 2 == 0) and "female" or "male"
  return fmt("%d%s%d", math.floor(year / 100), nine, luhn_digit(nine)),
         fmt("%d-%02d-%02d", year, month, day), gender
end

local function phone(mobile)
  if mobile then return fmt("+4670%07d", random(0, 9999999)) end
  return fmt("+4618%d", random(100000, 999999))
end

local function ascii_lower(s)
  s = s:lower():gsub("å", "a"):gsub("ä", "a"):gsub("ö", "o")
  return (s:gsub("Å", "a"):gsub("Ä", "a"):gsub("Ö", "o"))
end

local CODING_0131 = '"system":"http://terminology.hl7.org/CodeSystem/v2-0131"'

-- A Patient as a JSON string; rid (optional) becomes its "id"; seq varies the email.
function M.patient_json(rid, seq, active)
  local pnr, birth, gender = personnummer()
  local pool = (gender == "female") and GIVEN_F or GIVEN_M
  local g1, g2 = pick(pool), pick(pool)
  local family = pick(FAMILY)
  local c = pick(CITIES)
  local city, kommun, county = c[1], c[3], c[4]
  local street = fmt("%s %d", pick(STREETS), random(1, 120))
  if random() < 0.4 then street = fmt("%s lgh %d", street, random(1001, 1405)) end
  local postal = fmt("%s %d", c[2], random(10, 99))
  local kin_given = (random() < 0.5) and pick(GIVEN_F) or pick(GIVEN_M)
  local kin_family = pick(FAMILY)
  local rel = pick(RELATIONS)
  local mar = pick(MARITAL)
  local clinic = pick(CLINICS)
  local full = g1 .. " " .. g2 .. " " .. family
  local region = county:gsub(" län", "")
  local p = {'{"resourceType":"Patient"'}
  if rid then p[#p + 1] = ',"id":"' .. rid .. '"' end
  p[#p + 1] = fmt(',"text":{"status":"generated","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\"><p>%s, född %s, %s, %s %s. Listad på %s. Närstående: %s %s.</p></div>"}',
    full, birth, street, postal, city, clinic, kin_given, kin_family)
  p[#p + 1] = fmt(',"identifier":[{"use":"official","system":"%s","value":"%s"}]', PERSONNUMMER, pnr)
  p[#p + 1] = fmt(',"active":%s', (active == false) and "false" or "true")
  p[#p + 1] = fmt(',"name":[{"use":"official","text":"%s","family":"%s","given":["%s","%s"]},{"use":"usual","given":["%s"]}]',
    full, family, g1, g2, g1)
  p[#p + 1] = fmt(',"telecom":[{"system":"phone","value":"%s","use":"home"},{"system":"phone","value":"%s","use":"mobile","rank":1},{"system":"email","value":"%s.%s%d@exempel.se","use":"home"}]',
    phone(false), phone(true), ascii_lower(g1), ascii_lower(family), (seq or 0) % 1000)
  p[#p + 1] = fmt(',"gender":"%s","birthDate":"%s"', gender, birth)
  p[#p + 1] = fmt(',"address":[{"use":"home","type":"physical","text":"%s, %s %s","line":["%s"],"city":"%s","district":"%s","state":"%s","postalCode":"%s","country":"SE"}',
    street, postal, city, street, city, kommun, county, postal)
  if random() < 0.35 then
    local t = pick(CITIES)
    local t_street = fmt("%s %d", pick(STREETS), random(1, 60))
    local t_postal = fmt("%s 4%d", t[2], random(0, 9))
    p[#p + 1] = fmt(',{"use":"temp","type":"physical","text":"Korttidsboende Solgården, %s, %s %s","line":["Korttidsboende Solgården","%s"],"city":"%s","district":"%s","state":"%s","postalCode":"%s","country":"SE","period":{"start":"2024-%02d-%02d"}}',
      t_street, t_postal, t[1], t_street, t[1], t[3], t[4], t_postal, random(1, 12), random(1, 28))
  end
  p[#p + 1] = ']'
  p[#p + 1] = fmt(',"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"%s","display":"%s"}]}',
    mar[1], mar[2])
  p[#p + 1] = fmt(',"contact":[{"relationship":[{"coding":[{%s,"code":"%s","display":"%s"}]}],"name":{"use":"official","family":"%s","given":["%s"]},"telecom":[{"system":"phone","value":"%s","use":"mobile"}]}',
    CODING_0131, rel[1], rel[2], kin_family, kin_given, phone(true))
  if random() < 0.5 then
    local kin2 = (random() < 0.5) and pick(GIVEN_F) or pick(GIVEN_M)
    p[#p + 1] = fmt(',{"relationship":[{"coding":[{%s,"code":"N","display":"Next-of-Kin"}]}],"name":{"use":"official","family":"%s","given":["%s"]},"telecom":[{"system":"phone","value":"%s","use":"mobile"},{"system":"phone","value":"%s","use":"work"}],"address":{"line":["%s %d"],"city":"%s","country":"SE"}}',
      CODING_0131, pick(FAMILY), kin2, phone(true), phone(false), pick(STREETS), random(1, 99), pick(CITIES)[1])
  end
  p[#p + 1] = ']'
  p[#p + 1] = ',"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"sv-SE","display":"Svenska"}],"text":"svenska"},"preferred":true}]'
  p[#p + 1] = fmt(',"generalPractitioner":[{"identifier":{"system":"%s","value":"SE2321000032-%d"},"display":"%s"}]',
    HSA_ID, random(1000, 9999), clinic)
  p[#p + 1] = fmt(',"managingOrganization":{"identifier":{"system":"%s","value":"SE2321000032-0001"},"display":"Region %s"}}',
    HSA_ID, region)
  return concat(p)
end

-- ---------------------------------------------------------------- ids files

function M.read_ids(path)
  local ids = {}
  local f = assert(io.open(path, "r"), "cannot open ids file " .. tostring(path))
  for line in f:lines() do
    if #line > 0 then ids[#ids + 1] = line end
  end
  f:close()
  assert(#ids > 0, "ids file " .. path .. " is empty")
  return ids
end

-- ---------------------------------------------------------------- bookkeeping
-- Thread-local globals (each wrk thread has its own Lua state); done() runs in
-- the main state and collects them with thread:get().

local threads = {}

function M.setup(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

-- per-thread state
statuses = {}
nerr = 0
first_err_status = nil
first_err_body = nil
created = {}

function M.init_thread()
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
  for _ = 1, 10 do random() end
end

local function location_id(headers)
  local loc = headers["location"] or headers["Location"] or headers["LOCATION"]
  if loc then return loc:match("/Patient/([^/]+)/_history") or loc:match("/Patient/([^/]+)$") end
  return nil
end

function M.response(status, headers, body, collect_ids)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status < 200 or status > 299 then
    nerr = nerr + 1
    if first_err_status == nil then
      first_err_status = status
      first_err_body = body
    end
  elseif collect_ids and status == 201 then
    local id = location_id(headers)
    if id then created[#created + 1] = id end
  end
end

local function json_string(s)
  s = tostring(s)
  s = s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\n', '\\n'):gsub('\r', '\\r'):gsub('\t', '\\t')
  s = s:gsub('[%z\1-\31]', function(ch) return fmt("\\u%04x", ch:byte()) end)
  return '"' .. s .. '"'
end

function M.done(summary, latency, phase)
  local total_statuses = {}
  local errors = 0
  local first_status, first_body = nil, nil
  local ids_out = os.getenv("BENCH_IDS_OUT")
  local f = nil
  local nids = 0
  if ids_out and ids_out ~= "" then f = assert(io.open(ids_out, "w")) end
  for _, t in ipairs(threads) do
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do total_statuses[k] = (total_statuses[k] or 0) + v end
    errors = errors + (t:get("nerr") or 0)
    if first_status == nil and t:get("first_err_status") ~= nil then
      first_status = t:get("first_err_status")
      first_body = t:get("first_err_body")
    end
    if f then
      local ids = t:get("created") or {}
      for _, id in ipairs(ids) do
        f:write(id, "\n")
        nids = nids + 1
      end
    end
  end
  if f then f:close() end
  local st = {}
  for k, v in pairs(total_statuses) do st[#st + 1] = fmt('"%s":%d', k, v) end
  local e = summary.errors
  local out = {
    fmt('"phase":%s', json_string(phase)),
    fmt('"requests":%d', summary.requests),
    fmt('"duration_us":%d', summary.duration),
    fmt('"bytes":%d', summary.bytes),
    fmt('"non_2xx":%d', errors),
    fmt('"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}',
      e.connect, e.read, e.write, e.timeout, e.status),
    fmt('"statuses":{%s}', concat(st, ",")),
    fmt('"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d}',
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency:percentile(99.9)),
    fmt('"ids_written":%d', nids),
  }
  if first_status ~= nil then
    out[#out + 1] = fmt('"first_error":{"status":%d,"body":%s}', first_status,
      json_string((first_body or ""):sub(1, 4000)))
  end
  io.write("BENCH_RESULT {", concat(out, ","), "}\n")
end

return M
