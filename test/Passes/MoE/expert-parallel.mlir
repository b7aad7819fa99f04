// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=2 rank=1" -split-input-file | FileCheck %s --check-prefix=CONTIG
// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=2 rank=1 placement=round-robin" -split-input-file | FileCheck %s --check-prefix=RR
// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=4 rank=2 map=0,0,1,1" -split-input-file | FileCheck %s --check-prefix=EMPTY
// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=1" -split-input-file | FileCheck %s --check-prefix=ONE

// Contiguous placement, rank 1 of 2: experts 2 and 3. The dispatch already
// groups rows in placement order (no id remapping); rows [off[0], off[2])
// go to rank 0, [off[2], off[4]) to rank 1; the local expert of a row is
// its position among its rank's experts; the received rows are grouped by
// local expert and computed with this rank's weights only; they return
// and the original combine (routing weights, slot order) is unchanged.
// CONTIG: module attributes {moe.shard = {layout = [[LAYOUT:[0-9]+]] : i64, rank = 1 : i64, ranks = 2 : i64}}
// CONTIG-LABEL: func.func @consts
// CONTIG-DAG: %[[W1:.*]] = arith.constant dense<{{\[\[\[}}3.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]], {{\[\[}}4.000000e+00, {{.*}} : tensor<2x1x4xf32>
// CONTIG-DAG: %[[W2:.*]] = arith.constant dense<1.000000e+00> : tensor<2x4x1xf32>
// CONTIG: %[[W:.*]], %[[IDS:.*]] = moe.route
// CONTIG-NOT: linalg.generic
// CONTIG: %[[X:.*]] = tensor.cast %{{.*}} : tensor<6x4xf32> to tensor<?x4xf32>
// CONTIG: %[[I:.*]] = tensor.cast %[[IDS]] : tensor<6x2xi32> to tensor<?x2xi32>
// CONTIG: %[[WD:.*]] = tensor.cast %[[W]] : tensor<6x2xf32> to tensor<?x2xf32>
// CONTIG: %[[G:.*]], %[[OFF:.*]], %[[SLOTS:.*]] = moe.dispatch %[[X]], %[[I]] experts = 4
// CONTIG: %[[O0:.*]] = tensor.extract %[[OFF]][%c0]
// CONTIG: %[[O2:.*]] = tensor.extract %[[OFF]][%c2]
// CONTIG: %[[O4:.*]] = tensor.extract %[[OFF]][%c4]
// CONTIG: %[[N0:.*]] = arith.subi %[[O2]], %[[O0]]
// CONTIG: %[[N1:.*]] = arith.subi %[[O4]], %[[O2]]
// CONTIG: %[[COUNTS:.*]] = tensor.from_elements %[[N0]], %[[N1]] : tensor<2xi32>
// CONTIG: arith.constant dense<[0, 1, 0, 1]> : tensor<4xi32>
// CONTIG: %[[LID:.*]] = linalg.generic {{.*}} ins(%[[SLOTS]] : tensor<?xi32>)
// CONTIG: %[[XR:.*]], %[[RC:.*]] = moe.all_to_all %[[G]], %[[COUNTS]] ranks = 2 : (tensor<?x4xf32>, tensor<2xi32>) -> (tensor<?x4xf32>, tensor<2xi32>)
// CONTIG: %[[LR:.*]], %{{.*}} = moe.all_to_all %[[LID]], %[[COUNTS]] ranks = 2 : (tensor<?x1xi32>, tensor<2xi32>) -> (tensor<?x1xi32>, tensor<2xi32>)
// CONTIG: %[[G2:.*]], %[[OFF2:.*]], %[[SLOTS2:.*]] = moe.dispatch %[[XR]], %[[LR]] experts = 2 : (tensor<?x4xf32>, tensor<?x1xi32>) -> (tensor<?x4xf32>, tensor<3xi32>, tensor<?xi32>)
// CONTIG: %[[H1:.*]] = moe.expert_matmul %[[G2]], %[[W1]], %[[OFF2]] : (tensor<?x4xf32>, tensor<2x1x4xf32>, tensor<3xi32>) -> tensor<?x1xf32>
// CONTIG: %[[A:.*]] = moe.activation %[[H1]] <relu>
// CONTIG: %[[H2:.*]] = moe.expert_matmul %[[A]], %[[W2]], %[[OFF2]]
// CONTIG: %[[ONES:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x1xf32>)
// CONTIG: %[[BACK:.*]] = moe.combine %[[H2]], %[[SLOTS2]], %[[ONES]]
// CONTIG: %[[RET:.*]], %{{.*}} = moe.all_to_all %[[BACK]], %[[RC]] ranks = 2
// CONTIG: %[[OUT:.*]] = moe.combine %[[RET]], %[[SLOTS]], %[[WD]] : (tensor<?x4xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x4xf32>
// CONTIG: %[[CAST:.*]] = tensor.cast %[[OUT]] : tensor<?x4xf32> to tensor<6x4xf32>
// CONTIG: return %[[CAST]]

