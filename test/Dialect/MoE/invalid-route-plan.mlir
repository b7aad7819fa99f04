// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @k_exceeds(%l: tensor<?x4xf32>) {
  // expected-error @+1 {{'moe.route_plan' op k = 5 exceeds the number of experts (4)}}
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 5>
      : (tensor<?x4xf32>) -> (tensor<?x5xf32>, tensor<5xi32>, tensor<?xi32>)
  return
}

// -----

func.func @offsets(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{expects offsets dimension 0 (experts + 1) to be 9, got 8}}
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<8xi32>, tensor<?xi32>)
  return
}

// -----

func.func @slots(%l: tensor<4x8xf32>) {
  // 4 tokens * 2 + 8 experts * 63 padding rows, rounded down to 64: 512.
  // expected-error @+1 {{expects slots dimension 0 (tokens * k plus padding) to be 512, got 8}}
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2> block = 64
      : (tensor<4x8xf32>) -> (tensor<4x2xf32>, tensor<9xi32>, tensor<8xi32>)
  return
}

// -----

func.func @gate_width(%x: tensor<?x64xf32>, %wg: tensor<8x32xf32>) {
  // expected-error @+1 {{expects gate weight dimension 1 (hidden size) to be 64, got 32}}
  %w, %off, %slots = moe.route_plan %x gate(%wg) routing <softmax, k = 2>
      : (tensor<?x64xf32>, tensor<8x32xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  return
}

// -----

func.func @combine_k(%x: tensor<?x64xf32>, %w1: tensor<8x32x64xf32>, %off: tensor<9xi32>,
                     %slots: tensor<?xi32>, %w: tensor<?x3xf32>, %init: tensor<?x32xf32>) {
  // expected-error @+1 {{gathers with k = 2 but combines with k = 3}}
  %y = moe.expert_matmul %x, %w1, %off gather(%slots) k = 2
      combine(%slots, %w) into(%init)
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>,
         tensor<?xi32>, tensor<?x3xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @combine_result(%x: tensor<?x64xf32>, %w1: tensor<8x32x64xf32>, %off: tensor<9xi32>,
                          %slots: tensor<?xi32>, %w: tensor<5x2xf32>, %init: tensor<5x32xf32>) {
  // expected-error @+1 {{expects result dimension 0 (tokens) to be 5, got 7}}
  %y = moe.expert_matmul %x, %w1, %off combine(%slots, %w) into(%init)
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>,
         tensor<5x2xf32>, tensor<5x32xf32>) -> tensor<7x32xf32>
  return
}

// -----

func.func @combine_init(%x: tensor<?x64xf32>, %w1: tensor<8x32x64xf32>, %off: tensor<9xi32>,
                        %slots: tensor<?xi32>, %w: tensor<?x2xf32>, %init: tensor<?x16xf32>) {
  // expected-error @+1 {{expects combine init dimension 1 (out features) to be 32, got 16}}
  %y = moe.expert_matmul %x, %w1, %off combine(%slots, %w) into(%init)
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>,
         tensor<?x2xf32>, tensor<?x16xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @combine_missing(%x: tensor<?x64xf32>, %w1: tensor<8x32x64xf32>, %off: tensor<9xi32>,
                           %slots: tensor<?xi32>) {
  // expected-error @+1 {{a combine needs its slots, weights and init}}
  %y = "moe.expert_matmul"(%x, %w1, %off, %slots) {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 1, 0, 0>}
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>) -> tensor<?x32xf32>
  return
}
