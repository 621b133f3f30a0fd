--- Small helpers: notifications (each message once), positions in the client's encoding.
local M = {}

local seen = {} ---@type table<string, number>
local covered = {} ---@type table<string, number>  texts already said within a fuller message
local ONCE_MS = 3000

--- `text` was just said inside a fuller message (e.g. a failure with where its original went):
--- the next message repeating it within a few seconds (the server's showMessage) is dropped.
---@param text string?
function M.cover(text)
  if type(text) == "string" and text ~= "" then
    covered[text] = vim.uv.now()
  end
end

local function is_covered(msg, now)
  for text, t in pairs(covered) do
    if now - t >= ONCE_MS then
      covered[text] = nil
    elseif msg:find(text, 1, true) then
      covered[text] = nil
      return true
    end
  end
  return false
end

--- vim.notify, at most once per message within a few seconds (a failed job's showMessage and
--- its final notification carry the same news: the user hears it once).
---@param msg string
---@param level? integer
function M.notify(msg, level)
  local cfg = require("deepseek_lsp.config").options
  if cfg.notify == false then
    return
  end
  local now = vim.uv.now()
  if seen[msg] and now - seen[msg] < ONCE_MS then
    return
  end
  if is_covered(msg, now) then
    seen[msg] = now
    return
  end
  seen[msg] = now
  vim.schedule(function()
    vim.notify(msg, level or vim.log.levels.INFO, { title = "DeepSeek" })
  end)
end

--- Whether a message was notified since `since` (vim.uv.now() ms).
function M.notified_since(since, level_msg)
  for msg, t in pairs(seen) do
    if t >= since and (not level_msg or msg:find(level_msg, 1, true)) then
      return true
    end
  end
  return false
end

local function line_text(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1]
end

--- Byte column -> LSP character in `enc`.
function M.to_character(text, col, enc)
  if col <= 0 or not text then
    return 0
  end
  col = math.min(col, #text)
  if enc == "utf-8" then
    return col
  end
  return vim.str_utfindex(text, enc, col, false)
end

--- LSP character in `enc` -> byte column.
function M.to_byte(text, character, enc)
  if character <= 0 or not text then
    return 0
  end
  if enc == "utf-8" then
    return math.min(character, #text)
  end
  return vim.str_byteindex(text, enc, character, false)
end

--- An LSP range from 0-based rows and byte columns (end exclusive).
function M.make_range(bufnr, srow, scol, erow, ecol, enc)
  local s = line_text(bufnr, srow) or ""
  local e = line_text(bufnr, erow) or ""
  return {
    start = { line = srow, character = M.to_character(s, scol, enc) },
    ["end"] = { line = erow, character = M.to_character(e, ecol, enc) },
  }
end

--- An LSP position -> {row, byte col}, clamped to the buffer.
function M.to_pos(bufnr, pos, enc)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local row = pos.line
  if row >= count then
    local last = count - 1
    return last, #(line_text(bufnr, last) or "")
  end
  return row, M.to_byte(line_text(bufnr, row) or "", pos.character, enc)
end

--- The range a command works on: the visual selection it came from (charwise or linewise),
--- the given lines, or the cursor's line.
---@param opts table  nvim_create_user_command's opts (range, line1, line2) or {}
---@return table range, integer bufnr
function M.command_range(bufnr, opts, enc)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local line1, line2
  if opts and opts.range and opts.range > 0 then
    line1, line2 = opts.line1, opts.line2
  else
    local row = vim.api.nvim_win_get_cursor(0)[1]
    line1, line2 = row, row
  end
  local srow, erow = line1 - 1, line2 - 1
  local scol, ecol = 0, #(line_text(bufnr, erow) or "")
  if opts and opts.range == 2 and vim.fn.visualmode() == "v" then
    local s = vim.api.nvim_buf_get_mark(bufnr, "<")
    local e = vim.api.nvim_buf_get_mark(bufnr, ">")
    if s[1] == line1 and e[1] == line2 then
      local etext = line_text(bufnr, erow) or ""
      scol = s[2]
      if e[2] >= #etext then
        ecol = #etext
      elseif vim.o.selection == "exclusive" then
        ecol = e[2]
      else
        -- include the whole last character, however many bytes it has
        ecol = e[2] + 1 + vim.str_utf_end(etext, e[2] + 1)
      end
    end
  end
  return M.make_range(bufnr, srow, scol, erow, ecol, enc), bufnr
end

--- Buffer of a URI, only if it is loaded already (never creates one).
function M.loaded_buf(uri)
  if not uri then
    return nil
  end
  local ok, bufnr = pcall(vim.uri_to_bufnr, uri)
  if ok and vim.api.nvim_buf_is_loaded(bufnr) then
    return bufnr
  end
  return nil
end

function M.fmt_tokens(n)
  n = n or 0
  if n >= 1000000 then
    return string.format("%.1fM", n / 1000000)
  elseif n >= 1000 then
    return string.format("%.1fk", n / 1000)
  end
  return tostring(n)
end

--- A request's tokens: "1.2k tok", or "~1.2k tok (estimated)" when the server reported no usage
--- and deepseek-lsp counted them itself.
function M.fmt_usage_tokens(u)
  local n = M.fmt_tokens((u.promptTokens or 0) + (u.completionTokens or 0))
  if u.estimated == true then
    return "~" .. n .. " tok (estimated)"
  end
  return n .. " tok"
end

function M.fmt_cost(c)
  c = c or 0
  if c == 0 then
    return "$0"
  elseif c < 0.0001 then
    return "<$0.0001"
  elseif c < 0.01 then
    return string.format("$%.4f", c)
  end
  return string.format("$%.2f", c)
end

--- One request's cost and the rate it was billed at (DeepSeek bills by time of day):
--- "$0.0012 (peak rate)", "$0.0006 (off-peak rate)", "$0.0012" for a flat price.
function M.fmt_rated_cost(u)
  if u.rate == "unpriced" or (u.rate ~= nil and u.cost == nil) then
    return "cost unknown (no price for this model)"
  elseif u.rate == "peak" or u.rate == "off-peak" then
    return string.format("%s (%s rate)", M.fmt_cost(u.cost), u.rate)
  end
  return M.fmt_cost(u.cost)
end

--- A session's cost with what each rate added: "$0.0030 ($0.0020 peak rate, $0.0010 off-peak rate)";
--- one rate alone reads like a request's cost: "$0.0020 (peak rate)".
function M.fmt_session_cost(u)
  local by = type(u.byRate) == "table" and u.byRate or {}
  local used = {}
  for _, rate in ipairs({ "peak", "off-peak", "flat", "unpriced" }) do
    local r = by[rate]
    if type(r) == "table" and (r.requests or 0) > 0 then
      table.insert(used, { rate = rate, requests = r.requests, cost = r.cost })
    end
  end
  if #used == 0 then
    return M.fmt_cost(u.cost)
  elseif #used == 1 then
    return M.fmt_rated_cost({ rate = used[1].rate, cost = u.cost })
  end
  local parts = {}
  for _, r in ipairs(used) do
    if r.rate == "unpriced" then
      table.insert(parts, string.format("%d request%s with no price", r.requests, r.requests == 1 and "" or "s"))
    else
      table.insert(parts, string.format("%s %s rate", M.fmt_cost(r.cost), r.rate))
    end
  end
  return string.format("%s (%s)", M.fmt_cost(u.cost), table.concat(parts, ", "))
end

function M.define_highlights()
  local set = function(name, link)
    vim.api.nvim_set_hl(0, name, { link = link, default = true })
  end
  set("DeepSeekReasoning", "Comment")
  set("DeepSeekRewrite", "DiffChange")
  set("DeepSeekRewriteReview", "DiffAdd")
  set("DeepSeekStatus", "DiagnosticVirtualTextInfo")
  set("DeepSeekError", "DiagnosticVirtualTextError")
  set("DeepSeekFold", "Folded")
  set("DeepSeekHeader", "Title")
  set("DeepSeekGhost", "Comment")
end

return M
