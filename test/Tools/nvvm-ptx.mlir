// moe-opt carries the upstream GPU path to PTX (the NVPTX backend ships with
// LLVM; no CUDA toolkit needed) because it registers the LLVM IR translations.
// RUN: moe-opt %s --nvvm-attach-target="chip=sm_90" --convert-gpu-to-nvvm \
// RUN:   --reconcile-unrealized-casts --gpu-module-to-binary="format=isa" \
// RUN:   | FileCheck %s
// CHECK: gpu.binary @kernels
// CHECK-SAME: .target sm_90
// CHECK-SAME: .visible .entry scale
// CHECK-SAME: mul.rn.f32
gpu.module @kernels {
  gpu.func @scale(%buf: memref<128xf32>, %s: f32) kernel {
    %i = gpu.thread_id x
    %v = memref.load %buf[%i] : memref<128xf32>
    %r = arith.mulf %v, %s : f32
    memref.store %r, %buf[%i] : memref<128xf32>
    gpu.return
  }
}
