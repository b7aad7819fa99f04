// RUN: moe-opt %s -split-input-file -moe-cpu-define-dot-intrinsics | FileCheck %s
// The GEMMs' dot-product declarations become functions of one intrinsic
// call (internal linkage, no C wrapper), called as before: the int8 GEMM's
// vpdpbusd, the bf16 GEMM's vdpbf16ps.

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

// CHECK-LABEL: func.func private @moe_bf16_dot
// CHECK-SAME: (%[[ACC:.*]]: vector<16xf32>, %[[A:.*]]: vector<32xbf16>, %[[B:.*]]: vector<32xbf16>) -> vector<16xf32>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"(%[[ACC]], %[[A]], %[[B]]) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
func.func private @moe_bf16_dot(vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
func.func @bf16_user(%a: vector<16xf32>, %x: vector<32xbf16>, %y: vector<32xbf16>) -> vector<16xf32> {
  %r = call @moe_bf16_dot(%a, %x, %y) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
  return %r : vector<16xf32>
}


// -----

// A module without the declaration is left as it is.
// CHECK-LABEL: func.func @plain
// CHECK-NOT: llvm.call_intrinsic
func.func @plain() {
  return
}
