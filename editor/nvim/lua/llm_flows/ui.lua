-- What the user sees: highlight groups, messages, the status listing.
local M = {}

--- Default highlight links; a colorscheme or the user may override them.
function M.define_highlights()
  vim.cmd([[
    highlight default link LlmFlowsPending CursorLine
    highlight default link LlmFlowsConflict DiffText
    highlight default link LlmFlowsProposal DiffAdd
  ]])
end

function M.notify(message, level)
  vim.notify("llm-flows: " .. message, level or vim.log.levels.INFO)
end

function M.warn(message)
  M.notify(message, vim.log.levels.WARN)
end

function M.error(message)
  M.notify(message, vim.log.levels.ERROR)
end

--- Inline virtual text (after the range) exists from Neovim 0.10; before that, end of line.
function M.virt_text_pos()
  return vim.fn.has("nvim-0.10") == 1 and "inline" or "eol"
end

--- The proposal as one line of virtual text.
function M.proposal_text(ours, theirs)
  local shown = theirs == "" and ("⌫ " .. ours) or theirs
  return " → " .. shown:gsub("\n", "↵") .. " "
end

--- Seconds as a short age: "4s", "2m05s".
function M.age(seconds)
  seconds = math.floor(seconds)
  if seconds < 60 then
    return seconds .. "s"
  end
  return string.format("%dm%02ds", math.floor(seconds / 60), seconds % 60)
end

--- Echo `lines` (each a string) into the message history.
function M.echo(lines)
  local chunks = {}
  for i, line in ipairs(lines) do
    chunks[#chunks + 1] = { line .. (i < #lines and "\n" or "") }
  end
  vim.api.nvim_echo(chunks, true, {})
end

return M
