// RUN: moe-opt %s -split-input-file -moe-convert-moe-to-linalg -canonicalize | FileCheck %s
// The numerics of this lowering are checked end to end against onnxruntime
// in test/e2e; these checks pin its structure.

// CHECK-LABEL: func.func @route
// Routing is parallel over tokens; each token's k picks are written as a
// row of the [T, k] results.
// CHECK: %[[R:.*]]:2 = scf.forall (%[[T:.*]]) in (%{{.*}}) shared_outs(%[[W:.*]] = %{{.*}}, %[[I:.*]] = %{{.*}}) -> (tensor<?x2xf32>, tensor<?x2xi32>)
// Softmax: max, then sum of exponentials, over the experts.
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: arith.maximumf
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: math.exp
// Two picks, each a scan carrying (best score, best index).
// CHECK: scf.for {{.*}} -> (f32, index)
// CHECK: scf.for {{.*}} -> (f32, index)
// Renormalization divides by the sum of the picked weights.
// CHECK: arith.divf
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %[[W]][%[[T]], 0] [1, 2] [1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %[[I]][%[[T]], 0] [1, 2] [1, 1]
func.func @route(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %ids = moe.route %l routing <softmax, k = 2, renormalize>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %w, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Group-limited sigmoid routing with a bias and a fused router matmul.
// CHECK-LABEL: func.func @route_groups
// CHECK: linalg.matmul {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x16xf32>, tensor<8x16xf32>) outs(%{{.*}} : tensor<?x8xf32>)
// CHECK: scf.forall
// CHECK: arith.negf
// CHECK: math.exp
// The kept-group mask of an expert: its group's flag, by a select chain.
// CHECK: arith.divui %{{.*}}, %c2
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : i1
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
func.func @route_groups(%x: tensor<?x16xf32>, %g: tensor<8x16xf32>, %b: tensor<8xf32>)
    -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %ids = moe.route %x gate(%g) bias(%b)
      routing <sigmoid, k = 2, renormalize, groups = 4, topk_groups = 2, scale = 2.5>
      : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %w, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Dispatch: count per expert (checking the ids), prefix sum, stable
// placement, then gather the rows.
// CHECK-LABEL: func.func @dispatch
// CHECK: %[[COUNTS:.*]] = scf.for {{.*}} -> (tensor<4xi32>)
// CHECK: cf.assert %{{.*}}, "moe.dispatch: expert id out of range [0, 4)"
// CHECK: %[[OFF:.*]] = scf.for {{.*}} -> (tensor<5xi32>)
// CHECK: arith.ceildivui
// CHECK: %[[PLACE:.*]]:2 = scf.for {{.*}} -> (tensor<?xi32>, tensor<4xi32>)
// CHECK: linalg.generic {{.*}} ins(%[[PLACE]]#0 : tensor<?xi32>)
// CHECK: arith.select
func.func @dispatch(%x: tensor<?x16xf32>, %ids: tensor<?x2xi32>)
    -> (tensor<?x16xf32>, tensor<5xi32>, tensor<?xi32>) {
  %g, %off, %s = moe.dispatch %x, %ids experts = 4 block = 8
      : (tensor<?x16xf32>, tensor<?x2xi32>) -> (tensor<?x16xf32>, tensor<5xi32>, tensor<?xi32>)
  return %g, %off, %s : tensor<?x16xf32>, tensor<5xi32>, tensor<?xi32>
}

// -----

// Rows past offsets[E] are zero-filled; every row below is written by its
// expert. The experts that have rows are listed first (a loop over the
// offsets); they run in parallel (scf.forall over that list; with fewer
// than 4 of them, times 4 column chunks, with fewer than 16 times 2). Each
// item computes its row range times its columns of the weight^T with
// register tiles, straight into its block of the result: 4 x 4 tiles whose
// k loop carries 16 vector sums along k (k = 32, a multiple of 16), folded
// pairwise by shuffles into one vector of the 16 results (15 adds, not 16
// horizontal reductions); the bias (a row of 4, spread over the tile's 4
// rows) is added and the sums rounded to f16 in registers, then written as
// 4 rows of 4. The 1-3 remaining rows are one r x 8 tile of scalar sums
// (reassociation allowed so that LLVM vectorizes it) with the same
// epilogue.
// CHECK-LABEL: func.func @expert_matmul
// CHECK: %[[EMPTY:.*]] = tensor.empty(%{{.*}}) : tensor<?x32xf16>
// CHECK: %[[END:.*]] = tensor.extract %{{.*}}[%c4] : tensor<5xi32>
// CHECK: %[[USED:.*]] = arith.minui
// CHECK: %[[TAIL:.*]] = tensor.extract_slice %[[EMPTY]][%[[USED]], 0]
// CHECK: %[[ZEROS:.*]] = linalg.fill {{.*}} outs(%[[TAIL]]
// CHECK: %[[ZERO:.*]] = tensor.insert_slice %[[ZEROS]] into %[[EMPTY]][%[[USED]], 0]
// CHECK: %[[LIST:.*]]:2 = scf.for {{.*}} -> (tensor<4xi32>, index)
// CHECK: arith.cmpi sgt
// CHECK: tensor.insert
// CHECK: %[[SOME:.*]] = arith.cmpi ult, %[[LIST]]#1, %c16
// CHECK: %[[HALVES:.*]] = arith.select %[[SOME]], %c2, %c1
// CHECK: %[[FEW:.*]] = arith.cmpi ult, %[[LIST]]#1, %c4
// CHECK: %[[CHUNKS:.*]] = arith.select %[[FEW]], %c4, %[[HALVES]]
// CHECK: %[[WORK:.*]] = arith.muli %[[LIST]]#1, %[[CHUNKS]]
// CHECK: scf.forall (%[[I:.*]]) in (%[[WORK]]) shared_outs(%[[OUT:.*]] = %[[ZERO]]) -> (tensor<?x32xf16>)
// CHECK: %[[SLOT:.*]] = arith.divui %[[I]], %[[CHUNKS]]
// CHECK: %[[WIDTH:.*]] = arith.divui %c32, %[[CHUNKS]]
// CHECK: %[[CH:.*]] = arith.remui %[[I]], %[[CHUNKS]]
// CHECK: %[[N0:.*]] = arith.muli %[[CH]], %[[WIDTH]]
// CHECK: %[[EI:.*]] = tensor.extract %[[LIST]]#0[%[[SLOT]]]
// CHECK: %[[E:.*]] = arith.index_cast %[[EI]]
// CHECK: %[[X:.*]] = tensor.extract_slice %{{.*}}[%[[LO:.*]], 0] [%[[COUNT:.*]], 32] [1, 1] : tensor<?x32xf16> to tensor<?x32xf16>
// CHECK: %[[WS:.*]] = tensor.extract_slice %{{.*}}[%[[E]], %[[N0]], 0] [1, %[[WIDTH]], 32] [1, 1, 1] : tensor<4x32x32xf16> to tensor<?x32xf16>
// CHECK: %[[DEST:.*]] = tensor.extract_slice %[[OUT]][%[[LO]], %[[N0]]] [%[[COUNT]], %[[WIDTH]]] [1, 1]
// CHECK: scf.for %{{.*}} step %c4 iter_args(%{{.*}} = %[[DEST]]) -> (tensor<?x?xf16>)
// CHECK: scf.for %[[M0:.*]] = %c0 to %{{.*}} step %c4 iter_args(%{{.*}}) -> (tensor<?x?xf16>)
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4: vector.transfer_read %[[X]]{{.*}} : tensor<?x32xf16>, vector<16xf16>
// CHECK-COUNT-4: vector.transfer_read %[[WS]]{{.*}} : tensor<?x32xf16>, vector<16xf16>
// CHECK-COUNT-16: vector.fma {{.*}} : vector<16xf32>
// CHECK-COUNT-15: arith.addf {{.*}} fastmath<reassoc,contract> : vector<16xf32>
// CHECK: %[[B:.*]] = vector.transfer_read %{{.*}}[%[[E]], %{{.*}}], {{.*}} : tensor<4x32xf16>, vector<4xf16>
// CHECK: vector.shuffle %[[B]], %[[B]] [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]
// CHECK: arith.addf {{.*}} : vector<16xf32>
// CHECK: arith.truncf {{.*}} : vector<16xf32> to vector<16xf16>
// CHECK-COUNT-4: vector.transfer_write {{.*}} : vector<4xf16>, tensor<?x?xf16>
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32)
// CHECK: vector.from_elements {{.*}} : vector<4xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: tensor.extract %[[X]]
// CHECK: tensor.extract %[[WS]]
// CHECK: arith.extf
// CHECK: scf.if
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[LO]], %[[N0]]] [%[[COUNT]], %[[WIDTH]]] [1, 1]
func.func @expert_matmul(%g: tensor<?x32xf16>, %w: tensor<4x32x32xf16>,
                         %off: tensor<5xi32>, %b: tensor<4x32xf16>) -> tensor<?x32xf16> {
  %y = moe.expert_matmul %g, %w, %off bias(%b)
      : (tensor<?x32xf16>, tensor<4x32x32xf16>, tensor<5xi32>, tensor<4x32xf16>) -> tensor<?x32xf16>
  return %y : tensor<?x32xf16>
}

