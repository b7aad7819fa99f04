// RUN: moe-opt %s -split-input-file --moe-gpu-copy-engine | FileCheck %s

// Whole-buffer fills (named or generalized) and copies in host code become
// the copy engine's memset / memcpy, each waited for at once.
// CHECK-LABEL: func.func @host
// CHECK: %[[T0:.*]] = gpu.wait async
// CHECK: %[[T1:.*]] = gpu.memset async [%[[T0]]] %arg0, %c0_i32 : memref<?xi32>, i32
// CHECK: gpu.wait [%[[T1]]]
// CHECK: %[[T2:.*]] = gpu.wait async
// CHECK: %[[T3:.*]] = gpu.memset async [%[[T2]]] %arg1, %cst : memref<4x8xf16>, f16
// CHECK: gpu.wait [%[[T3]]]
// CHECK: %[[T4:.*]] = gpu.wait async
// CHECK: %[[T5:.*]] = gpu.memcpy async [%[[T4]]] %arg3, %arg2 : memref<?x8xf32>, memref<?x8xf32>
// CHECK: gpu.wait [%[[T5]]]
// Not contiguous, not 16/32-bit, or inside a kernel: unchanged.
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<4x8xf32, strided<[16, 1]>> to memref<4x8xf32>
// CHECK: linalg.fill ins(%{{.*}} : i64) outs(%arg5 : memref<8xi64>)
// CHECK: gpu.launch
// CHECK: linalg.fill ins(%c0_i32 : i32) outs(%arg0 : memref<?xi32>)
#id = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>
func.func @host(%a: memref<?xi32>, %b: memref<4x8xf16>, %c: memref<?x8xf32>,
                %d: memref<?x8xf32>, %e: memref<4x8xf32, strided<[16, 1]>>,
                %f: memref<8xi64>, %g: memref<4x8xf32>) {
  %c0_i32 = arith.constant 0 : i32
  %cst = arith.constant 0.0 : f16
  %big = arith.constant 7 : i64
  linalg.fill ins(%c0_i32 : i32) outs(%a : memref<?xi32>)
  linalg.generic {indexing_maps = [#scalar, #id], iterator_types = ["parallel", "parallel"]}
      ins(%cst : f16) outs(%b : memref<4x8xf16>) {
  ^bb0(%in: f16, %out: f16):
    linalg.yield %in : f16
  }
  memref.copy %c, %d : memref<?x8xf32> to memref<?x8xf32>
  memref.copy %e, %g : memref<4x8xf32, strided<[16, 1]>> to memref<4x8xf32>
  linalg.fill ins(%big : i64) outs(%f : memref<8xi64>)
  %one = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %one, %y = %one, %z = %one)
             threads(%tx, %ty, %tz) in (%u = %one, %v = %one, %w = %one) {
    linalg.fill ins(%c0_i32 : i32) outs(%a : memref<?xi32>)
    gpu.terminator
  }
  return
}

// -----

// A copy between shape arithmetic's small static integer buffers stays a
// copy (moe-gpu-map-parallel-loops keeps it on the host where the host
// computed its source): no memcpy the host would wait for before reading
// the result. Fills still go to the copy engine (the routing plan's
// counters).
// CHECK-LABEL: func.func @shapes
// CHECK-NOT: gpu.
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<2xi64> to memref<2xi64>
// CHECK: gpu.memset async [%{{.*}}] %{{.*}}, %{{.*}} : memref<4xi32>, i32
func.func @shapes(%a: memref<2xi64>, %b: memref<2xi64>, %c: memref<4xi32>) {
  %z = arith.constant 0 : i32
  memref.copy %a, %b : memref<2xi64> to memref<2xi64>
  linalg.fill ins(%z : i32) outs(%c : memref<4xi32>)
  return
}
