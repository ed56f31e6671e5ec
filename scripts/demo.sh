#!/usr/bin/env bash
# The main job on the embedded default (the local datastore): check the example flows and print
# their graphs, make a real run of one, then show its run history and an artifact preview.
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
