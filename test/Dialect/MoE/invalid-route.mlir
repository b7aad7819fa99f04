// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @k_exceeds(%l: tensor<?x4xf32>) {
  // expected-error @+1 {{'moe.route' op k = 5 exceeds the number of experts (4)}}
  %w, %ids = moe.route %l routing <softmax, k = 5>
      : (tensor<?x4xf32>) -> (tensor<?x5xf32>, tensor<?x5xi32>)
  return
}

// -----

func.func @dynamic_experts(%l: tensor<?x?xf32>) {
  // expected-error @+1 {{expects a static number of experts (logits dimension 1)}}
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<?x?xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @weights_width(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{expects weights dimension 1 (k) to be 2, got 3}}
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x3xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @ids_type(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{result #1 must be ranked tensor of 32-bit signless integer values}}
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return
}

// -----

func.func @weights_element_type(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{expects weights to have element type 'f32', got 'f16'}}
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf16>, tensor<?x2xi32>)
  return
}

// -----

func.func @token_mismatch(%l: tensor<3x8xf32>) {
  // expected-error @+1 {{expects ids dimension 0 (tokens) to be 3, got 4}}
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<3x8xf32>) -> (tensor<3x2xf32>, tensor<4x2xi32>)
  return
}

// -----

func.func @gate_hidden(%x: tensor<?x32xf32>, %wg: tensor<8x64xf32>) {
  // expected-error @+1 {{expects gate weight dimension 1 (hidden size) to be 32, got 64}}
  %w, %ids = moe.route %x gate(%wg) routing <softmax, k = 2>
      : (tensor<?x32xf32>, tensor<8x64xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @bias_shape(%l: tensor<?x8xf32>, %b: tensor<8x1xf32>) {
  // expected-error @+1 {{expects bias to have rank 1, got 'tensor<8x1xf32>'}}
  %w, %ids = moe.route %l bias(%b) routing <sigmoid, k = 2>
      : (tensor<?x8xf32>, tensor<8x1xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @top2_needs_pairs(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{group_score = top2_sum needs at least 2 experts per group, got 1}}
  %w, %ids = moe.route %l routing <sigmoid, k = 2, groups = 8, topk_groups = 4>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @mixer_bias(%l: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'moe.route' op sparsemixer routing takes no selection bias}}
  %w, %ids = moe.route %l bias(%b) routing <sparsemixer, k = 2, gap = 0.02>
      : (tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}
