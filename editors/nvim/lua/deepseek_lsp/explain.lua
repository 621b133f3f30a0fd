--- Explain: a floating window beside the code that fills as the explanation streams.
local client_mod = require("deepseek_lsp.client")
local config = require("deepseek_lsp.config")
local jobs = require("deepseek_lsp.jobs")
local transcript = require("deepseek_lsp.transcript")
local util = require("deepseek_lsp.util")

local M = {}

local floats = {} ---@type table<string, table>  job key -> {buf, win, t, src_win, job}
local current ---@type table?

--- Run deepseek.explain on a range of bufnr.
---@param opts {win?: integer, focus?: boolean}
function M.run(client, bufnr, range, opts)
  local uri = vim.uri_from_bufnr(bufnr)
  client_mod.execute(client, "deepseek.explain", { uri = uri, range = range }, bufnr, function(result)
    if result and result.jobId then
      jobs.ensure(client.id, result.jobId, {
        kind = "explain",
        uri = uri,
        opts = { win = opts.win, focus = opts.focus, range = range, bufnr = bufnr },
      })
    end
  end)
end

local function valid_win(win)
  return win and vim.api.nvim_win_is_valid(win)
end

function M.close(f)
  f = f or current
  if not f then
    return
  end
  if valid_win(f.win) then
    pcall(vim.api.nvim_win_close, f.win, true)
  end
  floats[f.job.key] = nil
  if current == f then
    current = nil
  end
end

local function source_window(job)
  local win = job.opts.win
  local bufnr = job.opts.bufnr or job.bufnr
  if valid_win(win) and (not bufnr or vim.api.nvim_win_get_buf(win) == bufnr) then
    return win
  end
  if bufnr then
    local found = vim.fn.bufwinid(bufnr)
    if found ~= -1 then
      return found
    end
  end
  return vim.api.nvim_get_current_win()
end

local function title(job)
  local states = { streaming = "…", done = "", cancelled = " (cancelled)", failed = " (failed)" }
  return { { " DeepSeek: explain" .. (states[job.state] or "") .. " ", "FloatTitle" } }
end

local function footer(job)
  local parts = { "q close" }
  local u = job.usage
  if u and u ~= vim.NIL then
    table.insert(parts, util.fmt_usage_tokens(u))
    table.insert(parts, util.fmt_rated_cost(u))
  end
  return { { " " .. table.concat(parts, " · ") .. " ", "FloatFooter" } }
end

local function resize(f)
  if not valid_win(f.win) then
    return
  end
  local cfg = config.options.explain
  local ok, h = pcall(vim.api.nvim_win_text_height, f.win, {})
  local total = ok and h.all or vim.api.nvim_buf_line_count(f.buf)
  local height = math.max(1, math.min(cfg.max_height, total))
  vim.api.nvim_win_set_config(f.win, { height = height, title = title(f.job), title_pos = "left", footer = footer(f.job), footer_pos = "right" })
  if vim.api.nvim_get_current_win() ~= f.win then
    -- follow the stream unless the user is reading inside the float; all of it when it fits
    if total <= height then
      vim.api.nvim_win_call(f.win, function()
        vim.fn.winrestview({ topline = 1, lnum = 1, col = 0 })
      end)
    else
      pcall(vim.api.nvim_win_set_cursor, f.win, { vim.api.nvim_buf_line_count(f.buf), 0 })
    end
  end
end

function M.on_start(job)
  M.close() -- one explanation float at a time; the job keeps running (hover shows it later)
  local cfg = config.options.explain
  local src = source_window(job)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = "markdown"
  pcall(vim.treesitter.start, buf, "markdown")
  local t = transcript.new(buf, { placeholder = "_Waiting for DeepSeek…_" })
  vim.bo[buf].modifiable = false

  local range = job.opts.range or job.range
  local width = math.max(20, math.min(cfg.max_width, vim.api.nvim_win_get_width(src) - 4))
  local win_cfg = {
    width = width,
    height = 1,
    style = "minimal",
    border = cfg.border,
    title = title(job),
    title_pos = "left",
    footer = footer(job),
    footer_pos = "right",
    zindex = 45,
  }
  local row = range and range["end"].line or nil
  if row and vim.api.nvim_win_get_buf(src) == (job.opts.bufnr or job.bufnr) then
    win_cfg.relative, win_cfg.win, win_cfg.bufpos, win_cfg.row, win_cfg.col = "win", src, { row, 0 }, 1, 0
  else
    win_cfg.relative, win_cfg.row, win_cfg.col = "editor", 1, math.max(0, vim.o.columns - width - 2)
  end
  local focus = job.opts.focus or cfg.focus or false
  local win = vim.api.nvim_open_win(buf, focus, win_cfg)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.wo[win].conceallevel = 2
  vim.wo[win].concealcursor = "n"
  transcript.window_setup(win)

  local f = { buf = buf, win = win, t = t, src_win = src, job = job }
  floats[job.key] = f
  current = f
  vim.keymap.set("n", "q", function()
    M.close(f)
  end, { buffer = buf, nowait = true, desc = "Close the DeepSeek explanation" })
  vim.api.nvim_create_autocmd("WinClosed", {
    pattern = tostring(win),
    once = true,
    callback = function()
      floats[job.key] = nil
      if current == f then
        current = nil
      end
    end,
  })
  resize(f)
end

function M.on_stream(job, params)
  local f = floats[job.key]
  if not f or not vim.api.nvim_buf_is_valid(f.buf) then
    return
  end
  if params.reasoning and params.reasoning ~= vim.NIL then
    f.t:reasoning(params.reasoning)
  end
  if params.content and params.content ~= vim.NIL then
    f.t:content(params.content)
  end
  resize(f)
end

function M.on_done(job)
  local f = floats[job.key]
  if not f or not vim.api.nvim_buf_is_valid(f.buf) then
    return
  end
  f.t:finish()
  if job.state == "cancelled" then
    f.t:note("_(cancelled)_")
  elseif job.state == "failed" then
    local err = job.error or {}
    f.t:note("**Error:** " .. (err.message or err.code or "failed"))
  elseif #job.content == 0 then
    f.t:note("_(no answer)_")
  end
  resize(f)
  if config.options.explain.close_on_move and valid_win(f.src_win) then
    local src_buf = vim.api.nvim_win_get_buf(f.src_win)
    vim.api.nvim_create_autocmd({ "CursorMoved", "InsertEnter", "BufLeave" }, {
      buffer = src_buf,
      once = true,
      callback = function()
        if vim.api.nvim_get_current_win() ~= f.win then
          M.close(f)
        end
      end,
    })
  end
end

--- Move into the float (to scroll, yank, open the reasoning fold).
function M.focus()
  if current and valid_win(current.win) then
    vim.api.nvim_set_current_win(current.win)
    return true
  end
  return false
end

--- The float on screen: {buf, win, job} or nil.
function M.current()
  if current and valid_win(current.win) then
    return current
  end
end

jobs.ui.explain = M
return M
