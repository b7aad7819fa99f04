// RUN: moe-opt %s -split-input-file -moe-cpu-serial-inner-loop | FileCheck %s
// The last dimension of an outermost multi-dimensional scf.parallel runs
// as a marked scf.for inside the parallel loop over the others.

// CHECK-LABEL: func.func @add
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]]) = (%c0, %c0) to (%[[B:.*]], %[[N:.*]]) step (%c1, %c1) {
// CHECK-NEXT: scf.for %[[K:.*]] = %c0 to %[[M:.*]] step %c1 {
// CHECK-NEXT: memref.load %{{.*}}[%[[I]], %[[J]], %[[K]]]
// CHECK: } {moe.serial_inner}
func.func @add(%a: memref<?x?x?xf32>, %out: memref<?x?x?xf32>, %b: index,
               %n: index, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%b, %n, %m) step (%c1, %c1, %c1) {
    %v = memref.load %a[%i, %j, %k] : memref<?x?x?xf32>
    %s = arith.addf %v, %v : f32
    memref.store %s, %out[%i, %j, %k] : memref<?x?x?xf32>
    scf.reduce
  }
  return
}

// -----

// 1-D loops and loops nested in another parallel loop stay as they are.
// CHECK-LABEL: func.func @one_d
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%{{.*}}) step (%c1) {
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) =
// CHECK-NOT: moe.serial_inner
func.func @one_d(%out: memref<?x?x?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.parallel (%j, %k) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
      memref.store %z, %out[%i, %j, %k] : memref<?x?x?xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}
