// RUN: moe-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-fuse-parallel-loops))' | FileCheck %s

// A MatMul reading constant weights, then the rounding of its f32 result,
// whose buffer is allocated between the two loops: the allocation moves up
// and the loops become one (one kernel after moe-gpu-map-parallel-loops).
// CHECK-LABEL: func.func @matmul_then_round
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: %[[ACC:.*]] = memref.alloc
// CHECK: %[[OUT:.*]] = memref.alloc
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[ACC]]
// CHECK: memref.load %[[ACC]]
// CHECK: arith.truncf
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK-NOT: scf.parallel
memref.global "private" constant @w : memref<32x8xf16> = dense<1.0>
func.func @matmul_then_round(%n: index) -> memref<?x8xf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c32 = arith.constant 32 : index
  %w = memref.get_global @w : memref<32x8xf16>
  %a = memref.alloc(%n) : memref<?x32xf16>
  %acc = memref.alloc(%n) : memref<?x8xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %x = memref.load %a[%i, %k] : memref<?x32xf16>
      %y = memref.load %w[%k, %j] : memref<32x8xf16>
      %s = memref.load %acc[%i, %j] : memref<?x8xf32>
      %xe = arith.extf %x : f16 to f32
      %ye = arith.extf %y : f16 to f32
      %m = arith.mulf %xe, %ye : f32
      %t = arith.addf %s, %m : f32
      memref.store %t, %acc[%i, %j] : memref<?x8xf32>
    }
    scf.reduce
  }
  %out = memref.alloc(%n) : memref<?x8xf16>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    %v = memref.load %acc[%i, %j] : memref<?x8xf32>
    %r = arith.truncf %v : f32 to f16
    memref.store %r, %out[%i, %j] : memref<?x8xf16>
    scf.reduce
  }
  memref.dealloc %a : memref<?x32xf16>
  memref.dealloc %acc : memref<?x8xf32>
  return %out : memref<?x8xf16>
}

// -----

// The second loop reads the first's result at another element (a
// transpose): every element of the first must be done first, two loops.
// CHECK-LABEL: func.func @transposed_read
// CHECK: scf.parallel
// CHECK: scf.parallel
func.func @transposed_read(%n: index) -> memref<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  %a = memref.alloc(%n, %n) : memref<?x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
    memref.store %one, %a[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  %b = memref.alloc(%n, %n) : memref<?x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
    %v = memref.load %a[%j, %i] : memref<?x?xf32>
    memref.store %v, %b[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  memref.dealloc %a : memref<?x?xf32>
  return %b : memref<?x?xf32>
}

// -----

// The first loop reads a buffer of the caller's that the second writes
// (they may be the same memory): two loops.
// CHECK-LABEL: func.func @may_alias
// CHECK: scf.parallel
// CHECK: scf.parallel
func.func @may_alias(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = memref.alloc(%n) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %t[%i] : memref<?xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %t[%i] : memref<?xf32>
    %c = arith.constant 0 : index
    memref.store %v, %y[%c] : memref<?xf32>
    scf.reduce
  }
  memref.dealloc %t : memref<?xf32>
  return
}
