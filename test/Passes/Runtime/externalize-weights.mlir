// RUN: moe-opt %s -split-input-file -moe-externalize-weights="threshold-bytes=0 min-bytes=64" | FileCheck %s
// RUN: moe-opt %s -split-input-file -moe-externalize-weights="threshold-bytes=100000 min-bytes=64" | FileCheck %s --check-prefix=SMALL
// RUN: moe-opt %s -split-input-file -moe-externalize-weights="threshold-bytes=-1" | FileCheck %s --check-prefix=SMALL

// Tensor constants of min-bytes or more get 64-byte aligned offsets (the
// first is 96 bytes, so the second starts at 128) and are read through the
// mapped base; the string and the small tensor stay in the library.
// CHECK: module attributes {moe.weights = {size = 192 : i64}}
// CHECK: llvm.mlir.global external hidden @moe__weights_base() {{.*}} : !llvm.ptr {
// CHECK-NEXT: llvm.mlir.zero : !llvm.ptr
// CHECK: llvm.mlir.global internal constant @msg
// CHECK-NOT: moe.weights_offset
// CHECK: llvm.mlir.global private constant @w1(dense<{{.*}}> : tensor<24xf32>) {{{.*}}moe.weights_offset = 0 : i64
// CHECK: llvm.mlir.global private constant @w2(dense<{{.*}}> : tensor<16xf32>) {{{.*}}moe.weights_offset = 128 : i64
// CHECK: llvm.mlir.global private constant @tiny(
// CHECK-NOT: moe.weights_offset
// CHECK-LABEL: llvm.func @f
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @moe__weights_base
// CHECK: %[[BASE:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[OFF:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK: llvm.getelementptr %[[BASE]][%[[OFF]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK: %[[SLOT2:.*]] = llvm.mlir.addressof @moe__weights_base
// CHECK: %[[BASE2:.*]] = llvm.load %[[SLOT2]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[OFF2:.*]] = llvm.mlir.constant(128 : i64) : i64
// CHECK: %[[W2:.*]] = llvm.getelementptr %[[BASE2]][%[[OFF2]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK: llvm.mlir.addressof @tiny
// CHECK: llvm.mlir.addressof @msg
// CHECK-NOT: llvm.mlir.addressof @w
// CHECK: llvm.return %[[W2]]

// SMALL-NOT: moe.weights
// SMALL-NOT: moe__weights_base
// SMALL: llvm.mlir.addressof @w1
module {
  llvm.mlir.global internal constant @msg("a check message that is long enough to pass min-bytes of 64 bytes\00") {addr_space = 0 : i32}
  llvm.mlir.global private constant @w1(dense<1.0> : tensor<24xf32>) {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<24 x f32>
  llvm.mlir.global private constant @w2(dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0]> : tensor<16xf32>) {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<16 x f32>
  llvm.mlir.global private constant @tiny(dense<2.0> : tensor<4xf32>) {addr_space = 0 : i32} : !llvm.array<4 x f32>
  llvm.func @f() -> !llvm.ptr {
    %0 = llvm.mlir.addressof @w1 : !llvm.ptr
    %1 = llvm.mlir.addressof @w2 : !llvm.ptr
    %2 = llvm.mlir.addressof @tiny : !llvm.ptr
    %3 = llvm.mlir.addressof @msg : !llvm.ptr
    llvm.return %1 : !llvm.ptr
  }
}

// -----

// A global that another global's initializer refers to stays (its address
// is a link-time constant there).
// CHECK-LABEL: module
// CHECK-NOT: moe.weights
// CHECK: llvm.mlir.global private constant @kept(
// CHECK-NOT: moe.weights_offset
module {
  llvm.mlir.global private constant @kept(dense<1.0> : tensor<32xf32>) {addr_space = 0 : i32} : !llvm.array<32 x f32>
  llvm.mlir.global internal constant @table() {addr_space = 0 : i32} : !llvm.ptr {
    %0 = llvm.mlir.addressof @kept : !llvm.ptr
    llvm.return %0 : !llvm.ptr
  }
  llvm.func @g() -> !llvm.ptr {
    %0 = llvm.mlir.addressof @kept : !llvm.ptr
    llvm.return %0 : !llvm.ptr
  }
}
