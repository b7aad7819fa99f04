// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @logits
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = moe.route_plan %{{.*}} routing <softmax, k = 2, renormalize> block = 64 : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
func.func @logits(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>) {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2, renormalize> block = 64
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  return %w, %off, %slots : tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>
}

// The router matmul and a bias; static tokens: 5 * 6 copies, no padding.
// CHECK-LABEL: func.func @gate_bias
// CHECK: moe.route_plan %{{.*}} gate(%{{.*}}) bias(%{{.*}}) routing <sigmoid, k = 6, renormalize, groups = 8, topk_groups = 3> : (tensor<5x128xf16>, tensor<64x128xf16>, tensor<64xf16>) -> (tensor<5x6xf16>, tensor<65xi32>, tensor<30xi32>)
func.func @gate_bias(%x: tensor<5x128xf16>, %wg: tensor<64x128xf16>, %b: tensor<64xf16>)
    -> tensor<30xi32> {
  %w, %off, %slots = moe.route_plan %x gate(%wg) bias(%b)
      routing <sigmoid, k = 6, renormalize, groups = 8, topk_groups = 3>
      : (tensor<5x128xf16>, tensor<64x128xf16>, tensor<64xf16>)
        -> (tensor<5x6xf16>, tensor<65xi32>, tensor<30xi32>)
  return %slots : tensor<30xi32>
}

// A combined grouped matmul: [T, N] out of grouped rows.
// CHECK-LABEL: func.func @combined
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} gather(%{{.*}}) k = 2 epilogue <relu> combine(%{{.*}}, %{{.*}}) into(%{{.*}}) : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>, tensor<?xi32>, tensor<?x2xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
func.func @combined(%x: tensor<?x64xf32>, %w1: tensor<8x32x64xf32>, %off: tensor<9xi32>,
                    %slots: tensor<?xi32>, %w: tensor<?x2xf32>, %init: tensor<?x32xf32>)
    -> tensor<?x32xf32> {
  %y = moe.expert_matmul %x, %w1, %off gather(%slots) k = 2 epilogue <relu>
      combine(%slots, %w) into(%init)
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>,
         tensor<?xi32>, tensor<?x2xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
