-- The :Metaflow* commands; the server itself starts after require("metaflow_lsp").setup().
if vim.g.loaded_metaflow_lsp then
  return
end
vim.g.loaded_metaflow_lsp = true

local function mf()
  return require("metaflow_lsp")
end

vim.api.nvim_create_user_command("MetaflowRun", function()
  mf().run()
end, { desc = "Run the flow of this file (metaflow.run)" })

vim.api.nvim_create_user_command("MetaflowSpin", function()
  mf().spin()
end, { desc = "Spin the step under the cursor (metaflow.spin)" })

vim.api.nvim_create_user_command("MetaflowView", function(args)
  mf().view(args.args)
end, { nargs = "?", desc = "Open the Metaflow view in the browser [pathspec]" })

vim.api.nvim_create_user_command("MetaflowCancel", function(args)
  mf().cancel(args.bang)
end, { bang = true, desc = "Stop the runs of this file (!: every run)" })

vim.api.nvim_create_user_command("MetaflowOutput", function()
  vim.cmd("botright sbuffer " .. mf().output_buffer())
end, { desc = "Show the Metaflow output buffer" })
