-- Commands and <Plug> mappings of llm_flows (the Lua module loads on first use).
if vim.g.loaded_llm_flows then
  return
end
vim.g.loaded_llm_flows = true

local function lf()
  return require("llm_flows")
end

require("llm_flows.ui").define_highlights()

local command = vim.api.nvim_create_user_command

command("LlmCorrect", function(o)
  lf().start_lines("correct", o.line1, o.line2)
end, { range = true, bar = true, desc = "llm-flows: correct the lines (default: the current line)" })

command("LlmRewrite", function(o)
  lf().start_lines("rewrite", o.line1, o.line2, o.args)
end, { range = true, nargs = "+", desc = "llm-flows: rewrite the lines following {instruction}" })

command("LlmCancel", function(o)
  lf().cancel(o.bang)
end, { bang = true, bar = true, desc = "llm-flows: cancel the flow under the cursor or the newest (! = all)" })

command("LlmStatus", function()
  lf().status()
end, { bar = true, desc = "llm-flows: the daemon and the pending flows" })

command("LlmAccept", function()
  lf().resolve_at_cursor(true)
end, { bar = true, desc = "llm-flows: take the model's text for the conflict under the cursor" })

command("LlmReject", function()
  lf().resolve_at_cursor(false)
end, { bar = true, desc = "llm-flows: keep your text for the conflict under the cursor" })

command("LlmAcceptAll", function()
  lf().resolve_all(true)
end, { bar = true, desc = "llm-flows: accept every conflict in the buffer" })

command("LlmRejectAll", function()
  lf().resolve_all(false)
end, { bar = true, desc = "llm-flows: reject every conflict in the buffer" })

local function operator(name)
  return function()
    vim.o.operatorfunc = "v:lua.require'llm_flows'.operator_" .. name
    return "g@"
  end
end

local map = vim.keymap.set
map("n", "<Plug>(LlmCorrect)", operator("correct"), { expr = true, desc = "llm-flows: correct {motion}" })
map("n", "<Plug>(LlmCorrectLine)", function()
  return operator("correct")() .. "_"
end, { expr = true, desc = "llm-flows: correct [count] lines" })
map("n", "<Plug>(LlmRewrite)", operator("rewrite"), { expr = true, desc = "llm-flows: rewrite {motion}" })
map("x", "<Plug>(LlmCorrect)", "<Esc><Cmd>lua require('llm_flows').visual('correct')<CR>", {
  desc = "llm-flows: correct the selection",
})
map("x", "<Plug>(LlmRewrite)", "<Esc><Cmd>lua require('llm_flows').visual('rewrite')<CR>", {
  desc = "llm-flows: rewrite the selection",
})
