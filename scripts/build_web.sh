#!/usr/bin/env bash
# Build the web view (web/, TypeScript) into server/metaflow_lsp/web/static/, which is committed:
# `pip install` alone gives a working view, and npm is needed only here. Type-checks first.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund --loglevel=error
npx tsc --noEmit -p tsconfig.json
node build.mjs
