-- llm_flows: run LLM flows (correct, rewrite) on a region while you keep typing;
-- the daemon merges the result with what you typed meanwhile. See :help llm_flows.
local config = require("llm_flows.config")
local conflicts = require("llm_flows.conflicts")
local flows = require("llm_flows.flows")
local ui = require("llm_flows.ui")

local M = {}

-- One session (daemon, flows, conflicts) per Neovim instance, made on first use.
local state = { config = nil, session = nil }

local function install_autocmds(session)
  local group = vim.api.nvim_create_augroup("llm_flows", { clear = true })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = group,
    callback = function(args)
      session:buffer_gone(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("TextChanged", {
    group = group,
    callback = function(args)
      session:check_deleted(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("InsertLeave", {
    group = group,
    callback = function()
      -- After the mode change is complete, so the result is an undo step of its own.
      vim.schedule(function()
        session:drain()
      end)
    end,
  })
  vim.api.nvim_create_autocmd("VimLeavePre", {
    group = group,
    callback = function()
      session:shutdown()
    end,
  })
end

local function session()
  if not state.session then
    state.config = state.config or config.defaults()
    ui.define_highlights()
    state.session = flows.new(state.config)
    install_autocmds(state.session)
  end
  return state.session
end

--- Configure the plugin (optional): cmd, model, timeout, review. See :help llm_flows-setup.
function M.setup(opts)
  state.config = config.resolve(opts)
  if state.session then
    state.session.config = state.config
  end
end

--- The options in effect.
function M.config()
  return vim.deepcopy(state.config or config.defaults())
end

local function line_len(buf, row)
  return #vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
end

--- Byte length of the character starting at byte `col` of `row` (0 past the end).
local function char_len(buf, row, col)
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
  local b = line:byte(col + 1)
  if not b then
    return 0
  end
  return b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
end

--- Start `flow` on lines line1..line2 (1-based, inclusive) of the current buffer.
function M.start_lines(flow, line1, line2, instruction)
  local buf = vim.api.nvim_get_current_buf()
  return session():start(flow, buf, line1 - 1, 0, line2 - 1, line_len(buf, line2 - 1), instruction)
end

--- Start `flow` on the text between two marks ("[ and "] or "< and ">).
--- kind: "char" / "v" is exact; "line" / "V" and blocks take whole lines.
local function start_marks(flow, first, last, kind, instruction)
  local buf = vim.api.nvim_get_current_buf()
  local s = vim.api.nvim_buf_get_mark(buf, first)
  local e = vim.api.nvim_buf_get_mark(buf, last)
  local sr, er = s[1] - 1, e[1] - 1
  if sr < 0 or er < 0 then
    ui.warn("no region: the marks " .. first .. " and " .. last .. " are not set")
    return nil
  end
  if kind == "char" or kind == "v" then
    local ec = math.min(e[2], line_len(buf, er))
    return session():start(flow, buf, sr, math.min(s[2], line_len(buf, sr)), er, ec + char_len(buf, er, ec), instruction)
  end
  return session():start(flow, buf, sr, 0, er, line_len(buf, er), instruction)
end

local function ask_instruction()
  local ok, instruction = pcall(vim.fn.input, "Rewrite instruction: ")
  if not ok or vim.trim(instruction) == "" then
    ui.warn("rewrite needs an instruction")
    return nil
  end
  return instruction
end

--- 'operatorfunc' for <Plug>(LlmCorrect) and <Plug>(LlmRewrite).
function M.operator_correct(kind)
  start_marks("correct", "[", "]", kind)
end

function M.operator_rewrite(kind)
  local instruction = ask_instruction()
  if instruction then
    start_marks("rewrite", "[", "]", kind, instruction)
  end
end

--- The last visual selection, for the visual-mode <Plug> mappings.
function M.visual(flow)
  local instruction
  if flow == "rewrite" then
    instruction = ask_instruction()
    if not instruction then
      return
    end
  end
  start_marks(flow, "<", ">", vim.fn.visualmode(), instruction)
end

--- Flows not finished yet (all buffers, or `bufnr`; 0 = current): list of
--- {id, flow, buf, state, age, range = {start_row, start_col, end_row, end_col}}.
function M.pending(bufnr)
  if not state.session then
    return {}
  end
  if bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  return state.session:pending(bufnr)
end

--- :LlmCancel (flow under the cursor, else the newest) and :LlmCancel! (all).
function M.cancel(all)
  local s = session()
  if all then
    ui.notify(string.format("cancelled %d flow(s)", s:cancel_all()))
    return
  end
  local flow = s:flow_for_cursor()
  if not flow then
    ui.notify("no flow to cancel")
    return
  end
  s:cancel(flow)
  s:report(flow, vim.log.levels.INFO, " cancelled")
end

--- :LlmStatus: the daemon, each pending flow with its state and age, conflicts.
function M.status()
  local s = session()
  local lines = {}
  local pid = s.rpc and s.rpc:pid()
  if pid then
    local version = s.server and s.server.server and s.server.server.version or "?"
    lines[#lines + 1] = string.format("llm-flows: daemon %s running (pid %d)", version, pid)
  else
    lines[#lines + 1] = "llm-flows: daemon not running (starts with the next command)"
  end
  local pending = s:pending(nil)
  for _, f in ipairs(pending) do
    local where = f.range and string.format("lines %d-%d", f.range[1] + 1, f.range[3] + 1) or "?"
    lines[#lines + 1] = string.format(
      "  %s  %s  buffer %d %s  %s  %s",
      f.id or "-",
      f.flow,
      f.buf,
      where,
      f.state,
      ui.age(f.age)
    )
  end
  if #pending == 0 then
    lines[#lines + 1] = "  no flows pending"
  end
  if #s.recent > 0 then
    lines[#lines + 1] = "recently finished:"
    local t = vim.fn.reltimefloat(vim.fn.reltime())
    for _, r in ipairs(s.recent) do
      lines[#lines + 1] = string.format("  %s ago  %s", ui.age(t - r.at), r.message)
    end
  end
  for buf in pairs(s.conflicts.marks) do
    local n = conflicts.count(s.conflicts, buf)
    if n > 0 then
      lines[#lines + 1] = string.format("  buffer %d: %d conflict(s) to review", buf, n)
    end
  end
  ui.echo(lines)
end

--- :LlmAccept / :LlmReject: the conflict under the cursor.
function M.resolve_at_cursor(accept)
  local s = session()
  local buf = vim.api.nvim_get_current_buf()
  local pos = vim.api.nvim_win_get_cursor(0)
  local c = conflicts.at(s.conflicts, buf, pos[1] - 1, pos[2])
  if not c then
    ui.notify("no conflict under the cursor")
    return false
  end
  return (accept and conflicts.accept or conflicts.reject)(s.conflicts, buf, c)
end

--- :LlmAcceptAll / :LlmRejectAll in the current buffer, last to first (one undo step).
function M.resolve_all(accept)
  local s = session()
  local buf = vim.api.nvim_get_current_buf()
  local list = conflicts.list(s.conflicts, buf)
  local done = 0
  for i = #list, 1, -1 do
    if (accept and conflicts.accept or conflicts.reject)(s.conflicts, buf, list[i]) then
      done = done + 1
    end
  end
  ui.notify(string.format("%s %d conflict(s)", accept and "accepted" or "rejected", done))
end

--- The session (daemon client, flows), for :checkhealth and tests.
function M._session()
  return session()
end

return M
