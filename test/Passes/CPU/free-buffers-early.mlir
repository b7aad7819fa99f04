// RUN: moe-opt %s -split-input-file -moe-cpu-free-buffers-early | FileCheck %s
// Each dealloc moves to just after the last use of its buffer or of a view
// of it; uses inside nested regions count at their enclosing op.

// CHECK-LABEL: func.func @chain
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: linalg.fill {{.*}} outs(%[[A]]
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: %[[V:.*]] = memref.subview %[[A]]
// CHECK: scf.for
// CHECK: memref.load %[[V]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: %[[C:.*]] = memref.alloc
// CHECK: memref.copy %[[B]], %[[C]]
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return %[[C]]
func.func @chain(%n: index) -> memref<8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<16xf32>
  linalg.fill ins(%f : f32) outs(%a : memref<16xf32>)
  %b = memref.alloc() : memref<8xf32>
  %v = memref.subview %a[4] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 4>>
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %v[%i] : memref<8xf32, strided<[1], offset: 4>>
    memref.store %x, %b[%i] : memref<8xf32>
  }
  %c = memref.alloc() : memref<8xf32>
  memref.copy %b, %c : memref<8xf32> to memref<8xf32>
  memref.dealloc %a : memref<16xf32>
  memref.dealloc %b : memref<8xf32>
  return %c : memref<8xf32>
}

// -----

// A buffer passed to a call stays allocated to the end of the block: the
// callee (the runtime's asynchronous all-to-all start) may read it after
// returning.

// CHECK-LABEL: func.func @call_use
// CHECK: call @consume
// CHECK-NEXT: %[[B:.*]] = memref.alloc
// CHECK: linalg.fill
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return
func.func private @consume(memref<4xf32>)
func.func @call_use() -> memref<4xf32> {
  %f = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  call @consume(%a) : (memref<4xf32>) -> ()
  %b = memref.alloc() : memref<4xf32>
  linalg.fill ins(%f : f32) outs(%b : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  return %b : memref<4xf32>
}

// -----

// So does a buffer whose address leaves as a plain value (the all-to-all's
// lowering passes addresses to the runtime).

// CHECK-LABEL: func.func @address_taken
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: linalg.fill
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return
func.func @address_taken() -> (index, memref<4xf32>) {
  %f = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  %p = memref.extract_aligned_pointer_as_index %a : memref<4xf32> -> index
  %b = memref.alloc() : memref<4xf32>
  linalg.fill ins(%f : f32) outs(%b : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  return %p, %b : index, memref<4xf32>
}
