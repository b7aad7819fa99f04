// RUN: moe-opt %s -split-input-file --moe-gpu-map-parallel-loops | FileCheck %s

// A 2-D loop with dynamic bounds: one launch of ceil(rows * cols / 256)
// blocks of 256 threads; each thread delinearizes its index (columns
// fastest) and does nothing past the end.
// CHECK-LABEL: func.func @flat
// CHECK: %[[T0:.*]] = arith.ceildivui %{{.*}}, %c1
// CHECK: %[[P0:.*]] = arith.muli %c1{{.*}}, %[[T0]]
// CHECK: %[[T1:.*]] = arith.ceildivui %{{.*}}, %c1
// CHECK: %[[TOTAL:.*]] = arith.muli %[[P0]], %[[T1]]
// CHECK: %[[GRID:.*]] = arith.ceildivui %[[TOTAL]], %c256
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256
// CHECK: %[[LIN:.*]] = arith.addi %{{.*}}, %[[TX]]
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[LIN]], %[[TOTAL]]
// CHECK: scf.if %[[IN]] {
// CHECK: %[[COL:.*]] = arith.remui %[[LIN]], %[[T1]]
// CHECK: %[[ROW:.*]] = arith.divui %[[LIN]], %[[T1]]
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}]
// CHECK: arith.addf
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: scf.parallel
func.func @flat(%a: memref<?x?xf32>, %b: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = memref.dim %a, %c0 : memref<?x?xf32>
  %c = memref.dim %a, %c1 : memref<?x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%r, %c) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<?x?xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %b[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// -----

// Inside the kernel: the nested loop runs sequentially, the per-iteration
// scratch row becomes a thread-private alloca at kernel entry, its copy
// scalar loops, and the global is read on the host.
// CHECK-LABEL: func.func @nested
// CHECK: %[[G:.*]] = memref.get_global @table
// CHECK: gpu.launch
// CHECK-NEXT: %[[ROW:.*]] = memref.alloca() : memref<1x4xf32>
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1
// CHECK: memref.load %[[G]]
// CHECK: memref.store %{{.*}}, %[[ROW]]
// CHECK: scf.for
// CHECK: scf.for
// CHECK: memref.load %[[ROW]]
// CHECK: memref.store
// CHECK-NOT: memref.copy
// CHECK-NOT: memref.dealloc
// CHECK-NOT: scf.parallel
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @nested(%out: memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = memref.dim %out, %c0 : memref<?x4xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %t = memref.get_global @table : memref<4xf32>
    %row = memref.alloc() : memref<1x4xf32>
    scf.parallel (%j) = (%c0) to (%c4) step (%c1) {
      %v = memref.load %t[%j] : memref<4xf32>
      memref.store %v, %row[%c0, %j] : memref<1x4xf32>
      scf.reduce
    }
    %dst = memref.subview %out[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    memref.copy %row, %dst : memref<1x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    memref.dealloc %row : memref<1x4xf32>
    scf.reduce
  }
  return
}

// -----

// Dynamically sized buffers per iteration and reductions stay on the host.
// CHECK-LABEL: func.func @host_only
// CHECK-NOT: gpu.launch
// CHECK: scf.parallel
// CHECK: memref.alloc(%{{.*}})
// CHECK: scf.parallel
// CHECK: scf.reduce(
func.func @host_only(%a: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %tmp = memref.alloc(%i) : memref<?xf32>
    memref.dealloc %tmp : memref<?xf32>
    scf.reduce
  }
  %s = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %v = memref.load %a[%i] : memref<?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%x: f32, %y: f32):
      %r = arith.addf %x, %y : f32
      scf.reduce.return %r : f32
    }
  }
  return %s : f32
}

// -----

