if vim.g.loaded_deepseek_lsp then
  return
end
vim.g.loaded_deepseek_lsp = 1

if vim.fn.has("nvim-0.11") == 0 then
  vim.notify_once("deepseek_lsp needs Neovim 0.11 or newer", vim.log.levels.ERROR)
  return
end

vim.api.nvim_create_user_command("DeepSeek", function(o)
  require("deepseek_lsp.commands").run(o)
end, {
  nargs = "*",
  range = true,
  bang = true,
  desc = "DeepSeek: explain, refactor, fix, docstring, tests, chat, cancel, accept, reject, status, sessions, recover",
  complete = function(arglead, cmdline, cursorpos)
    return require("deepseek_lsp.commands").complete(arglead, cmdline, cursorpos)
  end,
})

vim.api.nvim_create_user_command("DeepSeekCompletion", function(o)
  require("deepseek_lsp.completion").command(o)
end, {
  nargs = "?",
  desc = "DeepSeek inline completion: enable, disable, toggle, status",
  complete = function(arglead)
    return vim.tbl_filter(function(c)
      return vim.startswith(c, arglead)
    end, { "enable", "disable", "toggle", "status" })
  end,
})

-- inline completion (ghost text) in the buffers a deepseek_lsp client attaches to
vim.api.nvim_create_autocmd("LspAttach", {
  group = vim.api.nvim_create_augroup("deepseek_lsp.completion", {}),
  callback = function(ev)
    local client = ev.data and vim.lsp.get_client_by_id(ev.data.client_id)
    if client and client.name == "deepseek_lsp" then
      require("deepseek_lsp.completion").attach(client, ev.buf)
    end
  end,
})

require("deepseek_lsp.util").define_highlights()
vim.api.nvim_create_autocmd("ColorScheme", {
  group = vim.api.nvim_create_augroup("deepseek_lsp.highlights", {}),
  callback = function()
    require("deepseek_lsp.util").define_highlights()
  end,
})
