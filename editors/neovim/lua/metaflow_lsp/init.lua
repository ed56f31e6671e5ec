-- metaflow-lsp for Neovim 0.11+: registers the server, keeps the code lenses fresh, adds the
-- :Metaflow* commands and shows what the server streams (docs/protocol.md, docs/editors.md).
local M = {}

local NAME = "metaflow_lsp"
local OUTPUT = "metaflow://output"

M.defaults = {
  cmd = { "metaflow-lsp", "serve" },
  -- The interpreter the flows run with (initialization option `python`); nil: the server finds it.
  python = nil,
  filetypes = { "python" },
  root_markers = { ".metaflow", ".git", "pyproject.toml" },
  -- Open the output buffer in a split when an execution prints its first line.
  show_output = true,
}

M.options = vim.deepcopy(M.defaults)

-- The server's last `metaflow/finished` message: its `window/showMessage` copy is dropped so the
-- user sees it once.
local last_finished = nil
-- Executions whose header has been written into the output buffer.
local started = {}

--- The metaflow-lsp client attached to `bufnr` (default: the current buffer), or nil.
function M.client(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr or 0, name = NAME })[1]
end

local function notify_error(message)
  vim.notify("metaflow-lsp: " .. message, vim.log.levels.ERROR)
end

local NOT_ATTACHED = "the server is not attached to this buffer (is it a Python file? see :checkhealth metaflow_lsp)"

--- The output buffer ("metaflow://output"), created on first use.
function M.output_buffer()
  local buf = vim.fn.bufnr(OUTPUT)
  if buf ~= -1 and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, OUTPUT)
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].filetype = "metaflow-output"
  return buf
end

local function show_output(buf)
  if vim.fn.bufwinid(buf) ~= -1 then
    return
  end
  local current = vim.api.nvim_get_current_win()
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_win_set_height(0, 12)
  vim.api.nvim_set_current_win(current)
end

local function append(buf, lines)
  local count = vim.api.nvim_buf_line_count(buf)
  local empty = count == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ""
  vim.api.nvim_buf_set_lines(buf, empty and 0 or count, -1, false, lines)
  local win = vim.fn.bufwinid(buf)
  if win ~= -1 then
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

local handlers = {}

-- One line printed by a run, spin or resume.
handlers["metaflow/output"] = function(_, params)
  local buf = M.output_buffer()
  local lines = {}
  if not started[params.execution] then
    started[params.execution] = true
    table.insert(lines, string.format("── %s · %s %s", params.execution, params.kind or "", params.flow or ""))
    if M.options.show_output then
      show_output(buf)
    end
  end
  -- A line never holds a newline in the buffer API.
  for _, line in ipairs(vim.split(params.text or "", "\n", { plain = true })) do
    table.insert(lines, line)
  end
  append(buf, lines)
end

handlers["metaflow/finished"] = function(_, params)
  last_finished = params.message
  local level = vim.log.levels.ERROR
  if params.status == "succeeded" then
    level = vim.log.levels.INFO
  elseif params.status == "cancelled" then
    level = vim.log.levels.WARN
  end
  append(M.output_buffer(), { string.format("── %s %s: %s", params.execution, params.status, params.message or "") })
  vim.notify(params.message or (params.execution .. " " .. params.status), level)
end

