// RUN: moe-opt %s -split-input-file --moe-gpu-device-constants | FileCheck %s

// Host reads of a constant tensor global go through the runtime's device
// copy (16 bytes: 4 x f32); the string global of a check message does not.
// CHECK: llvm.func @moe_cuda_constant(!llvm.ptr, i64) -> !llvm.ptr
// CHECK-LABEL: llvm.func @host
// CHECK: %[[ADDR:.*]] = llvm.mlir.addressof @weights : !llvm.ptr
// CHECK: %[[SIZE:.*]] = llvm.mlir.constant(16 : i64) : i64
// CHECK: %[[DEV:.*]] = llvm.call @moe_cuda_constant(%[[ADDR]], %[[SIZE]])
// CHECK: llvm.getelementptr %[[DEV]][0, 0]
// CHECK: %[[MSG:.*]] = llvm.mlir.addressof @message : !llvm.ptr
// CHECK-NOT: llvm.call @moe_cuda_constant
// CHECK: llvm.call @use(%[[MSG]])
module {
  llvm.mlir.global private constant @weights(dense<1.0> : tensor<4xf32>) {alignment = 64 : i64} : !llvm.array<4 x f32>
  llvm.mlir.global internal constant @message("bad id\00") : !llvm.array<7 x i8>
  llvm.func @use(!llvm.ptr)
  llvm.func @host() -> !llvm.ptr {
    %0 = llvm.mlir.addressof @weights : !llvm.ptr
    %1 = llvm.getelementptr %0[0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<4 x f32>
    %2 = llvm.mlir.addressof @message : !llvm.ptr
    llvm.call @use(%2) : (!llvm.ptr) -> ()
    llvm.return %1 : !llvm.ptr
  }
}

// -----

// A 0-d tensor constant becomes a scalar global, which kernels read too
// (the CUDA emulator caught one read from host memory): it gets a device
// copy as well (4 bytes).
// CHECK-LABEL: llvm.func @scalar
// CHECK: %[[ADDR:.*]] = llvm.mlir.addressof @neg_inf : !llvm.ptr
// CHECK: %[[SIZE:.*]] = llvm.mlir.constant(4 : i64) : i64
// CHECK: %[[DEV:.*]] = llvm.call @moe_cuda_constant(%[[ADDR]], %[[SIZE]])
// CHECK: llvm.return %[[DEV]]
module {
  llvm.mlir.global private constant @neg_inf(0xFF800000 : f32) {alignment = 64 : i64} : f32
  llvm.func @scalar() -> !llvm.ptr {
    %0 = llvm.mlir.addressof @neg_inf : !llvm.ptr
    llvm.return %0 : !llvm.ptr
  }
}

// -----

// An address that only reaches host loads (through a memref descriptor and
// a GEP: shape arithmetic kept on the host) reads the host's copy; the
// device copy is device memory. One that also reaches a call (a kernel's
// arguments) goes through the device copy.
// CHECK-LABEL: llvm.func @host_loads
// CHECK-NOT: moe_cuda_constant
// CHECK: llvm.load
// CHECK-LABEL: llvm.func @escapes
// CHECK: %[[ADDR:.*]] = llvm.mlir.addressof @shape : !llvm.ptr
// CHECK: %[[DEV:.*]] = llvm.call @moe_cuda_constant(%[[ADDR]], %{{.*}})
// CHECK: llvm.insertvalue %[[DEV]]
module {
  llvm.mlir.global private constant @shape(dense<[2, 3]> : tensor<2xi64>) {alignment = 64 : i64} : !llvm.array<2 x i64>
  llvm.func @launch(!llvm.struct<(ptr, ptr, i64)>)
  llvm.func @host_loads() -> i64 {
    %0 = llvm.mlir.addressof @shape : !llvm.ptr
    %1 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64)>
    %2 = llvm.insertvalue %0, %1[0] : !llvm.struct<(ptr, ptr, i64)>
    %3 = llvm.insertvalue %0, %2[1] : !llvm.struct<(ptr, ptr, i64)>
    %4 = llvm.extractvalue %3[1] : !llvm.struct<(ptr, ptr, i64)>
    %5 = llvm.getelementptr %4[1] : (!llvm.ptr) -> !llvm.ptr, i64
    %6 = llvm.load %5 : !llvm.ptr -> i64
    llvm.return %6 : i64
  }
  llvm.func @escapes() -> i64 {
    %0 = llvm.mlir.addressof @shape : !llvm.ptr
    %1 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64)>
    %2 = llvm.insertvalue %0, %1[0] : !llvm.struct<(ptr, ptr, i64)>
    %3 = llvm.extractvalue %2[0] : !llvm.struct<(ptr, ptr, i64)>
    %4 = llvm.load %3 : !llvm.ptr -> i64
    llvm.call @launch(%2) : (!llvm.struct<(ptr, ptr, i64)>) -> ()
    llvm.return %4 : i64
  }
}
