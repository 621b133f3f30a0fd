--- Options of deepseek_lsp, merged from the defaults and `setup({...})`.
local M = {}

---@class deepseek_lsp.Options
M.defaults = {
  --- The server command; nil means `deepseek-lsp` from $PATH.
  cmd = nil,
  --- Extra environment for the server (e.g. { DEEPSEEK_API_KEY = "..." }).
  cmd_env = nil,
  --- Filetypes to attach to; nil attaches to every buffer that has a file and a filetype.
  filetypes = nil,
  --- Markers of a project root (one server per root).
  root_markers = { ".git" },
  --- The `deepseek` settings section (camelCase keys: apiKey, baseUrl, model, thinking, review, actions, ...).
  settings = {},
  --- Start the server through vim.lsp.enable() on matching buffers.
  autostart = true,
  --- Extra vim.lsp.Config fields (capabilities, on_attach, ...), merged last.
  lsp = {},
  --- Buffer-local keys that exist only while a rewrite waits for review (false disables one).
  keys = {
    accept = "<LocalLeader>a",
    reject = "<LocalLeader>r",
  },
  explain = {
    --- Enter the float when it opens (`:DeepSeek! explain` / `:DeepSeek explain!` always does).
    focus = false,
    border = "rounded",
    max_width = 90,
    max_height = 20,
    --- Close the finished explanation when the cursor moves in the code window (like a hover).
    close_on_move = false,
  },
  rewrite = {
    --- Show the job's status as virtual text at the rewritten region.
    virtual_text = true,
  },
  chat = {
    --- "right", "left", "above", "below" or "tab".
    position = "right",
    --- Width (right/left) or height (above/below) of the split; < 1 is a fraction of the editor.
    size = 0.4,
    --- Keys in the chat buffer that send the message under the last "## You".
    keys = {
      send = { n = "<CR>", i = "<C-s>" },
      new = "<LocalLeader>n",
      cancel = "<C-c>",
    },
    --- Enter the chat window when it opens from `:DeepSeek chat {text}`.
    focus_on_send = false,
  },
  --- Inline completion: ghost text from the server's textDocument/inlineCompletion.
  completion = {
    --- Ask for suggestions while typing (:DeepSeekCompletion enable|disable|toggle switches it
    --- for the session; vim.b.deepseek_completion = false turns it off in one buffer).
    enabled = true,
    --- Use Neovim's own vim.lsp.inline_completion where it exists (0.12+); false: this plugin's
    --- ghost text everywhere.
    builtin = true,
    --- Insert-mode keys, buffer-local where the server offers completion (a string, a list of
    --- keys, or false). With no suggestion showing, a key does what it does unmapped (an ALT
    --- chord acts like <Esc> and the key). <Tab> is not taken.
    keymaps = {
      accept = "<M-l>",
      accept_word = { "<M-w>", "<M-Right>" },
      accept_line = "<M-j>",
      --- dismiss, then the key's own effect (<C-]> still expands abbreviations)
      dismiss = "<C-]>",
      --- ask now (the server skips its debounce; e.g. "<M-\\>")
      trigger = false,
    },
  },
  --- Show server messages and errors through vim.notify.
  notify = true,
}

M.options = vim.deepcopy(M.defaults)
M.did_setup = false

function M.set(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  -- lists are replaced, not merged
  for _, k in ipairs({ "cmd", "filetypes", "root_markers" }) do
    if opts and opts[k] ~= nil then
      M.options[k] = opts[k]
    end
  end
  -- a key list replaces the default list (not merged index by index)
  local keymaps = opts and type(opts.completion) == "table" and opts.completion.keymaps
  if type(keymaps) == "table" then
    for name, v in pairs(keymaps) do
      M.options.completion.keymaps[name] = v
    end
  end
  M.did_setup = true
  return M.options
end

return M
