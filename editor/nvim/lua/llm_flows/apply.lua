-- Region text and edits: the daemon counts Unicode code points into the text we
-- sent; Neovim addresses (row, byte column). This module converts one to the other
-- and applies edits in one Lua call, so they form one undo step.
local M = {}

--- Byte offsets (0-based) of every code point start in `s`, plus #s at the end,
--- so offsets[k + 1] is the byte offset of code point k (also for k == count).
local function code_point_offsets(s)
  local offsets = {}
  for i = 1, #s do
    local b = s:byte(i)
    if b < 0x80 or b >= 0xC0 then
      offsets[#offsets + 1] = i - 1
    end
  end
  offsets[#offsets + 1] = #s
  return offsets
end

--- Number of code points in `s` (what the daemon counts).
function M.length(s)
  return #code_point_offsets(s) - 1
end

--- The code points [start, stop) of `s`.
function M.slice(s, start, stop)
  local offsets = code_point_offsets(s)
  return s:sub(offsets[start + 1] + 1, offsets[stop + 1])
end

--- A converter from code-point offsets in `text` to buffer positions, given that
--- `text` starts at (row, col) in the buffer.
function M.locator(text, row, col)
  -- ASCII text (the common case) needs no table: code point k is byte k.
  local offsets = text:find("[\128-\255]") and code_point_offsets(text) or nil
  local count = offsets and #offsets - 1 or #text
  local line_starts = { 0 } -- byte offset in text of each line's first byte
  for pos in text:gmatch("()\n") do
    line_starts[#line_starts + 1] = pos
  end
  return function(code_point)
    if code_point < 0 or code_point > count then
      error(string.format("offset %d is past the end of the region (%d code points)", code_point, count))
    end
    local byte = offsets and offsets[code_point + 1] or code_point
    -- The last line starting at or before `byte` (binary search: a 1 MB region
    -- has ~10^4 lines and as many edits).
    local line, hi = 1, #line_starts
    while line < hi do
      local mid = math.floor((line + hi + 1) / 2)
      if line_starts[mid] <= byte then
        line = mid
      else
        hi = mid - 1
      end
    end
    local r = row + line - 1
    local c = byte - line_starts[line]
    if line == 1 then
      c = c + col
    end
    return r, c
  end
end

--- The text between two buffer positions (end exclusive), lines joined with "\n".
function M.get_text(buf, sr, sc, er, ec)
  if sr > er or (sr == er and sc >= ec) then
    return ""
  end
  return table.concat(vim.api.nvim_buf_get_text(buf, sr, sc, er, ec, {}), "\n")
end

--- Clamp a position so it lies inside the buffer (the API rejects columns past a line's end).
function M.clamp(buf, r, c)
  local last = vim.api.nvim_buf_line_count(buf) - 1
  if r > last then
    r = last
    c = math.huge
  end
  local len = #(vim.api.nvim_buf_get_lines(buf, r, r + 1, true)[1] or "")
  return r, math.min(c, len)
end

local function before(r1, c1, r2, c2)
  return r1 < r2 or (r1 == r2 and c1 < c2)
end

--- Whether (r, c) lies on text one of `placed` ({sr, sc, er, ec, lines}) replaces.
local function replaced(placed, r, c)
  for _, p in ipairs(placed) do
    if not before(r, c, p[1], p[2]) and before(r, c, p[3], p[4]) then
      return true
    end
  end
  return false
end

--- Windows showing `buf` and their cursors, pinned with extmarks so they stay on
--- the same text while `placed` edits land before them. A cursor on replaced text
--- goes to the replacement's start (left gravity), not past its end.
local function pin_cursors(buf, ns, placed)
  local pins = {}
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf then
      local pos = vim.api.nvim_win_get_cursor(win)
      local r, c = M.clamp(buf, pos[1] - 1, pos[2])
      local opts = { right_gravity = not replaced(placed, r, c) }
      pins[#pins + 1] = { win = win, mark = vim.api.nvim_buf_set_extmark(buf, ns, r, c, opts) }
    end
  end
  return pins
end

local function restore_cursors(buf, ns, pins)
  for _, pin in ipairs(pins) do
    local pos = vim.api.nvim_buf_get_extmark_by_id(buf, ns, pin.mark, {})
    vim.api.nvim_buf_del_extmark(buf, ns, pin.mark)
    if vim.api.nvim_win_is_valid(pin.win) and vim.api.nvim_win_get_buf(pin.win) == buf and pos[1] then
      pcall(vim.api.nvim_win_set_cursor, pin.win, { pos[1] + 1, pos[2] })
    end
  end
end

--- Close `buf`'s current undo block, so the next change is an undo step of its own
--- even without a keystroke between (two results landing in one event loop turn).
--- Setting 'undolevels', even to its value, does that (:help undo-blocks).
function M.break_undo(buf)
  vim.api.nvim_buf_call(buf, function()
    vim.cmd("let &g:undolevels = &g:undolevels")
  end)
end

--- Split `s` at "\n" into the list of lines nvim_buf_set_text wants.
function M.lines(s)
  return vim.split(s, "\n", { plain = true })
end

--- Apply `edits` ({start, end, text}, code points into `text`, sorted, not
--- overlapping) to the region that holds `text` and starts at (row, col).
--- Last to first, in this one call: one undo step; cursors stay on their text.
function M.apply_edits(buf, ns, text, row, col, edits)
  if #edits == 0 then
    return
  end
  local at = M.locator(text, row, col)
  local placed = {}
  for i, edit in ipairs(edits) do
    local sr, sc = at(edit.start)
    local er, ec = at(edit["end"])
    placed[i] = { sr, sc, er, ec, M.lines(edit.text) }
  end
  local pins = pin_cursors(buf, ns, placed)
  for i = #placed, 1, -1 do
    local p = placed[i]
    vim.api.nvim_buf_set_text(buf, p[1], p[2], p[3], p[4], p[5])
  end
  restore_cursors(buf, ns, pins)
end

return M
