-- The flows of one Neovim instance: start, track with an extmark, merge the result
-- back when the daemon says it is ready, cancel, and report what was lost.
local apply = require("llm_flows.apply")
local client = require("llm_flows.client")
local conflicts = require("llm_flows.conflicts")
local ui = require("llm_flows.ui")

local M = {}

local Session = {}
Session.__index = Session

local VERSION = "0.1.0"
local RECENT = 5 -- finished flows :LlmStatus shows, for the message you missed
local ERROR, WARN, INFO = vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO

function M.new(config)
  local ns = vim.api.nvim_create_namespace("llm_flows")
  local self = setmetatable({
    config = config,
    ns = ns,
    rpc = nil, -- the running daemon's client, started on first use
    server = nil, -- the daemon's answer to initialize
    flows = {}, -- local key -> flow
    by_id = {}, -- daemon id -> flow
    next_key = 1,
    conflicts = conflicts.new(ns),
    recent = {}, -- {message, at} of the last flows that ended, newest first
    -- The merge round trip waits without reading typeahead, so no keystroke can land
    -- between reading the region and applying the edits. The daemon answers at once
    -- (a 1 MB region: 0.05 s, 0.7 s with 14,000 edits), so a daemon silent this long
    -- is stuck, not busy.
    merge_wait_ms = 5000,
  }, Session)
  return self
end

--- The daemon's client, spawning it (once) if it is not running.
function Session:ensure_client()
  if self.rpc and self.rpc.alive then
    return self.rpc
  end
  local rpc, err
  rpc, err = client.start(self.config.cmd, {
    notification = function(method, params)
      self:_on_notification(method, params)
    end,
    exit = function(code, stderr)
      self:_on_exit(rpc, code, stderr)
    end,
  })
  if not rpc then
    ui.error(err)
    return nil
  end
  self.rpc = rpc
  self.server = nil
  rpc:request("initialize", { client = { name = "llm_flows.nvim", version = VERSION } }, function(e, result)
    if e and rpc.alive then
      ui.error("the daemon refused initialize: " .. tostring(e.message))
    elseif self.rpc == rpc then
      self.server = result
    end
  end)
  return rpc
end

--- Where a flow's region is now: sr, sc, er, ec (0-based, end exclusive).
function Session:_region(flow)
  local m = vim.api.nvim_buf_get_extmark_by_id(flow.buf, self.ns, flow.mark, { details = true })
  if not m[1] then
    return nil
  end
  return m[1], m[2], m[3].end_row, m[3].end_col
end

local function now()
  return vim.fn.reltimefloat(vim.fn.reltime())
end

--- Start `flow_name` on the text between (sr, sc) and (er, ec) of `buf`.
function Session:start(flow_name, buf, sr, sc, er, ec, instruction)
  if not vim.bo[buf].modifiable then
    ui.warn(string.format("cannot %s buffer %d: it is not 'modifiable'", flow_name, buf))
    return nil
  end
  local text = apply.get_text(buf, sr, sc, er, ec)
  if text == "" then
    ui.warn("nothing to " .. flow_name .. ": the region is empty")
    return nil
  end
  local rpc = self:ensure_client()
  if not rpc then
    return nil
  end
  local key = self.next_key
  self.next_key = key + 1
  local flow = {
    key = key,
    flow = flow_name,
    buf = buf,
    text = text,
    state = "starting",
    started = now(),
    rpc = rpc,
    mark = vim.api.nvim_buf_set_extmark(buf, self.ns, sr, sc, {
      end_row = er,
      end_col = ec,
      right_gravity = false, -- the start stays before text typed at it: that text joins the region
      end_right_gravity = true, -- text typed at the end extends it too
      hl_group = "LlmFlowsPending",
    }),
  }
  self.flows[key] = flow
  local params = { flow = flow_name, text = text, timeout = self.config.timeout }
  params.model = self.config.model
  params.instruction = instruction
  local name = vim.api.nvim_buf_get_name(buf)
  if name ~= "" then
    params.uri = vim.uri_from_bufnr(buf)
  end
  rpc:request("flow/start", params, function(err, result)
    if not rpc.alive then
      return -- lost with the daemon (reported on exit)
    end
    if err then
      self:_finish(flow)
      self:report(flow, ERROR, " could not start: " .. tostring(err.message))
      return
    end
    flow.id = result.id
    if flow.cancelled then
      rpc:request("flow/cancel", { id = flow.id }, function() end)
      return
    end
    flow.state = "queued"
    self.by_id[flow.id] = flow
  end)
  return flow
end

