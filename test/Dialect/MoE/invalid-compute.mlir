// RUN: moe-opt %s -split-input-file -verify-diagnostics
// Verifier errors of moe.expert_matmul, moe.activation and moe.combine.

func.func @matmul_in_features(%g: tensor<?x64xf32>, %w: tensor<8x256x32xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{expects weight dimension 2 (input features) to be 64, got 32}}
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xf32>, tensor<8x256x32xf32>, tensor<9xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @matmul_offsets(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %off: tensor<8xi32>) {
  // expected-error @+1 {{expects offsets dimension 0 (experts + 1) to be 9, got 8}}
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<8xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @matmul_bias(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %off: tensor<9xi32>,
                       %b: tensor<8x64xf32>) {
  // expected-error @+1 {{expects bias dimension 1 (out features) to be 256, got 64}}
  %y = moe.expert_matmul %g, %w, %off bias(%b)
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<8x64xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @matmul_types(%g: tensor<?x64xf16>, %w: tensor<8x256x64xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{expects weight to have element type 'f16', got 'f32'}}
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xf16>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf16>
  return
}

// -----

func.func @matmul_result(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{expects result dimension 1 (out features) to be 256, got 128}}
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @act_fused_width(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{expects result dimension 1 (output features) to be 32, got 64}}
  %h = moe.activation %x <silu, gated = interleaved> : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @act_odd_width(%x: tensor<?x63xf32>) {
  // expected-error @+1 {{expects an even input width for fused gate/up values, got 63}}
  %h = moe.activation %x <silu, gated = concatenated> : (tensor<?x63xf32>) -> tensor<?x31xf32>
  return
}

// -----

func.func @act_separate_needs_up(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{expects an `up` operand for separate gating}}
  %h = moe.activation %x <silu, gated = separate> : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @act_up_shape(%g: tensor<?x64xf32>, %u: tensor<?x32xf32>) {
  // expected-error @+1 {{expects up dimension 1 (gate width) to be 64, got 32}}
  %h = moe.activation %g up(%u) <silu, gated = separate>
      : (tensor<?x64xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @act_up_ungated(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>) {
  // expected-error @+1 {{takes an `up` operand only with separate gating}}
  %h = moe.activation %g up(%u) <relu>
      : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @combine_slots(%y: tensor<12x64xf32>, %s: tensor<10xi32>, %w: tensor<6x2xf32>) {
  // expected-error @+1 {{expects slots dimension 0 (rows) to be 12, got 10}}
  %o = moe.combine %y, %s, %w
      : (tensor<12x64xf32>, tensor<10xi32>, tensor<6x2xf32>) -> tensor<6x64xf32>
  return
}

// -----

func.func @combine_tokens(%y: tensor<12x64xf32>, %s: tensor<12xi32>, %w: tensor<6x2xf32>) {
  // expected-error @+1 {{expects result dimension 0 (tokens) to be 6, got 12}}
  %o = moe.combine %y, %s, %w
      : (tensor<12x64xf32>, tensor<12xi32>, tensor<6x2xf32>) -> tensor<12x64xf32>
  return
}

// -----

func.func @combine_weight_type(%y: tensor<12x64xf32>, %s: tensor<12xi32>, %w: tensor<6x2xbf16>) {
  // expected-error @+1 {{expects weights to have element type 'f32', got 'bf16'}}
  %o = moe.combine %y, %s, %w
      : (tensor<12x64xf32>, tensor<12xi32>, tensor<6x2xbf16>) -> tensor<6x64xf32>
  return
}

// -----

func.func @epilogue_concatenated(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{epilogue gating must be none or interleaved, got concatenated}}
  %y = moe.expert_matmul %g, %w, %off epilogue <silu, gated = concatenated>
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @epilogue_width(%g: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{expects result dimension 1 (out features after the epilogue) to be 128, got 256}}
  %y = moe.expert_matmul %g, %w, %off epilogue <silu, gated = interleaved>
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf32>
  return
}
