// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=2 rank=0" -moe-overlap=chunks=2 -split-input-file | FileCheck %s
// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=2 rank=0" -moe-overlap=chunks=3 -split-input-file | FileCheck %s --check-prefix=THREE
// RUN: moe-opt %s -moe-decompose -moe-overlap=chunks=2 -split-input-file | FileCheck %s --check-prefix=LOCAL
// RUN: not moe-opt %s -moe-overlap=chunks=0 2>&1 | FileCheck %s --check-prefix=ZERO

// Two chunks of ceil(T / 2) rows. Both chunks' dispatch exchanges start
// first; the shared expert (independent of routing) runs while they are in
// flight; chunk 0's experts run while chunk 1's rows travel, chunk 1's while
// chunk 0's results return; each wait sits right before its first use.
// CHECK-LABEL: func.func @shared
// CHECK: cf.assert {{.*}} "moe.layer: the router logits and the hidden states have different token counts"
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[PER:.*]] = arith.ceildivui %[[T]], %c2
// CHECK: %[[X0:.*]] = tensor.extract_slice %{{.*}}[%[[B0:.*]], 0] [%[[N0:.*]], 32] [1, 1] : tensor<?x32xf32> to tensor<?x32xf32>
// CHECK: %[[X1:.*]] = tensor.extract_slice %{{.*}}[%[[B1:.*]], 0] [%[[N1:.*]], 32] [1, 1] : tensor<?x32xf32> to tensor<?x32xf32>
// CHECK: moe.dispatch %[[X0]]
// CHECK: %[[D0:.*]] = moe.all_to_all_start %{{.*}} : (tensor<?x32xf32>, tensor<2xi32>)
// CHECK: %[[I0:.*]] = moe.all_to_all_start %{{.*}} : (tensor<?x1xi32>, tensor<2xi32>)
// CHECK: moe.dispatch %[[X1]]
// CHECK: %[[D1:.*]] = moe.all_to_all_start %{{.*}} : (tensor<?x32xf32>, tensor<2xi32>)
// CHECK: %[[I1:.*]] = moe.all_to_all_start %{{.*}} : (tensor<?x1xi32>, tensor<2xi32>)
// CHECK: moe.expert_matmul {{.*}} tensor<1x64x32xf32>
// CHECK: moe.activation
// CHECK: moe.expert_matmul {{.*}} tensor<1x32x32xf32>
// CHECK: linalg.matmul {{.*}} tensor<1x32xf32>
// CHECK: %[[R0:.*]], %[[C0:.*]] = moe.all_to_all_wait %[[D0]]
// CHECK: moe.all_to_all_wait %[[I0]]
// CHECK: moe.expert_matmul
// CHECK: moe.expert_matmul
// CHECK: moe.combine
// CHECK: %[[B0R:.*]] = moe.all_to_all_start %{{.*}}, %[[C0]]
// CHECK: %[[R1:.*]], %[[C1:.*]] = moe.all_to_all_wait %[[D1]]
// CHECK: moe.all_to_all_wait %[[I1]]
// CHECK: moe.expert_matmul
// CHECK: moe.expert_matmul
// CHECK: moe.combine
// CHECK: %[[B1R:.*]] = moe.all_to_all_start %{{.*}}, %[[C1]]
// CHECK: %[[Y0:.*]], %{{.*}} = moe.all_to_all_wait %[[B0R]]
// CHECK: %[[O0:.*]] = moe.combine %[[Y0]]
// CHECK: %[[OUT0:.*]] = tensor.insert_slice %[[O0]] into %{{.*}}[%[[B0]], 0] [%[[N0]], 32]
// CHECK: %[[Y1:.*]], %{{.*}} = moe.all_to_all_wait %[[B1R]]
// CHECK: %[[O1:.*]] = moe.combine %[[Y1]]
// CHECK: %[[OUT1:.*]] = tensor.insert_slice %[[O1]] into %[[OUT0]][%[[B1]], 0] [%[[N1]], 32]
// CHECK: linalg.generic {{.*}} ins(%[[OUT1]],
// CHECK-NOT: moe.all_to_all

// Three chunks, at step t stage s of chunk t - s: chunk 2's rows start
// travelling while chunk 0's results return and chunk 1 computes.
// THREE-LABEL: func.func @shared
// THREE-COUNT-4: moe.all_to_all_start
// THREE: moe.all_to_all_wait
// THREE: moe.all_to_all_wait
// THREE: moe.combine
// THREE: moe.all_to_all_start
// THREE-COUNT-2: moe.all_to_all_start
// THREE: moe.all_to_all_wait
// THREE: moe.all_to_all_wait
// THREE: moe.combine
// THREE: moe.all_to_all_start
// THREE: moe.all_to_all_wait
// THREE: moe.combine
// THREE: moe.all_to_all_wait
// THREE: moe.all_to_all_wait
// THREE: moe.combine
// THREE: moe.all_to_all_start
// THREE: moe.all_to_all_wait
// THREE: moe.combine
// THREE: moe.all_to_all_wait
// THREE: moe.combine
// THREE-NOT: moe.all_to_all

// Without expert parallelism there is nothing to overlap.
// LOCAL-LABEL: func.func @shared
// LOCAL-NOT: all_to_all
// LOCAL-NOT: tensor.insert_slice

// ZERO: error: moe-overlap: chunks must be at least 1, got 0
func.func @shared(%x: tensor<?x32xf32>, %l: tensor<?x4xf32>,
                  %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x8xf32>,
                  %s1: tensor<64x32xf32>, %s2: tensor<32x32xf32>,
                  %g: tensor<1x32xf32>) -> tensor<?x32xf32> {
  %y = moe.layer %x : tensor<?x32xf32> logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x16x32xf32>) fc2(%w2 : tensor<4x32x8xf32>)
      shared_fc1(%s1 : tensor<64x32xf32>) shared_fc2(%s2 : tensor<32x32xf32>)
      shared_gate(%g : tensor<1x32xf32>)
      routing <softmax, k = 2> activation <silu, gated = concatenated>
      -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
