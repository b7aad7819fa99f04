// RUN: moe-opt %s -split-input-file -moe-cpu-define-int8-dot | FileCheck %s
// The int8 GEMM's VNNI declaration becomes a function of one vpdpbusd
// (internal linkage, no C wrapper), called as before.

// CHECK-LABEL: func.func private @moe_int8_dot_vnni
// CHECK-SAME: (%[[ACC:.*]]: vector<16xi32>, %[[W:.*]]: vector<64xi8>, %[[X:.*]]: vector<64xi8>) -> vector<16xi32>
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[ACC]], %[[W]], %[[X]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK: return %[[R]]
// CHECK-LABEL: func.func @user
// CHECK: call @moe_int8_dot_vnni
func.func private @moe_int8_dot_vnni(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32> attributes {llvm.emit_c_interface}
func.func @user(%a: vector<16xi32>, %w: vector<64xi8>, %x: vector<64xi8>) -> vector<16xi32> {
  %r = call @moe_int8_dot_vnni(%a, %w, %x) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
  return %r : vector<16xi32>
}

// -----

// A module without the declaration is left as it is.
// CHECK-LABEL: func.func @plain
// CHECK-NOT: llvm.call_intrinsic
func.func @plain() {
  return
}
