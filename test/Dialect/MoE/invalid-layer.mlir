// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @k_exceeds_experts(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                             %w1: tensor<8x256x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{'moe.layer' op k = 9 exceeds the number of experts (8)}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 9> activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return
}

// -----

func.func @fc1_hidden_mismatch(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                               %w1: tensor<8x256x32xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects fc1 dimension 2 (hidden size) to be 64, got 32}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x32xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return
}

// -----

func.func @fc2_hidden_mismatch(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                               %w1: tensor<8x256x64xf32>, %w2: tensor<8x48x128xf32>) {
  // expected-error @+1 {{expects fc2 dimension 1 (hidden size) to be 64, got 48}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x64xf32>) fc2(%w2 : tensor<8x48x128xf32>)
      routing <softmax, k = 2> activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return
}

// -----

func.func @fused_gate_needs_double_width(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                                         %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects fc1 dimension 1 (twice the intermediate size for fused gate/up) to be 256, got 128}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return
}

// -----

func.func @expert_count_mismatch(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                                 %w1: tensor<8x128x64xf32>, %w2: tensor<4x64x128xf32>) {
  // expected-error @+1 {{expects fc2 dimension 0 (experts) to be 8, got 4}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<4x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @logits_expert_mismatch(%x: tensor<?x64xf32>, %l: tensor<?x6xf32>,
                                  %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects router logits dimension 1 (experts) to be 8, got 6}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x6xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @logits_token_mismatch(%x: tensor<4x64xf32>, %l: tensor<5x8xf32>,
                                 %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects router logits dimension 0 (tokens) to be 4, got 5}}
  %y = moe.layer %x : tensor<4x64xf32> logits(%l : tensor<5x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<4x64xf32>
  return
}

// -----

func.func @no_router(%x: tensor<?x64xf32>, %w1: tensor<8x128x64xf32>,
                     %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects exactly one of router logits (`logits`) or a router weight (`gate`)}}
  %y = moe.layer %x : tensor<?x64xf32>
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @both_routers(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>, %wg: tensor<8x64xf32>,
                        %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects exactly one of router logits}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>) gate(%wg : tensor<8x64xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @mixed_element_types(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                               %w1: tensor<8x128x64xf16>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects operand #2 to have element type 'f32', got 'f16'}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf16>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @integer_hidden(%x: tensor<?x64xi32>, %l: tensor<?x8xf32>,
                          %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float values}}
  %y = moe.layer %x : tensor<?x64xi32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @dynamic_experts(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                           %w1: tensor<?x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects a static number of experts (fc1 dimension 0)}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<?x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @rank_of_weight(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                          %w1: tensor<128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects fc1 to have rank 3, got 'tensor<128x64xf32>'}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @separate_needs_fc3(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                              %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects fc3 (the up projection) for separate gating}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <silu, gated = separate> -> tensor<?x64xf32>
  return
}

// -----

func.func @fc3_without_separate(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                                %w1: tensor<8x128x64xf32>, %w3: tensor<8x128x64xf32>,
                                %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{takes fc3 only with separate gating}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc3(%w3 : tensor<8x128x64xf32>)
      fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @bad_fc1_bias(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                        %w1: tensor<8x128x64xf32>, %b1: tensor<8x64xf32>,
                        %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects fc1_bias dimension 1 (fc1 width) to be 128, got 64}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc1_bias(%b1 : tensor<8x64xf32>)
      fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @bad_router_bias(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>, %b: tensor<4xf32>,
                           %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects router bias dimension 0 (experts) to be 8, got 4}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>) router_bias(%b : tensor<4xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <sigmoid, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @groups_do_not_divide(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                                %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{the 8 experts cannot be split into 3 equal groups}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <sigmoid, k = 2, groups = 3, topk_groups = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @k_beyond_selected_groups(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                                    %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{k = 5 exceeds the 4 experts in the selected groups}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <sigmoid, k = 5, groups = 4, topk_groups = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @shared_missing_down(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                               %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>,
                               %s1: tensor<32x64xf32>) {
  // expected-error @+1 {{expects both shared_fc1 and shared_fc2 for shared experts}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      shared_fc1(%s1 : tensor<32x64xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @shared_width(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                        %w1: tensor<8x256x64xf32>, %w2: tensor<8x64x128xf32>,
                        %s1: tensor<32x64xf32>, %s2: tensor<64x32xf32>) {
  // expected-error @+1 {{expects shared_fc1 dimension 0 (shared fc1 width) to be 64, got 32}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      shared_fc1(%s1 : tensor<32x64xf32>) shared_fc2(%s2 : tensor<64x32xf32>)
      routing <softmax, k = 2> activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return
}

// -----

func.func @shared_gate_shape(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                             %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>,
                             %s1: tensor<32x64xf32>, %s2: tensor<64x32xf32>,
                             %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects shared_gate dimension 0 (one gate) to be 1, got 2}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      shared_fc1(%s1 : tensor<32x64xf32>) shared_fc2(%s2 : tensor<64x32xf32>)
      shared_gate(%g : tensor<2x64xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @result_shape(%x: tensor<4x64xf32>, %l: tensor<4x8xf32>,
                        %w1: tensor<8x128x64xf32>, %w2: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects result dimension 1 (hidden size) to be 64, got 32}}
  %y = moe.layer %x : tensor<4x64xf32> logits(%l : tensor<4x8xf32>)
      fc1(%w1 : tensor<8x128x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<4x32xf32>
  return
}

// -----

func.func @zero_hidden(%x: tensor<?x0xf32>, %l: tensor<?x8xf32>,
                       %w1: tensor<8x256x0xf32>, %w2: tensor<8x0x128xf32>) {
  // expected-error @+1 {{'moe.layer' op needs a positive hidden size and intermediate size}}
  %y = moe.layer %x : tensor<?x0xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x0xf32>) fc2(%w2 : tensor<8x0x128xf32>)
      routing <softmax, k = 2> activation <silu, gated = interleaved> -> tensor<?x0xf32>
  return
}

// -----

func.func @zero_intermediate(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                             %w1: tensor<8x0x64xf32>, %w2: tensor<8x64x0xf32>) {
  // expected-error @+1 {{'moe.layer' op needs a positive hidden size and intermediate size}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x0x64xf32>) fc2(%w2 : tensor<8x64x0xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<?x64xf32>
  return
}

// -----

func.func @too_many_experts(%x: tensor<?x64xf32>, %l: tensor<?x2147483648xf32>,
                            %w1: tensor<2147483648x256x64xf32>, %w2: tensor<2147483648x64x128xf32>) {
  // expected-error @+1 {{'moe.layer' op has 2147483648 experts, more than expert ids (i32) can name}}
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x2147483648xf32>)
      fc1(%w1 : tensor<2147483648x256x64xf32>) fc2(%w2 : tensor<2147483648x64x128xf32>)
      routing <softmax, k = 2> activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return
}
