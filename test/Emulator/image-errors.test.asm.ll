target triple = "nvptx64-nvidia-cuda"
define ptx_kernel void @stop() {
  call void asm sideeffect "trap;", ""()
  ret void
}
