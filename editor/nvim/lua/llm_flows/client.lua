-- The daemon process and its JSON-RPC framing.
--
-- Own framing over vim.fn.jobstart rather than vim.lsp.rpc: jobstart is the same on
-- Neovim 0.7 and 0.11 (vim.lsp.rpc.start changed its signature in 0.10), it tells us
-- when the process dies so pending flows can be reported lost, and the daemon is not
-- a language server (no LSP log, no $/cancelRequest semantics to work around).
local M = {}

local Client = {}
Client.__index = Client

local STDERR_LINES = 20

--- Spawn `cmd` and speak Content-Length framed JSON-RPC with it.
--- handlers: { notification = fn(method, params), exit = fn(code, stderr_tail) }
function M.start(cmd, handlers)
  local self = setmetatable({
    handlers = handlers,
    pending = {}, -- request id -> callback(err, result)
    next_id = 1,
    buffer = "",
    stderr = {},
    alive = false,
    cmd = cmd,
  }, Client)
  local ok, job = pcall(vim.fn.jobstart, cmd, {
    on_stdout = function(_, data)
      self:_receive(table.concat(data, "\n"))
    end,
    on_stderr = function(_, data)
      self:_stderr(data)
    end,
    on_exit = function(_, code)
      self:_exited(code)
    end,
  })
  if not ok or job <= 0 then
    local why = job == -1 and "it is not executable or not on $PATH" or tostring(job)
    return nil, string.format("cannot run the daemon %s: %s", vim.inspect(cmd), why)
  end
  self.job = job
  self.alive = true
  return self
end

function Client:_stderr(data)
  for i, line in ipairs(data) do
    if i == 1 and #self.stderr > 0 then
      self.stderr[#self.stderr] = self.stderr[#self.stderr] .. line
    else
      table.insert(self.stderr, line)
    end
  end
  while #self.stderr > STDERR_LINES do
    table.remove(self.stderr, 1)
  end
end

--- The last lines the daemon wrote on stderr, for error messages; its routine
--- INFO/DEBUG log lines are left out, warnings, errors and tracebacks kept.
function Client:stderr_tail()
  local lines = vim.tbl_filter(function(l)
    return l ~= "" and not l:find(" INFO ", 1, true) and not l:find(" DEBUG ", 1, true)
  end, self.stderr)
  return table.concat(lines, "\n")
end

function Client:_receive(chunk)
  self.buffer = self.buffer .. chunk
  while true do
    local header_end = self.buffer:find("\r\n\r\n", 1, true)
    if not header_end then
      return
    end
    local length = tonumber(self.buffer:sub(1, header_end):match("[Cc]ontent%-[Ll]ength:%s*(%d+)"))
    if not length then
      self:_protocol_error("a message without Content-Length: " .. self.buffer:sub(1, header_end))
      return
    end
    local body_start = header_end + 4
    if #self.buffer < body_start + length - 1 then
      return
    end
    local body = self.buffer:sub(body_start, body_start + length - 1)
    self.buffer = self.buffer:sub(body_start + length)
    local ok, message = pcall(vim.json.decode, body)
    if ok and type(message) == "table" then
      self:_dispatch(message)
    else
      self:_protocol_error("unreadable JSON from the daemon: " .. body:sub(1, 200))
    end
  end
end

function Client:_protocol_error(what)
  self.buffer = ""
  vim.notify("llm-flows: " .. what, vim.log.levels.ERROR)
end

function Client:_dispatch(message)
  if message.method ~= nil then
    if message.id == nil then
      local params = message.params
      if params == vim.NIL then
        params = nil
      end
      self.handlers.notification(message.method, params or {})
    end
    return
  end
  local callback = self.pending[message.id]
  if not callback then
    return
  end
  self.pending[message.id] = nil
  if message.error ~= nil and message.error ~= vim.NIL then
    callback(message.error, nil)
  else
    callback(nil, message.result)
  end
end

function Client:_exited(code)
  self.alive = false
  local tail = self:stderr_tail()
  local pending = self.pending
  self.pending = {}
  local err = { code = -32099, message = "the daemon exited (code " .. code .. ")" }
  for _, callback in pairs(pending) do
    callback(err, nil)
  end
  self.handlers.exit(code, tail)
end

function Client:_send(message)
  message.jsonrpc = "2.0"
  local body = vim.json.encode(message)
  vim.fn.chansend(self.job, "Content-Length: " .. #body .. "\r\n\r\n" .. body)
end

--- Send a request; callback(err, result) runs when the answer arrives (err is the
--- JSON-RPC error object, or a synthetic one if the daemon died meanwhile).
function Client:request(method, params, callback)
  local id = self.next_id
  self.next_id = id + 1
  if not self.alive then
    callback({ code = -32099, message = "the daemon is not running" }, nil)
    return
  end
  self.pending[id] = callback
  self:_send({ id = id, method = method, params = params or vim.empty_dict() })
end

--- Send a request and wait for its answer (for :checkhealth and shutdown only).
function Client:request_sync(method, params, timeout_ms)
  local done, err, result = false, nil, nil
  self:request(method, params, function(e, r)
    done, err, result = true, e, r
  end)
  local answered, why = vim.wait(timeout_ms, function()
    return done
  end, 10)
  if not answered then
    local message = why == -2 and (method .. ": stopped waiting (interrupted)")
      or string.format("%s got no answer within %g s", method, timeout_ms / 1000)
    return { code = -32098, message = message }, nil
  end
  return err, result
end

function Client:notify(method, params)
  if self.alive then
    self:_send({ method = method, params = params })
  end
end

--- Ask the daemon to exit; kill it if it does not.
function Client:stop()
  if not self.alive then
    return
  end
  self:request_sync("shutdown", nil, 1000)
  self:notify("exit", nil)
  vim.fn.jobwait({ self.job }, 1000)
  if self.alive then
    vim.fn.jobstop(self.job)
  end
end

--- Stop a daemon that no longer answers: it counts as gone at once (no request
--- waits on it again), and its exit is reported as usual when the process ends.
function Client:kill()
  if self.alive then
    self.alive = false
    vim.fn.jobstop(self.job)
  end
end

--- The daemon's process id, or nil.
function Client:pid()
  if not self.alive then
    return nil
  end
  local ok, pid = pcall(vim.fn.jobpid, self.job)
  return ok and pid or nil
end

return M
