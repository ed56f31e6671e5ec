#!/usr/bin/env bash
# Install everything metaflow-lsp needs into ./.venv (idempotent). Debian 12 / Python 3.11, as root.
# `--tests` adds what only the tests use (code-server for the VS Code extension's end-to-end test).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv/ensurepip separately.
    rm -rf .venv
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-dev >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Debian's Chromium for the web view's tests (driven by Playwright from the test extra; no browser
# download: never `playwright install`).
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The VS Code extension's build and test tools (editors/vscode): installed again only when its
# lock file changed.
if ! command -v npm >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if ! cmp -s editors/vscode/package-lock.json editors/vscode/node_modules/.installed-lock.json; then
  (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error >/dev/null \
    && cp package-lock.json node_modules/.installed-lock.json)
fi
# code-server (VS Code OSS in a browser) for the extension's end-to-end test (`--tests` only);
# builds its native modules once (about a minute), then does nothing until its lock file changes.
if [ "${1:-}" = "--tests" ]; then
  bash editors/vscode/e2e/install.sh
fi
