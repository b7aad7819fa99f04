// RUN: moe-opt %s -split-input-file --moe-convert-asserts-to-runtime | FileCheck %s

// Each cf.assert becomes a branch to a block that hands its message to
// moe_runtime_fail (declared once) and does not return; the code after the
// check continues in its own block.
// CHECK-DAG: llvm.mlir.global internal constant @[[$MSG1:moe_check_msg_[0-9]+]]("second check\00")
// CHECK-DAG: llvm.mlir.global internal constant @[[$MSG0:moe_check_msg_[0-9]+]]("first check\00")
// CHECK: llvm.func @moe_runtime_fail(!llvm.ptr)
// CHECK-NOT: llvm.func @moe_runtime_fail
// CHECK-LABEL: func.func @check
// CHECK: cf.cond_br %arg0, ^[[OK0:bb[0-9]+]], ^[[FAIL0:bb[0-9]+]]
// CHECK: ^[[FAIL0]]:
// CHECK: %[[A0:.*]] = llvm.mlir.addressof @[[$MSG0]]
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[A0]][0, 0]
// CHECK: llvm.call @moe_runtime_fail(%[[P0]])
// CHECK-NEXT: llvm.unreachable
// CHECK: ^[[OK0]]:
// CHECK: arith.constant 1 : i32
// CHECK: cf.cond_br %arg1, ^[[OK1:bb[0-9]+]], ^[[FAIL1:bb[0-9]+]]
// CHECK: ^[[FAIL1]]:
// CHECK: llvm.mlir.addressof @[[$MSG1]]
// CHECK: llvm.unreachable
// CHECK: ^[[OK1]]:
// CHECK-NEXT: return
// CHECK-NOT: cf.assert
func.func @check(%c: i1, %d: i1) -> i32 {
  cf.assert %c, "first check"
  %x = arith.constant 1 : i32
  cf.assert %d, "second check"
  return %x : i32
}

// -----

// Without checks nothing is declared.
// CHECK-NOT: moe_runtime_fail
// CHECK-LABEL: func.func @none
func.func @none() {
  return
}
