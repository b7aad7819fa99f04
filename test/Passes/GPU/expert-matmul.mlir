// RUN: moe-opt %s -split-input-file -verify-diagnostics --moe-gpu-expert-matmul --cse | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics --moe-gpu-expert-matmul=allow-tf32 --cse | FileCheck %s --check-prefix=TF32

// With allow-tf32, f32 operands take the tensor cores as tf32: registers
// are the f32 values rounded to tf32 (cvt.rna; the raw bits would be
// truncated), m16n8k8, 4 k steps per 32-deep slice.
// TF32-LABEL: func.func @f32_bias
// TF32: threads in (%c128
// TF32: gpu.func @expert_matmul({{.*}}) workgroup(%{{.*}} : memref<64x40xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<64x40xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// TF32-NOT: arith.bitcast %{{.*}} : f32 to i32
// TF32: nvvm.convert.float.to.tf32 %{{.*}} {rnd = #nvvm.fp_rnd_mode<rna>}
// TF32-COUNT-32: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>

// One launch over all experts: ceil(N / 64) x (a bound of the row tiles)
// blocks of 16 x 16 threads; operands cross as buffers, the result is a
// fresh buffer. Each of the at most min(E, C) experts with rows among the
// C = T * k token copies has ceil(its padded rows / 64) tiles: at most
// (C + min(E, C) * 63) / 64 in all, so at decode the grid covers the active
// experts, not every expert's padding.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @f32_bias
// CHECK-DAG: %[[X:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x32xf32> to memref<?x32xf32, strided<[?, ?], offset: ?>>
// CHECK-DAG: %[[OFF:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<5xi32> to memref<5xi32, strided<[?], offset: ?>>
// CHECK: %[[R:.*]] = tensor.dim %grouped
// CHECK: %[[OUT:.*]] = memref.alloc(%[[R]]) : memref<?x48xf32>
// CHECK: %[[T:.*]] = tensor.dim %arg1, %c0
// CHECK: %[[K:.*]] = tensor.dim %arg1, %c1
// CHECK: %[[C:.*]] = arith.muli %[[T]], %[[K]]
// CHECK: %[[ACTIVE:.*]] = arith.minui %[[C]], %c4
// CHECK: %[[PAD:.*]] = arith.muli %[[ACTIVE]], %c63
// CHECK: %[[BOUND:.*]] = arith.addi %[[C]], %[[PAD]]
// CHECK: %[[GY:.*]] = arith.divui %[[BOUND]], %c64
// CHECK: %[[GX:.*]] = arith.ceildivui %{{.*}}, %c64{{.*}}
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks in (%[[GX]], %[[GY]], %{{.*}}) threads in (%c16{{.*}}, %c16{{.*}}, %{{.*}}) args(%[[X]] : {{.*}}, %[[OFF]] : {{.*}}, %[[OUT]] : memref<?x48xf32>)
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
//
// The kernel: two 16 x 64 f32 tiles of workgroup memory, declared 16-byte
// aligned (vectorized accesses assume it).
// CHECK: gpu.module @moe_kernels
// CHECK: gpu.func @expert_matmul({{.*}}) workgroup(%[[SA:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SB:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel {
// CHECK: %[[TX:.*]] = gpu.thread_id x
// CHECK: %[[TY:.*]] = gpu.thread_id y
// CHECK: gpu.block_id x
// CHECK: %[[BY:.*]] = gpu.block_id y
// The block's tile: a walk over the experts' groups, each ceil(its rows /
// 64) tiles, carrying the group start, the tiles before it, and the
// tile's expert, first row and group end.
// CHECK: %[[WALK:.*]]:5 = scf.for %{{.*}} = %c0{{.*}} to %c4 step %c1{{.*}} iter_args
// CHECK: arith.ceildivui %{{.*}}, %c64
// CHECK: arith.select
// CHECK: arith.select
// CHECK: arith.select
// CHECK: scf.yield
// Tiles past the last group stop.
// CHECK: %[[ACT:.*]] = arith.cmpi ult, %[[BY]], %[[WALK]]#1
// CHECK: scf.if %[[ACT]] {
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// Rows past the tile's group (the next expert's) read as zeros.
// CHECK: arith.cmpi ult, %{{.*}}, %[[WALK]]#4
// CHECK: memref.store %{{.*}}, %[[SA]]
// CHECK: memref.load %{{.*}}[%[[WALK]]#2, %{{.*}}, %{{.*}}] : memref<4x48x32xf32
// CHECK: memref.store %{{.*}}, %[[SB]]
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-COUNT-16: math.fma
// CHECK: gpu.barrier
// The K loop stays a loop (unrolled, its FMAs would sink below the last
// slice and keep every slice's operands live).
// CHECK: } {llvm.loop_annotation = #{{.*}}}
// Epilogue: bias of the tile's expert, stores guarded by the column bound,
// which is 0 for rows past the group.
// CHECK: memref.load %{{.*}}[%[[WALK]]#2, %{{.*}}] : memref<4x48xf32, strided<[?, ?], offset: ?>>
// CHECK: arith.addf
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[WALK]]#4
// CHECK: arith.select %[[IN]], %{{.*}}, %c0
// CHECK: scf.if
// CHECK: memref.store
// CHECK-NOT: } else {
// CHECK: gpu.return
func.func @f32_bias(%x: tensor<?x32xf32>, %ids: tensor<?x2xi32>,
                    %w: tensor<4x48x32xf32>, %b: tensor<4x48xf32>) -> tensor<?x48xf32> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 4 block = 64
      : (tensor<?x32xf32>, tensor<?x2xi32>) -> (tensor<?x32xf32>, tensor<5xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off bias(%b)
      : (tensor<?x32xf32>, tensor<4x48x32xf32>, tensor<5xi32>, tensor<4x48xf32>) -> tensor<?x48xf32>
  return %y : tensor<?x48xf32>
}

