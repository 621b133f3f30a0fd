--- Chat: a Markdown buffer in a split. Type under the last "## You", send with a key or
--- `:DeepSeek chat {text}`; the reply streams in below with its reasoning folded.
local client_mod = require("deepseek_lsp.client")
local config = require("deepseek_lsp.config")
local jobs = require("deepseek_lsp.jobs")
local transcript = require("deepseek_lsp.transcript")
local util = require("deepseek_lsp.util")

local M = {}

local ns = vim.api.nvim_create_namespace("deepseek_lsp.chat")
local S = {
  buf = nil, ---@type integer?
  session_id = nil, ---@type string?
  title = nil, ---@type string?
  job_key = nil, ---@type string?
  t = nil, ---@type table?  transcript of the reply streaming now
  reply_row = nil, ---@type integer?  row of the "## DeepSeek" header being answered
  input_mark = nil, ---@type integer?  extmark on the current "## You" header
}

local YOU, BOT = "## You", "## DeepSeek"

local function valid()
  return S.buf and vim.api.nvim_buf_is_valid(S.buf)
end

local function set_lines(start, finish, lines)
  local m = vim.bo[S.buf].modifiable
  vim.bo[S.buf].modifiable = true
  vim.api.nvim_buf_set_lines(S.buf, start, finish, false, lines)
  vim.bo[S.buf].modifiable = m
end

local function append(lines)
  local n = vim.api.nvim_buf_line_count(S.buf)
  local only = n == 1 and vim.api.nvim_buf_get_lines(S.buf, 0, 1, false)[1] == ""
  set_lines(only and 0 or n, -1, lines)
end

local function hint()
  local keys = config.options.chat.keys
  local send = keys.send or {}
  local parts = {}
  if send.n then
    table.insert(parts, send.n)
  end
  if send.i then
    table.insert(parts, send.i .. " (insert)")
  end
  local text = #parts > 0 and ("send: " .. table.concat(parts, " / ")) or "send: :DeepSeek chat {text}"
  if S.session_id then
    text = text .. " · session " .. (S.title and S.title ~= vim.NIL and S.title or S.session_id)
  end
  local ctx = M.attach_next
  if ctx and ctx.bufnr and vim.api.nvim_buf_is_valid(ctx.bufnr) then
    local name = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(ctx.bufnr), ":t")
    local where = ctx.span and string.format(" lines %d-%d", ctx.span[1] + 1, ctx.span[3] + 1) or ""
    text = text .. " · attaching " .. name .. where
  end
  return text
end

--- Refresh the hint beside the current "## You".
function M.refresh_hint()
  if valid() and S.input_mark then
    local row = vim.api.nvim_buf_get_extmark_by_id(S.buf, ns, S.input_mark, {})[1]
    if row then
      vim.api.nvim_buf_set_extmark(S.buf, ns, row, 0, {
        id = S.input_mark,
        virt_text = { { "  " .. hint(), "Comment" } },
        virt_text_pos = "eol",
      })
    end
  end
end

--- Start a new "## You" section at the end and mark it as the input.
local function new_prompt()
  append({ "", YOU, "" })
  if vim.api.nvim_buf_get_lines(S.buf, 0, 1, false)[1] == "" then
    set_lines(0, 1, {}) -- a fresh buffer starts with the header
  end
  local row = vim.api.nvim_buf_line_count(S.buf) - 2
  if S.input_mark then
    pcall(vim.api.nvim_buf_del_extmark, S.buf, ns, S.input_mark)
  end
  S.input_mark = vim.api.nvim_buf_set_extmark(S.buf, ns, row, 0, {
    virt_text = { { "  " .. hint(), "Comment" } },
    virt_text_pos = "eol",
  })
  vim.bo[S.buf].modifiable = true
  for _, win in ipairs(vim.fn.win_findbuf(S.buf)) do
    pcall(vim.api.nvim_win_set_cursor, win, { vim.api.nvim_buf_line_count(S.buf), 0 })
  end
end

local function input_row()
  if not S.input_mark then
    return nil
  end
  local pos = vim.api.nvim_buf_get_extmark_by_id(S.buf, ns, S.input_mark, {})
  return pos[1]
end

--- The text typed under the last "## You".
function M.input()
  if not valid() then
    return ""
  end
  local row = input_row()
  if not row then
    return ""
  end
  local lines = vim.api.nvim_buf_get_lines(S.buf, row + 1, -1, false)
  return vim.trim(table.concat(lines, "\n"))
end

local function setup_window(win)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.wo[win].conceallevel = 2
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].signcolumn = "no"
  transcript.window_setup(win)
  transcript.restore_folds(win, S.buf)
end

