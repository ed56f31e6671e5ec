#!/usr/bin/env bash
# The main job on the embedded default: check the example flows and print their graphs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

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
echo "-- metaflow-lsp graph examples/train_flow.py --json (Metaflow's output-raw schema), first lines:"
metaflow-lsp graph examples/train_flow.py --json | head -20
