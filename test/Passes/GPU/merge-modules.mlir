// RUN: moe-opt %s --moe-gpu-merge-modules | FileCheck %s

// Outlined kernels move into @moe_kernels: a name it already has gets a
// suffix, and every launch follows its kernel.
// CHECK-LABEL: func.func @host
// CHECK: gpu.launch_func @moe_kernels::@k blocks
// CHECK: gpu.launch_func @moe_kernels::@k_1 blocks
// CHECK: gpu.launch_func @moe_kernels::@other blocks
// CHECK: gpu.module @moe_kernels {
// CHECK: gpu.func @k(%{{.*}}: memref<4xf32>) kernel
// CHECK: gpu.func @k_1(%{{.*}}: memref<4xf32>) kernel
// CHECK: gpu.func @other(%{{.*}}: memref<4xf32>) kernel
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @host(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @moe_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @host_kernel::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @host_kernel_0::@other blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @moe_kernels {
    gpu.func @k(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @host_kernel {
    gpu.func @k(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @host_kernel_0 {
    gpu.func @other(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
}