// A sequential loop over buffers (a prefix sum) runs on one GPU thread; a
// host copy becomes a parallel loop, then a kernel. Loops with results stay.
// With serial-loops=false the sequential loop stays on the host.
// RUN: moe-opt %s -split-input-file --moe-gpu-map-parallel-loops=serial-loops=false | FileCheck %s --check-prefix=HOST
// CHECK-LABEL: func.func @plan
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %[[ONE:.*]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]]) threads({{.*}}) in (%{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]])
// CHECK-NEXT: scf.for
// CHECK: memref.load
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<8xi32, strided<[1]>>
// CHECK: memref.store %{{.*}} : memref<8xi32>
// CHECK-NOT: memref.copy
// CHECK: scf.for {{.*}} -> (i32)
// HOST-LABEL: func.func @plan
// HOST-NEXT: arith.constant
// HOST: scf.for
// HOST: gpu.launch
func.func @plan(%counts: memref<8xi32>, %offsets: memref<9xi32>, %out: memref<8xi32>) -> i32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %z = arith.constant 0 : i32
  scf.for %e = %c0 to %c8 step %c1 {
    %n = memref.load %counts[%e] : memref<8xi32>
    %o = memref.load %offsets[%e] : memref<9xi32>
    %s = arith.addi %o, %n : i32
    %e1 = arith.addi %e, %c1 : index
    memref.store %s, %offsets[%e1] : memref<9xi32>
  }
  %head = memref.subview %offsets[0] [8] [1] : memref<9xi32> to memref<8xi32, strided<[1]>>
  memref.copy %head, %out : memref<8xi32, strided<[1]>> to memref<8xi32>
  %sum = scf.for %e = %c0 to %c8 step %c1 iter_args(%acc = %z) -> (i32) {
    %n = memref.load %counts[%e] : memref<8xi32>
    %t = arith.addi %acc, %n : i32
    scf.yield %t : i32
  }
  return %sum : i32
}

// -----

// Shape arithmetic stays on the host: a loop of static small trip count
// over small static integer buffers (a Concat of shape pieces, reading a
// constant), whose result the host reads to size a reshape. A loop as
// small over f32 data, or over an integer buffer of dynamic size, is a
// kernel.
// CHECK-LABEL: func.func @shapes
// CHECK-NOT: gpu.launch
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<2xi64>
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<4xf32>
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<?xi64>
memref.global "private" constant @dims : memref<2xi64> = dense<[4, 8]>
func.func @shapes(%f: memref<4xf32>, %g: memref<4xf32>, %d: memref<?xi64>, %e: memref<?xi64>) -> memref<3xi64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %dims = memref.get_global @dims : memref<2xi64>
  %out = memref.alloc() : memref<3xi64>
  %head = memref.subview %out[0] [2] [1] : memref<3xi64> to memref<2xi64, strided<[1]>>
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    %v = memref.load %dims[%i] : memref<2xi64>
    memref.store %v, %head[%i] : memref<2xi64, strided<[1]>>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %f[%i] : memref<4xf32>
    memref.store %v, %g[%i] : memref<4xf32>
    scf.reduce
  }
  %n = memref.dim %d, %c0 : memref<?xi64>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %d[%i] : memref<?xi64>
    memref.store %v, %e[%i] : memref<?xi64>
    scf.reduce
  }
  return %out : memref<3xi64>
}

// -----

// Position arithmetic stays on the host: a loop over the tokens that fills
// an integer buffer from its indices alone (an LM's position ids), whose
// values the host reads (here the first, to size a buffer). Filled the
// same way but never read by the host, or filled from data, it is a kernel.
// CHECK-LABEL: func.func @positions
// CHECK-NOT: gpu.launch
// CHECK: scf.parallel
// CHECK: memref.store %{{.*}}, %[[POS:.*]][%{{.*}}] : memref<?xi64>
// CHECK: memref.load %[[POS]][%c0] : memref<?xi64>
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<?xi64>
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<?xi64>
func.func @positions(%n: index, %d: memref<?xi64>) -> (memref<?xi64>, memref<?xf32>, memref<?xi64>, memref<?xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %pos = memref.alloc(%n) : memref<?xi64>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = arith.index_cast %i : index to i64
    memref.store %v, %pos[%i] : memref<?xi64>
    scf.reduce
  }
  %first = memref.load %pos[%c0] : memref<?xi64>
  %size = arith.index_cast %first : i64 to index
  %sized = memref.alloc(%size) : memref<?xf32>
  %unread = memref.alloc(%n) : memref<?xi64>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = arith.index_cast %i : index to i64
    memref.store %v, %unread[%i] : memref<?xi64>
    scf.reduce
  }
  %copied = memref.alloc(%n) : memref<?xi64>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %d[%i] : memref<?xi64>
    memref.store %v, %copied[%i] : memref<?xi64>
    scf.reduce
  }
  %last = memref.load %copied[%c0] : memref<?xi64>
  return %pos, %sized, %unread, %copied : memref<?xi64>, memref<?xf32>, memref<?xi64>, memref<?xi64>
}
