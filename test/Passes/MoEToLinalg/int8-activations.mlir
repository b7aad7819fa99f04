// RUN: moe-opt %s -split-input-file -moe-convert-moe-to-linalg=int8-activations=vnni -canonicalize | FileCheck %s --check-prefixes=CHECK,VNNI
// RUN: moe-opt %s -split-input-file -moe-convert-moe-to-linalg=int8-activations=generic -canonicalize | FileCheck %s --check-prefixes=CHECK,GENERIC
// RUN: not moe-opt %s -moe-convert-moe-to-linalg=int8-activations=fast 2>&1 | FileCheck %s --check-prefix=BAD
// With int8-activations, quantized expert GEMMs of few rows round each row
// of x to int8 per 32 columns (scale max|x| / 127, rounded to nearest
// even; for 4-bit weights the even columns first, then the odd ones, as
// the nibbles come), then sum 64 byte products per step into 16 int32
// lanes, starting from the zero point's correction: through the module's
// vpdpbusd declaration (vnni) or as plain vector code (generic).

// VNNI: func.func private @moe_int8_dot_vnni(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// GENERIC-NOT: moe_int8_dot_vnni
// CHECK-LABEL: func.func @int4_block32
// CHECK: vector.reduction <maxnumf>
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : vector<32xf32> to vector<32xi8>
// CHECK: vector.shuffle {{.*}} [0, 2, 4, {{.*}}, 62, 1, 3, 5, {{.*}}, 63] : vector<32xi8>, vector<32xi8>
// CHECK: arith.muli %{{.*}}, %cst{{.*}} : vector<16xi32>
// CHECK: %[[W:.*]] = vector.transfer_read {{.*}} : tensor<32x32xi8>, vector<32xi8>
// CHECK: %[[LO:.*]] = arith.andi %[[W]]
// CHECK: %[[HI:.*]] = arith.shrui %[[W]]
// CHECK: %[[BOTH:.*]] = vector.shuffle %[[LO]], %[[HI]] [0, 1, 2, {{.*}}, 63] : vector<32xi8>, vector<32xi8>
// VNNI: %[[DOT:.*]] = func.call @moe_int8_dot_vnni(%{{.*}}, %[[BOTH]], %{{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// GENERIC: arith.extui %[[BOTH]] : vector<64xi8> to vector<64xi32>
// GENERIC: arith.muli {{.*}} : vector<64xi32>
// CHECK: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: vector.fma
func.func @int4_block32(%g: tensor<?x64xf32>, %w: tensor<4x32x32xi8>,
                        %off: tensor<5xi32>, %s: tensor<4x32x2xf32>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 4, quant_block = 32}
      : (tensor<?x64xf32>, tensor<4x32x32xi8>, tensor<5xi32>, tensor<4x32x2xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Zero points: the rows of x keep their negated lane sums (times 1), and
// each weight row's dot product starts from them times its zero points,
// lane by lane (blocks of 32: the block of each lane's half).
// CHECK-LABEL: func.func @int4_block32_zero_points
// CHECK: %[[NEGSUMS:.*]] = arith.muli %{{.*}}, %cst{{.*}} : vector<16xi32>
// CHECK: vector.transfer_write %[[NEGSUMS]]
// CHECK: %[[START:.*]] = vector.transfer_read {{.*}} : tensor<?x16xi32>, vector<16xi32>
// CHECK: %[[Z0:.*]] = tensor.extract %{{.*}}[%{{.*}}, %c0] : tensor<32x2xi8>
// CHECK: %[[Z0I:.*]] = arith.extui %[[Z0]] : i8 to i32
// CHECK: %[[Z1:.*]] = tensor.extract %{{.*}}[%{{.*}}, %c1] : tensor<32x2xi8>
// CHECK: %[[Z1I:.*]] = arith.extui %[[Z1]] : i8 to i32
// CHECK: %[[Z0V:.*]] = vector.broadcast %[[Z0I]] : i32 to vector<16xi32>
// CHECK: %[[Z1V:.*]] = vector.broadcast %[[Z1I]] : i32 to vector<16xi32>
// CHECK: %[[ZL:.*]] = vector.shuffle %[[Z0V]], %[[Z1V]] [0, 1, 2, 3, 20, 21, 22, 23, 8, 9, 10, 11, 28, 29, 30, 31]
// CHECK: %[[ROWSTART:.*]] = arith.muli %[[START]], %[[ZL]] : vector<16xi32>
// VNNI: func.call @moe_int8_dot_vnni(%[[ROWSTART]],
// GENERIC: arith.addi %[[ROWSTART]],
func.func @int4_block32_zero_points(%g: tensor<?x64xf32>, %w: tensor<4x32x32xi8>,
                                   %off: tensor<5xi32>, %s: tensor<4x32x2xf32>,
                                   %z: tensor<4x32x2xi8>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 4, quant_block = 32}
      : (tensor<?x64xf32>, tensor<4x32x32xi8>, tensor<5xi32>, tensor<4x32x2xf32>, tensor<4x32x2xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// K not a multiple of 64: the f32 register path.
// CHECK-LABEL: func.func @int4_short
// CHECK-NOT: moe_int8_dot_vnni
// CHECK-NOT: math.roundeven
// CHECK: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
func.func @int4_short(%g: tensor<?x32xf32>, %w: tensor<4x32x16xi8>,
                      %off: tensor<5xi32>, %s: tensor<4x32xf32>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 4}
      : (tensor<?x32xf32>, tensor<4x32x16xi8>, tensor<5xi32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// BAD: error: int8-activations must be 'off', 'auto', 'vnni' or 'generic', not 'fast'
