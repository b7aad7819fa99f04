// RUN: moe-opt %s -split-input-file -moe-cpu-approximate-vector-math | FileCheck %s

// Math on vectors (a GEMM tile's activation) becomes arith: polynomial
// approximations (multiply-adds, and ops that are single vector
// instructions: fma, floor) that stay in vector registers. Scalar math (the
// router's scores) keeps its libm-backed ops.
// CHECK-LABEL: func.func @silu_tile
// CHECK-NOT: math.exp {{.*}} : vector
// CHECK: math.fma {{.*}} : vector<8xf32>
// CHECK: math.exp %{{.*}} : f32
// CHECK-NOT: math.exp {{.*}} : vector
func.func @silu_tile(%g: vector<8xf32>, %s: f32) -> (vector<8xf32>, f32) {
  %one = arith.constant dense<1.0> : vector<8xf32>
  %n = arith.negf %g : vector<8xf32>
  %e = math.exp %n : vector<8xf32>
  %d = arith.addf %one, %e : vector<8xf32>
  %sig = arith.divf %one, %d : vector<8xf32>
  %y = arith.mulf %g, %sig : vector<8xf32>
  %es = math.exp %s : f32
  return %y, %es : vector<8xf32>, f32
}

// -----

// GELU's erf and tanh, including the exp the tanh approximation may use,
// are all rewritten.
// CHECK-LABEL: func.func @gelu_tile
// CHECK-NOT: math.{{exp|erf|tanh|log}}
// CHECK: return
func.func @gelu_tile(%x: vector<4xf32>) -> (vector<4xf32>, vector<4xf32>) {
  %e = math.erf %x : vector<4xf32>
  %t = math.tanh %x : vector<4xf32>
  return %e, %t : vector<4xf32>, vector<4xf32>
}
