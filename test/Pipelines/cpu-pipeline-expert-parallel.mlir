// --moe-cpu-pipeline with ranks > 1: one rank's program, all the way to the
// LLVM dialect. The exchanges are calls into the runtime, in the pipelined
// order (chunks=2: both chunks' rows and ids leave before the first wait);
// the module records the shard.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cpu-pipeline="ranks=2 rank=1 chunks=2" | FileCheck %s
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cpu-pipeline="ranks=2 rank=1" | FileCheck %s --check-prefix=SERIAL
// RUN: not moe-opt %moe_src/examples/moe_layer.mlir --moe-cpu-pipeline="ranks=2 rank=5" 2>&1 | FileCheck %s --check-prefix=BAD
// CHECK: module attributes {{{.*}}moe.shard = {layout = {{[0-9]+}} : i64, rank = 1 : i64, ranks = 2 : i64}
// CHECK-NOT: = moe.
// CHECK-DAG: llvm.func @moe_rt_a2a_start(!llvm.ptr, i64, i64, !llvm.ptr, i64, i64, i64) -> i64
// CHECK-DAG: llvm.func @moe_rt_a2a_wait(i64) -> i64
// CHECK-DAG: llvm.func @moe_rt_a2a_take(i64, !llvm.ptr, !llvm.ptr)
// CHECK-LABEL: llvm.func @moe_block(
// CHECK-COUNT-4: llvm.call @moe_rt_a2a_start
// CHECK: llvm.call @moe_rt_a2a_wait
// CHECK: llvm.call @moe_rt_a2a_take
// CHECK: llvm.call @moe_rt_a2a_wait
// CHECK: llvm.call @moe_rt_a2a_take
// CHECK: llvm.call @moe_rt_a2a_start

// SERIAL-LABEL: llvm.func @moe_block(
// SERIAL: llvm.call @moe_rt_a2a_start
// SERIAL-NEXT: llvm.call @moe_rt_a2a_wait

// BAD: moe-expert-parallel: need ranks >= 1 and 0 <= rank < ranks, got ranks = 2, rank = 5
