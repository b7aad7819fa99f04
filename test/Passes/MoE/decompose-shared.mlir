// RUN: moe-opt %s -moe-decompose -split-input-file | FileCheck %s

// Qwen2-MoE: the shared expert is a dense FFN on every token, its GEMMs
// grouped matmuls of one expert over rows [0, T] (the expert GEMM kernels,
// the activation fusion), scaled by sigmoid(x * shared_gate^T) and added to
// the routed output in one loop nest.
// CHECK-DAG: #[[$LHS:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$RHS_T:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$BCAST:.*]] = affine_map<(d0, d1) -> (d0, 0)>
// CHECK-LABEL: func.func @qwen
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?x32xf32>, %{{.*}}, %{{.*}}, %{{.*}}, %[[S1:[a-z0-9]+]]: tensor<64x32xf32>, %[[S2:[a-z0-9]+]]: tensor<32x32xf32>, %[[SG:[a-z0-9]+]]: tensor<1x32xf32>)
// CHECK: %[[ROUTED:.*]] = moe.combine
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[TI:.*]] = arith.index_cast %[[T]] : index to i32
// CHECK: %[[ALL:.*]] = tensor.from_elements %c0_i32, %[[TI]] : tensor<2xi32>
// CHECK: %[[S1E:.*]] = tensor.expand_shape %[[S1]] {{\[\[}}0, 1], [2]] output_shape [1, 64, 32] : tensor<64x32xf32> into tensor<1x64x32xf32>
// CHECK: %[[UPS:.*]] = moe.expert_matmul %[[X]], %[[S1E]], %[[ALL]] : (tensor<?x32xf32>, tensor<1x64x32xf32>, tensor<2xi32>) -> tensor<?x64xf32>
// CHECK: %[[ACT:.*]] = moe.activation %[[UPS]] <silu, gated = concatenated> : (tensor<?x64xf32>) -> tensor<?x32xf32>
// CHECK: %[[S2E:.*]] = tensor.expand_shape %[[S2]]
// CHECK: %[[SHARED:.*]] = moe.expert_matmul %[[ACT]], %[[S2E]], %[[ALL]] : (tensor<?x32xf32>, tensor<1x32x32xf32>, tensor<2xi32>) -> tensor<?x32xf32>
// CHECK: %[[GATE:.*]] = linalg.matmul indexing_maps = [#[[$LHS]], #[[$RHS_T]], #[[$OUT]]] ins(%[[X]], %[[SG]] : {{.*}}) outs({{.*}} : tensor<?x1xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$BCAST]], #[[$ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[ROUTED]], %[[SHARED]], %[[GATE]] :
// CHECK-NEXT: ^bb0(%[[R:.*]]: f32, %[[S:.*]]: f32, %[[G:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[NEG:.*]] = arith.negf %[[G]]
// CHECK: %[[EXP:.*]] = math.exp %[[NEG]]
// CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[EXP]]
// CHECK: %[[SIG:.*]] = arith.divf %{{.*}}, %[[DEN]]
// CHECK: %[[SCALED:.*]] = arith.mulf %[[S]], %[[SIG]]
// CHECK: %[[ADD:.*]] = arith.addf %[[R]], %[[SCALED]]
// CHECK: linalg.yield %[[ADD]]
// CHECK: return %[[SUM]]
func.func @qwen(%x: tensor<?x32xf32>, %l: tensor<?x4xf32>,
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

// -----

// DeepSeek in bf16: the shared GEMMs (one expert over every token, the
// same rows, so the activation fusion can interleave them) accumulate in
// f32 and round once to bf16; the final sum is computed in f32 and rounded
// to bf16; no gate, no sigmoid.
// CHECK-LABEL: func.func @deepseek_bf16
// CHECK: %[[ROUTED:.*]] = moe.combine
// CHECK: %[[ALL:.*]] = tensor.from_elements
// CHECK: %[[A:.*]] = moe.expert_matmul %{{.*}}, %{{.*}}, %[[ALL]] : (tensor<?x32xbf16>, tensor<1x16x32xbf16>, tensor<2xi32>) -> tensor<?x16xbf16>
// CHECK: %[[B:.*]] = moe.expert_matmul %{{.*}}, %{{.*}}, %[[ALL]] : (tensor<?x32xbf16>, tensor<1x16x32xbf16>, tensor<2xi32>) -> tensor<?x16xbf16>
// CHECK: %[[H:.*]] = moe.activation %[[A]] up(%[[B]]) <silu, gated = separate>
// CHECK: %[[CT:.*]] = moe.expert_matmul %[[H]], %{{.*}}, %[[ALL]] : (tensor<?x16xbf16>, tensor<1x32x16xbf16>, tensor<2xi32>) -> tensor<?x32xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[ROUTED]], %[[CT]] : tensor<?x32xbf16>, tensor<?x32xbf16>)
// CHECK-NOT: math.exp
// CHECK: arith.addf {{.*}} : f32
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @deepseek_bf16(%x: tensor<?x32xbf16>, %wg: tensor<16x32xbf16>,
                         %w1: tensor<16x8x32xbf16>, %w3: tensor<16x8x32xbf16>,
                         %w2: tensor<16x32x8xbf16>, %s1: tensor<16x32xbf16>,
                         %s3: tensor<16x32xbf16>, %s2: tensor<32x16xbf16>)
    -> tensor<?x32xbf16> {
  %y = moe.layer %x : tensor<?x32xbf16> gate(%wg : tensor<16x32xbf16>)
      fc1(%w1 : tensor<16x8x32xbf16>) fc3(%w3 : tensor<16x8x32xbf16>)
      fc2(%w2 : tensor<16x32x8xbf16>)
      shared_fc1(%s1 : tensor<16x32xbf16>) shared_fc3(%s3 : tensor<16x32xbf16>)
      shared_fc2(%s2 : tensor<32x16xbf16>)
      routing <sigmoid, k = 4, renormalize, groups = 4, topk_groups = 2>
      activation <silu, gated = separate> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}
