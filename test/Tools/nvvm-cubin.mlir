// With the CUDA toolkit present, the same path assembles a cubin with ptxas
// for sm_80 and sm_90.
// REQUIRES: ptxas
// RUN: moe-opt %s --nvvm-attach-target="chip=sm_80" --convert-gpu-to-nvvm \
// RUN:   --reconcile-unrealized-casts \
// RUN:   --gpu-module-to-binary="format=bin toolkit=%cuda_root" | FileCheck %s
// RUN: moe-opt %s --nvvm-attach-target="chip=sm_90" --convert-gpu-to-nvvm \
// RUN:   --reconcile-unrealized-casts \
// RUN:   --gpu-module-to-binary="format=bin toolkit=%cuda_root" | FileCheck %s
// A cubin is an ELF image.
// CHECK: gpu.binary @kernels
// CHECK-SAME: #nvvm.target<chip = "sm_{{[89]}}0">
// CHECK-SAME: bin = "\7FELF
gpu.module @kernels {
  gpu.func @scale(%buf: memref<128xf32>, %s: f32) kernel {
    %i = gpu.thread_id x
    %v = memref.load %buf[%i] : memref<128xf32>
    %r = arith.mulf %v, %s : f32
    memref.store %r, %buf[%i] : memref<128xf32>
    gpu.return
  }
}