// -----

// bf16 on tensor cores, K a multiple of 8: the pipelined kernels with
// 16-, 64- and 128-row tiles. All are launched over the same operands; the
// host compares the token copies with the cost model's crossovers for this
// shape (sm_80) and gives the kernels not chosen an empty grid (which the
// runtime skips). Each grid is the bound of its tiles: (C + min(E, C) *
// (max(block, rows) - 1)) / rows.
// CHECK-LABEL: func.func @bf16
// CHECK: %[[C:.*]] = arith.muli
// CHECK: %[[SMALL:.*]] = arith.cmpi ult, %[[C]], %[[FROM64:c[0-9]+]]
// CHECK: %[[ACTIVE:.*]] = arith.minui %[[C]], %c2
// CHECK: %[[PAD:.*]] = arith.muli %[[ACTIVE]], %c127
// CHECK: %[[BOUND:.*]] = arith.addi %[[C]], %[[PAD]]
// CHECK: %[[T16:.*]] = arith.divui %[[BOUND]], %c16
// CHECK: %[[GY16:.*]] = arith.select %[[SMALL]], %[[T16]], %c0
// CHECK: %[[GX:.*]] = arith.ceildivui %{{.*}}, %c128
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks in (%[[GX]], %[[GY16]], %{{.*}}) threads in (%c128, %c1{{.*}}, %c1{{.*}})
// CHECK: %[[ABOVE:.*]] = arith.cmpi uge, %[[C]], %[[FROM64]]
// CHECK: %[[BELOW:.*]] = arith.cmpi ult, %[[C]], %[[FROM128:c[0-9]+]]
// CHECK: %[[MID:.*]] = arith.andi %[[ABOVE]], %[[BELOW]]
// CHECK: %[[T64:.*]] = arith.divui %[[BOUND]], %c64
// CHECK: %[[GY64:.*]] = arith.select %[[MID]], %[[T64]], %c0
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul_0 blocks in (%[[GX]], %[[GY64]], %{{.*}}) threads in (%c128, %c1{{.*}}, %c1{{.*}})
// CHECK: %[[HUGE:.*]] = arith.cmpi uge, %[[C]], %[[FROM128]]
// CHECK: %[[T128:.*]] = arith.divui %[[BOUND]], %c128
// CHECK: %[[GY128:.*]] = arith.select %[[HUGE]], %[[T128]], %c0
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul_1 blocks in (%[[GX]], %[[GY128]], %{{.*}}) threads in (%c256, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %c65536_i32
//
// 16 x 128 tiles: 4 warps (128 threads) of 16 x 32 and no shared memory:
// thread (g, t) loads 8 consecutive elements of A rows g, g + 8 and of B
// row g of each of its warp's 4 column groups straight into registers
// (16-byte loads through views with a unit inner stride, the weights'
// with static strides). K = 16 is half of a 32-deep step: the chunks past
// K are zeros (selected), then 2 x 4 mma.sync. Misaligned operands take a
// loop of scalar loads instead; rows holding no data give zeros.
// CHECK: gpu.func @expert_matmul({{.*}}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 16 : i64}
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c2 step %c1{{.*}} iter_args
// CHECK: memref.reinterpret_cast {{.*}} to memref<?x16xbf16, strided<[?, 1], offset: ?>>
// CHECK: memref.reinterpret_cast {{.*}} to memref<2x8x16xbf16, strided<[128, 16, 1], offset: ?>>
// CHECK: scf.if %{{.*}} -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>) {
// CHECK-COUNT-6: vector.load {{.*}} {alignment = 16 : i64} : memref<{{.*}}>, vector<8xbf16>
// CHECK-NOT: vector.load
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK: } else {
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c32
// CHECK-COUNT-48: memref.load
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK: vector.from_elements {{.*}} : vector<2x2xi1>
// CHECK: gpu.return
//
// 64 x 128 tiles: 4 warps (128 threads) of 32 x 64; a ring of 4 slots of
// A (64 x 32) and B (128 x 32), each slot two planes of 16 of K ([rows]
// [16], no padding), the two 16-byte chunks of row r stored at chunk c ^
// ((r / 4) % 2); filled by 16-byte cp.async copies of 8 elements (fewer
// past K: K = 16 is half a slice) three slices ahead, thread tid copying
// chunk tid % 2 of plane tid / 8 % 2 of row tid / 2 % 4 + 4 (tid / 16)
// (and the rows 32 further: the same swizzle); per k step of 16 each warp
// loads its fragments with ldmatrix.x4 (2 for A, 4 for B) and issues 2 x 8
// mma.sync.m16n8k16 on bf16 registers (i32 pairs), f32 accumulators
// rounded once to bf16.
// CHECK: gpu.func @expert_matmul_0({{.*}}) workgroup(%[[SA:.*]] : memref<4x2048xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SB:.*]] : memref<4x4096xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 64 : i64}
// CHECK: memref.extract_strided_metadata
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: %[[XROWS:.*]] = memref.cast %{{.*}} : memref<?x16xbf16, strided<[?, ?], offset: ?>> to memref<?x16xbf16, strided<[?, 1], offset: ?>>
// CHECK: %[[WROWS:.*]] = memref.cast %{{.*}} : memref<2x8x16xbf16, strided<[?, ?, ?], offset: ?>> to memref<2x8x16xbf16, strided<[?, ?, 1], offset: ?>>
// CHECK: %[[BLOCK:.*]] = arith.divui %thread_id_x, %c16
// CHECK: %[[BLOCKROW:.*]] = arith.muli %[[BLOCK]], %c4
// CHECK: %[[PAIR:.*]] = arith.divui %thread_id_x, %c2
// CHECK: %[[IN4:.*]] = arith.remui %[[PAIR]], %c4
// CHECK: %[[ROW:.*]] = arith.addi %[[IN4]], %[[BLOCKROW]]
// CHECK: %[[CHUNK:.*]] = arith.remui %thread_id_x, %c2
// CHECK: %[[CHUNKCOL:.*]] = arith.muli %[[CHUNK]], %c8
// CHECK: %[[OCT:.*]] = arith.divui %thread_id_x, %c8
// CHECK: %[[PLANE:.*]] = arith.remui %[[OCT]], %c2
// CHECK: %[[PLANECOL:.*]] = arith.muli %[[PLANE]], %c16
// CHECK: %[[COL:.*]] = arith.addi %[[PLANECOL]], %[[CHUNKCOL]]
// CHECK: %[[PLANEOF:.*]] = arith.divui %[[COL]], %c16
// CHECK: %[[QUAD:.*]] = arith.divui %[[ROW]], %c4
// CHECK: %[[PHASE:.*]] = arith.remui %[[QUAD]], %c2
// CHECK: %[[MASK:.*]] = arith.muli %[[PHASE]], %c8
// CHECK: %[[INPLANE:.*]] = arith.remui %[[COL]], %c16
// CHECK: %[[SWIZZLED:.*]] = arith.xori %[[INPLANE]], %[[MASK]]
// CHECK: %[[ROWOFF:.*]] = arith.muli %[[ROW]], %c16
// CHECK: %[[INSLOT:.*]] = arith.addi %[[ROWOFF]], %[[SWIZZLED]]
// CHECK: %[[PLANEOFF:.*]] = arith.muli %[[PLANEOF]], %c1024
// CHECK: %[[DSTA:.*]] = arith.addi %[[PLANEOFF]], %[[INSLOT]]
// CHECK: %[[DSTA0:.*]] = arith.addi %[[DSTA]], %c0
// CHECK: scf.if
// CHECK: scf.if %[[ALIGNED:.*]] {
// CHECK: nvgpu.device_async_copy %[[XROWS]][%{{.*}}, %{{.*}}], %[[SA]][%c0{{.*}}, %[[DSTA0]]], 8, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_copy %[[XROWS]][%{{.*}}, %{{.*}}], %[[SA]][%c0{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK-COUNT-4: nvgpu.device_async_copy %[[WROWS]][%{{.*}}, %{{.*}}, %{{.*}}], %[[SB]][%c0{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: } else {
// CHECK: memref.store %{{.*}}, %[[SA]]
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.if
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c1{{.*}} iter_args({{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, index, index)
// CHECK-NEXT: nvvm.cp.async.wait.group 2
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.cp.async.commit.group
// CHECK-COUNT-2: nvgpu.ldmatrix %[[SA]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<4x2048xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-4: nvgpu.ldmatrix %[[SB]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<4x4096xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK-COUNT-16: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: scf.yield
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-COUNT-64: arith.truncf %{{.*}} : f32 to bf16
//
// 128 x 128 tiles: 8 warps (4 x 2) of 32 x 64, four slices of A and B:
// 64 KB, past static shared memory's 48, so the rings are views of the
// dynamic shared memory the launch asks for (above).
// CHECK: gpu.func @expert_matmul_1({{.*}}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 128 : i64}
// CHECK-NEXT: %[[DYN:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[DYN]][%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x4096xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[DYN]][%c32768{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x4096xbf16, #gpu.address_space<workgroup>>
// CHECK: nvvm.cp.async.wait.group 2
// CHECK-COUNT-16: nvvm.mma.sync
func.func @bf16(%x: tensor<?x16xbf16>, %ids: tensor<?x1xi32>,
                %w: tensor<2x8x16xbf16>) -> tensor<?x8xbf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 2 block = 128
      : (tensor<?x16xbf16>, tensor<?x1xi32>) -> (tensor<?x16xbf16>, tensor<3xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x16xbf16>, tensor<2x8x16xbf16>, tensor<3xi32>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// K = 64: one iteration of the 16-row kernel's K loop (two 32-deep steps,
// 12 loads per thread, the next iteration's issued before this one's 16
// mma.sync, kept in the loop's registers); a static token count (4
// copies) picks it at compile time: one launch.
// CHECK-LABEL: func.func @bf16_static_decode
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @expert_matmul({{.*}}) kernel attributes {moe.col_tile = 128 : i64, moe.row_tile = 16 : i64}
// CHECK-COUNT-12: vector.load
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c64{{.*}} step %c64{{.*}} iter_args({{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<8xbf16>
// CHECK: arith.minui %{{.*}}, %c0
// CHECK-COUNT-12: vector.load
// CHECK-COUNT-16: nvvm.mma.sync
// CHECK: scf.yield
// CHECK-NOT: gpu.func
func.func @bf16_static_decode(%x: tensor<2x64xbf16>, %ids: tensor<2x2xi32>,
                              %w: tensor<8x32x64xbf16>) -> tensor<?x32xbf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 8 block = 16
      : (tensor<2x64xbf16>, tensor<2x2xi32>) -> (tensor<?x64xbf16>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x64xbf16>, tensor<8x32x64xbf16>, tensor<9xi32>) -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// -----

// K not a multiple of 8 (rows not 16-byte aligned): the single-stage
// kernel, staged by scalar loads in 64 x 40 tiles (rows padded against
// bank conflicts), pairs of elements packed into the i32 registers of
// mma.sync.m16n8k16, 2 x 4 MMA tiles per warp and k step of 16.
// CHECK-LABEL: func.func @bf16_unaligned_k
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks in ({{.*}}) threads in (%c128, %c1{{.*}}, %c1{{.*}})
// CHECK: gpu.func @expert_matmul({{.*}}) workgroup(%[[SA:.*]] : memref<64x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SB:.*]] : memref<64x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: memref.store %{{.*}}, %[[SA]]
// CHECK: memref.store %{{.*}}, %[[SB]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[SA]]
// CHECK: vector.from_elements %{{.*}}, %{{.*}} : vector<2xbf16>
// CHECK-NEXT: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK-COUNT-16: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: gpu.barrier
// CHECK-COUNT-32: arith.truncf %{{.*}} : f32 to bf16
func.func @bf16_unaligned_k(%x: tensor<?x12xbf16>, %ids: tensor<?x1xi32>,
                %w: tensor<2x8x12xbf16>) -> tensor<?x8xbf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 2 block = 128
      : (tensor<?x12xbf16>, tensor<?x1xi32>) -> (tensor<?x12xbf16>, tensor<3xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x12xbf16>, tensor<2x8x12xbf16>, tensor<3xi32>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// f16 without tensor cores: the SIMT kernel, widening to f32 in workgroup
// memory.
// RUN: moe-opt %s -split-input-file -verify-diagnostics --moe-gpu-expert-matmul=tensor-cores=false --cse | FileCheck %s --check-prefix=SIMT
// SIMT-LABEL: func.func @f16_simt
// SIMT: gpu.func @expert_matmul({{.*}}) workgroup(%{{.*}} : memref<16x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<16x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// SIMT: arith.extf %{{.*}} : f16 to f32
// SIMT-NOT: nvvm.mma.sync
// SIMT: math.fma
// SIMT: arith.truncf %{{.*}} : f32 to f16
// CHECK-LABEL: func.func @f16_simt
// CHECK: nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
func.func @f16_simt(%x: tensor<?x16xf16>, %ids: tensor<?x1xi32>,
                    %w: tensor<2x8x16xf16>) -> tensor<?x8xf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 2 block = 64
      : (tensor<?x16xf16>, tensor<?x1xi32>) -> (tensor<?x16xf16>, tensor<3xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x16xf16>, tensor<2x8x16xf16>, tensor<3xi32>) -> tensor<?x8xf16>
  return %y : tensor<?x8xf16>
}

// -----

// An interleaved SwiGLU epilogue. On tensor cores each thread holds the
// adjacent columns (2t, 2t + 1) of a row, a (gate, up) pair: it stores
// silu(gate) * up at column t of the [R, N / 2] result. In the SIMT
// kernel the pair is split over lanes tx and tx + 1: the up value comes
// over by a butterfly shuffle and the even lane stores.
// CHECK-LABEL: func.func @swiglu_epilogue
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x8xf16>
// CHECK: gpu.func @expert_matmul
// CHECK: nvvm.mma.sync
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: arith.divui %{{.*}}, %c2
// CHECK: memref.store %{{.*}} : memref<?x8xf16
// RUN: moe-opt %s -split-input-file -verify-diagnostics --moe-gpu-expert-matmul=tensor-cores=false --cse | FileCheck %s --check-prefix=SIMT-EPI
// SIMT-EPI-LABEL: func.func @swiglu_epilogue
// SIMT-EPI: gpu.func @expert_matmul
// SIMT-EPI: math.fma
// SIMT-EPI: %[[UP:.*]], %{{.*}} = gpu.shuffle  xor %[[GATE:.*]], %c1_i32, %c32_i32 : f32
// SIMT-EPI-NEXT: scf.if
// SIMT-EPI: math.exp
// SIMT-EPI: arith.mulf %{{.*}}, %[[UP]] : f32
// SIMT-EPI: memref.store %{{.*}} : memref<?x8xf16
// SIMT-EPI-COUNT-15: gpu.shuffle  xor
func.func @swiglu_epilogue(%x: tensor<?x16xf16>, %ids: tensor<?x1xi32>,
                           %w: tensor<2x16x16xf16>) -> tensor<?x8xf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 2 block = 64
      : (tensor<?x16xf16>, tensor<?x1xi32>) -> (tensor<?x16xf16>, tensor<3xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off epilogue <silu, gated = interleaved>
      : (tensor<?x16xf16>, tensor<2x16x16xf16>, tensor<3xi32>) -> tensor<?x8xf16>
  return %y : tensor<?x8xf16>
}

// -----

// Rows read through the plan (moe-fuse-dispatch-gather): the kernel takes
// the tokens and the slots; grid rows come from the slots. The 16-row
// kernel loads token slots[r] / k (row 0 for a padding slot, whose
// accumulators are zeroed); the staged kernels copy it, zero-filled (no
// source bytes) for a padding slot.
// CHECK-LABEL: func.func @gathered
// CHECK: %[[R:.*]] = tensor.dim %{{.*}}, %c0{{.*}} : tensor<?xi32>
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks in ({{.*}}) threads in ({{.*}}) args({{.*}} : memref<?x16xf16, {{.*}}>, {{.*}} : memref<2x8x16xf16, {{.*}}>, {{.*}} : memref<3xi32, {{.*}}>, {{.*}} : memref<?xi32, {{.*}}>, {{.*}} : memref<?x8xf16>)
// CHECK: gpu.func @expert_matmul(
// CHECK: %[[SLOT16:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<?xi32
// CHECK: %[[REAL16:.*]] = arith.cmpi sge, %[[SLOT16]], %c0_i32
// CHECK: %[[VALID16:.*]] = arith.andi %[[REAL16]], %{{.*}} : i1
// CHECK: %[[TOKEN16:.*]] = arith.divui %{{.*}}, %c2
// CHECK: vector.load %{{.*}}[%[[TOKEN16]], %{{.*}}] {alignment = 16 : i64} : memref<?x16xf16, strided<[?, 1], offset: ?>>, vector<8xf16>
// CHECK: } else {
// CHECK: memref.load %{{.*}}[%[[TOKEN16]], %{{.*}}] : memref<?x16xf16
// CHECK: vector.from_elements %[[VALID16]], %[[VALID16]], %{{.*}}, %{{.*}} : vector<2x2xi1>
// CHECK: gpu.func @expert_matmul_0
// CHECK: %[[SLOT:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<?xi32
// CHECK: %[[REAL:.*]] = arith.cmpi sge, %[[SLOT]], %c0_i32
// CHECK: %[[VALID:.*]] = arith.andi %[[REAL]], %{{.*}} : i1
// CHECK: %[[TOKEN:.*]] = arith.divui %{{.*}}, %c2
// CHECK: %[[ELEMS:.*]] = arith.select %[[VALID]], %{{.*}}, %c0 : index
// CHECK: nvgpu.device_async_copy %{{.*}}[%[[TOKEN]], %{{.*}}], %{{.*}}, 8, %[[ELEMS]] {bypassL1} : memref<?x16xf16, strided<[?, 1], offset: ?>>
// CHECK: } else {
// CHECK: %[[V:.*]] = memref.load %{{.*}}[%[[TOKEN]], %{{.*}}] : memref<?x16xf16
// CHECK: arith.select %{{.*}}, %[[V]], %cst
func.func @gathered(%x: tensor<?x16xf16>, %ids: tensor<?x2xi32>,
                    %w: tensor<2x8x16xf16>) -> tensor<?x8xf16> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 2 block = 64
      : (tensor<?x16xf16>, tensor<?x2xi32>) -> (tensor<?x16xf16>, tensor<3xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %x, %w, %off gather(%s) k = 2
      : (tensor<?x16xf16>, tensor<2x8x16xf16>, tensor<3xi32>, tensor<?xi32>) -> tensor<?x8xf16>
  return %y : tensor<?x8xf16>
}

// -----

// Combined (moe-fuse-combine): the output is [T, 48], a copy of the initial
// value (zeros would be a fill), and each row of a real slot (>= 0) is
// scaled by its routing weight and added atomically into its token's row;
// padding tiles write nothing. A moe.route_plan's offsets are padded too.
// CHECK-LABEL: func.func @combined
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0{{.*}} : tensor<?x2xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%[[T]]) : memref<?x48xf32>
// CHECK: %[[INIT:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x48xf32> to memref<?x48xf32>
// CHECK: memref.copy %[[INIT]], %[[OUT]]
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul {{.*}} args({{.*}}, %{{.*}} : memref<?xi32, strided<[?], offset: ?>>, %{{.*}} : memref<?x2xf32, strided<[?, ?], offset: ?>>, %[[OUT]] : memref<?x48xf32>)
// CHECK: gpu.func @expert_matmul
// CHECK-NOT: memref.store %{{.*}}, %arg5
// CHECK: %[[SLOT:.*]] = memref.load %arg3[%{{.*}}] : memref<?xi32, strided<[?], offset: ?>>
// CHECK: %[[REAL:.*]] = arith.cmpi sge, %[[SLOT]], %c0_i32
// CHECK: arith.andi %[[REAL]]
// CHECK: arith.divui %{{.*}}, %c2
// CHECK: arith.remui %{{.*}}, %c2
// CHECK: %[[WT:.*]] = memref.load %arg4
// CHECK: %[[V:.*]] = arith.mulf %[[WT]], %{{.*}} : f32
// CHECK: memref.atomic_rmw addf %[[V]], %arg5[%{{.*}}, %{{.*}}] : (f32, memref<?x48xf32>) -> f32
func.func @combined(%l: tensor<?x8xf32>, %h: tensor<?x32xf32>, %w2: tensor<8x48x32xf32>,
                    %s: tensor<?x48xf32>) -> tensor<?x48xf32> {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2> block = 64
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %h, %w2, %off combine(%slots, %w) into(%s)
      : (tensor<?x32xf32>, tensor<8x48x32xf32>, tensor<9xi32>, tensor<?xi32>,
         tensor<?x2xf32>, tensor<?x48xf32>) -> tensor<?x48xf32>
  return %y : tensor<?x48xf32>
}

// -----

// Combined f16 on tensor cores: the kernel adds into zero-filled f32 rows
// and rounds each token's row itself, once all its additions are in:
// after a fence and the block's barrier, thread i takes a ticket for the
// token of tile row i; each warp then walks its lanes (shuffles of the
// lane's flag and token), and for each row whose ticket was the token's
// last (k x column blocks) reads the f32 row back where the atomics went
// (volatile loads, not this SM's L1), adds the initial value (here the
// residual %s) and stores it rounded to f16: no conversion launches.
// CHECK-LABEL: func.func @combined_f16
// CHECK: %[[ACC:.*]] = memref.alloc(%[[T:.*]]) : memref<?x48xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%[[T]]) : memref<?x48xf16>
// CHECK: %[[ARRIVALS:.*]] = memref.alloc(%[[T]]) : memref<?xi32>
// CHECK: linalg.fill ins(%{{.*}} : i32) outs(%[[ARRIVALS]] : memref<?xi32>)
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[ACC]] : memref<?x48xf32>)
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul {{.*}}, %[[OUT]] : memref<?x48xf16>, %[[ARRIVALS]] : memref<?xi32>, %{{.*}} : memref<?x48xf16, strided<[?, ?], offset: ?>>, %[[ACC]] : memref<?x48xf32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[RESULT:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK-NEXT: return %[[RESULT]]
// CHECK: gpu.func @expert_matmul(%{{.*}}, %[[KOUT:.*]]: memref<?x48xf16>, %[[KARR:.*]]: memref<?xi32>, %[[KINIT:.*]]: memref<?x48xf16, strided<[?, ?], offset: ?>>, %[[KACC:.*]]: memref<?x48xf32>)
// CHECK: memref.atomic_rmw addf %{{.*}}, %[[KACC]]
// CHECK: nvvm.memory.barrier <gpu>
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[ROW:.*]] = arith.addi %{{.*}}, %[[TID:.*]] : index
// CHECK: %[[SLOT:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<?xi32
// CHECK: %[[TOKEN:.*]] = arith.divsi %[[SLOT]], %c2_i32 : i32
// CHECK: %[[LAST:.*]] = arith.subi %{{.*}}, %c1_i32 : i32
// CHECK: %[[TICKET:.*]] = memref.atomic_rmw addi %c1_i32, %[[KARR]]
// CHECK: arith.cmpi eq, %[[TICKET]], %[[LAST]] : i32
// CHECK: %[[FLAG:.*]] = arith.extui
// CHECK: scf.for %[[J:.*]] = %c0_i32 to %c32_i32 step %c1_i32
// CHECK: %[[FLAGJ:.*]], %{{.*}} = gpu.shuffle  idx %[[FLAG]], %[[J]], %c32_i32 : i32
// CHECK: %[[TOKENJ:.*]], %{{.*}} = gpu.shuffle  idx %[[TOKEN]], %[[J]], %c32_i32 : i32
// CHECK: %[[IS_LAST:.*]] = arith.cmpi ne, %[[FLAGJ]], %c0_i32 : i32
// CHECK: scf.if %[[IS_LAST]] {
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: %[[T2:.*]] = arith.index_cast %[[TOKENJ]] : i32 to index
// CHECK: %[[SUM:.*]] = llvm.load volatile %{{.*}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK: %[[INIT:.*]] = memref.load %[[KINIT]][%[[T2]], %[[COL:.*]]] : memref<?x48xf16
// CHECK: %[[WIDE:.*]] = arith.extf %[[INIT]] : f16 to f32
// CHECK: %[[TOTAL:.*]] = arith.addf %[[SUM]], %[[WIDE]] : f32
// CHECK: %[[ROUNDED:.*]] = arith.truncf %[[TOTAL]] : f32 to f16
// CHECK: memref.store %[[ROUNDED]], %[[KOUT]][%[[T2]], %[[COL]]]
func.func @combined_f16(%l: tensor<?x8xf16>, %h: tensor<?x32xf16>,
                        %w2: tensor<8x48x32xf16>,
                        %s: tensor<?x48xf16>) -> tensor<?x48xf16> {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2> block = 16
      : (tensor<?x8xf16>) -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %h, %w2, %off combine(%slots, %w) into(%s)
      : (tensor<?x32xf16>, tensor<8x48x32xf16>, tensor<9xi32>, tensor<?xi32>,
         tensor<?x2xf16>, tensor<?x48xf16>) -> tensor<?x48xf16>
  return %y : tensor<?x48xf16>
}

// -----

// Dense rows (moe-decompose's shared experts: one expert over [0, T]): the
// row count and T are kernel arguments (no offsets buffer, which the host
// would have to fill, waiting for the device), ceil(rows / tile rows) row
// tiles for the kernel the row count picks,
// and rows past the count are not written: the 16-row kernel zeroes
// their accumulators, the staged kernels read them as zeros (copied with
// no source bytes).
// CHECK-LABEL: func.func @dense
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x32xf16>
// CHECK: %[[SMALL:.*]] = arith.cmpi ult, %[[T]], %c{{[0-9]+}}
// CHECK: %[[T16:.*]] = arith.ceildivui %[[T]], %c16
// CHECK: %[[GY:.*]] = arith.select %[[SMALL]], %[[T16]], %c0
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks in (%{{.*}}, %[[GY]], %{{.*}}) threads in (%c128{{.*}}) args(%{{.*}}, %{{.*}}, %[[T]] : index, %{{.*}} : index, %{{.*}} : memref<?x48xf16>)
// CHECK: arith.ceildivui %[[T]], %c64
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul_0
// CHECK: gpu.func @expert_matmul(%{{.*}}: memref<?x32xf16, {{.*}}>, %{{.*}}: memref<1x48x32xf16, {{.*}}>, %[[LIMIT16:.*]]: index, %{{.*}}: index, %{{.*}}: memref<?x48xf16>)
// CHECK: %[[IN16:.*]] = arith.cmpi ult, %{{.*}}, %[[LIMIT16]] : index
// CHECK: %[[LAST16:.*]] = arith.subi %[[LIMIT16]], %c1
// CHECK: %[[ROW16:.*]] = arith.minui %{{.*}}, %[[LAST16]] : index
// CHECK: vector.load %{{.*}}[%[[ROW16]], %{{.*}}]
// CHECK: vector.from_elements %[[IN16]], %[[IN16]], %{{.*}}, %{{.*}} : vector<2x2xi1>
// CHECK: gpu.func @expert_matmul_0(%{{.*}}: memref<?x32xf16, {{.*}}>, %{{.*}}: memref<1x48x32xf16, {{.*}}>, %[[LIMIT:.*]]: index, %{{.*}}: index, %{{.*}}: memref<?x48xf16>)
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[LIMIT]] : index
// CHECK: %[[LAST:.*]] = arith.subi %[[LIMIT]], %c1
// CHECK: %[[ROW:.*]] = arith.minui %{{.*}}, %[[LAST]] : index
// CHECK: %[[ELEMS:.*]] = arith.select %[[IN]], %c8, %c0 : index
// CHECK-NEXT: nvgpu.device_async_copy %{{.*}}[%[[ROW]], %{{.*}}], %{{.*}}, 8, %[[ELEMS]] {bypassL1}
// CHECK: } else {
// CHECK: memref.load %arg0[%[[ROW]], %{{.*}}]
// CHECK: arith.cmpi ult, %{{.*}}, %[[LIMIT]] : index
// CHECK: memref.store %{{.*}}, %arg4
func.func @dense(%x: tensor<?x32xf16>, %w: tensor<1x48x32xf16>) -> tensor<?x48xf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0 : i32
  %t = tensor.dim %x, %c0 : tensor<?x32xf16>
  %ti = arith.index_cast %t : index to i32
  %all = tensor.from_elements %zero, %ti : tensor<2xi32>
  %y = moe.expert_matmul %x, %w, %all
      : (tensor<?x32xf16>, tensor<1x48x32xf16>, tensor<2xi32>) -> tensor<?x48xf16>
  return %y : tensor<?x48xf16>
}

// -----

// Groups of unknown padding cannot be tiled.
func.func @unknown_offsets(%g: tensor<128x16xf32>, %w: tensor<2x8x16xf32>,
                           %off: tensor<3xi32>) -> tensor<128x8xf32> {
  // expected-error @+1 {{cannot map this grouped matmul to the GPU kernel: its offsets must come from a moe.dispatch with block a multiple of 16 (decompose with moe-decompose=block=16)}}
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<128x16xf32>, tensor<2x8x16xf32>, tensor<3xi32>) -> tensor<128x8xf32>
  return %y : tensor<128x8xf32>
}

// -----

func.func @small_block(%x: tensor<?x16xf32>, %ids: tensor<?x1xi32>,
                       %w: tensor<2x8x16xf32>) -> tensor<?x8xf32> {
  %g, %off, %s = moe.dispatch %x, %ids experts = 2 block = 8
      : (tensor<?x16xf32>, tensor<?x1xi32>) -> (tensor<?x16xf32>, tensor<3xi32>, tensor<?xi32>)
  // expected-error @+1 {{cannot map this grouped matmul to the GPU kernel}}
  %y = moe.expert_matmul %g, %w, %off
      : (tensor<?x16xf32>, tensor<2x8x16xf32>, tensor<3xi32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Quantized weights with zero points: the kernel takes them after the
// scales and subtracts the weight's zero point (its row's, its block's)
// from the unsigned value before scaling.
// CHECK-LABEL: func.func @int4_zero_points
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul {{.*}} args({{.*}} : memref<2x8x2xf32, {{.*}}>, %{{.*}} : memref<2x8x2xi8, {{.*}}>, %{{.*}} : memref<?x8xf32>)
// CHECK: gpu.func @expert_matmul({{.*}}, %[[S:.*]]: memref<2x8x2xf32, {{.*}}>, %[[Z:.*]]: memref<2x8x2xi8, {{.*}}>, %{{.*}}: memref<?x8xf32>)
// CHECK: %[[Q:.*]] = arith.andi %{{.*}}, %c15_i32 : i32
// CHECK: %[[ZB:.*]] = memref.load %[[Z]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<2x8x2xi8
// CHECK: %[[ZI:.*]] = arith.extui %[[ZB]] : i8 to i32
// CHECK: %[[C:.*]] = arith.subi %[[Q]], %[[ZI]] : i32
// CHECK: arith.sitofp %[[C]] : i32 to f32
func.func @int4_zero_points(%x: tensor<?x32xf32>, %ids: tensor<?x1xi32>,
                            %w: tensor<2x8x16xi8>, %s: tensor<2x8x2xf32>,
                            %z: tensor<2x8x2xi8>) -> tensor<?x8xf32> {
  %g, %off, %sl = moe.dispatch %x, %ids experts = 2 block = 64
      : (tensor<?x32xf32>, tensor<?x1xi32>) -> (tensor<?x32xf32>, tensor<3xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 4, quant_block = 16}
      : (tensor<?x32xf32>, tensor<2x8x16xi8>, tensor<3xi32>, tensor<2x8x2xf32>, tensor<2x8x2xi8>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
