-- Options of setup(): defaults and a check that names whatever is wrong.
local M = {}

function M.defaults()
  return {
    cmd = { "llm-flows", "serve" }, -- the daemon and its arguments
    model = nil, -- a model id or alias known to the daemon; nil = the daemon's default
    timeout = 120, -- seconds a flow may take before the daemon gives up on it
    review = false, -- show every proposed edit as a conflict to accept or reject
  }
end

local checks = {
  cmd = function(v)
    if type(v) ~= "table" or #v == 0 then
      return "a non-empty list of strings, e.g. {\"llm-flows\", \"serve\"}"
    end
    for _, part in ipairs(v) do
      if type(part) ~= "string" then
        return "a list of strings"
      end
    end
  end,
  model = function(v)
    if v ~= nil and type(v) ~= "string" then
      return "a string (a model id or alias) or nil"
    end
  end,
  timeout = function(v)
    if type(v) ~= "number" or v <= 0 then
      return "a positive number of seconds"
    end
  end,
  review = function(v)
    if type(v) ~= "boolean" then
      return "true or false"
    end
  end,
}

--- The defaults overridden by `opts`; raises an error naming a bad or unknown key.
function M.resolve(opts)
  local config = M.defaults()
  for key, value in pairs(opts or {}) do
    local check = checks[key]
    if not check then
      local known = vim.tbl_keys(checks)
      table.sort(known)
      error(string.format("llm_flows.setup: unknown option %q (known: %s)", key, table.concat(known, ", ")), 0)
    end
    local problem = check(value)
    if problem then
      error(string.format("llm_flows.setup: option %q must be %s, got %s", key, problem, vim.inspect(value)), 0)
    end
    config[key] = value
  end
  return config
end

return M
