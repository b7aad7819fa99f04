#!/usr/bin/env bash
# Builds moe-opt, moe-run, the runtime and the fuzzers with clang +
# AddressSanitizer + UndefinedBehaviorSanitizer into build-sanitize/, runs
# every importer, raising, dialect, pass and tool lit test and the
# end-to-end reliability tests on that build (all error paths included),
# then fuzzes the importer from a seed corpus of the test models,
# and the whole path (import, CPU pipeline, library, run) with the
# structure-aware moe-model-fuzzer from the example and exported models.
#   FUZZ_SECONDS=N        importer fuzzing time (default 60; 0 skips fuzzing)
#   MODEL_FUZZ_SECONDS=N  model fuzzing time (default FUZZ_SECONDS)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh"

build="$root/build-sanitize"
llvm=/usr/lib/llvm-22
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DMOE_SANITIZE=address,undefined -DMOE_FUZZ=ON \
    -DMLIR_DIR="$llvm/lib/cmake/mlir" -DLLVM_DIR="$llvm/lib/cmake/llvm" \
    -DMOE_PYTHON="$root/.venv/bin/python" \
    -DLLVM_EXTERNAL_LIT="$root/.venv/bin/lit" >/dev/null
fi
cmake --build "$build" -j "${MOE_JOBS:-2}" -- moe-opt moe-run moe-emu-image moe_runtime \
  moe-import-fuzzer moe-model-fuzzer moe-docs

# Our instrumented code and the uninstrumented libMLIR share LLVM's bump
# allocators, whose inline code poisons new slabs only when instrumented:
# memory poisoned by our side and handed out by libMLIR's would be reported
# (use-after-poison in MLIR's own uniquing). Manual poisoning is turned off.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_odr_violation=0:allow_user_poisoning=0
# LeakSanitizer cannot stop the thread pool's workers in this sandbox (its
# ptrace-based tracer faults); models run on one thread here.
export MOE_NUM_THREADS=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The end-to-end reliability tests (threads, fork, failed and out-of-memory
# calls, NaN tokens, run-time shape checks, large graphs) and the quantized
# experts run their models with the instrumented runtime: in moe-run, or in
# Python drivers that get the sanitizer runtime preloaded (test/lit.cfg.py).
e2e='thread-safety|fork|unload|failed-calls-memory|nan-tokens|runtime-shape-checks'
e2e+='|dispatch-bad-ids|broadcast-mismatch|large-graph|qmoe-cpu'
"$root/.venv/bin/lit" -sv "$build/test" \
  --filter "^moe :: ((Import|Passes|Dialect|Tools)/|e2e/($e2e)\\.test)"

seconds=${FUZZ_SECONDS:-60}
[ "$seconds" -gt 0 ] || exit 0
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
models="$corpus/models"
"$root/.venv/bin/python" "$root/test/Import/Inputs/make_models.py" "$models" >/dev/null
mkdir -p "$corpus/seeds"
# The fuzzer's first byte selects the format: even = binary, odd = text.
for f in "$models"/*.onnx; do
  { printf '\0'; cat "$f"; } > "$corpus/seeds/$(basename "$f")"
done
find "$root/test" -name '*.onnxtxt' | while read -r f; do
  { printf '\1'; cat "$f"; } > "$corpus/seeds/$(basename "$f")"
done
echo "fuzzing the importer for ${seconds}s from $(ls "$corpus/seeds" | wc -l) seeds"
"$build/bin/moe-import-fuzzer" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=4096 -print_final_stats=1 "$corpus/seeds" 2>&1 | tail -15

# The model fuzzer's inputs are binary models; its mutator keeps them valid
# protobuf. Seeds: the example, small transformers exports, the text test
# models (tools, importer, raising: MoE and QMoE) converted to binary.
model_seconds=${MODEL_FUZZ_SECONDS:-$seconds}
[ "$model_seconds" -gt 0 ] || exit 0
mkdir -p "$corpus/models-seeds"
cp "$root/examples/mixtral_moe.onnx" "$corpus/models-seeds/"
for f in "$root"/test/e2e/Inputs/hf/{mixtral,qwen3_moe,olmoe}.ts_eager.onnx \
         "$root"/test/e2e/Inputs/hf/mixtral_lm.hf.onnx; do
  cp "$f" "$corpus/models-seeds/"
done
find "$root/test/Tools/Inputs" "$root/test/Import" "$root/test/Passes/Raise" -name '*.onnxtxt' \
  -exec "$root/.venv/bin/python" -c '
import os, sys, onnx
from onnx import parser
for path in sys.argv[2:]:
    try:
        m = parser.parse_model(open(path).read())
    except Exception:
        continue
    onnx.save(m, os.path.join(sys.argv[1], os.path.basename(path) + ".onnx"))
' "$corpus/models-seeds" {} +
# Sizes from random inputs can be huge: the runtime reports a failed malloc
# (MOE_ERROR_OUT_OF_MEMORY), which ASan would otherwise turn into an abort.
export ASAN_OPTIONS=$ASAN_OPTIONS:allocator_may_return_null=1
echo "fuzzing import + CPU pipeline + run for ${model_seconds}s from" \
  "$(ls "$corpus/models-seeds" | wc -l) seeds"
"$build/bin/moe-model-fuzzer" -max_total_time="$model_seconds" -timeout=60 \
  -rss_limit_mb=6144 -print_final_stats=1 -artifact_prefix="$build/" \
  "$corpus/models-seeds" 2>&1 | tail -15
