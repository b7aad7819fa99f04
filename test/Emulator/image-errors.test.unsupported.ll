target triple = "nvptx64-nvidia-cuda"
define ptx_kernel void @sleep() {
  call void @llvm.nvvm.nanosleep(i32 100)
  ret void
}
declare void @llvm.nvvm.nanosleep(i32)