--- Forget a flow and its extmark.
function Session:_finish(flow)
  self.flows[flow.key] = nil
  if flow.id then
    self.by_id[flow.id] = nil
  end
  if vim.api.nvim_buf_is_valid(flow.buf) then
    pcall(vim.api.nvim_buf_del_extmark, flow.buf, self.ns, flow.mark)
  end
end

--- Remember how a flow ended, for :LlmStatus.
function Session:_remember(message)
  table.insert(self.recent, 1, { message = message, at = now() })
  self.recent[RECENT + 1] = nil
end

--- Tell the user how `flow` ended (`text` follows its label) and remember it.
function Session:report(flow, level, text)
  local message = self:_label(flow) .. text
  self:_remember(message)
  ui.notify(message, level)
end

function Session:_label(flow)
  local name = vim.api.nvim_buf_is_valid(flow.buf) and vim.api.nvim_buf_get_name(flow.buf) or ""
  if name == "" then
    return string.format("%s (buffer %d)", flow.flow, flow.buf)
  end
  return string.format("%s (%s)", flow.flow, vim.fn.fnamemodify(name, ":t"))
end

function Session:_on_notification(method, params)
  local flow = self.by_id[params.id]
  if not flow then
    return -- finished here already (cancelled, dropped), or not ours
  end
  if method == "flow/progress" then
    flow.state = params.state or flow.state
  elseif method == "flow/ready" then
    flow.state = "ready"
    -- Outside the channel callback, so _merge may wait for the daemon's answer.
    vim.schedule(function()
      self:drain()
    end)
  elseif method == "flow/failed" then
    local e = params.error or {}
    self:_finish(flow)
    -- A flow the user cancelled is forgotten before this arrives: this one was
    -- cancelled by the daemon (shutting down, e.g. on SIGTERM).
    local what = e.code == "cancelled" and " was cancelled by the daemon: " or " failed: "
    self:report(flow, ERROR, what .. tostring(e.message or e.code))
  end
end

local function in_insert_mode()
  local mode = vim.api.nvim_get_mode().mode
  return mode:sub(1, 1) == "i" or mode:sub(1, 1) == "R" or mode:sub(1, 2) == "ni"
end

--- Merge every ready flow, oldest first; while in insert mode they wait for
--- InsertLeave, so a result is not folded into the user's own insert undo step.
--- Re-entrant calls (from the wait in _merge) return at once: the outer loop goes on.
function Session:drain()
  if self.draining then
    return
  end
  self.draining = true
  while true do
    local next_flow
    for _, flow in pairs(self.flows) do
      if (flow.state == "ready" or flow.state == "waiting") and (not next_flow or flow.key < next_flow.key) then
        next_flow = flow
      end
    end
    if not next_flow then
      break
    end
    if in_insert_mode() then
      for _, flow in pairs(self.flows) do
        if flow.state == "ready" then
          flow.state = "waiting"
        end
      end
      break
    end
    local ok, problem = pcall(self._merge, self, next_flow)
    if not ok then
      self:_finish(next_flow)
      self:report(next_flow, ERROR, " could not be applied: " .. tostring(problem))
    end
  end
  self.draining = false
end

function Session:_merge(flow)
  if not vim.api.nvim_buf_is_valid(flow.buf) then
    self:cancel(flow)
    return
  end
  local sr, sc, er, ec = self:_region(flow)
  local current = sr and apply.get_text(flow.buf, sr, sc, er, ec) or ""
  if current == "" then
    self:_drop_deleted(flow)
    return
  end
  flow.state = "merging"
  local tick = vim.api.nvim_buf_get_changedtick(flow.buf)
  local err, result = flow.rpc:request_sync("flow/merge", { id = flow.id, current = current }, self.merge_wait_ms)
  if self.flows[flow.key] ~= flow or not flow.rpc.alive then
    return -- cancelled meanwhile, or lost with the daemon (reported on exit)
  end
  self:_finish(flow)
  if err and err.code == -32098 then
    -- Stuck: stop it rather than freeze again for every other ready flow.
    flow.rpc:kill()
    local why = tostring(err.message) .. "; the daemon was stopped (the next command starts a new one)"
    self:report(flow, ERROR, " not merged: " .. why)
  elseif err then
    self:report(flow, ERROR, " could not be merged: " .. tostring(err.message))
  elseif vim.api.nvim_buf_get_changedtick(flow.buf) ~= tick then
    self:report(flow, WARN, " dropped: the text changed while the result was being merged")
  else
    self:_land(flow, current, sr, sc, result)
  end
end

