-- :checkhealth metaflow_lsp
local M = {}

function M.check()
  vim.health.start("metaflow-lsp")
  if vim.fn.has("nvim-0.11") == 1 then
    vim.health.ok("Neovim " .. tostring(vim.version()))
  else
    vim.health.error("Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)")
  end
  local options = require("metaflow_lsp").options
  local exe = options.cmd[1]
  if vim.fn.executable(exe) == 1 then
    vim.health.ok("server: " .. vim.fn.exepath(exe))
  else
    vim.health.error(exe .. " is not executable", { "pip install metaflow-lsp, or setup({cmd = {'/path/to/metaflow-lsp', 'serve'}})" })
  end
  if options.python and vim.fn.executable(options.python) ~= 1 then
    vim.health.warn("python " .. options.python .. " is not executable: runs and previews will fail")
  end
  local clients = vim.lsp.get_clients({ name = "metaflow_lsp" })
  vim.health.info(#clients .. " metaflow_lsp client(s) running")
end

return M
