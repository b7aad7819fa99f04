// RUN: moe-opt %s -split-input-file -moe-cpu-parallel-threshold | FileCheck %s
// RUN: moe-opt %s -split-input-file -moe-cpu-parallel-threshold=min-elementwise=100 \
// RUN:   | FileCheck %s --check-prefix=LOW
// Each outermost parallel region forks the team only when its loop's trip
// count, computed before it, reaches the threshold of its body's kind.

// An elementwise body (a fill): from 16384 iterations. The trip count of
// [lb, ub) step s is ceil((ub - lb) / s), 0 when ub <= lb.
// CHECK-LABEL: func.func @fill
// CHECK-SAME: (%[[LB:.*]]: index, %[[UB:.*]]: index, %[[STEP:.*]]: index
// CHECK: %[[SPAN:.*]] = arith.subi %[[UB]], %[[LB]] : index
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[SM1:.*]] = arith.subi %[[STEP]], %[[C1]]
// CHECK: %[[UP:.*]] = arith.addi %[[SPAN]], %[[SM1]]
// CHECK: %[[N:.*]] = arith.divui %[[UP]], %[[STEP]]
// CHECK: %[[EMPTY:.*]] = arith.cmpi sle, %[[UB]], %[[LB]]
// CHECK: %[[TRIPS:.*]] = arith.select %[[EMPTY]], %{{.*}}, %[[N]]
// CHECK: %[[MIN:.*]] = arith.constant 16384 : index
// CHECK: %[[IF:.*]] = arith.cmpi uge, %[[TRIPS]], %[[MIN]]
// CHECK: omp.parallel if(%[[IF]])
// LOW-LABEL: func.func @fill
// LOW: arith.constant 100 : index
func.func @fill(%lb: index, %ub: index, %step: index, %out: memref<?xf32>) {
  %z = arith.constant 0.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%lb) to (%ub) step (%step) {
        memref.store %z, %out[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// A collapsed 2-d loop: the product of both trip counts.
// CHECK-LABEL: func.func @fill_2d
// CHECK: %[[N0:.*]] = arith.select
// CHECK: %[[N1:.*]] = arith.select
// CHECK: %[[T:.*]] = arith.muli %[[N0]], %[[N1]] : index
// CHECK: %[[IF:.*]] = arith.cmpi uge, %[[T]], %{{.*}} : index
// CHECK: omp.parallel if(%[[IF]])
func.func @fill_2d(%rows: index, %out: memref<?x256xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant 0.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i, %j) : index = (%c0, %c0) to (%rows, %c256) step (%c1, %c1) collapse(2) {
        memref.store %z, %out[%i, %j] : memref<?x256xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// A body with inner loops (a token's routing, an expert's tiles): from 2
// iterations; one token runs on the calling thread.
// CHECK-LABEL: func.func @per_token
// CHECK: %[[TWO:.*]] = arith.constant 2 : index
// CHECK: %[[IF:.*]] = arith.cmpi uge, %{{.*}}, %[[TWO]]
// CHECK: omp.parallel if(%[[IF]])
func.func @per_token(%tokens: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %z = arith.constant 0.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%t) : index = (%c0) to (%tokens) step (%c1) {
        %s = scf.for %x = %c0 to %c64 step %c1 iter_args(%a = %z) -> (f32) {
          %e = math.exp %a : f32
          scf.yield %e : f32
        }
        memref.store %s, %out[%t] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// Left alone: a region with an if already, a nested region (it runs on its
// thread alone anyway), and a loop whose bounds are computed inside the
// region.
// CHECK-LABEL: func.func @untouched
// CHECK: omp.parallel if(%{{.*}}) {
// CHECK: omp.parallel if(%{{.*}}) {
// CHECK: omp.parallel {
// CHECK-LABEL: func.func @inner_bounds
// CHECK-NOT: if(
// CHECK: omp.parallel {
func.func @untouched(%c: i1, %n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  omp.parallel if(%c) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %z, %out[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        omp.parallel {
          omp.wsloop {
            omp.loop_nest (%j) : index = (%c0) to (%n) step (%c1) {
              memref.store %z, %out[%j] : memref<?xf32>
              omp.yield
            }
          }
          omp.terminator
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
func.func @inner_bounds(%out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  omp.parallel {
    %n = memref.dim %out, %c0 : memref<?xf32>
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

// -----

// A serial inner loop of moe-cpu-serial-inner-loop is part of the
// elementwise work: its trips multiply the count and the threshold stays
// the elementwise one.
// CHECK-LABEL: func.func @serial_inner
// CHECK: %[[ROWS:.*]] = arith.select
// CHECK: %[[COLS:.*]] = arith.select
// CHECK: %[[ALL:.*]] = arith.muli %[[ROWS]], %[[COLS]]
// CHECK: arith.constant 16384 : index
// CHECK: omp.parallel if(
func.func @serial_inner(%n: index, %m: index, %out: memref<?x?xf32>) {
  %z = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        scf.for %j = %c0 to %m step %c1 {
          memref.store %z, %out[%i, %j] : memref<?x?xf32>
        } {moe.serial_inner}
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
