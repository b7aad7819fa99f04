// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @missing_scales(%g: tensor<?x64xf32>, %w: tensor<4x32x32xi8>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{expects weight scales for quantized weights}}
  %y = moe.expert_matmul %g, %w, %off {weight_bits = 4}
      : (tensor<?x64xf32>, tensor<4x32x32xi8>, tensor<5xi32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @packed_width(%g: tensor<?x64xf32>, %w: tensor<4x32x64xi8>, %off: tensor<5xi32>, %s: tensor<4x32xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{expects weight dimension 2 (input features * bits / 8 bytes) to be 32, got 64}}
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 4}
      : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @bits(%g: tensor<?x64xf32>, %w: tensor<4x32x24xi8>, %off: tensor<5xi32>, %s: tensor<4x32xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{weight_bits must be 0 (float weights), 4 or 8, got 3}}
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 3}
      : (tensor<?x64xf32>, tensor<4x32x24xi8>, tensor<5xi32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @float_with_scales(%g: tensor<?x64xf32>, %w: tensor<4x32x64xf32>, %off: tensor<5xi32>, %s: tensor<4x32xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{has weight scales but float weights (weight_bits = 0)}}
  %y = moe.expert_matmul %g, %w, %off scales(%s)
      : (tensor<?x64xf32>, tensor<4x32x64xf32>, tensor<5xi32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @block(%g: tensor<?x64xf32>, %w: tensor<4x32x64xi8>, %off: tensor<5xi32>, %s: tensor<4x32x3xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{input features (64) are not a multiple of quant_block (24)}}
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 8, quant_block = 24}
      : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32x3xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @block_scales(%g: tensor<?x64xf32>, %w: tensor<4x32x64xi8>, %off: tensor<5xi32>, %s: tensor<4x32xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{expects weight scales to have rank 3, got 'tensor<4x32xf32>'}}
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 8, quant_block = 16}
      : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @layer_float_weight(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                              %w1: tensor<8x256x32xf32>, %s1: tensor<8x256xf32>,
                              %w2: tensor<8x64x64xi8>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{expects fc1 to have element type 'i8', got 'f32'}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x32xf32>) fc1_scales(%s1 : tensor<8x256xf32>)
      fc2(%w2 : tensor<8x64x64xi8>) fc2_scales(%s2 : tensor<8x64xf32>)
      routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved>
      {weight_bits = 4} -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @zero_points_shape(%g: tensor<?x64xf32>, %w: tensor<4x32x64xi8>, %off: tensor<5xi32>,
                             %s: tensor<4x32x4xf32>, %z: tensor<4x32x2xi8>) -> tensor<?x32xf32> {
  // expected-error @+1 {{expects weight zero points dimension 2 (blocks) to be 4, got 2}}
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 8, quant_block = 16}
      : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32x4xf32>, tensor<4x32x2xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @zero_points_float(%g: tensor<?x64xf32>, %w: tensor<4x32x64xf32>, %off: tensor<5xi32>,
                             %z: tensor<4x32xi8>) -> tensor<?x32xf32> {
  // expected-error @+1 {{has weight zero points but float weights (weight_bits = 0)}}
  %y = moe.expert_matmul %g, %w, %off zero_points(%z)
      : (tensor<?x64xf32>, tensor<4x32x64xf32>, tensor<5xi32>, tensor<4x32xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @layer_zero_points(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                             %w1: tensor<8x256x32xi8>, %s1: tensor<8x256xf32>, %z1: tensor<8x128xi8>,
                             %w2: tensor<8x64x64xi8>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{expects fc1 zero points dimension 1 (fc1 width) to be 256, got 128}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x32xi8>) fc1_scales(%s1 : tensor<8x256xf32>) fc1_zero_points(%z1 : tensor<8x128xi8>)
      fc2(%w2 : tensor<8x64x64xi8>) fc2_scales(%s2 : tensor<8x64xf32>)
      routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved>
      {weight_bits = 4} -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
