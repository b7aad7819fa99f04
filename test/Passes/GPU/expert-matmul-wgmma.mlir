// RUN: moe-opt %s --moe-gpu-expert-matmul=chip=sm_90a --cse | FileCheck %s
// RUN: moe-opt %s --moe-gpu-expert-matmul=chip=sm_90 --cse | FileCheck %s --check-prefix=SM90
// A misspelled architecture fails with its name, before any kernel is
// made; through the CUDA pipeline, no output is written.
// RUN: not moe-opt %s --moe-gpu-expert-matmul=chip=sm_90b 2>&1 | FileCheck %s --check-prefix=BADCHIP
// RUN: rm -f %t.ll && not moe-opt %s --moe-cuda-pipeline=sm=9 -o %t.ll 2>&1 | FileCheck %s --check-prefix=BADSM
// RUN: not test -e %t.ll
// BADCHIP: error: unknown GPU architecture 'sm_90b': sm= takes a compute capability of 70 or later, such as 80, 86, 89, 90 or 90a
// BADSM: error: unknown GPU architecture 'sm_9'

// bf16 rows on sm_90a: the 16-row tile stays on mma.sync (operands loaded
// into registers, no shared memory); the 64- and 128-row tiles are wgmma kernels. Their rings hold
// core matrices, [stages][rows / 8][K chunks][8][8]: 32-deep slices are 4
// chunks of 8, 512 bytes per 8 rows (the stride byte offset), 128 bytes
// between chunks (the leading byte offset): descriptors are
// (address >> 4) & 0x3fff | 8 << 16 | 32 << 32 = 137439477760.
// CHECK-LABEL: func.func @bf16
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks in {{.*}} threads in (%c128,
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul_0 blocks in {{.*}} threads in (%c128,
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul_1 blocks in {{.*}} threads in (%c256, {{.*}} dynamic_shared_memory_size %c65536_i32
// CHECK: gpu.func @expert_matmul({{.*}}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 16 : i64}
// CHECK-NOT: wgmma
// CHECK: nvvm.mma.sync
//
// One warpgroup (128 threads), 64 x 128: A's 8 x 4 core matrices and B's
// 16 x 4 per slot, in a ring of 4. Per slice: wait for the oldest copies,
// a proxy fence (cp.async wrote through the generic proxy, wgmma reads
// through the async one), the barrier; then two m64n128k16 (16 of K each:
// 256 bytes further along K), committed, the slice two ahead copied into
// the slot the group before last read (retired by every warpgroup before
// the barrier) while they run, and a wait that leaves this group in
// flight into the next slice; after the loop, the wait for it.
// CHECK: gpu.func @expert_matmul_0({{.*}}) workgroup(%[[SA:.*]] : memref<4x8x4x8x8xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SB:.*]] : memref<4x16x4x8x8xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 64 : i64, moe.wgmma}
// CHECK: nvgpu.device_async_copy {{.*}}, %[[SA]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], 8
// CHECK: %[[LAYOUT:.*]] = arith.constant 137439477760 : i64
// CHECK: %[[FOUR:.*]] = arith.constant 4 : i64
// CHECK: %[[MASK:.*]] = arith.constant 16383 : i64
// CHECK: %[[GROUP:.*]] = arith.muli %{{.*}}, %c4096 : index
// CHECK: %[[GROUP64:.*]] = arith.index_castui %[[GROUP]] : index to i64
// CHECK: %[[PA:.*]] = memref.extract_aligned_pointer_as_index %[[SA]]
// CHECK: %[[PA64:.*]] = arith.index_castui %[[PA]] : index to i64
// CHECK: %[[ABASE:.*]] = arith.addi %[[PA64]], %[[GROUP64]] : i64
// CHECK: %[[PB:.*]] = memref.extract_aligned_pointer_as_index %[[SB]]
// CHECK: %[[BBASE:.*]] = arith.index_castui %[[PB]] : index to i64
// CHECK: %[[ZERO:.*]] = llvm.mlir.zero : !llvm.struct<(f32, f32,
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args(%[[ACC:.*]] = %[[ZERO]], %[[READ:.*]] = %c0, %{{.*}} = %c2)
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK: %[[SLOT:.*]] = arith.index_castui %[[READ]] : index to i64
// CHECK: %[[SLOTA:.*]] = arith.muli %[[SLOT]], %c4096_i64 : i64
// CHECK: %[[SLICEA:.*]] = arith.addi %[[ABASE]], %[[SLOTA]] : i64
// CHECK: %[[SLOTB:.*]] = arith.muli %[[SLOT]], %c8192_i64 : i64
// CHECK: %[[SLICEB:.*]] = arith.addi %[[BBASE]], %[[SLOTB]] : i64
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: %[[A0:.*]] = arith.addi %[[SLICEA]], %c0_i64 : i64
// CHECK: %[[A0S:.*]] = arith.shrui %[[A0]], %[[FOUR]] : i64
// CHECK: %[[A0M:.*]] = arith.andi %[[A0S]], %[[MASK]] : i64
// CHECK: %[[DA0:.*]] = arith.ori %[[A0M]], %[[LAYOUT]] : i64
// CHECK: %[[B0:.*]] = arith.addi %[[SLICEB]], %c0_i64 : i64
// CHECK: %[[DB0:.*]] = arith.ori %{{.*}}, %[[LAYOUT]] : i64
// CHECK: %[[D0:.*]] = nvvm.wgmma.mma_async %[[DA0]], %[[DB0]], %[[ACC]], <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: %[[A1:.*]] = arith.addi %[[SLICEA]], %c256_i64 : i64
// CHECK: %[[B1:.*]] = arith.addi %[[SLICEB]], %c256_i64 : i64
// CHECK: %[[D1:.*]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[D0]], <m = 64, n = 128, k = 16>
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK: scf.yield %[[D1]],
// CHECK-NEXT: }
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// Epilogue: register 4 j + 2 h + p is row g + 8 h, column 8 j + 2 t + p of
// the warp's 16 rows, as mma.sync's accumulators.
// CHECK: llvm.extractvalue %{{.*}}[0]
// CHECK: llvm.extractvalue %{{.*}}[63]
// CHECK: gpu.return
//
// Two warpgroups, 128 x 128: the second's A descriptors start 8 core-matrix
// rows (4096 bytes) further. A ring of 4 (64 KB) in dynamic shared memory.
// CHECK: gpu.func @expert_matmul_1({{.*}}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 128 : i64, moe.wgmma}
// CHECK-NEXT: %[[DYN:.*]] = gpu.dynamic_shared_memory
// CHECK: memref.view %[[DYN]][%c0{{.*}}][] : {{.*}} to memref<4x16x4x8x8xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[DYN]][%c32768{{.*}}][] : {{.*}} to memref<4x16x4x8x8xbf16, #gpu.address_space<workgroup>>
// CHECK: arith.divui %{{.*}}, %c4 : index
// CHECK: arith.muli %{{.*}}, %c4096 : index
// CHECK-COUNT-2: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>
// CHECK: gpu.return

// sm_90 (no architecture-specific features): mma.sync only.
// SM90-LABEL: func.func @bf16
// SM90-NOT: wgmma
// SM90: gpu.func @expert_matmul_0({{.*}}) workgroup(%{{.*}} : memref<4x2048xbf16,
// SM90-NOT: wgmma
func.func @bf16(%x: tensor<?x64xbf16>, %ids: tensor<?x2xi32>,
                %w: tensor<8x512x64xbf16>) -> tensor<?x512xbf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 8 block = 16
      : (tensor<?x64xbf16>, tensor<?x2xi32>) -> (tensor<?x64xbf16>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xbf16>, tensor<8x512x64xbf16>, tensor<9xi32>) -> tensor<?x512xbf16>
  return %y : tensor<?x512xbf16>
}