--- Show conflicts (and, in review mode, every edit) and apply the rest.
function Session:_land(flow, current, sr, sc, result)
  if result.status == "dropped" then
    self:report(flow, WARN, " dropped: " .. tostring(result.reason))
    return
  end
  local edits = result.edits or {}
  local proposals = vim.deepcopy(result.conflicts or {})
  if self.config.review then
    for _, e in ipairs(edits) do
      local ours = apply.slice(current, e.start, e["end"])
      proposals[#proposals + 1] = { start = e.start, ["end"] = e["end"], ours = ours, theirs = e.text }
    end
    edits = {}
  end
  conflicts.add(self.conflicts, flow.buf, current, sr, sc, proposals)
  apply.break_undo(flow.buf)
  apply.apply_edits(flow.buf, self.ns, current, sr, sc, edits)
  local summary = #edits + #proposals == 0 and "no changes proposed"
    or string.format("%d change(s) applied", #edits)
  if #proposals > 0 then
    summary = summary .. string.format(", %d to review with :LlmAccept / :LlmReject", #proposals)
  end
  self:report(flow, INFO, ": " .. summary)
end

function Session:_drop_deleted(flow)
  self:cancel(flow)
  self:report(flow, WARN, " dropped: its region was deleted")
end

--- Drop pending flows of `buf` whose region was deleted (called on TextChanged).
function Session:check_deleted(buf)
  for _, flow in pairs(self.flows) do
    if flow.buf == buf and flow.state ~= "merging" then
      local sr, sc, er, ec = self:_region(flow)
      if not sr or (sr == er and sc == ec) then
        self:_drop_deleted(flow)
      end
    end
  end
end

--- Cancel one flow: forgotten here at once; the daemon is told now, or as soon
--- as it has answered flow/start.
function Session:cancel(flow)
  flow.cancelled = true
  self:_finish(flow)
  if flow.id and flow.rpc.alive then
    flow.rpc:request("flow/cancel", { id = flow.id }, function() end)
  end
end

--- The buffer is being wiped: cancel its flows and forget its conflicts.
function Session:buffer_gone(buf)
  for _, flow in pairs(self.flows) do
    if flow.buf == buf then
      self:cancel(flow)
    end
  end
  conflicts.clear(self.conflicts, buf)
end

function Session:_on_exit(rpc, code, stderr)
  local lost = {}
  for _, flow in pairs(self.flows) do
    if flow.rpc == rpc then
      lost[#lost + 1] = flow
    end
  end
  for _, flow in ipairs(lost) do
    self:_finish(flow)
    self:_remember(string.format("%s lost: the daemon exited (code %d)", self:_label(flow), code))
  end
  if #lost > 0 or code ~= 0 then
    local labels = vim.tbl_map(function(f)
      return self:_label(f)
    end, lost)
    local message = string.format("the daemon exited (code %d)", code)
    if #lost > 0 then
      message = message .. "; lost: " .. table.concat(labels, ", ") .. ". The next command restarts it"
    end
    if stderr ~= "" then
      message = message .. "\n" .. stderr
    end
    ui.error(message)
  end
end

--- Flows not finished yet, oldest first, optionally only those of `buf`.
function Session:pending(buf)
  local out = {}
  for _, flow in pairs(self.flows) do
    if buf == nil or flow.buf == buf then
      local sr, sc, er, ec = self:_region(flow)
      out[#out + 1] = {
        id = flow.id,
        flow = flow.flow,
        buf = flow.buf,
        state = flow.state,
        age = now() - flow.started,
        range = sr and { sr, sc, er, ec } or nil,
        key = flow.key,
      }
    end
  end
  table.sort(out, function(a, b)
    return a.key < b.key
  end)
  return out
end

--- The flow whose region holds the cursor, else the newest one.
function Session:flow_for_cursor()
  local buf = vim.api.nvim_get_current_buf()
  local pos = vim.api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  local newest
  for _, flow in pairs(self.flows) do
    if flow.buf == buf then
      local sr, sc, er, ec = self:_region(flow)
      if sr and (sr < row or (sr == row and sc <= col)) and (row < er or (row == er and col <= ec)) then
        return flow
      end
    end
    if not newest or flow.key > newest.key then
      newest = flow
    end
  end
  return newest
end

function Session:cancel_all()
  local n = 0
  for _, flow in pairs(self.flows) do
    self:cancel(flow)
    n = n + 1
  end
  return n
end

--- Stop the daemon (VimLeavePre).
function Session:shutdown()
  if self.rpc then
    self.rpc:stop()
  end
end

return M
