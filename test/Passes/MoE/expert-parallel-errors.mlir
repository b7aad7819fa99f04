// RUN: moe-opt %s -moe-expert-parallel="ranks=2 rank=0 map=0,1,1" -split-input-file -verify-diagnostics
// RUN: not moe-opt %s -moe-expert-parallel="ranks=2 rank=2" 2>&1 | FileCheck %s --check-prefix=RANK
// RUN: not moe-opt %s -moe-expert-parallel="ranks=2 placement=random" 2>&1 | FileCheck %s --check-prefix=PLACE
// RUN: not moe-opt %s -moe-expert-parallel="ranks=2 map=0,1,2,0" -split-input-file 2>&1 | FileCheck %s --check-prefix=MAPRANK

// RANK: error: moe-expert-parallel: need ranks >= 1 and 0 <= rank < ranks, got ranks = 2, rank = 2
// PLACE: error: moe-expert-parallel: unknown placement 'random' (contiguous or round-robin)
// MAPRANK: error: moe-expert-parallel: map names rank 2, outside [0, 2)

func.func @map_length(%x: tensor<?x8xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>,
                      %w1: tensor<4x8x8xf32>) -> tensor<?x8xf32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 4
      : (tensor<?x8xf32>, tensor<?x2xi32>) -> (tensor<?x8xf32>, tensor<5xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w1, %off
      : (tensor<?x8xf32>, tensor<4x8x8xf32>, tensor<5xi32>) -> tensor<?x8xf32>
  // expected-error @+1 {{moe-expert-parallel: map has 3 entries, but the layer has 4 experts}}
  %out = moe.combine %y, %slots, %w
      : (tensor<?x8xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

func.func @foreign_op(%x: tensor<?x8xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>,
                      %w1: tensor<3x8x8xf32>) -> tensor<?x8xf32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 3
      : (tensor<?x8xf32>, tensor<?x2xi32>) -> (tensor<?x8xf32>, tensor<4xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w1, %off
      : (tensor<?x8xf32>, tensor<3x8x8xf32>, tensor<4xi32>) -> tensor<?x8xf32>
  // expected-error @+1 {{moe-expert-parallel: cannot shard 'arith.addf' in an expert computation (only moe.expert_matmul and moe.activation)}}
  %z = arith.addf %y, %y : tensor<?x8xf32>
  %out = moe.combine %z, %slots, %w
      : (tensor<?x8xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

func.func @escaping(%x: tensor<?x8xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>,
                    %w1: tensor<3x8x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 3
      : (tensor<?x8xf32>, tensor<?x2xi32>) -> (tensor<?x8xf32>, tensor<4xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w1, %off
      : (tensor<?x8xf32>, tensor<3x8x8xf32>, tensor<4xi32>) -> tensor<?x8xf32>
  %out = moe.combine %y, %slots, %w
      : (tensor<?x8xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x8xf32>
  // expected-error @+1 {{moe-expert-parallel: uses an expert computation's rows outside the layer}}
  return %out, %y : tensor<?x8xf32>, tensor<?x8xf32>
}
