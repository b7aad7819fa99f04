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

// -----

// At the end of a call, host frees of unified buffers alternate with
// stream-ordered frees of device buffers: the free of a unified buffer no
// queued kernel uses needs no wait, the device buffer's free joins the
// kernel's chain, and one wait ends the call.
// CHECK-LABEL: func.func @idle_waits
// CHECK: %[[K:.*]] = gpu.launch_func
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: %[[F:.*]] = gpu.dealloc async [%[[K]]]
// CHECK-NEXT: gpu.wait [%[[F]]]
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @idle_waits(%a: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %d, %t0 = gpu.alloc async () : memref<4xf32>
    %u = gpu.alloc host_shared () : memref<4xf32>
    %t1 = gpu.launch_func async [%t0] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%d : memref<4xf32>)
    gpu.wait [%t1]
    memref.dealloc %u : memref<4xf32>
    %t2 = gpu.wait async
    %t3 = gpu.dealloc async [%t2] %d : memref<4xf32>
    gpu.wait [%t3]
    memref.dealloc %a : memref<4xf32>
    return
  }
}

// -----

// Nothing of the call is queued before its first kernel: the host writes a
// fresh buffer without waiting.
// CHECK-LABEL: func.func @idle_start
// CHECK-NOT: gpu.wait [
// CHECK: memref.store
// CHECK: gpu.launch_func
// CHECK-NEXT: gpu.wait [%{{.*}}]
// CHECK-NEXT: return
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%a: memref<1xi64>) kernel {
      gpu.return
    }
  }
  func.func @idle_start(%n: i64) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %t0 = gpu.wait async
    %u = gpu.alloc host_shared () : memref<1xi64>
    gpu.wait [%t0]
    memref.store %n, %u[%c0] : memref<1xi64>
    %t1 = gpu.wait async
    %t2 = gpu.launch_func async [%t1] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%u : memref<1xi64>)
    gpu.wait [%t2]
    return
  }
}

// -----

// Shape arithmetic on the host between two chains: a loop copying a
// constant global's pieces into views of a host buffer, read to size a
// reshape. None of it is device-visible memory: the wait goes.
// CHECK-LABEL: func.func @shape_loop
// CHECK: %[[T1:.*]] = gpu.launch_func async [%{{.*}}] @k::@f
// CHECK-NOT: gpu.wait [
// CHECK: scf.parallel
// CHECK: memref.reshape
// CHECK: %[[T2:.*]] = gpu.launch_func async [%[[T1]]] @k::@f
// CHECK-NEXT: gpu.wait [%[[T2]]]
// CHECK-NEXT: memref.dealloc
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f() kernel {
      gpu.return
    }
  }
  memref.global "private" constant @dims : memref<2xindex> = dense<[2, 4]>
  func.func @shape_loop(%m: memref<8xf32>) -> memref<2x4xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.wait [%t1]
    %dims = memref.get_global @dims : memref<2xindex>
    %shape = memref.alloc() : memref<2xindex>
    %view = memref.subview %shape[0] [2] [1] : memref<2xindex> to memref<2xindex, strided<[1]>>
    scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
      %v = memref.load %dims[%i] : memref<2xindex>
      memref.store %v, %view[%i] : memref<2xindex, strided<[1]>>
      scf.reduce
    }
    %r = memref.reshape %m(%shape) : (memref<8xf32>, memref<2xindex>) -> memref<2x4xf32>
    %t2 = gpu.wait async
    %t3 = gpu.launch_func async [%t2] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.wait [%t3]
    memref.dealloc %shape : memref<2xindex>
    return %r : memref<2x4xf32>
  }
}

// -----

// Host work between two chains that touches only buffers none of the
// queued work uses (a fresh unified buffer the host fills for the next
// kernel) needs no wait: the chains become one. Host work on a buffer a
// queued kernel uses waits for it.
// CHECK-LABEL: func.func @independent
// CHECK: %[[K:.*]] = gpu.launch_func async [%{{.*}}] @k::@g
// CHECK-NOT: gpu.wait
// CHECK: memref.store %{{.*}}, %[[FRESH:.*]][%{{.*}}]
// CHECK-NEXT: %[[K2:.*]] = gpu.launch_func async [%[[K]]] @k::@g {{.*}} args(%[[FRESH]] : memref<4xf32>)
// CHECK-NEXT: gpu.wait [%[[K2]]]
// CHECK-NEXT: memref.load
// CHECK-LABEL: func.func @dependent
// CHECK: gpu.launch_func
// CHECK-NEXT: gpu.wait [
// CHECK-NEXT: memref.store
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @independent(%a: memref<4xf32>) -> f32 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %v = arith.constant 1.0 : f32
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<4xf32>)
    %u = gpu.alloc host_shared () : memref<4xf32>
    gpu.wait [%t1]
    memref.store %v, %u[%c0] : memref<4xf32>
    %t2 = gpu.wait async
    %t3 = gpu.launch_func async [%t2] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%u : memref<4xf32>)
    gpu.wait [%t3]
    %r = memref.load %u[%c0] : memref<4xf32>
    return %r : f32
  }
  func.func @dependent() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %v = arith.constant 1.0 : f32
    %u = gpu.alloc host_shared () : memref<4xf32>
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%u : memref<4xf32>)
    gpu.wait [%t1]
    memref.store %v, %u[%c0] : memref<4xf32>
    %t2 = gpu.wait async
    %t3 = gpu.launch_func async [%t2] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%u : memref<4xf32>)
    gpu.wait [%t3]
    return
  }
}

// -----

// Work queued inside a region (here a branch) does not name its buffers
// among the region op's operands: the host work after the wait waits.
// CHECK-LABEL: func.func @queued_in_region
// CHECK: scf.if
// CHECK: gpu.launch_func
// CHECK: gpu.wait [
// CHECK-NEXT: memref.store
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @queued_in_region(%c: i1) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %v = arith.constant 1.0 : f32
    %u = gpu.alloc host_shared () : memref<4xf32>
    %t0 = gpu.wait async
    %t1 = scf.if %c -> !gpu.async.token {
      %t = gpu.launch_func async [%t0] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%u : memref<4xf32>)
      scf.yield %t : !gpu.async.token
    } else {
      scf.yield %t0 : !gpu.async.token
    }
    gpu.wait [%t1]
    memref.store %v, %u[%c0] : memref<4xf32>
    %t2 = gpu.wait async
    %t3 = gpu.launch_func async [%t2] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%u : memref<4xf32>)
    gpu.wait [%t3]
    return
  }
}
