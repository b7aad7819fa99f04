// RUN: moe-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-stream-allocations))' | FileCheck %s
// RUN: moe-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-stream-allocations,gpu-async-region))' | FileCheck %s --check-prefix=ASYNC
// RUN: moe-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-stream-allocations,gpu-async-region,moe-gpu-host-shared-allocs))' | FileCheck %s --check-prefix=SHARED

// Buffers become stream-ordered allocations and frees: device memory for
// one only GPU operations use, unified memory (host_shared) for one the
// host reads too, which keeps its host free; the copy engine's fill loses
// the waits around it. Then gpu-async-region threads one token through all
// of it: the host waits once before its read and frees that buffer after.
// moe-gpu-host-shared-allocs then takes the unified-memory allocation off
// the chain (the lowering takes it only synchronously).
// CHECK-LABEL: func.func @call
// CHECK: %[[A:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK: %[[F:.*]] = gpu.alloc host_shared () : memref<1xi32>
// CHECK-NOT: gpu.wait
// CHECK: gpu.memset async %[[A]], %{{.*}} : memref<?xf32>, f32
// CHECK-NOT: gpu.wait
// CHECK: gpu.launch_func @k::@f
// CHECK: gpu.dealloc %[[A]] : memref<?xf32>
// CHECK: memref.load %[[F]]
// CHECK: memref.dealloc %[[F]] : memref<1xi32>
// ASYNC-LABEL: func.func @call
// ASYNC: %[[T0:.*]] = gpu.wait async
// ASYNC: %[[A:.*]], %[[T1:.*]] = gpu.alloc async [%[[T0]]] (%{{.*}}) : memref<?xf32>
// ASYNC: %[[F:.*]], %[[T2:.*]] = gpu.alloc async [%[[T1]]] host_shared () : memref<1xi32>
// ASYNC: %[[T3:.*]] = gpu.memset async [%[[T2]]] %[[A]]
// ASYNC: %[[T4:.*]] = gpu.launch_func async [%[[T3]]] @k::@f
// ASYNC: %[[T5:.*]] = gpu.dealloc async [%[[T4]]] %[[A]]
// ASYNC-NEXT: gpu.wait [%[[T5]]]
// ASYNC-NEXT: memref.load %[[F]]
// ASYNC-NOT: gpu.wait
// ASYNC: memref.dealloc %[[F]]
// ASYNC-NEXT: return
// SHARED-LABEL: func.func @call
// SHARED: %[[T0:.*]] = gpu.wait async
// SHARED: %[[A:.*]], %[[T1:.*]] = gpu.alloc async [%[[T0]]] (%{{.*}}) : memref<?xf32>
// SHARED-NEXT: %[[F:.*]] = gpu.alloc host_shared () : memref<1xi32>
// SHARED-NEXT: %[[T3:.*]] = gpu.memset async [%[[T1]]] %[[A]]
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f(%a: memref<?xf32>, %flag: memref<1xi32>) kernel {
      gpu.return
    }
  }
  func.func @call(%n: index) -> i32 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %zero = arith.constant 0.0 : f32
    %a = memref.alloc(%n) : memref<?xf32>
    %flag = memref.alloc() : memref<1xi32>
    %t0 = gpu.wait async
    %t1 = gpu.memset async [%t0] %a, %zero : memref<?xf32>, f32
    gpu.wait [%t1]
    gpu.launch_func @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<?xf32>, %flag : memref<1xi32>)
    memref.dealloc %a : memref<?xf32>
    %v = memref.load %flag[%c0] : memref<1xi32>
    memref.dealloc %flag : memref<1xi32>
    return %v : i32
  }
}

// -----

// Buffers with a layout gpu.alloc cannot make stay host allocations.
// CHECK-LABEL: func.func @strided
// CHECK: memref.alloc() : memref<4xf32, strided<[2]>>
func.func @strided() {
  %a = memref.alloc() : memref<4xf32, strided<[2]>>
  memref.dealloc %a : memref<4xf32, strided<[2]>>
  return
}

// -----

// A view of a buffer that only kernels use (here a reshape, whose shape
// buffer is the host's) leaves it device memory, freed on the stream.
// CHECK-LABEL: func.func @viewed
// CHECK: %[[A:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK: %[[S:.*]] = memref.alloc() : memref<1xindex>
// CHECK: memref.reshape %[[A]](%[[S]])
// CHECK: gpu.launch_func @k::@g
// CHECK: gpu.dealloc %[[A]] : memref<?xf32>
// CHECK: memref.dealloc %[[S]] : memref<1xindex>
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%a: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func @viewed(%n: index) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %a = memref.alloc(%n) : memref<?xf32>
    %shape = memref.alloc() : memref<1xindex>
    memref.store %n, %shape[%c0] : memref<1xindex>
    %v = memref.reshape %a(%shape) : (memref<?xf32>, memref<1xindex>) -> memref<?xf32>
    gpu.launch_func @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%v : memref<?xf32>)
    memref.dealloc %a : memref<?xf32>
    memref.dealloc %shape : memref<1xindex>
    return
  }
}
