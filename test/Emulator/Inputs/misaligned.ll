; A tile of halves read back as 32-bit pairs: the IR promises 4-byte
; alignment, which only the tile declared 'align 16' (%aligned != 0) gives;
; the other is declared 'align 2', as PTX would then declare it.
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@tile2 = internal addrspace(3) global [64 x half] undef, align 2
@tile16 = internal addrspace(3) global [64 x half] undef, align 16

define ptx_kernel void @pairs(ptr %out, i32 %aligned) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %a = icmp ne i32 %aligned, 0
  %tile = select i1 %a, ptr addrspace(3) @tile16, ptr addrspace(3) @tile2
  %th = uitofp i32 %t to half
  %e0 = shl i32 %t, 1
  %p0 = getelementptr half, ptr addrspace(3) %tile, i32 %e0
  store half %th, ptr addrspace(3) %p0, align 2
  %e1 = add i32 %e0, 1
  %p1 = getelementptr half, ptr addrspace(3) %tile, i32 %e1
  store half %th, ptr addrspace(3) %p1, align 2
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  %pair = load <2 x half>, ptr addrspace(3) %p0, align 4
  %lo = extractelement <2 x half> %pair, i32 0
  %hi = extractelement <2 x half> %pair, i32 1
  %sum = fadd half %lo, %hi
  %f = fpext half %sum to float
  %o = getelementptr float, ptr %out, i32 %t
  store float %f, ptr %o, align 4
  ret void
}

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier.cta.sync.aligned.all(i32)
