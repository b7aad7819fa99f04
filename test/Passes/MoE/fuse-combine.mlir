// RUN: moe-opt %s -moe-fuse-combine -split-input-file | FileCheck %s
// RUN: moe-opt %s -moe-fuse-combine=deterministic=1 -split-input-file | FileCheck %s --check-prefix=DET
// RUN: moe-opt %s -moe-fuse-combine -moe-convert-moe-to-linalg -split-input-file | FileCheck %s --check-prefix=LOWERED

// The down GEMM adds its weighted rows into zeros: no [rows, 64] result.
// CHECK-LABEL: func.func @zero_init
// CHECK: %[[W:.*]], %[[OFF:.*]], %[[SLOTS:.*]] = moe.route_plan
// CHECK: %[[H:.*]] = moe.expert_matmul
// CHECK: %[[T:.*]] = tensor.dim %[[W]], %c0
// CHECK: %[[E:.*]] = tensor.empty(%[[T]]) : tensor<?x64xf32>
// CHECK: %[[Z:.*]] = linalg.fill ins(%cst : f32) outs(%[[E]] : tensor<?x64xf32>)
// CHECK: %[[O:.*]] = moe.expert_matmul %[[H]], %{{.*}}, %[[OFF]] combine(%[[SLOTS]], %[[W]]) into(%[[Z]]) : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>, tensor<?xi32>, tensor<?x2xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
// CHECK-NOT: moe.combine
// CHECK: return %[[O]]
// k = 2 into zeros is the same sum in every order: fused when deterministic.
// DET-LABEL: func.func @zero_init
// DET: combine(
// DET-NOT: moe.combine
// The reference lowering is the GEMM, then the combine.
// LOWERED-LABEL: func.func @zero_init
// LOWERED-NOT: = moe.
// LOWERED: return
func.func @zero_init(%l: tensor<?x8xf32>, %x: tensor<?x64xf32>,
                     %w1: tensor<8x256x64xf32>, %w2: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2, renormalize>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  %h = moe.expert_matmul %x, %w1, %off gather(%slots) k = 2 epilogue <silu, gated = interleaved>
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<?xi32>) -> tensor<?x128xf32>
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  %o = moe.combine %y, %slots, %w
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// A following `routed + gate * shared` (size queries of the routed sum
// answered from the weights) loses its addition: the rest of the loop nest
// becomes the GEMM's initial value. k = 4 in deterministic mode: not fused.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: (%{{[a-z0-9]+}}: tensor<?x8xf32>, %{{[a-z0-9]+}}: tensor<?x64xf32>, %{{[a-z0-9]+}}: tensor<8x64x128xf32>, %[[H:[a-z0-9]+]]: tensor<?x128xf32>, %[[S:[a-z0-9]+]]: tensor<?x64xf32>, %[[G:[a-z0-9]+]]: tensor<?x1xf32>)
// CHECK: %[[W:.*]], %[[OFF:.*]], %[[SLOTS:.*]] = moe.route_plan
// CHECK: %[[T:.*]] = tensor.dim %[[W]], %c0
// CHECK: %[[E:.*]] = tensor.empty(%[[T]])
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[G]] : tensor<?x64xf32>, tensor<?x1xf32>) outs(%[[E]] : tensor<?x64xf32>)
// CHECK: ^bb0(%[[SV:.*]]: f32, %[[GV:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[SV]], %[[GV]] : f32
// CHECK-NEXT: linalg.yield %[[P]] : f32
// CHECK: %[[O:.*]] = moe.expert_matmul %[[H]], %{{.*}}, %[[OFF]] combine(%[[SLOTS]], %[[W]]) into(%[[INIT]])
// CHECK-NOT: moe.combine
// CHECK: return %[[O]]
// DET-LABEL: func.func @shared
// DET: moe.combine
// LOWERED-LABEL: func.func @shared
// LOWERED-NOT: = moe.
// LOWERED: linalg.add
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0, 0)>
func.func @shared(%l: tensor<?x8xf32>, %x: tensor<?x64xf32>, %w2: tensor<8x64x128xf32>,
                  %h: tensor<?x128xf32>, %s: tensor<?x64xf32>, %g: tensor<?x1xf32>)
    -> tensor<?x64xf32> {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 4>
      : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  %o = moe.combine %y, %slots, %w
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x4xf32>) -> tensor<?x64xf32>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %o, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x64xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%o, %s, %g : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x1xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %out: f32):
    %p = arith.mulf %b, %c : f32
    %q = arith.addf %a, %p : f32
    linalg.yield %q : f32
  } -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

// In bf16 the addition is done in f32: the initial value is the other term
// rounded to bf16.
// CHECK-LABEL: func.func @bf16
// CHECK: %[[INIT:.*]] = linalg.generic
// CHECK: ^bb0(%[[SV:.*]]: bf16, %{{.*}}: bf16):
// CHECK-NEXT: %[[F:.*]] = arith.extf %[[SV]] : bf16 to f32
// CHECK-NEXT: %[[R:.*]] = arith.truncf %[[F]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[R]] : bf16
// CHECK: moe.expert_matmul {{.*}} combine({{.*}}) into(%[[INIT]])
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @bf16(%l: tensor<?x8xbf16>, %w2: tensor<8x64x128xbf16>,
                %h: tensor<?x128xbf16>, %s: tensor<?x64xbf16>, %e: tensor<?x64xbf16>)
    -> tensor<?x64xbf16> {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2>
      : (tensor<?x8xbf16>) -> (tensor<?x2xbf16>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xbf16>, tensor<8x64x128xbf16>, tensor<9xi32>) -> tensor<?x64xbf16>
  %o = moe.combine %y, %slots, %w
      : (tensor<?x64xbf16>, tensor<?xi32>, tensor<?x2xbf16>) -> tensor<?x64xbf16>
  %r = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%s, %o : tensor<?x64xbf16>, tensor<?x64xbf16>) outs(%e : tensor<?x64xbf16>) {
  ^bb0(%a: bf16, %b: bf16, %out: bf16):
    %a32 = arith.extf %a : bf16 to f32
    %b32 = arith.extf %b : bf16 to f32
    %q = arith.addf %a32, %b32 : f32
    %t = arith.truncf %q : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  return %r : tensor<?x64xbf16>
}

// -----

// Rows grouped by another plan than the combine's slots, or a GEMM result
// read twice: not fused (weights of unknown k: fuse-combine-dynamic-k.mlir).
// CHECK-LABEL: func.func @not_fused
// CHECK-COUNT-2: moe.combine
func.func @not_fused(%l: tensor<?x8xf32>, %l2: tensor<?x8xf32>, %w2: tensor<8x64x128xf32>,
                     %h: tensor<?x128xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  %w_2, %off_2, %slots_2 = moe.route_plan %l2 routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  %o = moe.combine %y, %slots_2, %w_2
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
  %y2 = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  %o2 = moe.combine %y2, %slots, %w
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return %o, %o2, %y2 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
