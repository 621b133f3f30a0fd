--- deepseek_lsp: DeepSeek in Neovim through the deepseek-lsp language server.
---
---   require("deepseek_lsp").setup({ settings = { model = "deepseek-chat" } })
---
--- See :help deepseek_lsp.
local config = require("deepseek_lsp.config")
local jobs = require("deepseek_lsp.jobs")
local util = require("deepseek_lsp.util")

local M = {}

M.name = "deepseek_lsp"

local LEVELS = {
  [1] = vim.log.levels.ERROR,
  [2] = vim.log.levels.WARN,
  [3] = vim.log.levels.INFO,
  [4] = vim.log.levels.DEBUG,
}

local function show_message(_, params)
  if type(params) == "table" and params.message then
    util.notify(params.message, LEVELS[params.type] or vim.log.levels.INFO)
  end
  return vim.NIL
end

--- Client-side handlers of the server's commands: code actions (vim.lsp.buf.code_action())
--- run through here, so their jobs get the same UI as :DeepSeek.
local command_handler
function command_handler(kind)
  return function(command, ctx)
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    local arg = command.arguments and command.arguments[1]
    if not client or type(arg) ~= "table" then
      return
    end
    local bufnr = ctx.bufnr
    local win = vim.api.nvim_get_current_win()
    if kind == "rewrite" and arg.action == "refactor" and not arg.instruction and not command.asked then
      -- the Refactor code action: ask how, as the server suggests clients do (empty: DeepSeek decides)
      vim.ui.input({ prompt = "Refactor how? (empty: DeepSeek decides) " }, function(text)
        if text == nil then
          return -- <Esc>: no refactor
        end
        local again = vim.deepcopy(command)
        again.asked = true
        again.arguments[1].instruction = text ~= "" and text or nil
        command_handler(kind)(again, ctx)
      end)
      return
    end
    local function send()
      require("deepseek_lsp.client").execute(client, command.command, arg, bufnr, function(result)
        if result and result.jobId then
          local job = jobs.ensure(client.id, result.jobId, {
            kind = kind,
            uri = arg.uri,
            opts = { bufnr = bufnr, win = win, range = arg.range, action = arg.action, instruction = arg.instruction },
          })
          if kind == "rewrite" then
            require("deepseek_lsp.rewrite").on_start(job)
          end
        end
      end)
    end
    local r = arg.range
    if type(r) ~= "table" or type(r.start) ~= "table" or type(r["end"]) ~= "table" then
      return send()
    end
    -- a large selection asks first, as :DeepSeek does (positions as bytes: close enough to size it)
    local s = { r.start.line, r.start.character, r["end"].line, r["end"].character }
    require("deepseek_lsp.confirm").guard(client, command.command, arg, bufnr, s, arg.action or kind, send)
  end
end

--- The parts of the LSP config that make the plugin work (also used by lsp/deepseek_lsp.lua).
function M.lsp_defaults()
  require("deepseek_lsp.explain")
  require("deepseek_lsp.rewrite")
  require("deepseek_lsp.chat")
  return {
    cmd = { "deepseek-lsp" },
    -- merged into Neovim's own capabilities: this client renders deepseek/stream (explain float,
    -- rewrite marks, chat buffer), so the server sends it (docs/protocol.md, Initialization)
    -- textDocument.inlineCompletion: this client shows ghost text (completion.lua; Neovim 0.12+
    -- announces it itself)
    capabilities = {
      experimental = { deepseek = { stream = true } },
      textDocument = { inlineCompletion = { dynamicRegistration = false } },
    },
    handlers = {
      ["deepseek/stream"] = jobs.on_stream,
      ["workspace/applyEdit"] = require("deepseek_lsp.rewrite").apply_edit,
      ["window/showMessage"] = show_message,
    },
    on_exit = function(_, _, client_id)
      vim.schedule(function()
        jobs.client_exited(client_id)
      end)
    end,
    commands = {
      ["deepseek.explain"] = command_handler("explain"),
      ["deepseek.rewrite"] = command_handler("rewrite"),
    },
  }
end

---@param opts deepseek_lsp.Options?
function M.setup(opts)
  local o = config.set(opts)
  util.define_highlights()
  local cfg = M.lsp_defaults()
  cfg.cmd = o.cmd or cfg.cmd
  cfg.cmd_env = o.cmd_env
  cfg.filetypes = o.filetypes
  cfg.root_markers = o.root_markers
  if next(o.settings) ~= nil then
    cfg.init_options = o.settings
    cfg.settings = { deepseek = o.settings }
  end
  cfg = vim.tbl_deep_extend("force", cfg, o.lsp or {})
  vim.lsp.config(M.name, cfg)
  if o.autostart then
    vim.lsp.enable(M.name)
    if vim.v.vim_did_enter == 0 then
      -- setup() from `-c` or a late startup script: buffers loaded already had their FileType
      -- event, which vim.lsp.enable() only replays after VimEnter
      vim.api.nvim_create_autocmd("VimEnter", {
        once = true,
        callback = function()
          vim.schedule(M.attach_existing)
        end,
      })
    end
  end
  return M
