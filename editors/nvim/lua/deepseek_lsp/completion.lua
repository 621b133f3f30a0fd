--- Inline completion (ghost text) from the server's textDocument/inlineCompletion (LSP 3.18).
---
--- Neovim 0.12+ has vim.lsp.inline_completion: there the plugin enables it for the deepseek_lsp
--- client and maps the accept keys through its API (that path cannot run on 0.11, where the tests
--- run; it is kept small). On 0.11 this module does it itself:
---   * a request (triggerKind Automatic) on InsertEnter, TextChangedI and CursorMovedI, at most
---     one per position; the server debounces, and a newer request cancels our older pending one
---     ($/cancelRequest) so the server closes its upstream request at once;
---   * the suggestion drawn with one extmark: its first line inline after the cursor, the others
---     as virt_lines (hl DeepSeekGhost);
---   * typing the next characters of the suggestion trims it locally, in the same extmark (never
---     cleared and redrawn), while the refreshed answer comes;
---   * accept whole / next word / next line: nvim_buf_set_text as one undo step, the cursor after
---     the inserted text; dismissed by <Esc>, leaving Insert mode, moving elsewhere, or <C-]>.
local config = require("deepseek_lsp.config")
local util = require("deepseek_lsp.util")

local M = {}

local METHOD = "textDocument/inlineCompletion"
local INVOKED, AUTOMATIC = 1, 2
-- RequestCancelled, ContentModified, ServerCancelled: no suggestion, nothing to say
local QUIET = { [-32800] = true, [-32801] = true, [-32802] = true }

M.ns = vim.api.nvim_create_namespace("deepseek_lsp.completion")

--- The session switch of :DeepSeekCompletion; nil: setup's `completion.enabled`.
---@type boolean?
M.enabled = nil

--- Counters the tests (and the curious) read: requests sent, requests not sent because
--- completion is off, our pending requests cancelled by a newer one, answers received.
M.stats = { sent = 0, skipped = 0, cancelled = 0, answers = 0 }

