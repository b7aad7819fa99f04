#!/usr/bin/env bash
# Bootstraps, configures (CMake + Ninja + ccache, against Debian's shared
# LLVM/MLIR 22 libraries) and builds incrementally into build/.
# Binaries land in build/bin/. Extra arguments go to the build tool
# (e.g. `scripts/build.sh moe-opt`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh"

build="$root/build"
llvm=/usr/lib/llvm-22
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DMLIR_DIR="$llvm/lib/cmake/mlir" -DLLVM_DIR="$llvm/lib/cmake/llvm" \
    -DMOE_PYTHON="$root/.venv/bin/python" \
    -DLLVM_EXTERNAL_LIT="$root/.venv/bin/lit" >/dev/null
fi
# Two jobs: the machines have 2 cores, and MLIR translation units are large.
cmake --build "$build" -j "${MOE_JOBS:-2}" -- "$@"