// -----

// A gated interleaved epilogue in the tiles: the 16 sums of a 4 x 4 tile are
// 4 rows of (gate, up, gate, up); even lanes are the gates, odd lanes the
// ups, SiLU(gate) * up is computed on the 8 pairs in registers and each row
// writes 2 results at column n0 / 2. The remaining columns go in steps of 2
// so that no pair is split between tiles.
// CHECK-LABEL: func.func @expert_matmul_gated
// CHECK: scf.forall {{.*}} -> (tensor<?x32xf32>)
// CHECK: %[[DEST:.*]] = tensor.extract_slice %{{.*}} : tensor<?x32xf32> to tensor<?x?xf32>
// CHECK: scf.for %[[N0:.*]] = %c0 to %{{.*}} step %c4 iter_args(%{{.*}} = %[[DEST]])
// CHECK-COUNT-16: vector.fma
// CHECK-COUNT-15: arith.addf {{.*}} fastmath<reassoc,contract> : vector<16xf32>
// CHECK-NEXT: %[[G:.*]] = vector.shuffle %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xf32>
// CHECK-NEXT: %[[U:.*]] = vector.shuffle %{{.*}} [1, 3, 5, 7, 9, 11, 13, 15] : vector<16xf32>
// CHECK-NEXT: %[[NEG:.*]] = arith.negf %[[G]] : vector<8xf32>
// CHECK: math.exp %[[NEG]] : vector<8xf32>
// CHECK: %[[SIG:.*]] = arith.divf
// CHECK: %[[SILU:.*]] = arith.mulf %[[G]], %[[SIG]] : vector<8xf32>
// CHECK: %[[H:.*]] = arith.mulf %[[SILU]], %[[U]] : vector<8xf32>
// CHECK: %[[COL:.*]] = arith.divui %[[N0]], %c2
// CHECK: %[[ROW0:.*]] = vector.extract_strided_slice %[[H]] {offsets = [0], sizes = [2], strides = [1]}
// CHECK: vector.transfer_write %[[ROW0]], %{{.*}}[%{{.*}}, %[[COL]]] {{.*}} : vector<2xf32>, tensor<?x?xf32>
// CHECK-COUNT-3: vector.transfer_write {{.*}} : vector<2xf32>, tensor<?x?xf32>
// CHECK: scf.for %{{.*}} step %c2 iter_args
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: vector.from_elements {{.*}} : vector<8xf32>
// CHECK: vector.shuffle {{.*}} [0, 2, 4, 6]
// CHECK: math.exp {{.*}} : vector<4xf32>
// CHECK-COUNT-4: vector.transfer_write {{.*}} : vector<1xf32>, tensor<?x?xf32>
func.func @expert_matmul_gated(%g: tensor<?x32xf32>, %w: tensor<4x64x32xf32>,
                               %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off epilogue <silu, gated = interleaved>
      : (tensor<?x32xf32>, tensor<4x64x32xf32>, tensor<5xi32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// CHECK-DAG: #[[$GATE:.*]] = affine_map<(d0, d1) -> (d0, d1 * 2)>
// CHECK-DAG: #[[$UP:.*]] = affine_map<(d0, d1) -> (d0, d1 * 2 + 1)>
// CHECK-LABEL: func.func @activations
// Interleaved gate/up read through strided maps, clamped by the limit.
// CHECK: linalg.generic {indexing_maps = [#[[$GATE]], #[[$UP]], #{{.*}}]
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: arith.addf %{{.*}}, %cst{{.*}} : f32
// Concatenated halves as slices.
// CHECK: %[[G:.*]] = tensor.extract_slice %{{.*}}[0, 0] [%{{.*}}, 8] [1, 1]
// CHECK: %[[U:.*]] = tensor.extract_slice %{{.*}}[0, 8] [%{{.*}}, 8] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[G]], %[[U]] :
// CHECK: math.erf
func.func @activations(%x: tensor<?x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = moe.activation %x <silu, gated = interleaved, alpha = 1.702, beta = 1.0, limit = 7.0>
      : (tensor<?x16xf32>) -> tensor<?x8xf32>
  %b = moe.activation %x <gelu, gated = concatenated> : (tensor<?x16xf32>) -> tensor<?x8xf32>
  return %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Combine: invert the plan, then sum the k weighted rows per token in order.
// CHECK-LABEL: func.func @combine
// CHECK: %[[ROW:.*]] = scf.for {{.*}} -> (tensor<?xindex>)
// CHECK: scf.if
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x16xf32>)
// CHECK-COUNT-2: tensor.extract %[[ROW]]
func.func @combine(%y: tensor<?x16xf32>, %s: tensor<?xi32>, %w: tensor<?x2xf32>) -> tensor<?x16xf32> {
  %o = moe.combine %y, %s, %w : (tensor<?x16xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x16xf32>
  return %o : tensor<?x16xf32>
}

// -----

// Quantized weights: an expert with fewer than 4 rows streams the packed
// bytes (16 per vector step, nibbles split and converted in registers, x's
// even and odd columns multiplied by the lower and upper nibbles, per block
// the scale; the zero point is one correction per weight row, a dot
// product of its scales with the blocks' sums of x); more rows dequantize each panel
// of weight rows once into an f32 tensor that the float register tiles
// multiply by every row. No dequantized copy of the whole weight exists.
// CHECK-LABEL: func.func @expert_matmul_int4
// CHECK: %[[FEW:.*]] = arith.cmpi ult, %{{.*}}, %c4 : index
// CHECK: scf.if %[[FEW]]
// CHECK: vector.transfer_read {{.*}} : tensor<?x64xf32>, vector<32xf32>
// CHECK: vector.reduction <add>
// CHECK: tensor.insert
// CHECK: %[[X:.*]] = vector.transfer_read {{.*}} : tensor<?x64xf32>, vector<32xf32>
// CHECK: %[[EVEN:.*]] = vector.shuffle %[[X]], %[[X]] [0, 2, 4,
// CHECK: %[[ODD:.*]] = vector.shuffle %[[X]], %[[X]] [1, 3, 5,
// CHECK: %[[B:.*]] = vector.transfer_read {{.*}} : tensor<32x32xi8>, vector<16xi8>
// CHECK: %[[W:.*]] = arith.extui %[[B]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[LO:.*]] = arith.andi %[[W]]
// CHECK: %[[HI:.*]] = arith.shrui %[[W]]
// CHECK: %[[LOF:.*]] = arith.sitofp %[[LO]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[P:.*]] = vector.fma %[[EVEN]], %[[LOF]]
// CHECK: %[[HIF:.*]] = arith.sitofp %[[HI]] : vector<16xi32> to vector<16xf32>
// CHECK: vector.fma %[[ODD]], %[[HIF]], %[[P]]
// CHECK: vector.broadcast {{.*}} : f32 to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: vector.transfer_read {{.*}} : tensor<32x2xf32>, vector<2xf32>
// CHECK: arith.subf
// CHECK: } else {
// CHECK: %[[PANEL:.*]] = tensor.empty() : tensor<32x64xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<32x32xi8>, vector<16xi8>
// CHECK: arith.mulf %{{.*}} : vector<32xf32>
// CHECK: vector.transfer_write %{{.*}} : vector<32xf32>, tensor<32x64xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<32x64xf32>, vector<16xf32>
func.func @expert_matmul_int4(%g: tensor<?x64xf32>, %w: tensor<4x32x32xi8>,
                              %off: tensor<5xi32>, %s: tensor<4x32x2xf32>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 4, quant_block = 32}
      : (tensor<?x64xf32>, tensor<4x32x32xi8>, tensor<5xi32>, tensor<4x32x2xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Rows too short for a vector step (6 columns, 3 bytes) take one generic
// contraction that dequantizes as it reads: the byte of column c is
// c floordiv 2 (4-bit), its nibble selected by c mod 2, minus the zero
// point 8, times the row's scale.
// CHECK-DAG: #[[$QB:.*]] = affine_map<(d0, d1, d2) -> (d0, d2 floordiv 2)>
// CHECK-DAG: #[[$QS:.*]] = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-LABEL: func.func @expert_matmul_int4_short
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[$QB]], #[[$QS]], #{{.*}}]
// CHECK-SAME: ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x6xf32>, tensor<32x3xi8>, tensor<32xf32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: linalg.index 2
// CHECK: arith.shrui
// CHECK: arith.andi
// CHECK: arith.subi %{{.*}}, %c8_i32
// CHECK: arith.sitofp
// CHECK: arith.mulf
func.func @expert_matmul_int4_short(%g: tensor<?x6xf32>, %w: tensor<4x32x3xi8>,
                                    %off: tensor<5xi32>, %s: tensor<4x32xf32>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 4}
      : (tensor<?x6xf32>, tensor<4x32x3xi8>, tensor<5xi32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Zero points (one unsigned byte per scale): with blocks, the register
// path's correction per weight row is a dot product of the scales times
// the zero points with the blocks' sums of x; the panel subtracts each
// block's zero point instead of 8.
// CHECK-LABEL: func.func @expert_matmul_int4_zero_points
// CHECK-SAME: %[[ZP:[a-z0-9]+]]: tensor<4x32x2xi8>
// CHECK: %[[EZP:.*]] = tensor.extract_slice %[[ZP]][%{{.*}}, 0, 0] [1, 32, 2] [1, 1, 1] : tensor<4x32x2xi8> to tensor<32x2xi8>
// CHECK: scf.if
// CHECK: %[[S:.*]] = vector.transfer_read {{.*}} : tensor<32x2xf32>, vector<2xf32>
// CHECK: %[[XS:.*]] = vector.transfer_read {{.*}} : tensor<?x2xf32>, vector<2xf32>
// CHECK: %[[SX:.*]] = arith.mulf %[[S]], %[[XS]]
// CHECK: %[[Z:.*]] = vector.transfer_read %[[EZP]]{{.*}} : tensor<32x2xi8>, vector<2xi8>
// CHECK: %[[ZF:.*]] = arith.uitofp %[[Z]] : vector<2xi8> to vector<2xf32>
// CHECK: %[[SXZ:.*]] = arith.mulf %[[SX]], %[[ZF]]
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %[[SXZ]]
// CHECK: arith.subf %{{.*}}, %[[DOT]]
// CHECK: } else {
// CHECK: %[[PZ:.*]] = tensor.extract %[[EZP]][%{{.*}}, %{{.*}}] : tensor<32x2xi8>
// CHECK: %[[PZF:.*]] = arith.uitofp %[[PZ]] : i8 to f32
// CHECK: %[[CENTER:.*]] = vector.broadcast %[[PZF]] : f32 to vector<16xf32>
// CHECK: %[[LO:.*]] = arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: arith.subf %[[LO]], %[[CENTER]] : vector<16xf32>
func.func @expert_matmul_int4_zero_points(%g: tensor<?x64xf32>, %w: tensor<4x32x32xi8>,
                                          %off: tensor<5xi32>, %s: tensor<4x32x2xf32>,
                                          %z: tensor<4x32x2xi8>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 4, quant_block = 32}
      : (tensor<?x64xf32>, tensor<4x32x32xi8>, tensor<5xi32>, tensor<4x32x2xf32>, tensor<4x32x2xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Per-row zero points: each weight row's correction, its zero point times
// the negated sum of x, inside the row's reduction.
// CHECK-LABEL: func.func @expert_matmul_int8_row_zero_points
// CHECK: %[[Z:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<32xi8>
// CHECK: %[[ZF:.*]] = arith.uitofp %[[Z]] : i8 to f32
// CHECK: %[[ZV:.*]] = vector.broadcast %[[ZF]] : f32 to vector<16xf32>
// CHECK: %[[NEG:.*]] = arith.negf %[[ZV]] : vector<16xf32>
// CHECK: arith.mulf %{{.*}}, %[[NEG]]
func.func @expert_matmul_int8_row_zero_points(%g: tensor<?x64xf32>, %w: tensor<4x32x64xi8>,
                                              %off: tensor<5xi32>, %s: tensor<4x32xf32>,
                                              %z: tensor<4x32xi8>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 8}
      : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32xf32>, tensor<4x32xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// The generic contraction reads the row's zero point as one more input.
// CHECK-LABEL: func.func @expert_matmul_int4_short_zero_points
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x6xf32>, tensor<32x3xi8>, tensor<32xf32>, tensor<32xi8>)
// CHECK-NEXT: ^bb0(%{{.*}}: f32, %{{.*}}: i8, %{{.*}}: f32, %[[Z:.*]]: i8, %{{.*}}: f32):
// CHECK: %[[Q:.*]] = arith.andi
// CHECK: %[[ZI:.*]] = arith.extui %[[Z]] : i8 to i32
// CHECK: arith.subi %[[Q]], %[[ZI]] : i32
func.func @expert_matmul_int4_short_zero_points(%g: tensor<?x6xf32>, %w: tensor<4x32x3xi8>,
                                                %off: tensor<5xi32>, %s: tensor<4x32xf32>,
                                                %z: tensor<4x32xi8>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 4}
      : (tensor<?x6xf32>, tensor<4x32x3xi8>, tensor<5xi32>, tensor<4x32xf32>, tensor<4x32xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// bf16 activations and weights: experts with fewer than 16 rows sum 32
// products per call of the module's dot declaration (vdpbf16ps once
// defined), nothing converted: 4 x 4 tiles (16 accumulators folded
// together), then single rows against 4 weight rows (reduced one by one).
// More rows take the converted panels.
// CHECK-LABEL: func.func private @moe_bf16_dot(vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
// CHECK-LABEL: func.func @expert_matmul_bf16
// CHECK: tensor.extract_slice {{.*}} : tensor<4x32x64xbf16> to tensor<?x64xbf16>
// CHECK: %[[FEW:.*]] = arith.cmpi ult, %{{.*}}, %c16 : index
// CHECK: scf.if %[[FEW]]
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c32 iter_args({{.*}}) -> (vector<16xf32>, {{.*}}) {
// CHECK: %[[X:.*]] = vector.transfer_read %[[XS:[a-z_0-9]+]]{{.*}} : tensor<?x64xbf16>, vector<32xbf16>
// CHECK-COUNT-3: vector.transfer_read %[[XS]]
// CHECK: %[[W:.*]] = vector.transfer_read {{.*}} : tensor<?x64xbf16>, vector<32xbf16>
// CHECK: func.call @moe_bf16_dot(%{{.*}}, %[[X]], %[[W]])
// CHECK-COUNT-15: func.call @moe_bf16_dot
// CHECK: vector.shuffle
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c32 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK-COUNT-4: func.call @moe_bf16_dot
// CHECK-COUNT-4: vector.reduction <add>
// CHECK: } else {
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
func.func @expert_matmul_bf16(%g: tensor<?x64xbf16>, %w: tensor<4x32x64xbf16>,
                              %off: tensor<5xi32>) -> tensor<?x32xbf16> {
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xbf16>, tensor<4x32x64xbf16>, tensor<5xi32>) -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// -----

// f16 weights: experts with fewer than 16 rows convert each weight in the
// register tiles; more convert each panel of weight rows (32 here: the
// 128 columns come in chunks of 32) to f32 once, then run the tiles on it.
// CHECK-LABEL: func.func @expert_matmul_f16
// CHECK: scf.forall
// CHECK: %[[FEW:.*]] = arith.cmpi ult, %{{.*}}, %c16 : index
// CHECK-NEXT: scf.if %[[FEW]] -> (tensor<?x?xf16>)
// CHECK: arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// CHECK: } else {
// CHECK: %[[PANEL:.*]] = tensor.empty() : tensor<32x64xf32>
// CHECK: %[[C:.*]] = arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// CHECK: vector.transfer_write %[[C]], %{{.*}} : vector<16xf32>, tensor<32x64xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<32x64xf32>, vector<16xf32>
func.func @expert_matmul_f16(%g: tensor<?x64xf16>, %w: tensor<4x128x64xf16>,
                             %off: tensor<5xi32>) -> tensor<?x128xf16> {
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xf16>, tensor<4x128x64xf16>, tensor<5xi32>) -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}
