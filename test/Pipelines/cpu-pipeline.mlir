// --moe-cpu-pipeline takes moe (and onnx) IR all the way to the LLVM
// dialect, with a C interface wrapper for each function.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cpu-pipeline | FileCheck %s
// CHECK-NOT: = moe.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// Failed run-time checks call the runtime instead of aborting.
// CHECK: llvm.func @moe_runtime_fail(!llvm.ptr)
// CHECK: llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)
// CHECK: llvm.func @moe_block(
// CHECK: llvm.func @_mlir_ciface_moe_block(
// CHECK-SAME: !llvm.ptr
// Each loop nest is a function of its own (moe-cpu-outline-loop-nests).
// CHECK: llvm.func internal @moe_block_loops(
// CHECK-SAME: passthrough = ["noinline"]
// CHECK: llvm.intr.exp
