// --moe-cuda-pipeline with ranks > 1: kernels for the local experts (the
// receiver's row groups padded to the 64-row GEMM tile), exchanges as host
// calls into the runtime between launches, in the pipelined order.
// REQUIRES: ptxas
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=90 toolkit=%cuda_root ranks=2 rank=0 chunks=2" | FileCheck %s
// CHECK: module attributes {{{.*}}moe.shard = {layout = {{[0-9]+}} : i64, rank = 0 : i64, ranks = 2 : i64}
// CHECK-LABEL: llvm.func @moe_block(
// CHECK: gpu.launch_func
// CHECK-COUNT-2: llvm.call @moe_rt_a2a_start
// CHECK: gpu.launch_func
// CHECK-COUNT-2: llvm.call @moe_rt_a2a_start
// CHECK: llvm.call @moe_rt_a2a_wait
// CHECK: llvm.call @moe_rt_a2a_take
// CHECK: llvm.call @moe_rt_a2a_wait
// CHECK: llvm.call @moe_rt_a2a_take
// CHECK: gpu.launch_func
// CHECK: llvm.call @moe_rt_a2a_start
// CHECK: gpu.binary