-- Neovim has no handler of its own for this request (nor announces it): the server sends it when
-- a run starts or ends or the watcher sees the flow's runs change.
handlers["workspace/codeLens/refresh"] = function(_, _, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    for bufnr in pairs(client.attached_buffers) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        vim.lsp.codelens.refresh({ bufnr = bufnr })
      end
    end
  end
  return vim.NIL
end

handlers["window/showMessage"] = function(err, params, ctx)
  if last_finished ~= nil and params.message == last_finished then
    last_finished = nil
    return vim.NIL
  end
  return vim.lsp.handlers["window/showMessage"](err, params, ctx)
end

handlers["window/showDocument"] = function(err, params, ctx)
  if params.external then
    local _, open_err = vim.ui.open(params.uri)
    if open_err then
      return { success = false }
    end
    return { success = true }
  end
  return vim.lsp.handlers["window/showDocument"](err, params, ctx)
end

--- Send `workspace/executeCommand` with the one object argument the server's commands take.
function M.execute(command, argument, on_result, bufnr)
  local client = M.client(bufnr)
  if client == nil then
    notify_error(NOT_ATTACHED)
    return
  end
  client:request("workspace/executeCommand", { command = command, arguments = { argument } }, function(err, result)
    if err then
      notify_error(err.message)
      return
    end
    if on_result then
      on_result(result, client)
    end
  end, bufnr or vim.api.nvim_get_current_buf())
end

local function save_if_modified()
  if vim.bo.modified then
    vim.cmd("silent update")
  end
end

--- :MetaflowRun: run the flow the current file runs under `__main__`.
function M.run()
  save_if_modified()
  M.execute("metaflow.run", { uri = vim.uri_from_bufnr(0) })
end

--- :MetaflowSpin: spin the step under the cursor (persisted).
function M.spin()
  local client = M.client()
  if client == nil then
    return notify_error(NOT_ATTACHED)
  end
  local uri = vim.uri_from_bufnr(0)
  local position = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  save_if_modified()
  M.execute("metaflow.stepAt", { uri = uri, position = position }, function(at)
    if at == nil or at == vim.NIL or at.step == nil or at.step == vim.NIL then
      notify_error("put the cursor inside a step of a flow to spin it")
      return
    end
    M.execute("metaflow.spin", { uri = uri, flow = at.flow, step = at.step })
  end)
end

--- :MetaflowView [pathspec]: open the web view (the flow under the cursor without a pathspec).
function M.view(pathspec)
  local function open(argument)
    argument.show = false
    M.execute("metaflow.openView", argument, function(result)
      if result and result.url then
        vim.ui.open(result.url)
      end
    end)
  end
  if pathspec and pathspec ~= "" then
    return open({ pathspec = pathspec })
  end
  local client = M.client()
  if client == nil then
    return open({})
  end
  local position = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  M.execute("metaflow.stepAt", { uri = vim.uri_from_bufnr(0), position = position }, function(at)
    if at ~= nil and at ~= vim.NIL and type(at.flow) == "string" then
      open({ pathspec = at.flow })
    else
      open({})
    end
  end)
end

--- :MetaflowCancel[!]: stop the runs of this file (with !: every execution).
function M.cancel(all)
  local argument = all and vim.empty_dict() or { uri = vim.uri_from_bufnr(0) }
  M.execute("metaflow.cancel", argument, function(result)
    local cancelled = result and result.cancelled or {}
    if #cancelled == 0 then
      vim.notify("metaflow-lsp: nothing to stop")
    else
      vim.notify("metaflow-lsp: stopped " .. table.concat(cancelled, ", "))
    end
  end)
end

--- Refresh the lenses of `bufnr` when metaflow-lsp is attached to it.
function M.refresh_lenses(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if M.client(bufnr) ~= nil then
    vim.lsp.codelens.refresh({ bufnr = bufnr })
  end
end

--- The `vim.lsp.config` table for the options.
function M.config(options)
  local init_options = vim.empty_dict()
  if options.python then
    init_options = { python = options.python }
  end
  return {
    cmd = options.cmd,
    filetypes = options.filetypes,
    root_markers = options.root_markers,
    init_options = init_options,
    capabilities = { workspace = { codeLens = { refreshSupport = true } } },
    handlers = handlers,
  }
end

--- Register and enable the server: `require("metaflow_lsp").setup({cmd = {...}, python = "..."})`.
function M.setup(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  vim.lsp.config(NAME, M.config(M.options))
  vim.lsp.enable(NAME)

  local group = vim.api.nvim_create_augroup("metaflow_lsp", { clear = true })
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == NAME then
        M.refresh_lenses(args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "BufEnter", "InsertLeave" }, {
    group = group,
    callback = function(args)
      M.refresh_lenses(args.buf)
    end,
  })
end

return M