end

--- Start/attach the server on loaded file buffers that have none (vim.lsp.enable's own rules).
function M.attach_existing()
  local o = config.options
  local cfg = vim.lsp.config[M.name]
  if not cfg then
    return
  end
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    local ft = vim.bo[b].filetype
    if
      vim.api.nvim_buf_is_loaded(b)
      and vim.bo[b].buftype == ""
      and ft ~= ""
      and (not o.filetypes or vim.list_contains(o.filetypes, ft))
      and #vim.lsp.get_clients({ bufnr = b, name = M.name }) == 0
    then
      vim.lsp.start(vim.deepcopy(cfg), { bufnr = b, _root_markers = cfg.root_markers })
    end
  end
end

--- Cancel a job (the one the commands found, or by table).
function M.cancel(job)
  local client = job and vim.lsp.get_client_by_id(job.client_id)
  if not client then
    return
  end
  require("deepseek_lsp.client").execute(client, "deepseek.cancel", { jobId = job.id }, job.bufnr)
end

--- A statusline component: running jobs, tokens, cache-hit share, cost. "" before any client runs.
---   vim.o.statusline = "%f %= %{v:lua.require'deepseek_lsp'.status()}"
function M.status()
  local running = #jobs.running()
  local t = jobs.totals
  local clients = #vim.lsp.get_clients({ name = M.name })
  if running == 0 and t.requests == 0 then
    return clients > 0 and "DeepSeek" or ""
  end
  local parts = { "DeepSeek" }
  if running > 0 then
    table.insert(parts, string.format("%d job%s", running, running == 1 and "" or "s"))
  end
  if t.requests > 0 then
    local approx = (t.estimated or 0) > 0 and "~" or "" -- some counts are estimates
    table.insert(parts, approx .. util.fmt_tokens(t.prompt + t.completion) .. " tok")
    if t.prompt > 0 and (t.estimated or 0) < t.requests then
      table.insert(parts, string.format("%d%% cached", math.floor(100 * t.hit / t.prompt + 0.5)))
    end
    if (t.unpriced or 0) < t.requests then -- no cost at all when no request had a price
      table.insert(parts, util.fmt_cost(t.cost))
    end
  end
  return table.concat(parts, " · ")
end

--- :DeepSeek status: what the server says about itself.
function M.show_status()
  require("deepseek_lsp.client").with_client(vim.api.nvim_get_current_buf(), function(client)
    require("deepseek_lsp.client").execute(client, "deepseek.status", vim.empty_dict(), nil, function(s)
      if not s then
        return
      end
      local u = s.usage or {}
      local lines = {
        string.format("deepseek-lsp %s", client.server_info and client.server_info.version or "?"),
        string.format("model: %s  ·  base URL: %s  ·  API key: %s", s.model, s.baseUrl, s.apiKeySet and "set" or "NOT SET"),
        string.format("running jobs: %d", #(s.jobs or {})),
        string.format(
          "usage: %d requests%s · %s prompt (%s cached) · %s completion · %s",
          u.requests or 0,
          (u.estimatedRequests or 0) > 0 and string.format(" (%d with estimated tokens)", u.estimatedRequests) or "",
          util.fmt_tokens(u.promptTokens),
          util.fmt_tokens(u.promptCacheHitTokens),
          util.fmt_tokens(u.completionTokens),
          util.fmt_session_cost(u)
        ),
      }
      for _, j in ipairs(s.jobs or {}) do
        table.insert(lines, string.format("  %s %s %s %.1fs", j.jobId, j.kind, j.state, j.elapsed or 0))
      end
      M.last_status = s
      vim.notify(table.concat(lines, "\n"), vim.log.levels.INFO, { title = "DeepSeek" })
    end)
  end)
end

-- Lua API for mappings: require("deepseek_lsp").explain() etc. act on the cursor line, or pass
-- the command opts ({range=2, line1=, line2=}).
for _, name in ipairs({ "explain", "refactor", "fix", "docstring", "tests", "accept", "reject", "sessions", "recover" }) do
  M[name] = function(o)
    o = o or {}
    o.args = name .. " " .. (o.args or "")
    require("deepseek_lsp.commands").run(o)
  end
end

function M.chat(text)
  require("deepseek_lsp.commands").run({ args = "chat " .. (text or "") })
end

return M
