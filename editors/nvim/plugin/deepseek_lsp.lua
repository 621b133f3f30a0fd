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

require("deepseek_lsp.util").define_highlights()
vim.api.nvim_create_autocmd("ColorScheme", {
  group = vim.api.nvim_create_augroup("deepseek_lsp.highlights", {}),
  callback = function()
    require("deepseek_lsp.util").define_highlights()
  end,
})
