// RUN: moe-opt %s --pass-pipeline='builtin.module(func.func(moe-decompose))' | FileCheck %s
// Layers nested in regions (a decoder loop) are decomposed too; other ops are
// left alone, and a function without layers is untouched.

// CHECK-LABEL: func.func @decoder_loop
// CHECK: scf.for
// CHECK-NOT: moe.layer
// CHECK: moe.route
// CHECK: moe.combine
// CHECK: arith.addf
// CHECK: scf.yield
func.func @decoder_loop(%x: tensor<8x16xf32>, %l: tensor<8x4xf32>,
                        %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>,
                        %n: index) -> tensor<8x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%h = %x) -> tensor<8x16xf32> {
    %y = moe.layer %h : tensor<8x16xf32> logits(%l : tensor<8x4xf32>)
        fc1(%w1 : tensor<4x8x16xf32>) fc2(%w2 : tensor<4x16x8xf32>)
        routing <softmax, k = 2> activation <relu> -> tensor<8x16xf32>
    %s = arith.addf %h, %y : tensor<8x16xf32>
    scf.yield %s : tensor<8x16xf32>
  }
  return %r : tensor<8x16xf32>
}

// CHECK-LABEL: func.func @dense_only
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: return
func.func @dense_only(%a: tensor<4xf32>) -> tensor<4xf32> {
  %b = arith.mulf %a, %a : tensor<4xf32>
  return %b : tensor<4xf32>
}
