-- :checkhealth llm_flows: the daemon command, its version, the model, whether it answers.
local client = require("llm_flows.client")

local M = {}

-- vim.health.start/ok/... from 0.10, report_* in 0.8-0.9, health#report_* in 0.7.
local function reporter()
  local h = vim.health
  if h and h.start then
    return h
  end
  if h and h.report_start then
    return { start = h.report_start, ok = h.report_ok, warn = h.report_warn, error = h.report_error, info = h.report_info }
  end
  local function fn(name)
    return function(...)
      vim.fn["health#report_" .. name](...)
    end
  end
  return { start = fn("start"), ok = fn("ok"), warn = fn("warn"), error = fn("error"), info = fn("info") }
end

function M.check()
  local report = reporter()
  local lf = require("llm_flows")
  local config = lf.config()
  report.start("llm_flows")
  report.info("Neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. "." .. tostring(vim.version().patch))
  local cmd = table.concat(config.cmd, " ")
  if vim.fn.executable(config.cmd[1]) ~= 1 then
    report.error("daemon command not found: " .. cmd, { "install llm-flows (pip install llm-flows) or set cmd in setup()" })
    return
  end
  report.ok("daemon command: " .. cmd .. " (" .. vim.fn.exepath(config.cmd[1]) .. ")")
  local rpc, err = client.start(config.cmd, {
    notification = function() end,
    exit = function() end,
  })
  if not rpc then
    report.error(err)
    return
  end
  local started = vim.fn.reltime()
  local e, result = rpc:request_sync("initialize", { client = { name = "llm_flows.nvim:checkhealth", version = "0" } }, 10000)
  local ms = vim.fn.reltimefloat(vim.fn.reltime(started)) * 1000
  rpc:stop()
  if e then
    local tail = rpc:stderr_tail()
    report.error("the daemon does not answer: " .. tostring(e.message) .. (tail ~= "" and ("\n" .. tail) or ""))
    return
  end
  local server = result.server or {}
  report.ok(string.format("the daemon answers: %s %s, protocol %s (%.0f ms)", tostring(server.name), tostring(server.version), tostring(result.protocolVersion), ms))
  local known = {}
  for _, m in ipairs(result.models or {}) do
    known[m.id] = true
    for _, alias in ipairs(m.aliases or {}) do
      known[alias] = true
    end
  end
  if config.model == nil then
    report.ok("model: the daemon's default (" .. tostring(result.defaultModel) .. ")")
  elseif known[config.model] then
    report.ok("model: " .. config.model)
  else
    local names = vim.tbl_keys(known)
    table.sort(names)
    report.error("model " .. config.model .. " is not known to the daemon", { "known: " .. table.concat(names, ", ") })
  end
  local session = lf.pending()
  report.info(string.format("%d flow(s) pending in this Neovim", #session))
end

return M
