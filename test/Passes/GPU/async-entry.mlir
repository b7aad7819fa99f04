// RUN: moe-opt %s -split-input-file --moe-gpu-async-entry | FileCheck %s

// The result buffer becomes the caller's (its size checked where it was
// allocated), the last wait goes, and the flag check after it is handed to
// the runtime with the word's address; the original stays as it was. With
// no wait left, the variant's calls can be captured into CUDA graphs.
// CHECK: func.func private @moe_cuda_check_later(index, i32, i32, !llvm.ptr)
// CHECK-LABEL: func.func @layer(
// CHECK: gpu.wait [%{{.*}}]
// CHECK: cf.assert %{{.*}}, "no expert"
// CHECK-LABEL: func.func @layer__async(
// CHECK-SAME: %[[X:arg[0-9]+]]: memref<?x4xf32> {onnx.name = "x"}, %[[OUT:arg[0-9]+]]: memref<?x4xf32> {onnx.name = "y"})
// CHECK-SAME: moe.graph_capturable
// CHECK-NOT: moe.abi
// CHECK: %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[FLAGS:.*]] = gpu.alloc host_shared () : memref<2xi32>
// CHECK: %[[GOT:.*]] = memref.dim %[[OUT]], %c0
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %[[N]], %[[GOT]]
// CHECK: cf.assert %[[SAME]], "output 'y': dimension 0 of the buffer given differs from the result's for these inputs"
// CHECK-NOT: gpu.alloc
// CHECK: %[[T1:.*]] = gpu.launch_func async [%{{.*}}] @k::@f {{.*}} args(%[[X]] : memref<?x4xf32>, %[[OUT]] : memref<?x4xf32>, %[[FLAGS]] : memref<2xi32>)
// CHECK-NOT: gpu.wait [
// CHECK: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %[[FLAGS]]
// CHECK: %[[BYTES:.*]] = arith.muli %{{.*}}, %c4
// CHECK: %[[WORD:.*]] = arith.addi %[[BASE]], %[[BYTES]]
// CHECK: %[[MSG:.*]] = llvm.getelementptr
// CHECK: call @moe_cuda_check_later(%[[WORD]], %c1_i32{{.*}}, %c0_i32{{.*}}, %[[MSG]])
// CHECK-NOT: cf.assert
// CHECK: memref.dealloc %[[FLAGS]]
// CHECK-NEXT: return{{$}}
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f(%x: memref<?x4xf32>, %y: memref<?x4xf32>, %flags: memref<2xi32>) kernel {
      gpu.return
    }
  }
  func.func @layer(%x: memref<?x4xf32> {onnx.name = "x"}) -> (memref<?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface, moe.abi = {inputs = [{name = "x"}], outputs = [{name = "y"}]}} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_i32 = arith.constant 0 : i32
    %n = memref.dim %x, %c0 : memref<?x4xf32>
    %t0 = gpu.wait async
    %flags = gpu.alloc host_shared () : memref<2xi32>
    %y, %t1 = gpu.alloc async [%t0] (%n) : memref<?x4xf32>
    %t2 = gpu.launch_func async [%t1] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?x4xf32>, %y : memref<?x4xf32>, %flags : memref<2xi32>)
    gpu.wait [%t2]
    %f = memref.load %flags[%c1] {moe.check_flag} : memref<2xi32>
    %ok = arith.cmpi eq, %f, %c0_i32 : i32
    cf.assert %ok, "no expert"
    memref.dealloc %flags : memref<2xi32>
    return %y : memref<?x4xf32>
  }
}

// -----

// A result reshaped from the buffer kernels write: they write the caller's
// buffer through a row-major view in the buffer's shape (its element count
// checked first, the result's shape at the end).
// CHECK-LABEL: func.func @reshaped__async(
// CHECK-SAME: %[[OUT:arg[0-9]+]]: memref<1x?x4xf32>)
// CHECK: %[[GOT:.*]] = memref.dim %[[OUT]], %c1{{.*}}
// CHECK: %[[COUNT:.*]] = arith.muli %[[GOT]], %c4
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %{{.*}}, %[[COUNT]]
// CHECK: cf.assert %[[SAME]], "output 'y': the buffer given does not hold as many elements as the result for these inputs"
// CHECK: %[[BUF:.*]] = memref.reinterpret_cast %[[OUT]] to offset: [0], sizes: [%{{.*}}, 4], strides: [4, 1] : memref<1x?x4xf32> to memref<?x4xf32>
// CHECK: gpu.launch_func async [%{{.*}}] @k::@g {{.*}} args(%[[BUF]] : memref<?x4xf32>)
// CHECK: memref.expand_shape %[[BUF]]
// CHECK: cf.assert %{{.*}}, "output 'y': dimension 1 of the buffer given differs from the result's for these inputs"
// CHECK-NOT: gpu.memcpy
// CHECK: return{{$}}
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @g(%y: memref<?x4xf32>) kernel {
      gpu.return
    }
  }
  func.func @reshaped(%x: memref<?x4xf32>) -> memref<1x?x4xf32> attributes {llvm.emit_c_interface, moe.abi = {inputs = [{name = "x"}], outputs = [{name = "y"}]}} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %n = memref.dim %x, %c0 : memref<?x4xf32>
    %t0 = gpu.wait async
    %y, %t1 = gpu.alloc async [%t0] (%n) : memref<?x4xf32>
    %t2 = gpu.launch_func async [%t1] @k::@g blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%y : memref<?x4xf32>)
    %e = memref.expand_shape %y [[0, 1], [2]] output_shape [1, %n, 4] : memref<?x4xf32> into memref<1x?x4xf32>
    gpu.wait [%t2]
    return %e : memref<1x?x4xf32>
  }
}

