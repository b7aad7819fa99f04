; cp.async and ldmatrix, as the pipelined grouped GEMM uses them.
;
; @staged: each of 32 threads writes 4 floats (4 t .. 4 t + 3) to out[4 t],
; copies them with one 16-byte cp.async into its shared slot (even threads
; all 16 bytes, odd ones 8 source bytes and 8 zero-filled), commits, waits
; for the group when %wait != 0, and after a barrier writes its neighbour's
; slot to out[128 + 4 t]. Without the wait the copies are still pending at
; the barrier: the reads find shared memory unwritten.
;
; @ldmatrix: 32 threads fill four 8 x 8 matrices of 16-bit values,
; matrix j row i column e = 64 j + 8 i + e; lane 8 j + i names row i of
; matrix j to ldmatrix.x4 (transposed when %trans != 0) and writes the two
; halves of each of its 4 registers, low first, to out[8 lane ..].
;
; @pitched: 32 threads fill 1024 16-bit values (element i = i); lane 8 j +
; r names row r of matrix j at byte r * %pitch + 16 (j ^ s), s = (r / 4) % 2
; when %swizzle != 0, else 0, and writes its registers as @ldmatrix does:
; rows %pitch bytes apart, whose 16-byte bank groups collide or not.
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@slots = internal addrspace(3) global [32 x <4 x float>] undef, align 16
@tiles = internal addrspace(3) global [256 x i16] undef, align 16
@rows = internal addrspace(3) global [1024 x i16] undef, align 16

define ptx_kernel void @staged(ptr %out, i32 %wait) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %base = mul i32 %t, 4
  %tf = uitofp i32 %base to float
  %v0 = insertelement <4 x float> poison, float %tf, i32 0
  %f1 = fadd float %tf, 1.0
  %v1 = insertelement <4 x float> %v0, float %f1, i32 1
  %f2 = fadd float %tf, 2.0
  %v2 = insertelement <4 x float> %v1, float %f2, i32 2
  %f3 = fadd float %tf, 3.0
  %v3 = insertelement <4 x float> %v2, float %f3, i32 3
  %src = getelementptr <4 x float>, ptr %out, i32 %t
  store <4 x float> %v3, ptr %src, align 16
  %dst = getelementptr [32 x <4 x float>], ptr addrspace(3) @slots, i32 0, i32 %t
  %src1 = addrspacecast ptr %src to ptr addrspace(1)
  %odd = and i32 %t, 1
  %half = mul i32 %odd, 8
  %bytes = sub i32 16, %half
  call void @llvm.nvvm.cp.async.ca.shared.global.16.s(ptr addrspace(3) %dst, ptr addrspace(1) %src1, i32 %bytes)
  call void @llvm.nvvm.cp.async.commit.group()
  %w = icmp ne i32 %wait, 0
  br i1 %w, label %waiting, label %sync
waiting:
  call void @llvm.nvvm.cp.async.wait.group(i32 0)
  br label %sync
sync:
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  %n = add i32 %t, 1
  %m = and i32 %n, 31
  %theirs = getelementptr [32 x <4 x float>], ptr addrspace(3) @slots, i32 0, i32 %m
  %v = load <4 x float>, ptr addrspace(3) %theirs, align 16
  %slot = add i32 %t, 32
  %o = getelementptr <4 x float>, ptr %out, i32 %slot
  store <4 x float> %v, ptr %o, align 16
  ret void
}

