// RUN: moe-opt %s -split-input-file -moe-cpu-prefetch-weights | FileCheck %s
// RUN: moe-opt %s -split-input-file -moe-cpu-prefetch-weights="distance=8 locality=1" \
// RUN:   | FileCheck %s --check-prefix=OPTS

memref.global "private" constant @w : memref<4x64x32xf32> = dense<1.0>

// In a GEMM k loop (vector.fma), a vector read of the constant weights
// (through a subview) is preceded by a prefetch of the same columns 4 rows
// further: the next column tile. Reads of other buffers (the token rows)
// are not prefetched.
// CHECK-LABEL: func.func @tile
// CHECK: scf.for %[[C:[a-z0-9_]+]] =
// CHECK: vector.transfer_read %{{.*}} : memref<?x32xf32>, vector<16xf32>
// CHECK-NOT: memref.prefetch
// CHECK: %[[AHEAD:[a-z0-9_]+]] = arith.addi %[[N:[a-z0-9_]+]], %{{[a-z0-9_]+}} : index
// CHECK: memref.prefetch %[[WS:[a-z0-9_]+]][%[[AHEAD]], %[[C]]], read, locality<3>, data
// CHECK-NEXT: vector.transfer_read %[[WS]][%[[N]], %[[C]]]
// OPTS: arith.constant 8 : index
// OPTS: memref.prefetch {{.*}} locality<1>
func.func @tile(%x: memref<?x32xf32>, %e: index, %n0: index, %m: index,
                %acc: vector<16xf32>) -> vector<16xf32> {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @w : memref<4x64x32xf32>
  %ws = memref.subview %w[%e, 0, 0] [1, 64, 32] [1, 1, 1]
      : memref<4x64x32xf32> to memref<64x32xf32, strided<[32, 1], offset: ?>>
  %r = scf.for %c = %c0 to %c32 step %c16 iter_args(%a = %acc) -> (vector<16xf32>) {
    %xv = vector.transfer_read %x[%m, %c], %pad {in_bounds = [true]} : memref<?x32xf32>, vector<16xf32>
    %wv = vector.transfer_read %ws[%n0, %c], %pad {in_bounds = [true]} : memref<64x32xf32, strided<[32, 1], offset: ?>>, vector<16xf32>
    %f = vector.fma %xv, %wv, %a : vector<16xf32>
    scf.yield %f : vector<16xf32>
  }
  return %r : vector<16xf32>
}

// -----

memref.global "private" constant @w : memref<64x32xf32> = dense<1.0>

// Outside GEMM loops (no vector.fma) nothing is prefetched.
// CHECK-LABEL: func.func @copy
// CHECK-NOT: memref.prefetch
func.func @copy(%out: memref<64x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @w : memref<64x32xf32>
  scf.for %i = %c0 to %c64 step %c1 {
    %v = vector.transfer_read %w[%i, %c0], %pad {in_bounds = [true]} : memref<64x32xf32>, vector<16xf32>
    vector.transfer_write %v, %out[%i, %c0] {in_bounds = [true]} : vector<16xf32>, memref<64x32xf32>
  }
  return
}