---@class deepseek_lsp.Suggestion
---@field row integer      0-based row of the position the answer is for
---@field col integer      byte column of that position
---@field prefix string    the line's text before it (must stay unchanged)
---@field tail string      the line's text after it (must follow the cursor unchanged)
---@field replace integer  bytes of `tail` the whole suggestion replaces (the item's range end)
---@field text string      what to insert at (row, col), lines joined by "\n"

---@class deepseek_lsp.CompletionState
---@field bufnr integer
---@field client_id integer
---@field augroup integer
---@field sugg? deepseek_lsp.Suggestion
---@field mark? integer
---@field req? {id: integer?, client_id: integer, row: integer, col: integer, line: string, pending: boolean, cancelled: boolean?}
---@field last? string      the position of the last request ("tick:row:col")
---@field scheduled? boolean
---@field kind? integer

---@type table<integer, deepseek_lsp.CompletionState>
local states = {}
local warned = {} ---@type table<string, boolean>

local function opts()
  return config.options.completion or config.defaults.completion
end

--- Whether Neovim's own inline completion (0.12+) draws the ghost text.
function M.builtin()
  return vim.lsp.inline_completion ~= nil and opts().builtin ~= false
end

--- Completion is on (the session switch, else setup's option), and not off in this buffer
--- (vim.b.deepseek_completion = false).
function M.is_enabled(bufnr)
  local on = M.enabled
  if on == nil then
    on = opts().enabled ~= false
  end
  if on and bufnr and vim.api.nvim_buf_is_valid(bufnr) and vim.b[bufnr].deepseek_completion == false then
    return false
  end
  return on
end

--- Whether the server behind `client` answers textDocument/inlineCompletion.
function M.supported(client)
  local caps = client and client.server_capabilities
  return caps and caps.inlineCompletionProvider and true or false
end

local function line_at(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1]
end

local function cursor()
  local c = vim.api.nvim_win_get_cursor(0)
  return c[1] - 1, c[2]
end

---------------------------------------------------------------------------------------------------
-- The suggestion at the cursor

--- What is left of the suggestion to show at the cursor, or nil when the cursor is not where the
--- suggestion still applies: the cursor is at or after its position, the text between them is
--- the suggestion's start (typed through, or accepted in parts), and the rest of the line is as
--- it was.
---@return string?, integer?, integer?
local function remainder(st)
  local s = st and st.sugg
  if not s or vim.api.nvim_get_current_buf() ~= st.bufnr then
    return nil
  end
  local crow, ccol = cursor()
  if crow < s.row or (crow == s.row and ccol < s.col) or crow - s.row > 200 then
    return nil
  end
  local first = line_at(st.bufnr, s.row)
  if not first or first:sub(1, s.col) ~= s.prefix then
    return nil
  end
  local here = crow == s.row and first or line_at(st.bufnr, crow)
  if here:sub(ccol + 1) ~= s.tail then
    return nil
  end
  local ok, typed = pcall(vim.api.nvim_buf_get_text, st.bufnr, s.row, s.col, crow, ccol, {})
  if not ok then
    return nil
  end
  typed = table.concat(typed, "\n")
  if #typed >= #s.text or s.text:sub(1, #typed) ~= typed then
    return nil
  end
  return s.text:sub(#typed + 1), crow, ccol
end

local function clear(st)
  if st.mark then
    pcall(vim.api.nvim_buf_del_extmark, st.bufnr, M.ns, st.mark)
    st.mark = nil
  end
  st.sugg = nil
end

--- Draw `rest` at (row, col) in the suggestion's extmark (moved and updated in place: never
--- deleted and drawn again, so the ghost text cannot blink).
local function draw(st, rest, row, col)
  local tab = string.rep(" ", vim.bo[st.bufnr].tabstop)
  local lines = vim.split(rest, "\n", { plain = true })
  local mark = {
    id = st.mark,
    virt_text_pos = "inline",
    hl_mode = "combine",
    undo_restore = false,
  }
  if lines[1] ~= "" then
    mark.virt_text = { { (lines[1]:gsub("\t", tab)), "DeepSeekGhost" } }
  end
  if #lines > 1 then
    mark.virt_lines = {}
    for i = 2, #lines do
      table.insert(mark.virt_lines, { { (lines[i]:gsub("\t", tab)), "DeepSeekGhost" } })
    end
  end
  local ok, id = pcall(vim.api.nvim_buf_set_extmark, st.bufnr, M.ns, row, col, mark)
  if ok then
    st.mark = id
  else
    clear(st)
  end
end

--- Draw what is left of the suggestion at the cursor, or remove it when the suggestion no longer
--- applies there.
local function render(st)
  local rest, row, col = remainder(st)
  if not rest then
    return clear(st)
  end
  draw(st, rest, row, col)
end

--- A typed character that is the suggestion's next one: trim it before the character lands.
--- Neovim redraws the line between inserting a character and TextChangedI, so trimming only
--- then would show the character twice for a moment (typed, and still in the ghost text).
local function pretrim(st)
  local ch = vim.v.char
  local rest, row, col = remainder(st)
  if not rest or ch == "" or rest:sub(1, #ch) ~= ch then
    return
  end
  if #rest == #ch then
    return clear(st) -- typed to its end
  end
  draw(st, rest:sub(#ch + 1), row, col) -- the mark moves right with the character
end

---------------------------------------------------------------------------------------------------
-- Requests

local function cancel_request(req)
  if req and req.pending and req.id then
    local client = vim.lsp.get_client_by_id(req.client_id)
    if client then
      client:cancel_request(req.id)
      M.stats.cancelled = M.stats.cancelled + 1
    end
    req.pending = false
    req.cancelled = true
  end
end

local function cancel_pending(st)
  cancel_request(st.req)
end

--- The first usable item of an answer, as a suggestion for the position `req` was made at.
---@return deepseek_lsp.Suggestion?
local function suggestion(result, req, enc)
  local items = type(result) == "table" and (result.items or result) or {}
  for _, item in ipairs(items) do
    local text = item.insertText
    if type(text) == "string" and text ~= "" then
      -- the buffer holds lines, not line endings: the server's CRLF becomes lines too
      text = text:gsub("\r\n", "\n")
      local ecol = req.col
      local r = item.range
      local usable = true
      if type(r) == "table" and r.start and r["end"] then
        if r.start.line ~= req.row or r["end"].line ~= req.row then
          usable = false
        else
          local scol = util.to_byte(req.line, r.start.character, enc)
          ecol = util.to_byte(req.line, r["end"].character, enc)
          local before = req.line:sub(scol + 1, req.col)
          if scol > req.col or ecol < req.col or text:sub(1, #before) ~= before then
            usable = false
          else
            text = text:sub(#before + 1)
          end
        end
      end
      if usable and text ~= "" then
        return {
          row = req.row,
          col = req.col,
          prefix = req.line:sub(1, req.col),
          tail = req.line:sub(req.col + 1),
          replace = ecol - req.col,
          text = text,
        }
      end
    end
  end
end

local function on_answer(st, req, err, result)
  if st.req ~= req or req.cancelled then
    return -- superseded, or dismissed
  end
  req.pending = false
  M.stats.answers = M.stats.answers + 1
  if err then
    local msg = "DeepSeek: inline completion failed: " .. (err.message or vim.inspect(err))
    if not QUIET[err.code] and not warned[msg] then
      warned[msg] = true -- once per message: completion asks on every keystroke
      util.notify(msg, vim.log.levels.WARN)
    end
    return
  end
  if not vim.api.nvim_buf_is_valid(st.bufnr) or vim.api.nvim_get_current_buf() ~= st.bufnr then
    return
  end
  if not vim.startswith(vim.api.nvim_get_mode().mode, "i") or not M.is_enabled(st.bufnr) then
    return
  end
  local client = vim.lsp.get_client_by_id(req.client_id)
  st.sugg = suggestion(result, req, client and client.offset_encoding or "utf-16")
  render(st)
end

--- Ask for a suggestion at the cursor (at most once per position and buffer change).
local function request(st, kind)
  local bufnr = st.bufnr
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  if not vim.startswith(vim.api.nvim_get_mode().mode, "i") or vim.fn.reg_executing() ~= "" then
    return
  end
  if not M.is_enabled(bufnr) then
    M.stats.skipped = M.stats.skipped + 1
    return
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or not client.attached_buffers[bufnr] or not M.supported(client) then
    return
  end
  local row, col = cursor()
  local where = string.format("%d:%d:%d", vim.api.nvim_buf_get_changedtick(bufnr), row, col)
  if kind == AUTOMATIC and st.last == where then
    return
  end
  st.last = where
  local line = line_at(bufnr, row) or ""
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = util.to_character(line, col, client.offset_encoding) },
    context = { triggerKind = kind },
  }
  local req = { client_id = client.id, row = row, col = col, line = line, pending = true }
  local ok, id = client:request(METHOD, params, function(err, result)
    on_answer(st, req, err, result)
  end, bufnr)
  if not ok then
    return
  end
  req.id = id
  M.stats.sent = M.stats.sent + 1
  -- the newer request goes out first: the server can still let it take over the older one's
  -- upstream call (a position reached by typing the suggestion) before the cancel arrives
  local old = st.req
  st.req = req
  cancel_request(old)
end

--- Coalesce the events of one keystroke (TextChangedI, CursorMovedI) into one request.
local function schedule(st, kind)
  st.kind = math.min(st.kind or AUTOMATIC, kind or AUTOMATIC)
  if st.scheduled then
    return
  end
  st.scheduled = true
  vim.schedule(function()
    st.scheduled = false
    local k = st.kind
    st.kind = nil
    if states[st.bufnr] == st then
      request(st, k)
    end
  end)
end

---------------------------------------------------------------------------------------------------
-- Public functions (mappings, commands)

local function state(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  return states[bufnr]
end

--- Whether a suggestion shows at the cursor.
function M.visible(bufnr)
  return remainder(state(bufnr)) ~= nil
end

--- Drop the suggestion and cancel the pending request.
function M.dismiss(bufnr)
  local st = state(bufnr)
  if st then
    cancel_pending(st)
    clear(st)
  end
end

--- Ask for a suggestion now (triggerKind Invoked: the server skips its debounce).
function M.trigger(bufnr)
  local st = state(bufnr)
  if st then
    st.last = nil
    schedule(st, INVOKED)
  end
end

local function next_word(s)
  return s:match("^[ \t]*[%w_\128-\255]+")
    or s:match("^[ \t]*[^%w_\128-\255%s]+")
    or s:match("^\n[ \t]*")
    or s:match("^[ \t]+")
    or s
end

local function next_line(s)
  if s:sub(1, 1) == "\n" then
    return "\n" .. s:sub(2):match("^[^\n]*")
  end
  return s:match("^[^\n]*")
end

--- The part of `rest` that `kind` ("all", "word", "line") accepts.
function M.piece(rest, kind)
  if kind == "word" then
    return next_word(rest)
  elseif kind == "line" then
    return next_line(rest)
  end
  return rest
end

--- Insert `text` at (row, col), replacing `replace` bytes after it; the cursor goes after it.
local function insert(bufnr, row, col, text, replace)
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col + (replace or 0), lines)
  local erow = row + #lines - 1
  local ecol = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { erow + 1, ecol })
end

--- Accept the suggestion: "all" (default), "word" or "line". True when something was inserted.
function M.accept(kind)
  if M.builtin() then
    return M.builtin_accept(kind)
  end
  local st = state()
  local rest, row, col = remainder(st)
  if not rest then
    return false
  end
  local piece = M.piece(rest, kind)
  local whole = #piece == #rest
  local replace = whole and st.sugg.replace or 0
  if whole then
    cancel_pending(st)
    clear(st) -- the events of the edit ask for the next suggestion
  end
  insert(st.bufnr, row, col, piece, replace)
  if not whole then
    render(st) -- what is left, in the same extmark
  end
  return true
end

--- What a key does when there is nothing to accept: an unmapped ALT chord acts like <Esc> and
--- the key (|i_ALT|), other keys do what they do.
local function fallback(lhs)
  local rest = lhs:match("^<[MmAa]%-(.+)>$")
  if rest then
    return "<Esc>" .. (#rest == 1 and rest or "<" .. rest .. ">")
  end
  return lhs
end

local function accept_rhs(kind, lhs)
  return function()
    if M.builtin() then
      return M.builtin_accept(kind) and "" or fallback(lhs)
    end
    if not M.visible() then
      return fallback(lhs)
    end
    -- <C-g>u on both sides: the accepted text is one undo step of its own
    return "<C-g>u<Cmd>lua require('deepseek_lsp.completion').accept('" .. kind .. "')<CR><C-g>u"
  end
end

local function dismiss_rhs(lhs)
  return function()
    if M.visible() then
      return "<Cmd>lua require('deepseek_lsp.completion').dismiss()<CR>" .. lhs
    end
    return lhs
  end
end

local function trigger_rhs()
  return function()
    return "<Cmd>lua require('deepseek_lsp.completion').trigger()<CR>"
  end
end

local KEYS = {
  { name = "accept", desc = "DeepSeek: accept the suggestion", rhs = accept_rhs, kind = "all" },
  { name = "accept_word", desc = "DeepSeek: accept the next word of the suggestion", rhs = accept_rhs, kind = "word" },
  { name = "accept_line", desc = "DeepSeek: accept the next line of the suggestion", rhs = accept_rhs, kind = "line" },
  { name = "dismiss", desc = "DeepSeek: dismiss the suggestion", rhs = dismiss_rhs },
  { name = "trigger", desc = "DeepSeek: ask for a suggestion", rhs = trigger_rhs },
}

--- The configured keys: { {name, lhs}, ... } (a key may be a string, a list, or false).
function M.keys()
  local out = {}
  local keymaps = opts().keymaps or {}
  for _, k in ipairs(KEYS) do
    local v = keymaps[k.name]
    for _, lhs in ipairs(type(v) == "table" and v or { v }) do
      if type(lhs) == "string" and lhs ~= "" then
        table.insert(out, { name = k.name, lhs = lhs, spec = k })
      end
    end
  end
  return out
end

local function map_keys(bufnr)
  for _, key in ipairs(M.keys()) do
    -- Neovim's own inline completion has no dismiss or trigger function to map
    if not (M.builtin() and (key.name == "dismiss" or key.name == "trigger")) then
      local spec = key.spec
      local rhs = spec.kind and spec.rhs(spec.kind, key.lhs) or spec.rhs(key.lhs)
      vim.keymap.set("i", key.lhs, rhs, { buffer = bufnr, expr = true, desc = spec.desc })
    end
  end
end

---------------------------------------------------------------------------------------------------
-- Neovim 0.12+: vim.lsp.inline_completion (untested here: the tests run Neovim 0.11)

function M.builtin_accept(kind)
  local ic = vim.lsp.inline_completion
  if kind == nil or kind == "all" then
    return ic.get()
  end
  return ic.get({
    on_accept = function(item)
      local text = type(item.insert_text) == "string" and item.insert_text or nil
      if not text then
        return
      end
      text = text:gsub("\r\n", "\n")
      local row, col = cursor()
      local start = item.range and item.range.start
      if start and start.row == row and start.col <= col then
        local typed = (line_at(0, row) or ""):sub(start.col + 1, col)
        if text:sub(1, #typed) ~= typed then
          return
        end
        text = text:sub(#typed + 1)
      end
      if text ~= "" then
        insert(vim.api.nvim_get_current_buf(), row, col, M.piece(text, kind), 0)
      end
    end,
  })
end

local function builtin_enable(client, on)
  pcall(vim.lsp.inline_completion.enable, on, { client_id = client.id })
end

---------------------------------------------------------------------------------------------------
-- Attaching

--- Set up inline completion in `bufnr` for `client` (LspAttach of deepseek_lsp).
function M.attach(client, bufnr)
  if not M.supported(client) then
    return
  end
  if M.builtin() then
    builtin_enable(client, M.is_enabled())
    map_keys(bufnr)
    return
  end
  M.detach(bufnr)
  local group = vim.api.nvim_create_augroup("deepseek_lsp.completion." .. bufnr, { clear = true })
  local st = { bufnr = bufnr, client_id = client.id, augroup = group }
  states[bufnr] = st
  vim.api.nvim_create_autocmd("InsertEnter", {
    group = group,
    buffer = bufnr,
    callback = function()
      st.last = nil
      schedule(st, AUTOMATIC)
    end,
  })
  vim.api.nvim_create_autocmd({ "TextChangedI", "CursorMovedI" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      render(st) -- typed through: trimmed in place; moved elsewhere: gone
      schedule(st, AUTOMATIC)
    end,
  })
  vim.api.nvim_create_autocmd("TextChangedP", {
    group = group,
    buffer = bufnr,
    callback = function()
      render(st) -- Insert-mode completion's menu changed the text: no request while it is open
    end,
  })
  vim.api.nvim_create_autocmd("InsertCharPre", {
    group = group,
    buffer = bufnr,
    callback = function()
      pretrim(st)
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      cancel_pending(st)
      clear(st)
    end,
  })
  vim.api.nvim_create_autocmd("LspDetach", {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      if ev.data and ev.data.client_id == st.client_id then
        vim.schedule(function()
          if states[bufnr] == st then
            M.detach(bufnr)
          end
        end)
      end
    end,
  })
  map_keys(bufnr)
  if vim.api.nvim_get_current_buf() == bufnr and vim.startswith(vim.api.nvim_get_mode().mode, "i") then
    schedule(st, AUTOMATIC)
  end
end

--- Remove the suggestion, the autocommands and the keys of `bufnr`.
function M.detach(bufnr)
  local st = states[bufnr]
  if not st then
    return
  end
  states[bufnr] = nil
  cancel_pending(st)
  clear(st)
  pcall(vim.api.nvim_del_augroup_by_id, st.augroup)
  if vim.api.nvim_buf_is_valid(bufnr) then
    for _, key in ipairs(M.keys()) do
      pcall(vim.keymap.del, "i", key.lhs, { buffer = bufnr })
    end
  end
end

--- Turn completion on or off for the session (nil: toggle). Turning it on also turns on the
--- server's `completion.enabled` when the settings we sent had it off.
function M.set_enabled(on)
  if on == nil then
    on = not M.is_enabled()
  end
  M.enabled = on
  local mine = config.options.settings
  if on and type(mine) == "table" and type(mine.completion) == "table" and mine.completion.enabled == false then
    mine.completion.enabled = true -- for clients started later (and :checkhealth)
  end
  local clients = vim.lsp.get_clients({ name = "deepseek_lsp" })
  for _, client in ipairs(clients) do
    local settings = client.settings and client.settings.deepseek
    if on and type(settings) == "table" and type(settings.completion) == "table" and settings.completion.enabled == false then
      settings.completion.enabled = true
      client:notify("workspace/didChangeConfiguration", { settings = client.settings })
    end
    if M.builtin() then
      builtin_enable(client, on)
    end
  end
  if not on then
    for bufnr in pairs(states) do
      M.dismiss(bufnr)
    end
  else
    local st = state()
    if st and vim.startswith(vim.api.nvim_get_mode().mode, "i") then
      st.last = nil
      schedule(st, AUTOMATIC)
    end
  end
  return on
end

--- One line about completion: on/off, how it is drawn, whether the server offers it.
function M.describe()
  local clients = vim.lsp.get_clients({ name = "deepseek_lsp" })
  local served = #clients == 0 and "no server running"
    or (M.supported(clients[1]) and "the server offers it" or "the server does not offer it")
  return string.format(
    "DeepSeek inline completion: %s (%s; %s)",
    M.is_enabled() and "on" or "off",
    M.builtin() and "vim.lsp.inline_completion" or "ghost text",
    served
  )
end

--- :DeepSeekCompletion [enable|disable|toggle|status]
function M.command(o)
  local arg = vim.trim(o.args or "")
  if arg == "enable" or arg == "on" then
    M.set_enabled(true)
  elseif arg == "disable" or arg == "off" then
    M.set_enabled(false)
  elseif arg == "toggle" then
    M.set_enabled(nil)
  elseif arg ~= "" and arg ~= "status" then
    util.notify("Usage: :DeepSeekCompletion [enable|disable|toggle|status]", vim.log.levels.ERROR)
    return
  end
  vim.notify(M.describe(), vim.log.levels.INFO, { title = "DeepSeek" })
end

--- What a test sees: the suggestion left at the cursor, its extmark, the pending request.
function M.state(bufnr)
  local st = state(bufnr)
  if not st then
    return nil
  end
  local rest = remainder(st)
  return {
    text = rest,
    mark = st.mark,
    pending = st.req ~= nil and st.req.pending or false,
    request = st.req and { row = st.req.row, col = st.req.col } or nil,
  }
end

return M
