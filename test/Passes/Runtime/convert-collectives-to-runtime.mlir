// RUN: moe-opt %s -moe-convert-collectives-to-runtime -split-input-file -verify-diagnostics | FileCheck %s

// A blocking exchange: start + wait. The start hands the runtime the input
// rows (row bytes 64 * 4), the counts, and the shard (ranks 2, rank 1,
// layout 1234); the wait returns the rows received, for which the output
// buffer is allocated and filled by take.
// CHECK-DAG: llvm.func @moe_rt_a2a_take(i64, !llvm.ptr, !llvm.ptr)
// CHECK-DAG: llvm.func @moe_rt_a2a_wait(i64) -> i64
// CHECK-DAG: llvm.func @moe_rt_a2a_start(!llvm.ptr, i64, i64, !llvm.ptr, i64, i64, i64) -> i64
// CHECK-LABEL: func.func @blocking
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[C:.*]]: tensor<2xi32>)
// CHECK-DAG: %[[LAYOUT:.*]] = arith.constant 1234 : i64
// CHECK-DAG: %[[RANK:.*]] = arith.constant 1 : i64
// CHECK-DAG: %[[RANKS:.*]] = arith.constant 2 : i64
// CHECK-DAG: %[[ROWBYTES:.*]] = arith.constant 256 : i64
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<?x64xf32> to memref<?x64xf32>
// CHECK: %[[XI:.*]] = memref.extract_aligned_pointer_as_index %[[XB]]
// CHECK: %[[XP:.*]] = llvm.inttoptr
// CHECK: %[[CB:.*]] = bufferization.to_buffer %[[C]] read_only : tensor<2xi32> to memref<2xi32>
// CHECK: %[[CP:.*]] = llvm.inttoptr
// CHECK: %[[ROWS:.*]] = tensor.dim %[[X]]
// CHECK: %[[ROWS64:.*]] = arith.index_cast %[[ROWS]] : index to i64
// CHECK: %[[H:.*]] = llvm.call @moe_rt_a2a_start(%[[XP]], %[[ROWS64]], %[[ROWBYTES]], %[[CP]], %[[RANKS]], %[[RANK]], %[[LAYOUT]])
// CHECK: %[[N:.*]] = llvm.call @moe_rt_a2a_wait(%[[H]]) : (i64) -> i64
// CHECK: %[[NI:.*]] = arith.index_cast %[[N]] : i64 to index
// CHECK: %[[OUT:.*]] = memref.alloc(%[[NI]]) {alignment = 64 : i64} : memref<?x64xf32>
// CHECK: %[[RC:.*]] = memref.alloc() : memref<2xi32>
// CHECK: llvm.call @moe_rt_a2a_take(%[[H]], %{{.*}}, %{{.*}})
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: %[[TC:.*]] = bufferization.to_tensor %[[RC]] restrict writable
// CHECK: return %[[T]], %[[TC]]
module attributes {moe.shard = {layout = 1234 : i64, rank = 1 : i64, ranks = 2 : i64}} {
  func.func @blocking(%x: tensor<?x64xf32>, %c: tensor<2xi32>) -> (tensor<?x64xf32>, tensor<2xi32>) {
    %o, %r = moe.all_to_all %x, %c ranks = 2
        : (tensor<?x64xf32>, tensor<2xi32>) -> (tensor<?x64xf32>, tensor<2xi32>)
    return %o, %r : tensor<?x64xf32>, tensor<2xi32>
  }
}

// -----

// Started and waited for apart; i32 rows of width 1 (4 bytes); without a
// recorded shard the runtime checks nothing (rank -1, layout 0). Work
// between the start and the wait stays between the calls.
// CHECK-LABEL: func.func @async
// CHECK-DAG: %[[NONE:.*]] = arith.constant -1 : i64
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK-DAG: %[[FOUR:.*]] = arith.constant 4 : i64
// CHECK-DAG: %[[THREE:.*]] = arith.constant 3 : i64
// CHECK: %[[H:.*]] = llvm.call @moe_rt_a2a_start(%{{.*}}, %{{.*}}, %[[FOUR]], %{{.*}}, %[[THREE]], %[[NONE]], %[[ZERO]])
// CHECK: arith.addf
// CHECK: llvm.call @moe_rt_a2a_wait(%[[H]])
// CHECK: memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x1xi32>
func.func @async(%ids: tensor<5x1xi32>, %c: tensor<3xi32>, %a: f32) -> (tensor<?x1xi32>, f32) {
  %h = moe.all_to_all_start %ids, %c ranks = 3
      : (tensor<5x1xi32>, tensor<3xi32>) -> !moe.a2a_handle<3, tensor<?x1xi32>>
  %s = arith.addf %a, %a : f32
  %o, %r = moe.all_to_all_wait %h
      : !moe.a2a_handle<3, tensor<?x1xi32>> -> (tensor<?x1xi32>, tensor<3xi32>)
  return %o, %s : tensor<?x1xi32>, f32
}

// -----

// A handle that does not come straight from a start in the same region.
func.func @foreign_handle(%h: !moe.a2a_handle<2, tensor<?x8xf32>>) -> tensor<?x8xf32> {
  // expected-error @+1 {{cannot lower this exchange to the runtime}}
  %o, %r = moe.all_to_all_wait %h
      : !moe.a2a_handle<2, tensor<?x8xf32>> -> (tensor<?x8xf32>, tensor<2xi32>)
  return %o : tensor<?x8xf32>
}