// -----

// A result that is an input is copied on the stream, after the call's work.
// CHECK-LABEL: func.func @identity__async(
// CHECK-SAME: %[[X:arg[0-9]+]]: memref<?xf32>, %[[OUT:arg[0-9]+]]: memref<?xf32>)
// CHECK: %[[T1:.*]] = gpu.launch_func async
// CHECK: cf.assert %{{.*}}, "output 'y': dimension 0 of the buffer given differs from the result's for these inputs"
// CHECK: %{{.*}} = gpu.memcpy async [%[[T1]]] %[[OUT]], %[[X]]
// CHECK-NOT: gpu.dealloc
// CHECK: return{{$}}
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @h(%x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func @identity(%x: memref<?xf32>) -> memref<?xf32> attributes {llvm.emit_c_interface, moe.abi = {inputs = [{name = "x"}], outputs = [{name = "y"}]}} {
    %c1 = arith.constant 1 : index
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @k::@h blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
    gpu.wait [%t1]
    return %x : memref<?xf32>
  }
}

// -----

// Host code reads an input, which the caller holds in device memory: no
// variant, and the reason for the entry point's error.
// CHECK-LABEL: func.func @host_read(
// CHECK-SAME: moe.async_unsupported = "host code reads input 'x', which the caller holds in device memory"
// CHECK-NOT: func.func @host_read__async
func.func @host_read(%x: memref<4xf32>) -> memref<4xf32> attributes {moe.abi = {inputs = [{name = "x"}], outputs = [{name = "y"}]}} {
  %c0 = arith.constant 0 : index
  %v = memref.load %x[%c0] : memref<4xf32>
  %y = memref.alloc() : memref<4xf32>
  memref.store %v, %y[%c0] : memref<4xf32>
  return %y : memref<4xf32>
}

// -----

// Host code that checks what kernels computed after the last wait (not a
// flag word) needs the wait: no variant.
// CHECK-LABEL: func.func @late_read(
// CHECK-SAME: moe.async_unsupported = "a check after the call's last wait is not a comparison of a flag word with a constant"
// CHECK-NOT: func.func @late_read__async
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f(%y: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @late_read(%x: memref<4xf32>) -> memref<4xf32> attributes {moe.abi = {inputs = [{name = "x"}], outputs = [{name = "y"}]}} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %zero = arith.constant 0.0 : f32
    %t0 = gpu.wait async
    %y = gpu.alloc host_shared () : memref<4xf32>
    %t1 = gpu.launch_func async [%t0] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%y : memref<4xf32>)
    gpu.wait [%t1]
    %v = memref.load %y[%c0] : memref<4xf32>
    %ok = arith.cmpf oge, %v, %zero : f32
    cf.assert %ok, "negative"
    return %y : memref<4xf32>
  }
}

// -----

// A wait before host code that reads a kernel's result stays: the variant
// waits there, and is not marked for capture into CUDA graphs.
// CHECK-LABEL: func.func @mid_call_read__async(
// CHECK-NOT: moe.graph_capturable
// CHECK: gpu.wait [%{{.*}}]
// CHECK: memref.load
// CHECK: return{{$}}
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @f(%y: memref<1xindex>) kernel {
      gpu.return
    }
  }
  func.func @mid_call_read(%x: memref<4xf32>) -> memref<?xf32> attributes {moe.abi = {inputs = [{name = "x"}], outputs = [{name = "y"}]}} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %t0 = gpu.wait async
    %n = gpu.alloc host_shared () : memref<1xindex>
    %t1 = gpu.launch_func async [%t0] @k::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%n : memref<1xindex>)
    gpu.wait [%t1]
    %size = memref.load %n[%c0] : memref<1xindex>
    %t2 = gpu.wait async
    %y, %t3 = gpu.alloc async [%t2] (%size) : memref<?xf32>
    %t4 = gpu.dealloc async [%t3] %n : memref<1xindex>
    gpu.wait [%t4]
    return %y : memref<?xf32>
  }
}
