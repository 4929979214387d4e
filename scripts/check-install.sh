#!/usr/bin/env bash
# Installs probescale the way a user's project does: `npm pack`, then `npm install <tarball>` in a fresh project
# that has no copy of our .npmrc, then the README's library example and the CLI in plain node (no tsx).
# Needs the npm registry (or a warm npm cache: --prefer-offline). Not part of `npm test` (tests use no network).
# Usage: scripts/check-install.sh [work dir]   (default: a new temp dir, removed afterwards)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$(mktemp -d -t probescale-install-XXXXXX)}
[ -n "${1:-}" ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/pack" "$WORK/consumer"
echo "packing $ROOT -> $WORK/pack"
(cd "$ROOT" && npm pack --silent --pack-destination "$WORK/pack" >/dev/null)
TGZ=$(ls "$WORK"/pack/probescale-*.tgz)
echo "tarball: $(du -h "$TGZ" | cut -f1) $TGZ"
cd "$WORK/consumer"
npm init -y >/dev/null
# onnxruntime-node's postinstall would fetch CUDA providers from api.nuget.org on linux/x64; the CPU runtime
# probescale uses is inside the npm package, so the consumer skips that download (see README "Installing").
ONNXRUNTIME_NODE_INSTALL=skip npm install --prefer-offline --no-audit --no-fund "$TGZ"
EXAMPLE=$(awk '/^## Library/{f=1} f&&/^```js/{g=1;next} g&&/^```/{exit} g' "$ROOT/README.md")
printf '%s\n' "$EXAMPLE" | sed "s#'models/stories260K/#'node_modules/probescale/models/stories260K/#g" > example.mjs
echo "running the README library example with plain node"
node example.mjs
echo "running the CLI from node_modules/.bin"
npx --no probescale info --model node_modules/probescale/models/stories260K/stories260K.bin
echo "install check passed"
