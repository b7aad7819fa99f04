#!/usr/bin/env bash
# The main job on the embedded default (the CPU): build, compile the bundled
# ONNX MoE model (examples/mixtral_moe.onnx, one com.microsoft.MoE block) to a
# shared library, run it with moe-run on random inputs, and print the output
# summary, its agreement with onnxruntime, and its latency.
#   TOKENS=N   tokens to run (default 16)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
bin="$root/build/bin"
py="$root/.venv/bin/python"
model="$root/examples/mixtral_moe.onnx"
tokens=${TOKENS:-16}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== model: $model"
"$bin/moe-opt" "$model" | grep -E "moe.layer" | sed 's/^ */   /'
echo
echo "== compile: moe-opt --moe-cpu-pipeline --emit=shared"
"$bin/moe-opt" "$model" --moe-cpu-pipeline --emit=shared -o "$work/model.so"
"$bin/moe-opt" "$model" --moe-cpu-pipeline --emit=header -o "$work/model.h"
echo "   $(wc -c < "$work/model.so") bytes, entry points: $(nm -D "$work/model.so" | awk '/ T moe_model/ {print $3}' | xargs)"
echo
echo "== run: moe-run on $tokens tokens"
"$py" "$root/test/Tools/Inputs/make_inputs.py" "$work" "x=$tokens,32" "logits=$tokens,8"
"$bin/moe-run" "$work/model.so" --input "$work/x.npy" --input "$work/logits.npy"
"$bin/moe-run" "$work/model.so" --input "$work/x.npy" --input "$work/logits.npy" \
  --output "$work/y.npy"
echo -n "   vs onnxruntime: "
"$py" "$root/test/Tools/Inputs/compare_npy.py" "$model" "$work/y.npy" \
  "$work/x.npy" "$work/logits.npy"
echo
echo "== latency: moe-run --benchmark 50"
"$bin/moe-run" "$work/model.so" --input "$work/x.npy" --input "$work/logits.npy" \
  --benchmark 50 | sed 's/^/   /'
