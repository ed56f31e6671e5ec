#!/usr/bin/env bash
# The main job on the embedded default (the local datastore): check the example flows and print
# their graphs, make a real run of one, show its run history and an artifact preview, drive the
# language server as an editor would, build the VS Code extension, then serve the web view of
# that run (kept open on a terminal; otherwise fetched once and stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export USERNAME="${USERNAME:-${USER:-demo}}"

echo "== metaflow-lsp $(metaflow-lsp --version | awk '{print $NF}'): the example flows as the editor sees them"
for flow in examples/*_flow.py; do
  echo
  echo "-- metaflow-lsp check $flow"
  metaflow-lsp check "$flow" 2>&1 || true
  if [ "$(basename "$flow")" != broken_flow.py ]; then
    echo "-- metaflow-lsp graph $flow"
    metaflow-lsp graph "$flow"
  fi
done

echo
echo "== a real run of examples/train_flow.py on the local datastore (examples/.metaflow)"
(cd examples && python train_flow.py --quiet run --learning_rates 0.05,0.2,0.6)

echo
echo "-- metaflow-lsp runs TrainFlow --dir examples"
metaflow-lsp runs TrainFlow --dir examples --limit 5
run=$(metaflow-lsp runs TrainFlow --dir examples --limit 1 --json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["pathspec"])')
echo
echo "-- metaflow-lsp show $run --dir examples"
metaflow-lsp show "$run" --dir examples
task=$(metaflow-lsp show "$run" --dir examples --json | python -c '
import json, sys
steps = json.load(sys.stdin)["steps"]
print(next(t["pathspec"] for s in steps if s["step"] == "choose" for t in s["tasks"]))')
echo
echo "-- what a hover on self.losses shows: metaflow-lsp show $task --value losses --value best_lr --dir examples"
metaflow-lsp show "$task" --dir examples --value losses --value best_lr --tail 0

echo
echo "== as an editor would: the language server runs examples/train_flow.py (▶ Run flow), then spins its report step (⟳ Spin)"
python scripts/editor_demo.py --dir examples

echo
echo "== the editor setup: VS Code / Cursor and Neovim (docs/editors.md)"
(cd editors/vscode && npm run --silent package >/dev/null)
echo "built editors/vscode/metaflow-lsp.vsix: install it with"
echo "  code --install-extension $PWD/editors/vscode/metaflow-lsp.vsix   (or: cursor --install-extension …)"
echo "and set \"metaflow.server.command\": \"$PWD/.venv/bin/metaflow-lsp\" (or put it on PATH);"
echo "Neovim >= 0.11: add $PWD/editors/neovim to 'runtimepath', then require(\"metaflow_lsp\").setup({cmd = {\"$PWD/.venv/bin/metaflow-lsp\", \"serve\"}})"
echo "any other LSP client: run \`metaflow-lsp serve\` (stdio) for Python files — docs/editors.md, docs/protocol.md"

echo
echo "== the web view of $run (DAG, timeline, tasks): metaflow-lsp view $run --dir examples"
if [ -t 1 ]; then
  exec metaflow-lsp view "$run" --dir examples --no-browser
fi
log=$(mktemp)
jar=$(mktemp)
metaflow-lsp view "$run" --dir examples --no-browser >"$log" 2>/dev/null &
view_pid=$!
trap 'kill "$view_pid" 2>/dev/null || true; rm -f "$log" "$jar"' EXIT
for _ in $(seq 300); do grep -q 'http://' "$log" && break; sleep 0.1; done
url=$(sed -n 's/^metaflow-lsp view: //p' "$log")
base=${url%%/\?*}
page=$(curl -fsS -c "$jar" -b "$jar" -L "${url%%#*}")
grep -q 'static/app.js' <<<"$page"
curl -fsS -b "$jar" -H 'Content-Type: application/json' -d "{\"pathspec\": \"$run\", \"tasks\": \"rows\"}" \
  "$base/api/metaflow/run" | python -c '
import json, sys
answer = json.load(sys.stdin)["result"]
run, steps = answer["run"], answer["steps"]
tasks = sum(s["task_count"] for s in steps)
print("the view answers:", run["pathspec"], run["status"], len(steps), "steps,", tasks, "tasks")'
echo "view: $url"
echo "(served once and stopped, as this is not a terminal; run scripts/demo.sh in a terminal to keep it open)"