// Round-robin, rank 1: experts 1 and 3; ids are mapped to placement order
// (expert e -> position [0, 2, 1, 3][e]) so that each rank's rows are one
// block; out-of-range ids stay out of range for the dispatch's check.
// RR-LABEL: func.func @consts
// RR: arith.constant dense<{{\[\[\[}}2.000000e+00, {{.*}} {{\[\[}}4.000000e+00, {{.*}} : tensor<2x1x4xf32>
// RR: %[[POS:.*]] = arith.constant dense<[0, 2, 1, 3]> : tensor<4xi32>
// RR: %[[P:.*]] = linalg.generic
// RR: %[[IN:.*]] = arith.andi
// RR: tensor.extract %[[POS]]
// RR: arith.select %[[IN]]
// RR: moe.dispatch %{{.*}}, %{{.*}} experts = 4
// RR-COUNT-3: moe.all_to_all

// A rank without experts (map 0,0,1,1 over 4 ranks, rank 2) computes
// nothing; it still takes part in every exchange.
// EMPTY-LABEL: func.func @consts
// EMPTY-NOT: moe.expert_matmul
// EMPTY: tensor.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<4xi32>
// EMPTY-COUNT-2: moe.all_to_all
// EMPTY: linalg.fill
// EMPTY: moe.all_to_all
// EMPTY: moe.combine

// One rank: nothing changes.
// ONE-NOT: moe.all_to_all
// ONE-NOT: moe.shard
// ONE: moe.expert_matmul
func.func @consts(%x: tensor<6x4xf32>, %l: tensor<6x4xf32>) -> tensor<6x4xf32> {
  %w1 = arith.constant dense<[[[1.0, 0.0, 0.0, 0.0]], [[2.0, 0.0, 0.0, 0.0]], [[3.0, 0.0, 0.0, 0.0]], [[4.0, 0.0, 0.0, 0.0]]]> : tensor<4x1x4xf32>
  %w2 = arith.constant dense<1.0> : tensor<4x4x1xf32>
  %y = moe.layer %x : tensor<6x4xf32> logits(%l : tensor<6x4xf32>)
      fc1(%w1 : tensor<4x1x4xf32>) fc2(%w2 : tensor<4x4x1xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}

// -----

// A padded dispatch (the CUDA pipeline's 64-row GEMM tiles): rows are
// grouped for sending without padding; the receiver's grouping, which feeds
// the grouped GEMMs, keeps the block.
// CONTIG-LABEL: func.func @padded
// CONTIG: moe.dispatch %{{.*}}, %{{.*}} experts = 4 : (tensor<?x8xf32>, tensor<?x2xi32>)
// CONTIG: moe.all_to_all
// CONTIG: moe.dispatch %{{.*}}, %{{.*}} experts = 2 block = 64 : (tensor<?x8xf32>, tensor<?x1xi32>)
func.func @padded(%x: tensor<?x8xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>,
                  %w1: tensor<4x8x8xf32>) -> tensor<?x8xf32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 4 block = 64
      : (tensor<?x8xf32>, tensor<?x2xi32>) -> (tensor<?x8xf32>, tensor<5xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w1, %off
      : (tensor<?x8xf32>, tensor<4x8x8xf32>, tensor<5xi32>) -> tensor<?x8xf32>
  %out = moe.combine %y, %slots, %w
      : (tensor<?x8xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}
