// RUN: moe-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(moe-gpu-row-reductions),canonicalize)" | FileCheck %s

// An RMSNorm as loops: the rows' sums of squares, then the normalization
// reading each row's sum. One block per row (a dynamic row count), 256
// threads striding the row (its length is dynamic), shuffles within each
// warp, the 8 warps' partials through workgroup memory; thread 0 stores the
// row's total; the same block normalizes the row with the total from
// registers.
// CHECK-LABEL: func.func @rms_norm
// CHECK: %[[ROWS:.*]] = memref.dim %arg0, %c0
// CHECK: gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ROWS]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TID:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[PARTS:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[START:.*]] = memref.load %[[ACC:.*]][%[[ROW]]] : memref<?xf32>
// CHECK: %[[SHARE:.*]] = scf.for %{{.*}} = %[[TID]] to %{{.*}} step %c256{{.*}} iter_args(%[[S:.*]] = %cst{{.*}}) -> (f32)
// CHECK: arith.mulf
// CHECK: arith.addf %{{.*}}, %[[S]]
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[PARTS]]
// CHECK: gpu.barrier
// CHECK-COUNT-8: memref.load %[[PARTS]]
// CHECK: %[[TOTAL:.*]] = arith.addf %[[START]], %{{.*}} : f32
// CHECK: scf.if
// CHECK: memref.store %[[TOTAL]], %[[ACC]][%[[ROW]]]
// CHECK: scf.for %[[C:.*]] = %[[TID]] to %{{.*}} step %c256
// CHECK-NOT: memref.load %[[ACC]]
// CHECK: arith.divf %[[TOTAL]]
// CHECK: math.rsqrt
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[ROW]], %[[C]]] : memref<?x?xf32>
// CHECK: gpu.terminator
// CHECK-NOT: scf.parallel
func.func @rms_norm(%x: memref<?x?xf32>, %n: f32) -> memref<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x?xf32>
  %h = memref.dim %x, %c1 : memref<?x?xf32>
  %acc = memref.alloc(%t) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?xf32>)
  scf.parallel (%i) = (%c0) to (%t) step (%c1) {
    scf.for %j = %c0 to %h step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %a = memref.load %acc[%i] : memref<?xf32>
      %sq = arith.mulf %v, %v : f32
      %s = arith.addf %sq, %a : f32
      memref.store %s, %acc[%i] : memref<?xf32>
    }
    scf.reduce
  }
  %t2 = memref.dim %x, %c0 : memref<?x?xf32>
  %y = memref.alloc(%t, %h) : memref<?x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%t2, %h) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<?x?xf32>
    %s = memref.load %acc[%i] : memref<?xf32>
    %m = arith.divf %s, %n : f32
    %r = math.rsqrt %m : f32
    %o = arith.mulf %v, %r : f32
    memref.store %o, %y[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return %y : memref<?x?xf32>
}

// -----

// A static row of 48: 64 threads (2 warps). The next loop writes the
// reduction's input, so it stays a loop of its own. (The accumulator is
// a fresh allocation: an argument might alias the input.)
// CHECK-LABEL: func.func @no_fusion
// CHECK: gpu.launch {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c64{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%{{.*}} : memref<2xf32, #gpu.address_space<workgroup>>)
// CHECK: gpu.terminator
// CHECK: scf.parallel
func.func @no_fusion(%x: memref<?x48xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c48 = arith.constant 48 : index
  %t = memref.dim %x, %c0 : memref<?x48xf32>
  %acc = memref.alloc(%t) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%t) step (%c1) {
    scf.for %j = %c0 to %c48 step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x48xf32>
      %a = memref.load %acc[%i] : memref<?xf32>
      %s = arith.addf %a, %v : f32
      memref.store %s, %acc[%i] : memref<?xf32>
    }
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%t, %c48) step (%c1, %c1) {
    %s = memref.load %acc[%i] : memref<?xf32>
    memref.store %s, %x[%i, %j] : memref<?x48xf32>
    scf.reduce
  }
  return %acc : memref<?xf32>
}

// -----

// Not row reductions: rows of 8 (a warp per row would idle most lanes),
// an accumulator that the loop's other loads may alias (two arguments),
// and a maximum rather than a sum.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: gpu.launch
// CHECK-COUNT-3: scf.parallel
func.func @left_alone(%x: memref<?x8xf32>, %y: memref<?x64xf32>,
                      %shared: memref<?xf32>, %alias: memref<?xf32>)
    -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  %acc = memref.alloc(%t) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%t) step (%c1) {
    scf.for %j = %c0 to %c8 step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x8xf32>
      %a = memref.load %acc[%i] : memref<?xf32>
      %s = arith.addf %a, %v : f32
      memref.store %s, %acc[%i] : memref<?xf32>
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%t) step (%c1) {
    scf.for %j = %c0 to %c64 step %c1 {
      %v = memref.load %alias[%j] : memref<?xf32>
      %a = memref.load %shared[%i] : memref<?xf32>
      %s = arith.addf %a, %v : f32
      memref.store %s, %shared[%i] : memref<?xf32>
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%t) step (%c1) {
    scf.for %j = %c0 to %c64 step %c1 {
      %v = memref.load %y[%i, %j] : memref<?x64xf32>
      %a = memref.load %acc[%i] : memref<?xf32>
      %s = arith.maximumf %a, %v : f32
      memref.store %s, %acc[%i] : memref<?xf32>
    }
    scf.reduce
  }
  return %acc : memref<?xf32>
}
