; A warpgroup (128 threads) multiplies A (64x16, row-major f16) by B (16x8,
; given as its transpose, 8x16 row-major) with wgmma.mma_async.m64n8k16,
; both operands in shared memory in the K-major layout without swizzling
; that descriptors name: core matrices of 8 rows x 16 bytes, 128 bytes
; apart along K (the leading byte offset) and 256 apart along M (the stride
; byte offset). Each thread stores one 16-byte row of A's core matrices
; (row t % 64, K chunk t / 64), threads 0-15 one of B's, and D's registers
; at the places the PTX ISA gives them. The inline PTX is the NVVM
; dialect's for nvvm.wgmma.mma_async. %mode 1 exchanges A's descriptor's
; two byte offsets (a wrong layout: a different product); %mode 2 sets the
; 128-byte swizzle mode, which the emulator reports; %mode 3 gives warp 3
; a different B descriptor, which the emulator reports. %mode 4 stores each
; thread's row of A again (the same values) after the commit, before the
; wait: the tensor cores may still be reading it, which the emulator
; reports; %mode 5 stores it after the wait and a barrier: nothing to
; report; %mode 6 skips the wait: D is stored undefined, and the block ends
; with the operation in flight, which the emulator reports.
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@sa = internal addrspace(3) global [1024 x half] undef, align 16
@sb = internal addrspace(3) global [128 x half] undef, align 16

define ptx_kernel void @wgmma(ptr %a, ptr %bt, ptr %d, i32 %mode) {
  %tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %row = and i32 %tid, 63
  %chunk = lshr i32 %tid, 6
  %src = mul i32 %row, 16
  %chunk8 = mul i32 %chunk, 8
  %srci = add i32 %src, %chunk8
  %pa = getelementptr half, ptr %a, i32 %srci
  %va = load <8 x half>, ptr %pa, align 16
  ; byte offset (row / 8) * 256 + chunk * 128 + (row % 8) * 16
  %rg = lshr i32 %row, 3
  %rgo = mul i32 %rg, 256
  %co = mul i32 %chunk, 128
  %r8 = and i32 %row, 7
  %r8o = mul i32 %r8, 16
  %o1 = add i32 %rgo, %co
  %oa = add i32 %o1, %r8o
  %da = getelementptr i8, ptr addrspace(3) @sa, i32 %oa
  store <8 x half> %va, ptr addrspace(3) %da, align 16
  %isb = icmp ult i32 %tid, 16
  br i1 %isb, label %copyb, label %mma

copyb:
  %brow = and i32 %tid, 7
  %bchunk = lshr i32 %tid, 3
  %bsrc = mul i32 %brow, 16
  %bchunk8 = mul i32 %bchunk, 8
  %bsrci = add i32 %bsrc, %bchunk8
  %pb = getelementptr half, ptr %bt, i32 %bsrci
  %vb = load <8 x half>, ptr %pb, align 16
  %bco = mul i32 %bchunk, 128
  %bro = mul i32 %brow, 16
  %ob = add i32 %bco, %bro
  %db = getelementptr i8, ptr addrspace(3) @sb, i32 %ob
  store <8 x half> %vb, ptr addrspace(3) %db, align 16
  br label %mma

mma:
  call void @llvm.nvvm.fence.proxy.async.shared_cta()
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  %swapped = icmp eq i32 %mode, 1
  %lbo = select i1 %swapped, i64 16, i64 8
  %sbo = select i1 %swapped, i64 8, i64 16
  %lbof = shl i64 %lbo, 16
  %sbof = shl i64 %sbo, 32
  %layout = or i64 %lbof, %sbof
  %swz = icmp eq i32 %mode, 2
  %swzbits = select i1 %swz, i64 4611686018427387904, i64 0
  %layout2 = or i64 %layout, %swzbits
  %blayout = or i64 524288, 68719476736
  %blayout2 = or i64 %blayout, %swzbits
  %aaddr = ptrtoint ptr addrspace(3) @sa to i64
  %baddr = ptrtoint ptr addrspace(3) @sb to i64
  %afield = lshr i64 %aaddr, 4
  %afield2 = and i64 %afield, 16383
  %bfield = lshr i64 %baddr, 4
  %bfield2 = and i64 %bfield, 16383
  %desca = or i64 %afield2, %layout2
  %descb0 = or i64 %bfield2, %blayout2
  %warp = lshr i32 %tid, 5
  %odd = icmp eq i32 %mode, 3
  %w3 = icmp eq i32 %warp, 3
  %diverge = and i1 %odd, %w3
  %descb1 = add i64 %descb0, 8
  %descb = select i1 %diverge, i64 %descb1, i64 %descb0
  call void @llvm.nvvm.wgmma.fence.sync.aligned()
  %r = call { float, float, float, float } asm sideeffect "{\0A.reg .pred p;\0Asetp.ne.b32 p, $10, 0;\0Awgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {$0, $1, $2, $3}, $8, $9, p, $11,  $12, $13,  $14;\0A}\0A", "=f,=f,=f,=f,0,1,2,3,l,l,n,n,n,n,n"(float 0.0, float 0.0, float 0.0, float 0.0, i64 %desca, i64 %descb, i32 1, i32 1, i32 1, i32 0, i32 0)
  call void @llvm.nvvm.wgmma.commit_group.sync.aligned()
  %early = icmp eq i32 %mode, 4
  br i1 %early, label %rewrite_early, label %wait

rewrite_early:
  store <8 x half> %va, ptr addrspace(3) %da, align 16
  br label %wait

wait:
  %nowait = icmp eq i32 %mode, 6
  br i1 %nowait, label %results, label %waited

waited:
  call void @llvm.nvvm.wgmma.wait_group.sync.aligned(i64 0)
  %late = icmp eq i32 %mode, 5
  br i1 %late, label %rewrite_late, label %results

rewrite_late:
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  store <8 x half> %va, ptr addrspace(3) %da, align 16
  br label %results

results:
  ; register i: row 16 warp + lane / 4 + 8 (i / 2), column 2 (lane % 4) + i % 2
  %lane = and i32 %tid, 31
  %g = lshr i32 %lane, 2
  %t = and i32 %lane, 3
  %c = shl i32 %t, 1
  %w16 = mul i32 %warp, 16
  %row0 = add i32 %w16, %g
  %row8 = add i32 %row0, 8
  %j0r = mul i32 %row0, 8
  %j2r = mul i32 %row8, 8
  %j0 = add i32 %j0r, %c
  %j2 = add i32 %j2r, %c
  %pd0 = getelementptr float, ptr %d, i32 %j0
  %pd1 = getelementptr float, ptr %pd0, i32 1
  %pd2 = getelementptr float, ptr %d, i32 %j2
  %pd3 = getelementptr float, ptr %pd2, i32 1
  %d0 = extractvalue { float, float, float, float } %r, 0
  %d1 = extractvalue { float, float, float, float } %r, 1
  %d2 = extractvalue { float, float, float, float } %r, 2
  %d3 = extractvalue { float, float, float, float } %r, 3
  store float %d0, ptr %pd0, align 4
  store float %d1, ptr %pd1, align 4
  store float %d2, ptr %pd2, align 4
  store float %d3, ptr %pd3, align 4
  ret void
}

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier.cta.sync.aligned.all(i32)
declare void @llvm.nvvm.fence.proxy.async.shared_cta()
declare void @llvm.nvvm.wgmma.fence.sync.aligned()
declare void @llvm.nvvm.wgmma.commit_group.sync.aligned()
declare void @llvm.nvvm.wgmma.wait_group.sync.aligned(i64 immarg)
