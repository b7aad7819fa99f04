// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @offsets_size(%x: tensor<?x64xf32>, %ids: tensor<?x2xi32>) {
  // expected-error @+1 {{expects offsets dimension 0 (experts + 1) to be 9, got 8}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<8xi32>, tensor<?xi32>)
  return
}

// -----

func.func @row_count(%x: tensor<6x64xf32>, %ids: tensor<6x2xi32>) {
  // expected-error @+1 {{expects grouped dimension 0 (tokens * k plus padding) to be 12, got 6}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8
      : (tensor<6x64xf32>, tensor<6x2xi32>) -> (tensor<6x64xf32>, tensor<9xi32>, tensor<12xi32>)
  return
}

// -----

func.func @padded_row_count(%x: tensor<6x64xf32>, %ids: tensor<6x2xi32>) {
  // expected-error @+1 {{expects grouped dimension 0 (tokens * k plus padding) to be 36, got 12}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8 block = 4
      : (tensor<6x64xf32>, tensor<6x2xi32>) -> (tensor<12x64xf32>, tensor<9xi32>, tensor<12xi32>)
  return
}

// -----

func.func @token_mismatch(%x: tensor<6x64xf32>, %ids: tensor<5x2xi32>) {
  // expected-error @+1 {{expects ids dimension 0 (tokens) to be 6, got 5}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8
      : (tensor<6x64xf32>, tensor<5x2xi32>) -> (tensor<12x64xf32>, tensor<9xi32>, tensor<12xi32>)
  return
}

// -----

func.func @dynamic_k(%x: tensor<?x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{expects a static k (ids dimension 1)}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x?xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  return
}

// -----

func.func @zero_experts(%x: tensor<?x64xf32>, %ids: tensor<?x2xi32>) {
  // expected-error @+1 {{attribute 'num_experts' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 0
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<1xi32>, tensor<?xi32>)
  return
}

// -----

func.func @hidden_changes(%x: tensor<?x64xf32>, %ids: tensor<?x2xi32>) {
  // expected-error @+1 {{expects grouped dimension 1 (hidden size) to be 64, got 32}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x32xf32>, tensor<9xi32>, tensor<?xi32>)
  return
}

// -----

// Row offsets are i32: a block of 2^31 rows or more cannot be addressed.
func.func @huge_block(%x: tensor<6x64xf32>, %ids: tensor<6x2xi32>) {
  // expected-error @+1 {{attribute 'block' failed to satisfy constraint}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 8 block = 2147483648
      : (tensor<6x64xf32>, tensor<6x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  return
}

// -----

func.func @huge_experts(%x: tensor<6x64xf32>, %ids: tensor<6x2xi32>) {
  // expected-error @+1 {{attribute 'num_experts' failed to satisfy constraint}}
  %g, %off, %s = moe.dispatch %x, %ids experts = 9223372036854775807
      : (tensor<6x64xf32>, tensor<6x2xi32>) -> (tensor<?x64xf32>, tensor<?xi32>, tensor<?xi32>)
  return
}
