; Each of 64 threads writes its slot of a shared array and reads its
; neighbour's: correct only with the barrier between (%sync != 0).
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@slots = internal addrspace(3) global [64 x float] undef, align 4

define ptx_kernel void @neighbour(ptr %out, i32 %sync) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %tf = uitofp i32 %t to float
  %mine = getelementptr [64 x float], ptr addrspace(3) @slots, i32 0, i32 %t
  store float %tf, ptr addrspace(3) %mine, align 4
  %s = icmp ne i32 %sync, 0
  br i1 %s, label %wait, label %read
wait:
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  br label %read
read:
  %n = add i32 %t, 1
  %m = and i32 %n, 63
  %theirs = getelementptr [64 x float], ptr addrspace(3) @slots, i32 0, i32 %m
  %v = load float, ptr addrspace(3) %theirs, align 4
  %o = getelementptr float, ptr %out, i32 %t
  store float %v, ptr %o, align 4
  ret void
}

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier.cta.sync.aligned.all(i32)
