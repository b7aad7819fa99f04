; Dynamic shared memory past static shared memory's 48 KB, as the deeper
; rings of the grouped GEMM's 128-row tiles use it.
;
; @far: each of 32 threads stores float t at byte %offset + 4 t of the
; block's dynamic shared memory, and after a barrier writes its
; neighbour's value (t + 1 modulo 32) to out[t].
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@dynamic = external addrspace(3) global [0 x i8], align 16

define ptx_kernel void @far(ptr %out, i32 %offset) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %tf = uitofp i32 %t to float
  %at = mul i32 %t, 4
  %mine = add i32 %offset, %at
  %p = getelementptr i8, ptr addrspace(3) @dynamic, i32 %mine
  store float %tf, ptr addrspace(3) %p, align 4
  call void @llvm.nvvm.barrier0()
  %n1 = add i32 %t, 1
  %n = and i32 %n1, 31
  %nat = mul i32 %n, 4
  %theirs = add i32 %offset, %nat
  %q = getelementptr i8, ptr addrspace(3) @dynamic, i32 %theirs
  %v = load float, ptr addrspace(3) %q, align 4
  %o = getelementptr float, ptr %out, i32 %t
  store float %v, ptr %o, align 4
  ret void
}

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier0()
