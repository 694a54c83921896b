-- What the user sees: highlight groups, messages, the status listing.
local M = {}

local function define_looks()
  vim.cmd([[
    highlight default LlmFlowsPending cterm=underline gui=underline
    highlight default link LlmFlowsConflict DiffText
    highlight default link LlmFlowsProposal DiffAdd
  ]])
end

--- Default looks, each visible in a 256-colour terminal and in truecolor with
--- Neovim's default colorschemes (0.7's and 0.10+'s, dark and light). The pending
--- region is underlined rather than linked to CursorLine, which has no cterm
--- attributes from 0.10 (invisible without 'termguicolors'); an underline keeps
--- the text's own colours. `default`: a colorscheme's or the user's look wins.
--- Defined again after every colorscheme, whose `:hi clear` drops the underline.
function M.define_highlights()
  define_looks()
  vim.api.nvim_create_autocmd("ColorScheme", {
    group = vim.api.nvim_create_augroup("llm_flows_highlights", { clear = true }),
    callback = function()
      define_looks()
    end,
  })
end

--- `message` cut to what the message line shows without a hit-enter prompt.
local function fit(message)
  local room = vim.v.echospace
  if vim.fn.strdisplaywidth(message) <= room then
    return message
  end
  local cut = vim.fn.strcharpart(message, 0, room - 1)
  while vim.fn.strdisplaywidth(cut) > room - 1 do
    cut = vim.fn.strcharpart(cut, 0, vim.fn.strchars(cut) - 1)
  end
  return cut .. "…"
end

--- Tell the user. These messages come while they type: with Neovim's own
--- `vim.notify` a line wider than the message area would stop them with a
--- hit-enter prompt, so it is cut to fit (:LlmStatus keeps how flows ended in
--- full). A notifier plugin that replaced `vim.notify` gets the whole text.
function M.notify(message, level)
  message = "llm-flows: " .. message:gsub("\n", " ")
  if debug.getinfo(vim.notify, "S").source == "@vim/_editor.lua" then
    message = fit(message)
  end
  vim.notify(message, level or vim.log.levels.INFO)
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
