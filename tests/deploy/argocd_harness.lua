-- Runs an Argo CD health script the way Argo CD does: the resource as the global `obj`
-- (JSON nulls become nil), the script's returned table written back as JSON.
--   lua5.4 argocd_harness.lua SCRIPT < object.json
local cjson = require("cjson")

local function denull(value)
  if value == cjson.null then
    return nil
  end
  if type(value) == "table" then
    for k, v in pairs(value) do
      value[k] = denull(v)
    end
  end
  return value
end

obj = denull(cjson.decode(io.read("a")))
local script = assert(loadfile(arg[1]))
local hs = script()
assert(type(hs) == "table", "the script must return a table")
io.write(cjson.encode({ status = hs.status, message = hs.message }))
