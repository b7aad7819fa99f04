// RUN: moe-opt %s -split-input-file --moe-gpu-promote-accumulators | FileCheck %s

// A reduction in a kernel: the output element is loaded before the k loop,
// carried as an iter_arg and stored after it; the inputs (a function
// argument and another allocation) cannot alias the fresh output.
// CHECK-LABEL: func.func @matmul
// CHECK: gpu.launch
// CHECK: %[[INIT:.*]] = memref.load %[[C:.*]][%[[I:.*]], %[[J:.*]]] : memref<?x8xf32>
// CHECK-NEXT: %[[R:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK-NOT: memref.load %[[C]]
// CHECK-NOT: memref.store
// CHECK: %[[SUM:.*]] = arith.addf %[[ACC]], %{{.*}} : f32
// CHECK-NEXT: scf.yield %[[SUM]] : f32
// CHECK: memref.store %[[R]], %[[C]][%[[I]], %[[J]]] : memref<?x8xf32>
func.func @matmul(%a: memref<?x32xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %b = memref.alloc() : memref<32x8xf32>
  %c = memref.alloc(%n) : memref<?x8xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %n, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %av = memref.load %a[%bx, %k] : memref<?x32xf32>
      %bv = memref.load %b[%k, %tx] : memref<32x8xf32>
      %cv = memref.load %c[%bx, %tx] : memref<?x8xf32>
      %p = arith.mulf %av, %bv : f32
      %s = arith.addf %cv, %p : f32
      memref.store %s, %c[%bx, %tx] : memref<?x8xf32>
    }
    gpu.terminator
  }
  return
}

// -----

// Two function arguments may be the same buffer: nothing moves.
// CHECK-LABEL: func.func @may_alias
// CHECK: scf.for
// CHECK-NEXT: memref.load
// CHECK-NEXT: memref.load
// CHECK: memref.store
func.func @may_alias(%a: memref<32xf32>, %c: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %av = memref.load %a[%k] : memref<32xf32>
      %cv = memref.load %c[%c0] : memref<1xf32>
      %s = arith.addf %cv, %av : f32
      memref.store %s, %c[%c0] : memref<1xf32>
    }
    gpu.terminator
  }
  return
}

// -----

// The index of the store changes with the loop: a different element each
// step, nothing to carry.
// CHECK-LABEL: func.func @varying
// CHECK: scf.for
// CHECK-NOT: iter_args
// CHECK: memref.store
func.func @varying(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c = memref.alloc() : memref<32xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %cv = memref.load %c[%k] : memref<32xf32>
      %s = arith.addf %cv, %cv : f32
      memref.store %s, %c[%k] : memref<32xf32>
    }
    gpu.terminator
  }
  return
}

// -----

// Two accumulators of one loop (a norm's sum and sum of squares) both move;
// host loops are not kernels and stay as they are.
// CHECK-LABEL: func.func @two
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32)
// CHECK: gpu.terminator
// CHECK: scf.for
// CHECK-NOT: iter_args
func.func @two(%a: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %s1 = memref.alloc() : memref<1xf32>
  %s2 = memref.alloc() : memref<1xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %av = memref.load %a[%k] : memref<32xf32>
      %v1 = memref.load %s1[%c0] : memref<1xf32>
      %n1 = arith.addf %v1, %av : f32
      memref.store %n1, %s1[%c0] : memref<1xf32>
      %v2 = memref.load %s2[%c0] : memref<1xf32>
      %sq = arith.mulf %av, %av : f32
      %n2 = arith.addf %v2, %sq : f32
      memref.store %n2, %s2[%c0] : memref<1xf32>
    }
    gpu.terminator
  }
  scf.for %k = %c0 to %c32 step %c1 {
    %v1 = memref.load %s1[%c0] : memref<1xf32>
    memref.store %v1, %s1[%c0] : memref<1xf32>
  }
  return
}
