#!/usr/bin/env bash
# code-server (VS Code OSS in a browser, from the npm registry) for the extension's end-to-end test,
# tests/editors/test_code_server.py. Its native modules are built here from source: only the package
# registries are reachable, so no prebuilt download works. Does nothing when the lock file is the
# one installed. Debian 12, Node 20 (code-server 4.100 requires exactly 20), as root.
set -euo pipefail
cd "$(dirname "$0")"
if cmp -s package-lock.json node_modules/.installed-lock.json; then
  exit 0
fi
need=()
for pkg in build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

rm -rf node_modules
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null

# @vscode/ripgrep's install script downloads rg from GitHub unless
# $TMPDIR/vscode-ripgrep-cache-<version>/ripgrep-<tag>-<target>.tar.gz exists: give it Debian's rg.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(node -p 'require("./node_modules/code-server/lib/vscode/npm-shrinkwrap.json").packages["node_modules/@vscode/ripgrep"].version')
npm pack "@vscode/ripgrep@$version" --pack-destination "$tmp" --silent >/dev/null
tar xzf "$tmp"/vscode-ripgrep-*.tgz -C "$tmp" package/lib/postinstall.js
tag=$(sed -n "s/^const VERSION = '\(.*\)';/\1/p" "$tmp/package/lib/postinstall.js")
case "$(uname -m)" in
  x86_64) target=x86_64-unknown-linux-musl ;;
  aarch64) target=aarch64-unknown-linux-musl ;;
  *) echo "no ripgrep target for $(uname -m)" >&2; exit 1 ;;
esac
mkdir -p "$tmp/vscode-ripgrep-cache-$version" "$tmp/rg"
cp "$(command -v rg)" "$tmp/rg/rg"
tar czf "$tmp/vscode-ripgrep-cache-$version/ripgrep-$tag-$target.tar.gz" -C "$tmp/rg" rg

# code-server's own install script installs VS Code's dependencies and builds their native modules.
TMPDIR="$tmp" npm_config_unsafe_perm=true npm_config_yes=true \
  npm rebuild code-server argon2 --no-audit --no-fund --loglevel=error >"$tmp/install.log" 2>&1 \
  || { tail -n 40 "$tmp/install.log" >&2; exit 1; }
node_modules/.bin/code-server --version >/dev/null
cp package-lock.json node_modules/.installed-lock.json
