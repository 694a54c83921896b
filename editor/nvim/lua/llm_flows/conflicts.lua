-- Withheld model proposals (conflicts, or every edit with review = true): an extmark
-- over the user's text with the model's text as virtual text, to accept or reject.
local apply = require("llm_flows.apply")
local ui = require("llm_flows.ui")

local M = {}

--- A conflict store for one namespace: marks[buf][mark_id] = {ours, theirs, label}.
function M.new(ns)
  return { ns = ns, marks = {} }
end

--- Mark every proposal ({start, end, ours, theirs}, code points into `text`, which
--- starts at (row, col)). Call before applying edits so the offsets still hold.
--- Two extmarks each: one over the user's text, and a label with the proposal at
--- its end, so it reads "ours → theirs" (inline virtual text sits at a mark's start).
function M.add(store, buf, text, row, col, proposals)
  if #proposals == 0 then
    return -- no need to index a large region's offsets
  end
  local at = apply.locator(text, row, col)
  store.marks[buf] = store.marks[buf] or {}
  for _, p in ipairs(proposals) do
    local sr, sc = at(p.start)
    local er, ec = at(p["end"])
    local id = vim.api.nvim_buf_set_extmark(buf, store.ns, sr, sc, {
      end_row = er,
      end_col = ec,
      -- Text typed right at either edge stays outside the conflict.
      right_gravity = p.start ~= p["end"],
      end_right_gravity = false,
      hl_group = "LlmFlowsConflict",
    })
    local label = vim.api.nvim_buf_set_extmark(buf, store.ns, er, ec, {
      right_gravity = false, -- stays at the conflict's end when text is typed after it
      virt_text = { { ui.proposal_text(p.ours, p.theirs), "LlmFlowsProposal" } },
      virt_text_pos = ui.virt_text_pos(),
    })
    store.marks[buf][id] = { ours = p.ours, theirs = p.theirs, label = label }
  end
end

local function range(store, buf, id)
  local m = vim.api.nvim_buf_get_extmark_by_id(buf, store.ns, id, { details = true })
  return m[1], m[2], m[3].end_row or m[1], m[3].end_col or m[2]
end

--- Conflicts of `buf` in buffer order: list of {id, sr, sc, er, ec, ours, theirs}.
function M.list(store, buf)
  local out = {}
  for id, c in pairs(store.marks[buf] or {}) do
    local sr, sc, er, ec = range(store, buf, id)
    out[#out + 1] = { id = id, sr = sr, sc = sc, er = er, ec = ec, ours = c.ours, theirs = c.theirs }
  end
  table.sort(out, function(a, b)
    return a.sr < b.sr or (a.sr == b.sr and a.sc < b.sc)
  end)
  return out
end

local function before_or_at(r1, c1, r2, c2)
  return r1 < r2 or (r1 == r2 and c1 <= c2)
end

--- The conflict under (row, col) (0-based), or nil.
function M.at(store, buf, row, col)
  for _, c in ipairs(M.list(store, buf)) do
    if before_or_at(c.sr, c.sc, row, col) and before_or_at(row, col, c.er, c.ec) then
      return c
    end
  end
  return nil
end

local function forget(store, buf, id)
  vim.api.nvim_buf_del_extmark(buf, store.ns, id)
  vim.api.nvim_buf_del_extmark(buf, store.ns, store.marks[buf][id].label)
  store.marks[buf][id] = nil
end

--- Replace the conflict's text with the model's; refuses if the user changed it since.
function M.accept(store, buf, c)
  local now = apply.get_text(buf, c.sr, c.sc, c.er, c.ec)
  if now ~= c.ours then
    ui.warn(string.format("the text under this conflict changed since (%q, was %q); kept it — reject or edit by hand", now, c.ours))
    return false
  end
  forget(store, buf, c.id)
  apply.apply_edits(buf, store.ns, now, c.sr, c.sc, { { start = 0, ["end"] = apply.length(now), text = c.theirs } })
  return true
end

--- Keep the user's text and forget the proposal.
function M.reject(store, buf, c)
  forget(store, buf, c.id)
  return true
end

--- Drop every conflict of `buf` (the buffer is going away).
function M.clear(store, buf)
  store.marks[buf] = nil
end

function M.count(store, buf)
  return vim.tbl_count(store.marks[buf] or {})
end

return M
