--- :checkhealth deepseek_lsp
local M = {}

local function run(cmd, env, timeout)
  local ok, proc = pcall(vim.system, cmd, { env = env, text = true })
  if not ok then
    return nil, tostring(proc)
  end
  local res = proc:wait(timeout)
  if res.signal ~= 0 and res.code ~= 0 and (res.stdout or "") == "" then
    return nil, "timed out or was killed"
  end
  return res
end

local function key_source(cfg, settings)
  if type(settings.apiKey) == "string" and settings.apiKey ~= "" then
    return "settings.apiKey"
  end
  local env = cfg and cfg.cmd_env or {}
  if env.DEEPSEEK_API_KEY and env.DEEPSEEK_API_KEY ~= "" then
    return "cmd_env.DEEPSEEK_API_KEY"
  end
  local v = vim.env.DEEPSEEK_API_KEY
  if v and v ~= "" then
    return "$DEEPSEEK_API_KEY"
  end
end

function M.check()
  local health = vim.health
  local config = require("deepseek_lsp.config")
  health.start("deepseek_lsp")

  if vim.fn.has("nvim-0.11") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Neovim 0.11 or newer is needed")
  end
  if config.did_setup then
    health.ok("setup() was called")
  else
    health.warn("setup() was not called", { 'Add require("deepseek_lsp").setup() to your config' })
  end

  local cfg = vim.lsp.config["deepseek_lsp"]
  local cmd = cfg and cfg.cmd or { "deepseek-lsp" }
  if type(cmd) ~= "table" then
    health.info("cmd is a function; cannot check the server binary")
    return
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == "" then
    health.error("server not found: " .. cmd[1], {
      "Install it: pipx install deepseek-lsp (or pip install deepseek-lsp)",
      "Or point setup({ cmd = { '/path/to/deepseek-lsp' } }) at it",
    })
    return
  end
  health.ok("server found: " .. exe)

  local env = vim.deepcopy(cfg.cmd_env or {})
  local settings = config.options.settings or {}
  for key, var in pairs({ apiKey = "DEEPSEEK_API_KEY", baseUrl = "DEEPSEEK_BASE_URL", model = "DEEPSEEK_MODEL" }) do
    if type(settings[key]) == "string" and settings[key] ~= "" then
      env[var] = settings[key]
    end
  end

  local version = run(vim.list_extend(vim.deepcopy(cmd), { "--version" }), env, 10000)
  if version and version.code == 0 then
    health.ok("version: " .. vim.trim(version.stdout or ""))
  else
    health.error("`" .. table.concat(cmd, " ") .. " --version` failed: " .. vim.trim(version and (version.stderr or "") or ""))
  end

  local source = key_source(cfg, settings)
  if source then
    health.ok("API key set (" .. source .. ")")
  else
    health.error("API key not set", {
      "export DEEPSEEK_API_KEY=sk-... before starting Neovim (platform.deepseek.com → API keys)",
      "or setup({ settings = { apiKey = ... } }) (keep it out of shared dotfiles)",
    })
  end

  local res, err = run(vim.list_extend(vim.deepcopy(cmd), { "check", "--json" }), env, 20000)
  if not res then
    health.warn("`deepseek-lsp check` did not finish: " .. tostring(err))
  else
    local lines = vim.split(vim.trim(res.stdout or ""), "\n")
    local ok, report = pcall(vim.json.decode, lines[#lines] or "")
    if not ok or type(report) ~= "table" or type(report.checks) ~= "table" then
      health.error("`deepseek-lsp check --json` gave no report: " .. vim.trim((res.stderr or "") .. (res.stdout or "")))
    else
      for _, c in ipairs(report.checks) do
        if c.ok then
          health.ok(string.format("check %s: %s", c.name, c.detail))
        else
          health.error(string.format("check %s: %s", c.name, c.detail))
        end
      end
    end
  end

  local clients = vim.lsp.get_clients({ name = "deepseek_lsp" })
  if #clients == 0 then
    health.info("no deepseek_lsp client running (it starts with the first file buffer)")
  end
  for _, c in ipairs(clients) do
    local bufs = vim.tbl_count(c.attached_buffers or {})
    health.ok(string.format(
      "client %d running: root %s, position encoding %s, %d buffer%s",
      c.id,
      c.root_dir or "(none)",
      c.offset_encoding,
      bufs,
      bufs == 1 and "" or "s"
    ))
  end
  -- the recovery journal: rewrites a crashed server left half-done (asked of a running server only)
  local pending = clients[1] and require("deepseek_lsp.recover").pending_count(clients[1], 2000)
  if pending and pending > 0 then
    health.warn(
      string.format("%d interrupted rewrite%s in the recovery journal", pending, pending == 1 and "" or "s"),
      { ":DeepSeek recover puts the original code back" }
    )
  elseif pending == 0 then
    health.ok("recovery journal: no interrupted rewrites")
  end
  M.check_completion(clients)
end

--- Inline completion: on or off, how it is drawn, its keys, whether the server offers it.
function M.check_completion(clients)
  local health = vim.health
  local completion = require("deepseek_lsp.completion")
  local config = require("deepseek_lsp.config")
  health.start("deepseek_lsp: inline completion")
  local how = completion.builtin() and "drawn by vim.lsp.inline_completion (Neovim 0.12+)"
    or "drawn as ghost text by deepseek_lsp"
  if completion.is_enabled() then
    health.ok("inline completion on, " .. how)
  else
    health.info("inline completion off (:DeepSeekCompletion enable turns it on), " .. how)
  end
  local keys = {}
  for _, k in ipairs(completion.keys()) do
    table.insert(keys, string.format("%s %s", k.name, k.lhs))
  end
  health.info("insert-mode keys: " .. (#keys > 0 and table.concat(keys, ", ") or "none"))
  local settings = config.options.settings or {}
  if type(settings.completion) == "table" and settings.completion.enabled == false then
    health.warn("settings.completion.enabled is false: the server answers no suggestions", {
      ":DeepSeekCompletion enable turns it on for the session",
    })
  end
  for _, c in ipairs(clients) do
    if completion.supported(c) then
      health.ok(string.format("client %d: the server offers inline completion", c.id))
    else
      health.info(string.format("client %d: the server does not offer inline completion (update deepseek-lsp)", c.id))
    end
  end
end

return M
