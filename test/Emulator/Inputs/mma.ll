; One warp multiplies A (16x16, row-major f16) by B (16x8, given as its
; transpose, 8x16 row-major) with mma.sync.m16n8k16, each lane loading and
; storing its fragments at the places the PTX ISA gives them. %swap != 0
; swaps A's registers 1 and 2, as a compiler with a wrong fragment table
; would: the emulator must then compute a different product.
target datalayout = "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

define ptx_kernel void @mma(ptr %a, ptr %bt, ptr %d, i32 %swap) {
  %lane = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %g = lshr i32 %lane, 2
  %t = and i32 %lane, 3
  %c = shl i32 %t, 1
  %g8 = add i32 %g, 8
  %c8 = add i32 %c, 8
  %row0 = mul i32 %g, 16
  %row8 = mul i32 %g8, 16
  %i0 = add i32 %row0, %c
  %i1 = add i32 %row8, %c
  %i2 = add i32 %row0, %c8
  %i3 = add i32 %row8, %c8
  %pa0 = getelementptr half, ptr %a, i32 %i0
  %pa1 = getelementptr half, ptr %a, i32 %i1
  %pa2 = getelementptr half, ptr %a, i32 %i2
  %pa3 = getelementptr half, ptr %a, i32 %i3
  %a0 = load <2 x half>, ptr %pa0, align 4
  %a1 = load <2 x half>, ptr %pa1, align 4
  %a2 = load <2 x half>, ptr %pa2, align 4
  %a3 = load <2 x half>, ptr %pa3, align 4
  %pb0 = getelementptr half, ptr %bt, i32 %i0
  %pb1 = getelementptr half, ptr %bt, i32 %i2
  %b0 = load <2 x half>, ptr %pb0, align 4
  %b1 = load <2 x half>, ptr %pb1, align 4
  %sw = icmp ne i32 %swap, 0
  %x1 = select i1 %sw, <2 x half> %a2, <2 x half> %a1
  %x2 = select i1 %sw, <2 x half> %a1, <2 x half> %a2
  %r = call { float, float, float, float } @llvm.nvvm.mma.m16n8k16.row.col.f32.f32(<2 x half> %a0, <2 x half> %x1, <2 x half> %x2, <2 x half> %a3, <2 x half> %b0, <2 x half> %b1, float 0.0, float 0.0, float 0.0, float 0.0)
  %drow0 = mul i32 %g, 8
  %drow8 = mul i32 %g8, 8
  %j0 = add i32 %drow0, %c
  %j2 = add i32 %drow8, %c
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
declare { float, float, float, float } @llvm.nvvm.mma.m16n8k16.row.col.f32.f32(<2 x half>, <2 x half>, <2 x half>, <2 x half>, <2 x half>, <2 x half>, float, float, float, float)
