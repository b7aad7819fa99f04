// RUN: moe-opt %s -verify-diagnostics --moe-gpu-device-checks

// A check followed by a barrier cannot skip the rest of its block: the
// threads that failed would never reach the barrier the others wait at
// (the CUDA emulator reports that as barrier divergence).
func.func @barrier_after(%a: memref<?xf32>, %c: i1) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{cannot report this check from a GPU kernel: a barrier follows it, which threads skipping the rest of the block would never reach}}
    cf.assert %c, "id out of range"
    gpu.barrier
    %v = memref.load %a[%c0] : memref<?xf32>
    gpu.terminator
  }
  return
}