define ptx_kernel void @ldmatrix(ptr %out, i32 %trans) {
  %lane = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %first = mul i32 %lane, 8
  br label %fill
fill:
  %e = phi i32 [ 0, %0 ], [ %e1, %fill ]
  %at = add i32 %first, %e
  %v = trunc i32 %at to i16
  %p = getelementptr [256 x i16], ptr addrspace(3) @tiles, i32 0, i32 %at
  store i16 %v, ptr addrspace(3) %p, align 2
  %e1 = add i32 %e, 1
  %done = icmp eq i32 %e1, 8
  br i1 %done, label %load, label %fill
load:
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  %row = getelementptr [256 x i16], ptr addrspace(3) @tiles, i32 0, i32 %first
  %t = icmp ne i32 %trans, 0
  br i1 %t, label %transposed, label %plain
plain:
  %r0 = call { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3(ptr addrspace(3) %row)
  br label %store
transposed:
  %r1 = call { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.trans.b16.p3(ptr addrspace(3) %row)
  br label %store
store:
  %r = phi { i32, i32, i32, i32 } [ %r0, %plain ], [ %r1, %transposed ]
  %x0 = extractvalue { i32, i32, i32, i32 } %r, 0
  call void @halves(ptr %out, i32 %first, i32 %x0)
  %x1 = extractvalue { i32, i32, i32, i32 } %r, 1
  %o1 = add i32 %first, 2
  call void @halves(ptr %out, i32 %o1, i32 %x1)
  %x2 = extractvalue { i32, i32, i32, i32 } %r, 2
  %o2 = add i32 %first, 4
  call void @halves(ptr %out, i32 %o2, i32 %x2)
  %x3 = extractvalue { i32, i32, i32, i32 } %r, 3
  %o3 = add i32 %first, 6
  call void @halves(ptr %out, i32 %o3, i32 %x3)
  ret void
}

define ptx_kernel void @pitched(ptr %out, i32 %pitch, i32 %swizzle) {
  %lane = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %first = mul i32 %lane, 32
  br label %fill
fill:
  %e = phi i32 [ 0, %0 ], [ %e1, %fill ]
  %at = add i32 %first, %e
  %v = trunc i32 %at to i16
  %p = getelementptr [1024 x i16], ptr addrspace(3) @rows, i32 0, i32 %at
  store i16 %v, ptr addrspace(3) %p, align 2
  %e1 = add i32 %e, 1
  %done = icmp eq i32 %e1, 32
  br i1 %done, label %load, label %fill
load:
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  %r = and i32 %lane, 7
  %j = lshr i32 %lane, 3
  %half = lshr i32 %r, 2
  %s = and i32 %half, %swizzle
  %chunk = xor i32 %j, %s
  %rowbytes = mul i32 %r, %pitch
  %chunkbytes = shl i32 %chunk, 4
  %bytes = add i32 %rowbytes, %chunkbytes
  %row = getelementptr i8, ptr addrspace(3) @rows, i32 %bytes
  %x = call { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3(ptr addrspace(3) %row)
  %o0 = mul i32 %lane, 8
  %x0 = extractvalue { i32, i32, i32, i32 } %x, 0
  call void @halves(ptr %out, i32 %o0, i32 %x0)
  %x1 = extractvalue { i32, i32, i32, i32 } %x, 1
  %o1 = add i32 %o0, 2
  call void @halves(ptr %out, i32 %o1, i32 %x1)
  %x2 = extractvalue { i32, i32, i32, i32 } %x, 2
  %o2 = add i32 %o0, 4
  call void @halves(ptr %out, i32 %o2, i32 %x2)
  %x3 = extractvalue { i32, i32, i32, i32 } %x, 3
  %o3 = add i32 %o0, 6
  call void @halves(ptr %out, i32 %o3, i32 %x3)
  ret void
}

; out[at] = low half of %reg, out[at + 1] = high half, as floats.
define internal void @halves(ptr %out, i32 %at, i32 %reg) {
  %lo = and i32 %reg, 65535
  %hi = lshr i32 %reg, 16
  %lof = uitofp i32 %lo to float
  %hif = uitofp i32 %hi to float
  %p0 = getelementptr float, ptr %out, i32 %at
  store float %lof, ptr %p0, align 4
  %at1 = add i32 %at, 1
  %p1 = getelementptr float, ptr %out, i32 %at1
  store float %hif, ptr %p1, align 4
  ret void
}

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier.cta.sync.aligned.all(i32)
declare void @llvm.nvvm.cp.async.ca.shared.global.16.s(ptr addrspace(3), ptr addrspace(1), i32)
declare void @llvm.nvvm.cp.async.commit.group()
declare void @llvm.nvvm.cp.async.wait.group(i32 immarg)
declare { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3(ptr addrspace(3))
declare { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.trans.b16.p3(ptr addrspace(3))
