--- Keeping the user's code: `:DeepSeek recover` (the server's recovery journal, `deepseek.recover`),
--- the original shown in a scratch buffer when a rewrite could not put it back, and the warnings of
--- a rewrite that waits for review because of them.
local client_mod = require("deepseek_lsp.client")
local util = require("deepseek_lsp.util")

local M = {}

--- ids of the last listing, for completion of `:DeepSeek recover {id}`
M.last_ids = {} ---@type string[]
--- the last results of a recover run (for tests and scripts)
M.last_results = nil ---@type table[]?

local LEVEL = {
  restored = vim.log.levels.INFO,
  unchanged = vim.log.levels.INFO,
  pending = vim.log.levels.INFO,
  conflict = vim.log.levels.WARN,
  failed = vim.log.levels.ERROR,
}

local DEFAULT_MESSAGE = {
  pending = "not recovered yet.",
  restored = "the original code is back.",
  unchanged = "the buffer already holds the original code.",
  conflict = "the code there was edited since, so the original was not put back automatically.",
  failed = "the original code could not be put back.",
}

local function present(v)
  return v ~= nil and v ~= vim.NIL
end

--- "src/geo.py" for a file URI (relative to the cwd when inside it).
local function rel(uri)
  if type(uri) ~= "string" then
    return "?"
  end
  local ok, fname = pcall(vim.uri_to_fname, uri)
  if not ok then
    return uri
  end
  return vim.fn.fnamemodify(fname, ":~:.")
end

--- "src/geo.py:4": the file and the 1-based line where the region starts.
function M.where(uri, range)
  local line = type(range) == "table" and type(range.start) == "table" and range.start.line
  return rel(uri) .. (type(line) == "number" and (":" .. (line + 1)) or "")
end

local function short_title(title)
  title = type(title) == "string" and title or "DeepSeek rewrite"
  local short = title:gsub("^DeepSeek:%s*", "")
  return short ~= "" and short or title
end

--- An ISO 8601 time ("2025-05-06T14:03:09.123+00:00") in local time: "2025-05-06 16:03".
function M.format_started(iso)
  if type(iso) ~= "string" then
    return "unknown time"
  end
  local y, mo, d, h, mi, s, rest = iso:match("^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)%.?%d*(.*)$")
  if not y then
    return iso
  end
  local offset = 0 -- of the given time, in seconds east of UTC
  local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
  if sign then
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  elseif rest ~= "Z" and rest ~= "" then
    return iso
  elseif rest == "" then
    return string.format("%s-%s-%s %s:%s", y, mo, d, h, mi) -- no zone: as written
  end
  -- os.time reads a table as local time; the difference to UTC gives the epoch of the UTC fields
  local as_local = os.time({ year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h), min = tonumber(mi), sec = tonumber(s) })
  local now = os.time()
  local local_offset = os.difftime(now, os.time(os.date("!*t", now) --[[@as osdateparam]]))
  local epoch = as_local + local_offset - offset
  return os.date("%Y-%m-%d %H:%M", epoch) --[[@as string]]
end

--- One line of the picker: "src/geo.py:4  Add docstring  (started 2025-05-06 16:03)".
function M.format_entry(e)
  return string.format("%s  %s  (started %s)", M.where(e.uri, e.range), short_title(e.title), M.format_started(e.startedAt))
end

--- The loaded buffer's text in an LSP range (nil: not loaded), "\r" dropped.
local function range_text(bufnr, range, enc)
  if not bufnr or not vim.api.nvim_buf_is_loaded(bufnr) or type(range) ~= "table" then
    return nil
  end
  local srow, scol = util.to_pos(bufnr, range.start, enc)
  local erow, ecol = util.to_pos(bufnr, range["end"], enc)
  if erow < srow or (erow == srow and ecol < scol) then
    return nil
  end
  local ok, lines = pcall(vim.api.nvim_buf_get_text, bufnr, srow, scol, erow, ecol, {})
  if not ok then
    return nil
  end
  return (table.concat(lines, "\n"):gsub("\r", ""))
end

local function find_buf(name)
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(b) == name then
      return b
    end
  end
end

local function text_lines(text)
  local lines = vim.split((text:gsub("\r\n", "\n")), "\n", { plain = true })
  if #lines > 1 and lines[#lines] == "" then
    table.remove(lines) -- a final newline is not a line
  end
  return lines
end

