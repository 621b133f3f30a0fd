--- Streams a reply (reasoning, then the answer) into the end of a Markdown buffer.
--- Reasoning is dimmed while it streams and folded once the answer starts; folds are kept for
--- every window that shows the buffer (manual folds are per window).
local M = {}

local ns = vim.api.nvim_create_namespace("deepseek_lsp.reasoning")
local regions = {} ---@type table<integer, integer[]>  bufnr -> extmark ids of folded reasoning

local T = {}
T.__index = T

---@param buf integer
---@param opts? {placeholder?: string}
function M.new(buf, opts)
  local self = setmetatable({ buf = buf, mark = nil, answer = false, placeholder_row = nil }, T)
  if opts and opts.placeholder then
    self:_newline()
    self.placeholder_row = self:_line_count() - 1
    self:_write(opts.placeholder)
  end
  return self
end

function T:_line_count()
  return vim.api.nvim_buf_line_count(self.buf)
end

function T:_valid()
  return vim.api.nvim_buf_is_valid(self.buf)
end

--- Append raw text at the end of the buffer (no modifiable games: callers handle that).
function T:_write(text)
  local buf = self.buf
  local last = self:_line_count() - 1
  local line = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1] or ""
  local modifiable = vim.bo[buf].modifiable
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_text(buf, last, #line, last, #line, vim.split(text, "\n", { plain = true }))
  vim.bo[buf].modifiable = modifiable
end

function T:_clear_placeholder()
  if not self.placeholder_row then
    return
  end
  local row = self.placeholder_row
  self.placeholder_row = nil
  local modifiable = vim.bo[self.buf].modifiable
  vim.bo[self.buf].modifiable = true
  vim.api.nvim_buf_set_lines(self.buf, row, row + 1, false, { "" })
  vim.bo[self.buf].modifiable = modifiable
end

--- After a note (the attachments, a notice), the next text starts its own paragraph: a blank
--- line between, or Markdown runs "_Attached: #file:a.py_" into the reply's first words.
function T:_after_note()
  if self.noted then
    self.noted = false
    self:_newline()
    self:_write("\n")
  end
end

--- Start a new paragraph: the last line must be empty.
function T:_newline()
  local last = self:_line_count() - 1
  local line = vim.api.nvim_buf_get_lines(self.buf, last, last + 1, false)[1] or ""
  if line ~= "" then
    self:_write("\n")
  end
end

function T:reasoning(delta)
  if not delta or delta == "" or not self:_valid() then
    return
  end
  self:_clear_placeholder()
  if not self.mark then
    if self.answer then
      return -- reasoning after the answer started: DeepSeek does not do that; keep the answer clean
    end
    self:_after_note()
    self:_newline()
    local row = self:_line_count() - 1
    self:_write("Thinking…\n")
    self.mark = vim.api.nvim_buf_set_extmark(self.buf, ns, row, 0, {
      end_row = row + 1,
      end_col = 0,
      end_right_gravity = true,
      hl_group = "DeepSeekReasoning",
      hl_eol = true,
      priority = 200,
    })
  end
  self:_write(delta)
end

function T:content(delta)
  if not delta or delta == "" or not self:_valid() then
    return
  end
  self:_clear_placeholder()
  if not self.answer then
    self.answer = true
    self:_close_reasoning()
  end
  self:_after_note()
  self:_write(delta)
end

--- Freeze the reasoning region and fold it.
function T:_close_reasoning()
  if not self.mark then
    return
  end
  local m = vim.api.nvim_buf_get_extmark_by_id(self.buf, ns, self.mark, { details = true })
  if m and m[1] then
    local srow, d = m[1], m[3]
    -- the region ends with the last reasoning line; the answer starts a paragraph after it
    local erow = d.end_row
    local last = vim.api.nvim_buf_get_lines(self.buf, erow, erow + 1, false)[1]
    if d.end_col == 0 or last == nil then
      erow = erow - 1
    end
    vim.api.nvim_buf_set_extmark(self.buf, ns, srow, 0, {
      id = self.mark,
      end_row = erow,
      end_col = #(vim.api.nvim_buf_get_lines(self.buf, erow, erow + 1, false)[1] or ""),
      end_right_gravity = false,
      hl_group = "DeepSeekReasoning",
      hl_eol = true,
      priority = 200,
    })
    self:_write("\n\n")
    regions[self.buf] = regions[self.buf] or {}
    table.insert(regions[self.buf], self.mark)
    for _, win in ipairs(vim.fn.win_findbuf(self.buf)) do
      M.fold(win, self.buf, self.mark)
    end
  end
end

--- The reply ended: a reasoning-only reply is folded too.
function T:finish()
  if not self:_valid() then
    return
  end
  self:_clear_placeholder()
  if self.mark and not self.answer then
    self.answer = true
    self:_close_reasoning()
  end
end

--- Append a status note (cancelled, error) in its own paragraph.
function T:note(text)
  if not self:_valid() then
    return
  end
  self:_clear_placeholder()
  self:_after_note()
  self:_newline()
  self:_write(text)
  self.noted = true
end

function M.fold(win, buf, mark)
  local m = vim.api.nvim_buf_get_extmark_by_id(buf, ns, mark, { details = true })
  if not (m and m[1] and m[3] and m[3].end_row) then
    return
  end
  local s, e = m[1] + 1, m[3].end_row + 1
  if e <= s then
    return
  end
  M.window_setup(win)
  vim.api.nvim_win_call(win, function()
    pcall(vim.cmd, string.format("silent! %d,%dfold", s, e))
  end)
end

--- Window options that reasoning folds need.
function M.window_setup(win)
  local wo = vim.wo[win]
  wo.foldmethod = "manual"
  wo.foldenable = true
  wo.foldtext = "v:lua.require'deepseek_lsp.transcript'.foldtext()"
  wo.fillchars = "fold: ,eob: "
end

--- Text of a closed reasoning fold.
function M.foldtext()
  local n = vim.v.foldend - vim.v.foldstart
  return string.format("▸ Thinking (%d line%s, zo to open)", n, n == 1 and "" or "s")
end

--- Re-create the reasoning folds of `buf` in a window that just started showing it.
function M.restore_folds(win, buf)
  local marks = regions[buf]
  if not marks then
    return
  end
  for _, mark in ipairs(marks) do
    M.fold(win, buf, mark)
  end
end

function M.forget(buf)
  regions[buf] = nil
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  end
end

M.ns = ns
return M
