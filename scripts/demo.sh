#!/usr/bin/env bash
# The main job on the embedded default: build, then compile the bundled MoE
# example through the passes that exist today (moe.layer -> route, dispatch,
# grouped expert GEMMs, activation, combine) and print the result.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
example="$root/examples/moe_layer.mlir"
echo "== input: $example"
grep -v '^//' "$example"
echo
echo "== moe-opt --moe-decompose"
"$root/build/bin/moe-opt" "$example" --moe-decompose
