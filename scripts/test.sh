#!/usr/bin/env bash
# Install everything, then run every check: ruff (lint + format), mypy, and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
export PATH="$PWD/.venv/bin:$PATH"
export USERNAME="${USERNAME:-metaflow-lsp-ci}"

ruff check server tests benchmarks scripts
ruff format --check server tests benchmarks scripts
mypy
pytest -q -p no:cacheprovider "$@"
