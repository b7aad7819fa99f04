; A warp exchanging lane ids: out[t] = the butterfly partner's (t ^ 1),
; out[32 + t] = the next lane's (shfl.down by 1, clamped at lane 31).
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

define ptx_kernel void @lanes(ptr %out) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %b = call i32 @llvm.nvvm.shfl.sync.bfly.i32(i32 -1, i32 %t, i32 1, i32 31)
  %d = call i32 @llvm.nvvm.shfl.sync.down.i32(i32 -1, i32 %t, i32 1, i32 31)
  %bf = uitofp i32 %b to float
  %df = uitofp i32 %d to float
  %o1 = getelementptr float, ptr %out, i32 %t
  store float %bf, ptr %o1, align 4
  %t32 = add i32 %t, 32
  %o2 = getelementptr float, ptr %out, i32 %t32
  store float %df, ptr %o2, align 4
  ret void
}

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare i32 @llvm.nvvm.shfl.sync.bfly.i32(i32, i32, i32, i32)
declare i32 @llvm.nvvm.shfl.sync.down.i32(i32, i32, i32, i32)