--- A scratch buffer "deepseek://original/<file>" holding `text`, in the source's filetype, shown
--- in a split below (focus stays where it is unless `enter`). Returns the buffer and its name.
---@param uri string?
---@param text string
---@param line integer?  0-based line of the region, to tell apart two originals of one file
---@param enter boolean?
function M.show_original(uri, text, line, enter)
  local fname = type(uri) == "string" and select(2, pcall(vim.uri_to_fname, uri)) or nil
  fname = type(fname) == "string" and fname or "unknown"
  local base = "deepseek://original/" .. vim.fn.fnamemodify(fname, ":~:.")
  local lines = text_lines(text)
  local name, buf = base, find_buf(base)
  if buf and not vim.deep_equal(vim.api.nvim_buf_get_lines(buf, 0, -1, false), lines) then
    name = base .. ":" .. ((line or 0) + 1) -- another original of the same file: keep both
    buf = find_buf(name)
  end
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    buf = vim.api.nvim_create_buf(true, true) -- listed (:ls shows it), scratch: never written
    vim.api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  local source = util.loaded_buf(uri)
  local ft = source and vim.bo[source].filetype or vim.filetype.match({ filename = fname, contents = lines })
  if ft and ft ~= "" then
    vim.bo[buf].filetype = ft
  end
  vim.bo[buf].modified = false
  if vim.fn.bufwinid(buf) == -1 then
    vim.api.nvim_open_win(buf, enter and true or false, { split = "below", height = math.max(3, math.min(#lines + 1, 15)) })
  elseif enter then
    vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
  end
  return buf, name
end

--- Tell the user how one recover result went (once), the original in a scratch buffer if needed.
local function report(e)
  local where = M.where(e.uri, e.range)
  local text = (present(e.message) and e.message ~= "") and e.message or DEFAULT_MESSAGE[e.status] or tostring(e.status)
  local file = vim.fs.basename(where:gsub(":%d+$", ""))
  local msg
  if text:find(file, 1, true) then
    msg = "DeepSeek recover: " .. text -- the server's message names the place already
  else
    msg = string.format("DeepSeek recover: %s (%s): %s", where, short_title(e.title), text)
  end
  if (e.status == "conflict" or e.status == "failed") and type(e.original) == "string" then
    local line = type(e.range) == "table" and type(e.range.start) == "table" and e.range.start.line or nil
    local buf, name = M.show_original(e.uri, e.original, line)
    msg = string.format("%s The original code is in buffer %s (:buffer %d): copy it back by hand.", msg, name, buf)
  end
  util.notify(msg, LEVEL[e.status] or vim.log.levels.ERROR)
end

local function recover(client, ids, bufnr)
  client_mod.execute(client, "deepseek.recover", { ids = ids }, bufnr, function(result)
    local entries = type(result) == "table" and type(result.entries) == "table" and result.entries or {}
    M.last_results = entries
    if #entries == 0 then
      util.notify("DeepSeek recover: nothing was recovered (the entries are gone)", vim.log.levels.WARN)
    end
    for _, e in ipairs(entries) do
      report(e)
    end
  end)
end

--- Pick ids: "all", ids given on the command line, or one entry (or all) from vim.ui.select.
local function choose(entries, rest, cb)
  if rest == "all" then
    return cb(vim.tbl_map(function(e)
      return e.id
    end, entries))
  end
  if rest ~= "" then
    return cb(vim.split(rest, "%s+", { trimempty = true }))
  end
  local items = vim.list_extend({}, entries)
  if #entries > 1 then
    table.insert(items, 1, { all = true })
  end
  vim.ui.select(items, {
    prompt = "Put the original code back:",
    kind = "deepseek_recover",
    format_item = function(item)
      return item.all and string.format("All %d interrupted rewrites", #entries) or M.format_entry(item)
    end,
  }, function(item)
    if not item then
      return
    end
    if item.all then
      return cb(vim.tbl_map(function(e)
        return e.id
      end, entries))
    end
    cb({ item.id })
  end)
end

--- :DeepSeek recover [all|id ...]: list the server's recovery journal (rewrites a crash left
--- half-done), pick, put the originals back, report each result.
function M.run(rest)
  rest = rest or ""
  local bufnr = vim.api.nvim_get_current_buf()
  local target = vim.bo[bufnr].buftype == "" and bufnr or nil
  client_mod.with_client(target, function(client)
    client_mod.execute(client, "deepseek.recover", { dryRun = true }, target, function(result)
      local entries = type(result) == "table" and type(result.entries) == "table" and result.entries or {}
      M.last_ids = vim.tbl_map(function(e)
        return e.id
      end, entries)
      if #entries == 0 then
        util.notify("DeepSeek: no interrupted rewrites to recover", vim.log.levels.INFO)
        return
      end
      choose(entries, rest, function(ids)
        if #ids > 0 then
          recover(client, ids, target)
        end
      end)
    end)
  end)
end

-- a rewrite's final notification -------------------------------------------------------------------

--- The server's failure message, fit for one notification: without the original code it quotes
--- (the scratch buffer holds it) and without a leading "DeepSeek:".
function M.failure_text(message, original)
  local t = vim.trim(message or ""):gsub("^DeepSeek:%s*", "")
  local quoted = #original > 2000 and original:sub(1, 2000) or original -- the server quotes 2,000 characters
  if vim.trim(quoted) ~= "" and t:find(quoted, 1, true) then
    t = table.concat(vim.split(t, quoted, { plain = true }), " ")
    t = t:gsub("%s*…", " ", 1):gsub("%s*Your original code was:%s*", " ")
  end
  return vim.trim((t:gsub("%s+", " ")))
end

--- A rewrite ended carrying `original` (restore_failed, document_changed, ...): when the buffer
--- does not hold it, show it in a scratch buffer and say so, once (the server's own showMessage
--- about the same failure is then not repeated).
function M.on_rewrite_done(job, label)
  if type(job.original) ~= "string" or job.original_shown then
    return
  end
  local client = vim.lsp.get_client_by_id(job.client_id)
  local enc = client and client.offset_encoding or "utf-16"
  local bufnr = job.bufnr or util.loaded_buf(job.uri)
  local range = job.range or (job.opts and job.opts.range)
  local now = range_text(bufnr, range, enc)
  if now ~= nil and now == job.original:gsub("\r", "") then
    return -- it is back after all
  end
  job.original_shown = true
  local buf, name = M.show_original(job.uri, job.original, type(range) == "table" and range.start and range.start.line)
  local why = type(job.error) == "table" and present(job.error.message) and job.error.message or ""
  local text = M.failure_text(why, job.original)
  util.notify(
    string.format(
      "DeepSeek %s: %s The original code of %s is in buffer %s (:buffer %d): copy it back by hand.",
      label or "rewrite",
      text ~= "" and text or "the original code could not be put back.",
      M.where(job.uri, range),
      name,
      buf
    ),
    vim.log.levels.ERROR
  )
  util.cover(why) -- after ours: the server's "DeepSeek rewrite failed: <why>" is not shown again
end

--- `deepseek.reject` answered `rejected: false` with the original (a finished rewrite whose
--- original could not be verified back): the scratch buffer, unless the job's end showed it.
function M.on_reject_failed(job, original)
  if job.original_shown then
    return
  end
  job.original, job.original_shown = original, true
  local range = job.range or (job.opts and job.opts.range)
  local buf, name = M.show_original(job.uri, original, type(range) == "table" and range.start and range.start.line)
  -- the server's own error (with the reason) came before this answer: only the way back is new
  util.notify(
    string.format("DeepSeek: the original code of %s is in buffer %s (:buffer %d): copy it back by hand.", M.where(job.uri, range), name, buf),
    vim.log.levels.ERROR
  )
end

--- A rewrite waits for review because of `warnings` (syntax errors the original did not have):
--- say so once, as a warning.
function M.on_review_warnings(job, label)
  if type(job.warnings) ~= "table" or #job.warnings == 0 or job.warned then
    return
  end
  job.warned = true
  local texts = vim.tbl_filter(function(w)
    return type(w) == "string"
  end, job.warnings)
  util.notify(
    string.format(
      "DeepSeek %s: check %s before you accept it: %s (:DeepSeek accept / :DeepSeek reject)",
      label or "rewrite",
      M.where(job.uri, job.range or (job.opts and job.opts.range)),
      table.concat(texts, "; ")
    ),
    vim.log.levels.WARN
  )
end

--- For :checkhealth: the number of journal entries a running client's server reports, or nil.
function M.pending_count(client, timeout)
  if not client_mod.supports(client, "deepseek.recover") then
    return nil
  end
  local res = client:request_sync(
    "workspace/executeCommand",
    { command = "deepseek.recover", arguments = { { dryRun = true } } },
    timeout or 2000
  )
  if not res or res.err or type(res.result) ~= "table" or type(res.result.entries) ~= "table" then
    return nil
  end
  return #res.result.entries
end

return M