local function create_buffer()
  local buf = vim.api.nvim_create_buf(false, true)
  S.buf = buf
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  pcall(vim.api.nvim_buf_set_name, buf, "deepseek://chat")
  vim.bo[buf].filetype = "markdown"
  pcall(vim.treesitter.start, buf, "markdown")
  local keys = config.options.chat.keys
  local send = keys.send or {}
  for mode, lhs in pairs(send) do
    vim.keymap.set(mode, lhs, function()
      if mode == "i" then
        vim.cmd.stopinsert()
      end
      M.send()
    end, { buffer = buf, desc = "DeepSeek: send the chat message" })
  end
  if keys.new then
    vim.keymap.set("n", keys.new, function()
      M.new_session()
    end, { buffer = buf, desc = "DeepSeek: new chat session" })
  end
  if keys.cancel then
    vim.keymap.set("n", keys.cancel, function()
      M.cancel()
    end, { buffer = buf, desc = "DeepSeek: cancel the reply" })
  end
  vim.api.nvim_create_autocmd("BufWinEnter", {
    buffer = buf,
    callback = function()
      setup_window(vim.api.nvim_get_current_win())
    end,
  })
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = buf,
    callback = function()
      transcript.forget(buf)
      S.buf, S.input_mark, S.t = nil, nil, nil
    end,
  })
  new_prompt()
  return buf
end

--- Open the chat split (or find it). Returns its window.
---@param focus boolean
function M.open(focus)
  if not valid() then
    create_buffer()
  end
  local win = vim.fn.win_findbuf(S.buf)
  local tab = vim.api.nvim_get_current_tabpage()
  for _, w in ipairs(win) do
    if vim.api.nvim_win_get_tabpage(w) == tab then
      if focus then
        vim.api.nvim_set_current_win(w)
      end
      return w
    end
  end
  local cfg = config.options.chat
  local prev = vim.api.nvim_get_current_win()
  local w
  if cfg.position == "tab" then
    vim.cmd("tab sbuffer " .. S.buf)
    w = vim.api.nvim_get_current_win()
  else
    local vertical = cfg.position == "right" or cfg.position == "left"
    local total = vertical and vim.o.columns or vim.o.lines
    local size = cfg.size < 1 and math.floor(total * cfg.size) or cfg.size
    local opts = { split = cfg.position, win = -1 }
    if vertical then
      opts.width = size
    else
      opts.height = size
    end
    w = vim.api.nvim_open_win(S.buf, focus, opts)
  end
  setup_window(w)
  if not focus and vim.api.nvim_win_is_valid(prev) then
    vim.api.nvim_set_current_win(prev)
  end
  return w
end

local function follow()
  local cur = vim.api.nvim_get_current_win()
  local last = vim.api.nvim_buf_line_count(S.buf)
  for _, win in ipairs(vim.fn.win_findbuf(S.buf)) do
    local row = vim.api.nvim_win_get_cursor(win)[1]
    if win ~= cur or row >= last - 3 then
      pcall(vim.api.nvim_win_set_cursor, win, { last, 0 })
    end
  end
end

--- Send the typed message (or `text`, which replaces the input).
---@param text string?
---@param ctx {bufnr?: integer, span?: integer[]}?  code to attach (a buffer and a byte span)
function M.send(text, ctx)
  local focus = text == nil or config.options.chat.focus_on_send
  ctx = ctx or M.attach_next
  M.attach_next = nil
  M.open(focus)
  if S.job_key then
    local job = jobs.jobs[S.job_key]
    if job and not job.done then
      util.notify("DeepSeek is still answering; cancel it first (:DeepSeek cancel)", vim.log.levels.WARN)
      return
    end
  end
  if text and text ~= "" then
    local row = input_row()
    set_lines(row + 1, -1, vim.split(text, "\n", { plain = true }))
  end
  local message = M.input()
  if message == "" then
    util.notify("DeepSeek: type a message under “## You” first", vim.log.levels.WARN)
    return
  end
  local code_buf = ctx and ctx.bufnr
  client_mod.with_client(code_buf, function(client)
    if not valid() then
      return
    end
    local arg = { message = message, sessionId = S.session_id }
    if code_buf and vim.bo[code_buf].buftype == "" and client.attached_buffers[code_buf] then
      arg.uri = vim.uri_from_bufnr(code_buf)
      if ctx.span then
        local s = ctx.span
        arg.range = util.make_range(code_buf, s[1], s[2], s[3], s[4], client.offset_encoding)
      end
    end
    -- the question stays, the reply goes below it
    if S.input_mark then -- the question is sent: its header loses the hint
      vim.api.nvim_buf_set_extmark(S.buf, ns, input_row(), 0, { id = S.input_mark })
    end
    append({ "", BOT, "" })
    S.reply_row = vim.api.nvim_buf_line_count(S.buf) - 2
    S.t = transcript.new(S.buf, { placeholder = "_…_" })
    vim.bo[S.buf].modifiable = false
    follow()
    client_mod.execute(client, "deepseek.chat", arg, code_buf, function(result)
      if not (result and result.jobId) then
        return
      end
      if result.sessionId and result.sessionId ~= vim.NIL then
        S.session_id = result.sessionId
      end
      local job = jobs.ensure(client.id, result.jobId, { kind = "chat", opts = { chat = true } })
      S.job_key = job.key
    end)
  end)
end

