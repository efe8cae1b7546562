-- wrk script: POST /v1/rank with the request bodies make_bodies.py wrote, cycled; each wrk thread starts at a
-- different body.
--   wrk --latency -t 2 -c 8 -d 20s -s rank.lua http://127.0.0.1:8080 -- BODY_DIR

local bodies = {}
local next_body = 1
local threads = 0

-- Runs in the main state once per thread: give each its index (a global of the thread's state).
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local dir = args[1] or "out/bench-serve/bodies"
  local list = assert(io.open(dir .. "/list.txt", "r"), "rank.lua: no " .. dir .. "/list.txt")
  for name in list:lines() do
    if name ~= "" then
      local f = assert(io.open(dir .. "/" .. name, "r"))
      bodies[#bodies + 1] = f:read("*a")
      f:close()
    end
  end
  list:close()
  assert(#bodies > 0, "rank.lua: no bodies in " .. dir)
  next_body = (id or 0) % #bodies + 1
  wrk.method = "POST"
  wrk.path = "/v1/rank"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end
