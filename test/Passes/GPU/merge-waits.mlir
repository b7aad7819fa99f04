// RUN: moe-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-merge-waits))' | FileCheck %s

// Between the wait and the next chain, only host-only work (a reshape's
// shape buffer, a check of sizes): the wait goes and one chain continues.
// CHECK-LABEL: func.func @reshape_between
// CHECK: %[[T1:.*]] = gpu.launch_func async [%{{.*}}] @k::@f
// CHECK-NOT: gpu.wait
// CHECK: memref.store
// CHECK: memref.reshape
// CHECK: %[[T2:.*]] = gpu.launch_func async [%[[T1]]] @k::@f
// CHECK: gpu.wait [%[[T2]]]
// CHECK-NEXT: return
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f() kernel {
      gpu.return
    }
  }
  func.func @reshape_between(%m: memref<8xf32>, %n: index) -> memref<2x4xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.wait [%t1]
    %ok = arith.cmpi ult, %n, %c4 : index
    cf.assert %ok, "too large"
    %shape = memref.alloc() : memref<2xindex>
    memref.store %c2, %shape[%c0] : memref<2xindex>
    memref.store %c4, %shape[%c1] : memref<2xindex>
    %r = memref.reshape %m(%shape) : (memref<8xf32>, memref<2xindex>) -> memref<2x4xf32>
    memref.dealloc %shape : memref<2xindex>
    %t2 = gpu.wait async
    %t3 = gpu.launch_func async [%t2] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.wait [%t3]
    return %r : memref<2x4xf32>
  }
}

// -----

// A host store into a buffer kernels use keeps the wait before it.
// CHECK-LABEL: func.func @device_visible
// CHECK: gpu.wait [%{{.*}}]
// CHECK-NEXT: memref.store
// CHECK: %{{.*}} = gpu.wait async
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @device_visible(%a: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %v = arith.constant 1.0 : f32
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<4xf32>)
    gpu.wait [%t1]
    memref.store %v, %a[%c0] : memref<4xf32>
    %t2 = gpu.wait async
    %t3 = gpu.launch_func async [%t2] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<4xf32>)
    gpu.wait [%t3]
    return
  }
}
