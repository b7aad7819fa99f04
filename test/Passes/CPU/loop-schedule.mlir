// RUN: moe-opt %s -split-input-file -moe-cpu-loop-schedule | FileCheck %s
// Worksharing loops that run GEMM tiles (vector.fma) get a guided schedule;
// others, and loops with a schedule already, keep theirs.

// CHECK-LABEL: func.func @gemm_items
// CHECK: omp.wsloop schedule(guided)
func.func @gemm_items(%n: index, %a: vector<16xf32>, %out: memref<?xvector<16xf32>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        %f = vector.fma %a, %a, %a : vector<16xf32>
        memref.store %f, %out[%i] : memref<?xvector<16xf32>>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// CHECK-LABEL: func.func @elementwise
// CHECK: omp.wsloop {
// CHECK-LABEL: func.func @scheduled
// CHECK: omp.wsloop schedule(static)
func.func @elementwise(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %z, %out[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

func.func @scheduled(%n: index, %a: vector<16xf32>, %out: memref<?xvector<16xf32>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  omp.parallel {
    omp.wsloop schedule(static) {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        %f = vector.fma %a, %a, %a : vector<16xf32>
        memref.store %f, %out[%i] : memref<?xvector<16xf32>>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
