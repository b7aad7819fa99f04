// RUN: moe-opt %s -split-input-file \
// RUN:   -moe-convert-moe-to-linalg="vector-combine score-rows" -canonicalize \
// RUN:   | FileCheck %s
// The forms --moe-cpu-pipeline asks of the lowering; their numerics are
// checked end to end (test/e2e) against onnxruntime.

// With vector-combine (the CPU) each token is one parallel iteration: its k
// rows and weights are found once, then its hidden row (36 wide) is summed
// 16 lanes at a time in order j = 0, 1 (w * row added to the running sum,
// as the elementwise form does) and rounded to f16; the last 4 columns one
// at a time.
// CHECK-LABEL: func.func @combine
// CHECK: %[[ROW:.*]] = scf.for {{.*}} -> (tensor<?xindex>)
// CHECK: scf.forall (%[[T:.*]]) in (%{{.*}}) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<?x36xf16>)
// CHECK: %[[R0:.*]] = tensor.extract %[[ROW]][%{{.*}}]
// CHECK: tensor.extract %{{.*}}[%[[T]], %c0]
// CHECK: %[[R1:.*]] = tensor.extract %[[ROW]][%{{.*}}]
// CHECK: tensor.extract %{{.*}}[%[[T]], %c1]
// CHECK: %[[DEST:.*]] = tensor.extract_slice %[[OUT]][%[[T]], 0] [1, 36] [1, 1]
// CHECK: %[[B0:.*]] = vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: %[[B1:.*]] = vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: %[[VEC:.*]] = scf.for %[[C:.*]] = %c0 to %c32 step %c16 iter_args(%[[ACC:.*]] = %[[DEST]])
// CHECK: %[[V0:.*]] = vector.transfer_read %{{.*}}[%[[R0]], %[[C]]]{{.*}} : tensor<?x36xf16>, vector<16xf16>
// CHECK: %[[E0:.*]] = arith.extf %[[V0]]
// CHECK: %[[P0:.*]] = arith.mulf %[[B0]], %[[E0]] : vector<16xf32>
// CHECK: %[[S0:.*]] = arith.addf %[[P0]], %{{.*}} : vector<16xf32>
// CHECK: %[[V1:.*]] = vector.transfer_read %{{.*}}[%[[R1]], %[[C]]]
// CHECK: %[[E1:.*]] = arith.extf %[[V1]]
// CHECK: %[[P1:.*]] = arith.mulf %[[B1]], %[[E1]] : vector<16xf32>
// CHECK: %[[S1:.*]] = arith.addf %[[S0]], %[[P1]] : vector<16xf32>
// CHECK: %[[H:.*]] = arith.truncf %[[S1]] : vector<16xf32> to vector<16xf16>
// CHECK: vector.transfer_write %[[H]], %[[ACC]][%c0, %[[C]]]
// CHECK: %[[TAIL:.*]] = scf.for %{{.*}} = %c32 to %c36 step %c1 iter_args(%{{.*}} = %[[VEC]])
// CHECK-COUNT-2: tensor.extract %{{.*}} : tensor<?x36xf16>
// CHECK: arith.truncf {{.*}} : f32 to f16
// CHECK: tensor.parallel_insert_slice %[[TAIL]] into %[[OUT]][%[[T]], 0] [1, 36] [1, 1]
func.func @combine(%y: tensor<?x36xf16>, %s: tensor<?xi32>, %w: tensor<?x2xf16>) -> tensor<?x36xf16> {
  %o = moe.combine %y, %s, %w : (tensor<?x36xf16>, tensor<?xi32>, tensor<?x2xf16>) -> tensor<?x36xf16>
  return %o : tensor<?x36xf16>
}

// -----

// With score-rows the softmax scores are a [T, 8] tensor written by a first
// parallel loop, one exp per expert: the max, the exps (stored, and summed
// in expert order), then each divided by the sum. The routing loop reads
// them: no exp in its scans.
// CHECK-LABEL: func.func @route
// CHECK: %[[SCORES:.*]] = scf.forall (%[[T:.*]]) in (%{{.*}}) shared_outs(%[[S:.*]] = %{{.*}}) -> (tensor<?x8xf32>)
// CHECK: %[[ROW:.*]] = tensor.extract_slice %[[S]][%[[T]], 0] [1, 8] [1, 1]
// CHECK: %[[MAX:.*]] = scf.for {{.*}} -> (f32)
// CHECK: arith.maximumf
// CHECK: %[[EXPS:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[ROW]], %{{.*}} = %{{.*}}) -> (tensor<1x8xf32>, f32)
// CHECK: arith.subf %{{.*}}, %[[MAX]]
// CHECK: math.exp
// CHECK: tensor.insert
// CHECK: %[[DIV:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[EXPS]]#0) -> (tensor<1x8xf32>)
// CHECK: arith.divf %{{.*}}, %[[EXPS]]#1
// CHECK: tensor.parallel_insert_slice %[[DIV]] into %[[S]][%[[T]], 0] [1, 8] [1, 1]
// CHECK: scf.forall
// CHECK-NOT: math.exp
// CHECK: tensor.extract %[[SCORES]]
// CHECK-NOT: math.exp
// CHECK: tensor.extract %[[SCORES]]
// CHECK-NOT: math.exp
// CHECK: return
func.func @route(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %ids = moe.route %l routing <softmax, k = 2, renormalize>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %w, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Sigmoid scores are written once each too.
// CHECK-LABEL: func.func @route_sigmoid
// CHECK: scf.forall {{.*}} -> (tensor<?x8xf32>)
// CHECK: scf.for {{.*}} -> (tensor<1x8xf32>)
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: tensor.insert
// CHECK: scf.forall
// CHECK-NOT: math.exp
// CHECK: return
func.func @route_sigmoid(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %ids = moe.route %l routing <sigmoid, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %w, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}
