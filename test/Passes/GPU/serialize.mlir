// REQUIRES: ptxas
// RUN: moe-opt %s --moe-gpu-serialize="toolkit=%cuda_root fail-on-spills emulator=0" | FileCheck %s
// RUN: not env PATH=/nonexistent %moe_bin/moe-opt %s --moe-gpu-serialize=toolkit=/nonexistent 2>&1 | FileCheck %s --check-prefix=NOTOOLKIT

// The module becomes a fat binary (the magic 0xBA55ED50, little-endian),
// with the PTX and ptxas's report kept as properties.
// CHECK: gpu.binary @k [#gpu.object<#nvvm.target<chip = "sm_80">, properties = {
// CHECK-SAME: ptx = "{{.*}}.target sm_80{{.*}}.visible .entry scale(
// CHECK-SAME: ptxas_info = "{{.*}}Compiling entry function 'scale' for 'sm_80'{{.*}}0 bytes spill stores, 0 bytes spill loads{{.*}}Used {{[0-9]+}} registers
// CHECK-SAME: spill_bytes = 0 : i64}, "P\EDU\BA
// CHECK-NOT: gpu.module

// By default the object is a MOEGPUI1 container (include/moe/Runtime/
// GPUImage.h): a 64-byte header, the fat binary at offset 64, then the
// kernels built for the CUDA emulator (an ELF shared object); checked by
// serialize-emulator.test where the emulator is built.
// EMULATOR: spill_bytes = 0 : i64}, "MOEGPUI1@\00\00\00\00\00\00\00{{.*}}P\EDU\BA{{.*}}\7FELF

// NOTOOLKIT: error: cannot make GPU binaries: ptxas and fatbinary from the CUDA toolkit were not found under '/nonexistent/bin' nor on PATH

module attributes {gpu.container_module} {
  gpu.module @k [#nvvm.target<chip = "sm_80">] {
    llvm.func @scale(%p: !llvm.ptr, %s: f32) attributes {gpu.kernel, nvvm.kernel} {
      %t = nvvm.read.ptx.sreg.tid.x : i32
      %q = llvm.getelementptr %p[%t] : (!llvm.ptr, i32) -> !llvm.ptr, f32
      %v = llvm.load %q : !llvm.ptr -> f32
      %w = llvm.fmul %v, %s : f32
      llvm.store %w, %q : f32, !llvm.ptr
      llvm.return
    }
  }
}
