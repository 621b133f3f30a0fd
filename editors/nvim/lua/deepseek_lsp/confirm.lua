--- Before a large request: ask the server what it would send (`dryRun`), and ask the user.
---
--- A selection too small to come near `confirmAboveTokens` goes out at once with no extra round
--- trip; a larger one is measured by the server (the exact request, nothing sent), and only a
--- request over the threshold shows its estimated tokens and cost and waits for "Send".
local client_mod = require("deepseek_lsp.client")
local config = require("deepseek_lsp.config")
local util = require("deepseek_lsp.util")

local M = {}

M.DEFAULT_TOKENS = 8000
-- Code takes 3 to 4 bytes per token: under 2 bytes a token, a selection cannot reach the
-- threshold by itself (the context the server adds is bounded by its own budget).
M.BYTES_PER_TOKEN = 2

--- The setting, as the server gets it (0: never ask).
function M.threshold()
  local t = (config.options.settings or {}).confirmAboveTokens
  return type(t) == "number" and t or M.DEFAULT_TOKENS
end

--- Bytes between two (row, byte column) positions of bufnr, without reading the text.
function M.span_bytes(bufnr, s)
  local ok1, a = pcall(vim.api.nvim_buf_get_offset, bufnr, s[1])
  local ok2, b = pcall(vim.api.nvim_buf_get_offset, bufnr, s[3])
  if not (ok1 and ok2) then
    return 0
  end
  return (b + s[4]) - (a + s[2])
end

--- Whether a span may be large enough to ask about (cheap, local).
function M.worth_asking(bufnr, s)
  local t = M.threshold()
  if t <= 0 then
    return false
  end
  return M.span_bytes(bufnr, s) >= M.BYTES_PER_TOKEN * t
end

--- The question shown before a large request.
function M.question(what, answer)
  local cost = answer.estimatedCost
  local price
  if type(cost) == "table" then
    local rate = (cost.rate == "peak" or cost.rate == "off-peak") and (" at the " .. cost.rate .. " rate") or ""
    price = string.format("about %s for the prompt, at most %s with the reply%s", util.fmt_cost(cost.prompt), util.fmt_cost(cost.total), rate)
  else
    price = "cost unknown (no price for this model)"
  end
  return string.format(
    "DeepSeek %s: a large request, about %s prompt tokens to %s (you are asked above %s tokens: confirmAboveTokens); %s. Send it?",
    what,
    util.fmt_tokens(answer.promptTokens),
    tostring(answer.model),
    util.fmt_tokens(answer.confirmAboveTokens or M.threshold()),
    price
  )
end

M.SEND, M.CANCEL = "Send", "Cancel"

--- Run `proceed()` now, or after the user agreed to a large request. `arg` is the command's
--- argument as it will be sent; `s` the span {row1, col1, row2, col2} in bufnr.
function M.guard(client, command, arg, bufnr, s, what, proceed)
  if not M.worth_asking(bufnr, s) then
    return proceed()
  end
  local dry = vim.tbl_extend("force", arg, { dryRun = true })
  client_mod.execute(client, command, dry, bufnr, function(answer)
    if type(answer) ~= "table" or answer.dryRun ~= true then
      return -- a server without dryRun ran the request itself; do not send it twice
    end
    if answer.error or not answer.confirm then
      return proceed() -- small enough, or refused by the server in its own words when sent
    end
    vim.ui.select({ M.SEND, M.CANCEL }, { prompt = M.question(what, answer) }, function(choice)
      if choice == M.SEND then
        proceed()
      else
        util.notify("DeepSeek: not sent", vim.log.levels.INFO)
      end
    end)
  end)
end

return M
