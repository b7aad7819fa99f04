// RUN: moe-opt %s -split-input-file --moe-gpu-defer-host-checks | FileCheck %s

// A checked kernel's flag is read at the end of the call, after the kernels
// launched later, each of which takes the flag and returns at once when it
// is set; the flag buffer is freed after the read.
// CHECK-LABEL: gpu.func @consume
// CHECK-SAME: (%[[OUT:.*]]: memref<4xf32>, %[[FLAG:.*]]: memref<1xi32>) kernel
// CHECK: %[[WORD:.*]] = memref.load %[[FLAG]][%{{.*}}] : memref<1xi32>
// CHECK: %[[SET:.*]] = arith.cmpi ne, %[[WORD]], %{{.*}} : i32
// CHECK: cf.cond_br %[[SET]], ^[[EXIT:.*]], ^[[BODY:.*]]
// CHECK: ^[[BODY]]:
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: ^[[EXIT]]:
// CHECK-NEXT: gpu.return
// CHECK-LABEL: func.func @deferred
// CHECK: %[[F:.*]] = memref.alloc() : memref<1xi32>
// CHECK: gpu.launch_func @k::@produce {{.*}} args(%[[F]] : memref<1xi32>)
// CHECK-NOT: memref.load
// CHECK: %[[O:.*]] = memref.alloc() : memref<4xf32>
// CHECK: gpu.launch_func @k::@consume {{.*}} args(%[[O]] : memref<4xf32>, %[[F]] : memref<1xi32>)
// CHECK: %[[V:.*]] = memref.load %[[F]][%{{.*}}] {moe.check_flag}
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[V]], %{{.*}} : i32
// CHECK: cf.assert %[[OK]], "a check failed"
// CHECK: memref.dealloc %[[F]]
// CHECK-NEXT: return %[[O]]
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @produce(%flag: memref<1xi32>) kernel {
      gpu.return
    }
    gpu.func @consume(%a: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %a[%c0] : memref<4xf32>
      gpu.return
    }
  }
  func.func @deferred(%n: index) -> memref<4xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_i32 = arith.constant 0 : i32
    %flag = memref.alloc() : memref<1xi32>
    gpu.memset %flag, %c0_i32 : memref<1xi32>, i32
    gpu.launch_func @k::@produce blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%flag : memref<1xi32>)
    %f = memref.load %flag[%c0] {moe.check_flag} : memref<1xi32>
    %ok = arith.cmpi eq, %f, %c0_i32 : i32
    cf.assert %ok, "a check failed"
    memref.dealloc %flag : memref<1xi32>
    %out = memref.alloc() : memref<4xf32>
    gpu.launch_func @k::@consume blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<4xf32>)
    return %out : memref<4xf32>
  }
}

// -----

// Host code after the check that touches memory device work used (a
// store into the kernel's buffer here) keeps the check in place: it would
// act on what a failed check left behind. So does a read without the
// check-flag mark.
// CHECK-LABEL: func.func @host_work_after
// CHECK: memref.load %{{.*}} {moe.check_flag}
// CHECK-NEXT: arith.cmpi
// CHECK-NEXT: cf.assert
// CHECK-NEXT: memref.store
// CHECK-LABEL: func.func @unmarked
// CHECK: memref.load
// CHECK-NEXT: arith.cmpi
// CHECK-NEXT: cf.assert
// CHECK-NEXT: gpu.launch_func @k::@other
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @produce(%flag: memref<1xi32>) kernel {
      gpu.return
    }
    gpu.func @other() kernel {
      gpu.return
    }
    gpu.func @produce_data(%flag: memref<1xi32>, %d: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @host_work_after(%m: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_i32 = arith.constant 0 : i32
    %v = arith.constant 1.0 : f32
    %flag = memref.alloc() : memref<1xi32>
    gpu.launch_func @k::@produce_data blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%flag : memref<1xi32>, %m : memref<4xf32>)
    %f = memref.load %flag[%c0] {moe.check_flag} : memref<1xi32>
    %ok = arith.cmpi eq, %f, %c0_i32 : i32
    cf.assert %ok, "a check failed"
    memref.store %v, %m[%c0] : memref<4xf32>
    memref.dealloc %flag : memref<1xi32>
    return
  }
  func.func @unmarked() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_i32 = arith.constant 0 : i32
    %flag = memref.alloc() : memref<1xi32>
    gpu.launch_func @k::@produce blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%flag : memref<1xi32>)
    %f = memref.load %flag[%c0] : memref<1xi32>
    %ok = arith.cmpi eq, %f, %c0_i32 : i32
    cf.assert %ok, "a check failed"
    gpu.launch_func @k::@other blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    memref.dealloc %flag : memref<1xi32>
    return
  }
}

// -----

// Host work after the check on buffers no device work used before it (an
// LM's position ids, which the host computes and reads to size buffers,
// then kernels read) cannot see what a failed check left behind: the
// check still moves to the end.
// CHECK-LABEL: func.func @host_computed
// CHECK: gpu.launch_func @k::@produce
// CHECK-NEXT: memref.alloc
// CHECK-NEXT: memref.store
// CHECK-NEXT: memref.load %{{.*}}[%{{.*}}] : memref<4xi64>
// CHECK: gpu.launch_func @k::@positions
// CHECK: memref.load %{{.*}} {moe.check_flag}
// CHECK-NEXT: arith.cmpi
// CHECK-NEXT: cf.assert
// CHECK-NEXT: return
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @produce(%flag: memref<1xi32>) kernel {
      gpu.return
    }
    gpu.func @positions(%p: memref<4xi64>) kernel {
      gpu.return
    }
  }
  func.func @host_computed() -> i64 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_i32 = arith.constant 0 : i32
    %c7 = arith.constant 7 : i64
    %flag = memref.alloc() : memref<1xi32>
    gpu.launch_func @k::@produce blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%flag : memref<1xi32>)
    %f = memref.load %flag[%c0] {moe.check_flag} : memref<1xi32>
    %ok = arith.cmpi eq, %f, %c0_i32 : i32
    cf.assert %ok, "a check failed"
    %p = memref.alloc() : memref<4xi64>
    memref.store %c7, %p[%c0] : memref<4xi64>
    %last = memref.load %p[%c0] : memref<4xi64>
    gpu.launch_func @k::@positions blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%p : memref<4xi64>)
    return %last : i64
  }
}

// -----

// A kernel launched from two places cannot take a guard of one of them.
// CHECK-LABEL: func.func @shared_kernel
// CHECK: memref.load %{{.*}} {moe.check_flag}
// CHECK-NEXT: arith.cmpi
// CHECK-NEXT: cf.assert
// CHECK-NEXT: gpu.launch_func @k::@twice
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @produce(%flag: memref<1xi32>) kernel {
      gpu.return
    }
    gpu.func @twice() kernel {
      gpu.return
    }
  }
  func.func @shared_kernel() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_i32 = arith.constant 0 : i32
    gpu.launch_func @k::@twice blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    %flag = memref.alloc() : memref<1xi32>
    gpu.launch_func @k::@produce blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%flag : memref<1xi32>)
    %f = memref.load %flag[%c0] {moe.check_flag} : memref<1xi32>
    %ok = arith.cmpi eq, %f, %c0_i32 : i32
    cf.assert %ok, "a check failed"
    gpu.launch_func @k::@twice blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    memref.dealloc %flag : memref<1xi32>
    return
  }
}
