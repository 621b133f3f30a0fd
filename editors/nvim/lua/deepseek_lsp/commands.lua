--- :DeepSeek {subcommand} [args], with ranges and completion.
local client_mod = require("deepseek_lsp.client")
local config = require("deepseek_lsp.config")
local jobs = require("deepseek_lsp.jobs")
local util = require("deepseek_lsp.util")

local M = {}

local REWRITES = { refactor = true, fix = true, docstring = true, tests = true }
M.subcommands = {
  "explain", "refactor", "fix", "docstring", "tests", "rewrite",
  "chat", "cancel", "accept", "reject", "status", "sessions", "recover",
}
local CHAT_WORDS = {
  "/explain", "/fix", "/tests", "/doc", "/refactor", "/clear", "/new", "/compact", "/model", "/think",
  "/rename", "/help", "#selection", "#buffer", "#diagnostics", "#file:",
}

local function user_actions()
  local out = {}
  for _, a in ipairs(config.options.settings.actions or {}) do
    if type(a) == "table" and a.name then
      table.insert(out, a.name)
    end
  end
  return out
end

--- Rows and byte columns of the command's range, read now (the client may start later).
local function span(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local r = util.command_range(bufnr, opts, "utf-8") -- utf-8 characters are bytes
  return bufnr, { r.start.line, r.start.character, r["end"].line, r["end"].character }
end

local function lsp_range(bufnr, s, client)
  return util.make_range(bufnr, s[1], s[2], s[3], s[4], client.offset_encoding)
end

--- Diagnostics touching the span, as LSP Diagnostics in the client's position encoding.
local function diagnostics_in(bufnr, s, enc)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local last = d.end_lnum or d.lnum
    if d.lnum <= s[3] and last >= s[1] then
      table.insert(out, {
        range = util.make_range(bufnr, d.lnum, d.col, last, d.end_col or d.col, enc),
        message = d.message,
        severity = d.severity,
        source = d.source,
      })
    end
  end
  return out
end

local function code_buffer(bufnr)
  if vim.bo[bufnr].buftype ~= "" then
    util.notify("DeepSeek: run this in a file's buffer", vim.log.levels.WARN)
    return false
  end
  return true
end

local handlers = {}

function handlers.explain(o)
  local bufnr, s = span(o)
  if not code_buffer(bufnr) then
    return
  end
  local win = vim.api.nvim_get_current_win()
  client_mod.with_client(bufnr, function(client)
    local range = lsp_range(bufnr, s, client)
    local arg = { uri = vim.uri_from_bufnr(bufnr), range = range }
    require("deepseek_lsp.confirm").guard(client, "deepseek.explain", arg, bufnr, s, "explain", function()
      require("deepseek_lsp.explain").run(client, bufnr, range, { win = win, focus = o.bang })
    end)
  end)
end

local function rewrite(o, action, instruction)
  local bufnr, s = span(o)
  if not code_buffer(bufnr) then
    return
  end
  local args = { action = action, instruction = (instruction and instruction ~= "") and instruction or nil }
  client_mod.with_client(bufnr, function(client)
    if action == "fix" then
      args.diagnostics = diagnostics_in(bufnr, s, client.offset_encoding)
    end
    local range = lsp_range(bufnr, s, client)
    local arg = vim.tbl_extend("force", args, { uri = vim.uri_from_bufnr(bufnr), range = range })
    require("deepseek_lsp.confirm").guard(client, "deepseek.rewrite", arg, bufnr, s, action or "rewrite", function()
      require("deepseek_lsp.rewrite").run(client, bufnr, range, args)
    end)
  end)
end

function handlers.rewrite(o, rest)
  if rest == "" then
    vim.ui.input({ prompt = "DeepSeek rewrite: " }, function(text)
      if text and text ~= "" then
        rewrite(o, nil, text)
      end
    end)
    return
  end
  rewrite(o, nil, rest)
end

function handlers.chat(o, rest)
  local chat = require("deepseek_lsp.chat")
  if o.bang then
    chat.new_session()
  end
  local ctx
  if o.range and o.range > 0 then
    local bufnr, s = span(o)
    if vim.bo[bufnr].buftype == "" then
      ctx = { bufnr = bufnr, span = s }
    end
  elseif vim.bo.buftype == "" and rest:find("#", 1, true) then
    ctx = { bufnr = vim.api.nvim_get_current_buf() } -- #buffer / #diagnostics need the document
  end
  if rest == "" then
    chat.open(true)
    if ctx then
      chat.attach_next = ctx
      chat.refresh_hint()
    end
    return
  end
  chat.send(rest, ctx)
end

function handlers.cancel(_, rest)
  local deepseek = require("deepseek_lsp")
  if rest == "all" then
    for _, job in ipairs(jobs.running()) do
      deepseek.cancel(job)
    end
    return
  end
  local job
  if rest ~= "" then
    job = jobs.latest(function(j)
      return j.id == rest
    end)
  else
    local bufnr = vim.api.nvim_get_current_buf()
    job = jobs.latest(function(j)
      return not j.done and j.bufnr == bufnr
    end) or jobs.latest(function(j)
      return not j.done
    end)
  end
  if not job or job.done then
    util.notify("DeepSeek: no running job to cancel", vim.log.levels.INFO)
    return
  end
  deepseek.cancel(job)
end

function handlers.accept(_, rest)
  local rw = require("deepseek_lsp.rewrite")
  rw.accept(rw.target(vim.api.nvim_get_current_buf(), rest))
end

function handlers.reject(_, rest)
  local rw = require("deepseek_lsp.rewrite")
  rw.reject(rw.target(vim.api.nvim_get_current_buf(), rest))
end

function handlers.recover(_, rest)
  require("deepseek_lsp.recover").run(rest)
end

function handlers.status()
  require("deepseek_lsp").show_status()
end

function handlers.sessions(o)
  require("deepseek_lsp.chat").sessions(o.bang)
end

function M.run(o)
  if not config.did_setup then
    require("deepseek_lsp").setup()
  end
  local sub, rest = (o.args or ""):match("^%s*(%S+)%s*(.-)%s*$")
  if not sub then
    util.notify("Usage: :DeepSeek {" .. table.concat(M.subcommands, "|") .. "}", vim.log.levels.INFO)
    return
  end
  if sub:sub(-1) == "!" then
    sub, o.bang = sub:sub(1, -2), true
  end
  if handlers[sub] then
    return handlers[sub](o, rest)
  end
  if REWRITES[sub] or vim.list_contains(user_actions(), sub) then
    return rewrite(o, sub, rest)
  end
  util.notify("DeepSeek: unknown subcommand " .. sub .. " (try :DeepSeek <Tab>)", vim.log.levels.ERROR)
end

local function job_ids(pred)
  local out = {}
  for i = #jobs.order, 1, -1 do
    local job = jobs.jobs[jobs.order[i]]
    if job and pred(job) then
      table.insert(out, job.id)
    end
  end
  return out
end

function M.complete(arglead, cmdline, cursorpos)
  local before = cmdline:sub(1, cursorpos)
  local args = before:match("DeepSeek!?%s+(.*)$") or ""
  local words = vim.split(args, "%s+", { trimempty = false })
  local candidates
  if #words <= 1 then
    candidates = vim.list_extend(vim.deepcopy(M.subcommands), user_actions())
  else
    local sub = words[1]:gsub("!$", "")
    if sub == "cancel" then
      candidates = job_ids(function(j)
        return not j.done
      end)
      table.insert(candidates, "all")
    elseif sub == "accept" or sub == "reject" then
      candidates = job_ids(function(j)
        return j.kind == "rewrite" and not j.done
      end)
    elseif sub == "chat" then
      candidates = CHAT_WORDS
    elseif sub == "recover" then
      candidates = vim.list_extend({ "all" }, require("deepseek_lsp.recover").last_ids)
    else
      return {}
    end
  end
  return vim.tbl_filter(function(c)
    return vim.startswith(c, arglead)
  end, candidates)
end

return M
