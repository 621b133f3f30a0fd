--- Finding our LSP client, starting it on demand, and running the server's commands.
local util = require("deepseek_lsp.util")

local M = {}

M.name = "deepseek_lsp"

---@return vim.lsp.Client?
function M.get(bufnr)
  if bufnr then
    local attached = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
    if attached[1] then
      return attached[1]
    end
  end
  return vim.lsp.get_clients({ name = M.name })[1]
end

function M.ready(client, bufnr)
  return client and client.initialized and (not bufnr or client.attached_buffers[bufnr]) and true or false
end

function M.supports(client, command)
  local provider = client and client.server_capabilities and client.server_capabilities.executeCommandProvider
  local commands = type(provider) == "table" and provider.commands or {}
  return vim.list_contains(commands, command)
end

--- The resolved client config (rtp lsp/deepseek_lsp.lua merged with setup()).
local function config()
  return vim.lsp.config[M.name]
end

--- Run fn(client) once a client is running and (if bufnr is given) attached to bufnr: starts one
--- if needed, for buffers that vim.lsp.enable() skipped (no filetype) or when autostart is off.
---@param bufnr integer?
---@param fn fun(client: vim.lsp.Client)
function M.with_client(bufnr, fn)
  if bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  local client = M.get(bufnr)
  if M.ready(client, bufnr) then
    return fn(client)
  end
  if bufnr and vim.bo[bufnr].buftype ~= "" then
    bufnr = nil -- scratch buffers (chat) never attach; any running client will do
    client = M.get(nil)
    if M.ready(client, nil) then
      return fn(client)
    end
  end
  local cfg = config()
  if not cfg or not cfg.cmd then
    util.notify("deepseek_lsp: not set up; call require('deepseek_lsp').setup()", vim.log.levels.ERROR)
    return
  end
  local target = bufnr or vim.api.nvim_get_current_buf()
  local id = vim.lsp.start(vim.deepcopy(cfg), {
    bufnr = target,
    attach = bufnr ~= nil,
    _root_markers = cfg.root_markers,
  })
  if not id then
    util.notify("deepseek_lsp: could not start " .. table.concat(cfg.cmd, " "), vim.log.levels.ERROR)
    return
  end
  local deadline = vim.uv.now() + 15000
  local function poll()
    local c = vim.lsp.get_client_by_id(id)
    if not c then
      util.notify("deepseek_lsp: the server exited while starting; see :checkhealth deepseek_lsp", vim.log.levels.ERROR)
      return
    end
    if M.ready(c, bufnr) then
      return fn(c)
    end
    if vim.uv.now() > deadline then
      util.notify("deepseek_lsp: the server did not start within 15 s", vim.log.levels.ERROR)
      return
    end
    vim.defer_fn(poll, 20)
  end
  poll()
end

--- workspace/executeCommand with our one-object argument; cb(result) on success. Errors are
--- notified once.
function M.execute(client, command, arg, bufnr, cb)
  if not M.supports(client, command) then
    util.notify(
      string.format("deepseek-lsp %s does not offer %s yet; update it", client.server_info and client.server_info.version or "", command),
      vim.log.levels.WARN
    )
    return
  end
  if type(arg) == "table" and next(arg) == nil then
    arg = vim.empty_dict() -- an object, never []
  end
  client:request("workspace/executeCommand", { command = command, arguments = { arg } }, function(err, result)
    if err then
      util.notify(string.format("DeepSeek: %s failed: %s", command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    if cb then
      cb(result)
    end
  end, bufnr)
end

return M