function M.on_stream(job, params)
  if job.key ~= S.job_key or not valid() or not S.t then
    return
  end
  local function present(v)
    return v ~= nil and v ~= vim.NIL
  end
  if present(params.sessionId) then
    S.session_id = params.sessionId
  end
  if present(params.attachments) and #params.attachments > 0 then
    local titles = {}
    for _, a in ipairs(params.attachments) do
      table.insert(titles, (a.label or "") .. (a.title and (" " .. a.title) or ""))
    end
    S.t:note("_Attached: " .. table.concat(titles, "; ") .. "_")
  end
  if present(params.notice) then
    S.t:note("> " .. params.notice)
  end
  if present(params.reasoning) then
    S.t:reasoning(params.reasoning)
  end
  if present(params.content) then
    S.t:content(params.content)
  end
  follow()
end

function M.on_done(job)
  if job.key ~= S.job_key or not valid() then
    return
  end
  local t = S.t
  if t then
    t:finish()
    if job.state == "cancelled" then
      t:note("_(cancelled)_")
    elseif job.state == "failed" then
      t:note("**Error:** " .. ((job.error or {}).message or "failed"))
    end
  end
  local u = job.usage
  if u and u ~= vim.NIL and S.reply_row then
    local prompt = u.promptTokens or 0
    local share = prompt > 0 and math.floor(100 * (u.promptCacheHitTokens or 0) / prompt + 0.5) or 0
    local cached = u.estimated == true and "" or string.format(" · %d%% cached", share)
    local text = string.format("%s%s · %s", util.fmt_usage_tokens(u), cached, util.fmt_rated_cost(u))
    pcall(vim.api.nvim_buf_set_extmark, S.buf, ns, S.reply_row, 0, { virt_text = { { "  " .. text, "Comment" } }, virt_text_pos = "eol" })
  end
  S.t, S.job_key, S.reply_row = nil, nil, nil
  new_prompt()
end

function M.cancel()
  local job = S.job_key and jobs.jobs[S.job_key]
  if job and not job.done then
    require("deepseek_lsp").cancel(job)
  end
end

--- Forget the session: the next message starts a new one.
function M.new_session()
  if valid() then
    transcript.forget(S.buf)
    vim.api.nvim_buf_clear_namespace(S.buf, ns, 0, -1)
    S.input_mark, S.t, S.job_key = nil, nil, nil
    set_lines(0, -1, { "" })
  end
  S.session_id, S.title = nil, nil
  if valid() then
    new_prompt()
  end
end

local function render_history(h)
  S.session_id, S.title = h.sessionId, h.title
  transcript.forget(S.buf)
  vim.api.nvim_buf_clear_namespace(S.buf, ns, 0, -1)
  S.input_mark, S.t, S.job_key = nil, nil, nil
  set_lines(0, -1, { "" })
  if h.title and h.title ~= vim.NIL and h.title ~= "" then
    append({ "# " .. h.title })
  end
  for _, m in ipairs(h.messages or {}) do
    local content = (m.content ~= vim.NIL and m.content) or ""
    if m.role == "user" then
      append({ "", YOU })
      append(vim.split(content, "\n", { plain = true }))
    elseif m.role == "assistant" then
      append({ "", BOT, "" })
      local t = transcript.new(S.buf)
      if m.reasoning and m.reasoning ~= vim.NIL and m.reasoning ~= "" then
        t:reasoning(m.reasoning)
      end
      t:content(content ~= "" and content or "_(no answer)_")
      t:finish()
      if m.status == "cancelled" or m.status == "failed" then
        t:note("_(" .. m.status .. ")_")
      end
    elseif m.role == "summary" then
      append({ "", "> _Earlier turns, summarized:_ " .. content:gsub("\n", " ") })
    elseif m.role == "reset" then
      append({ "", "---", "_(history cleared)_" })
    else
      append({ "", "> " .. content:gsub("\n", " ") })
    end
  end
  new_prompt()
end

--- Load a stored session into the chat buffer; the next message continues it.
function M.resume(session_id)
  M.open(true)
  client_mod.with_client(nil, function(client)
    client_mod.execute(client, "deepseek.chat.history", { sessionId = session_id }, nil, function(h)
      if h and valid() then
        render_history(h)
      end
    end)
  end)
end

--- Pick a stored session (vim.ui.select) and resume it.
function M.sessions(all)
  client_mod.with_client(vim.api.nvim_get_current_buf(), function(client)
    client_mod.execute(client, "deepseek.chat.sessions", { all = all or nil }, nil, function(result)
      local list = result and result.sessions or {}
      if #list == 0 then
        util.notify("DeepSeek: no chat sessions yet", vim.log.levels.INFO)
        return
      end
      vim.ui.select(list, {
        prompt = "DeepSeek chat sessions",
        format_item = function(s)
          local title = (s.title ~= vim.NIL and s.title ~= "" and s.title) or (s.preview ~= vim.NIL and s.preview) or s.sessionId
          return string.format("%s  (%d messages, %s)", title, s.messages or 0, (s.updated or ""):sub(1, 16):gsub("T", " "))
        end,
      }, function(choice)
        if choice then
          M.resume(choice.sessionId)
        end
      end)
    end)
  end)
end

--- State for tests and statuslines.
function M.state()
  return { buf = S.buf, session_id = S.session_id, job_key = S.job_key }
end

jobs.ui.chat = M
return M
