-- Base config for vim.lsp.enable("deepseek_lsp"); require("deepseek_lsp").setup() adds to it.
return require("deepseek_lsp").lsp_defaults()
