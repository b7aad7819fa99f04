// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @grouped
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf32>
func.func @grouped(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>,
                   %off: tensor<9xi32>) -> tensor<?x256xf32> {
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// CHECK-LABEL: func.func @with_bias
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<12x16xbf16>, tensor<4x32x16xbf16>, tensor<5xi32>, tensor<4x32xbf16>) -> tensor<12x32xbf16>
func.func @with_bias(%g: tensor<12x16xbf16>, %w: tensor<4x32x16xbf16>,
                     %off: tensor<5xi32>, %b: tensor<4x32xbf16>) -> tensor<12x32xbf16> {
  %y = moe.expert_matmul %g, %w, %off bias(%b)
      : (tensor<12x16xbf16>, tensor<4x32x16xbf16>, tensor<5xi32>, tensor<4x32xbf16>)
        -> tensor<12x32xbf16>
  return %y : tensor<12x32xbf16>
}

// An activation applied in the GEMM's epilogue (moe-fuse-expert-activation).
// CHECK-LABEL: func.func @epilogue
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} epilogue <silu, gated = interleaved> : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
func.func @epilogue(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %off: tensor<9xi32>) -> tensor<?x128xf32> {
  %y = moe.expert_matmul %g, %w, %off epilogue <silu, gated = interleaved>
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
