// RUN: moe-opt %s -moe-cpu-outline-loop-nests | FileCheck %s
// Each loop nest of a function moves into a private noinline function;
// weights become arguments, scalar constants are re-created inside, results
// are returned, and nests with the same body share one function.

memref.global "private" constant @w0 : memref<8xf32> = dense<1.0>
memref.global "private" constant @w1 : memref<8xf32> = dense<2.0>

// CHECK-LABEL: func.func @layers
// CHECK-DAG: %[[W0:.*]] = memref.get_global @w0
// CHECK-DAG: %[[W1:.*]] = memref.get_global @w1
// CHECK: call @[[SCALE:.*]](%[[W0]], %arg0)
// CHECK-NEXT: call @[[SCALE]](%[[W1]], %arg0)
// CHECK-NEXT: %[[SUM:.*]] = call @[[SUMFN:.*]](%arg0)
// CHECK-NEXT: return %[[SUM]]

// CHECK: func.func private @[[SCALE]](%[[W:.*]]: memref<8xf32>, %[[X:.*]]: memref<8xf32>)
// CHECK-SAME: llvm.linkage = #llvm.linkage<internal>
// CHECK-SAME: passthrough = ["noinline"]
// CHECK-DAG: arith.constant 0 : index
// CHECK: scf.for
// CHECK: memref.load %[[W]]
// CHECK: return

// CHECK: func.func private @[[SUMFN]](%{{.*}}: memref<8xf32>) -> f32
// CHECK: %[[R:.*]] = scf.for
// CHECK: return %[[R]] : f32
// Two scaling nests, one function.
// CHECK-NOT: func.func private
func.func @layers(%x: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %w0 = memref.get_global @w0 : memref<8xf32>
  %w1 = memref.get_global @w1 : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %a = memref.load %w0[%i] : memref<8xf32>
    %b = memref.load %x[%i] : memref<8xf32>
    %p = arith.mulf %a, %b : f32
    memref.store %p, %x[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %a = memref.load %w1[%i] : memref<8xf32>
    %b = memref.load %x[%i] : memref<8xf32>
    %p = arith.mulf %a, %b : f32
    memref.store %p, %x[%i] : memref<8xf32>
  }
  %s = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %zero) -> f32 {
    %b = memref.load %x[%i] : memref<8xf32>
    %t = arith.addf %acc, %b : f32
    scf.yield %t : f32
  }
  return %s : f32
}
