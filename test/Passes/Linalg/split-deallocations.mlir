// RUN: moe-opt %s -split-input-file -moe-split-deallocations | FileCheck %s
// Buffers of a combined bufferization.dealloc that trace to allocations of
// their own, which no retained value traces to, get deallocs of their own;
// the rest stay with the retained values.

// CHECK-LABEL: func.func @distinct
// CHECK-SAME: (%[[ARG:.*]]: memref<4xf32>, %[[C:.*]]: i1)
// CHECK-DAG: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK-DAG: %[[B:.*]] = memref.alloc() : memref<8xf32>
// CHECK-DAG: %[[R:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[BASE:[a-z_0-9]+]], {{.*}} = memref.extract_strided_metadata %[[B]]
// CHECK: bufferization.dealloc (%[[A]] : memref<4xf32>) if (%[[C]]){{$}}
// CHECK-NEXT: bufferization.dealloc (%[[BASE]] : memref<f32>) if (%true){{$}}
// CHECK-NEXT: %[[OWN:.*]]:2 = bufferization.dealloc (%[[R]] : memref<4xf32>) if (%true) retain (%[[ARG]], %[[R]] :
// CHECK-NEXT: return %[[OWN]]#0, %[[OWN]]#1
func.func @distinct(%arg: memref<4xf32>, %c: i1) -> (i1, i1) {
  %true = arith.constant true
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<8xf32>
  %r = memref.alloc() : memref<4xf32>
  %base, %off, %size, %stride = memref.extract_strided_metadata %b : memref<8xf32> -> memref<f32>, index, index, index
  %own:2 = bufferization.dealloc (%a, %base, %r : memref<4xf32>, memref<f32>, memref<4xf32>) if (%c, %true, %true) retain (%arg, %r : memref<4xf32>, memref<4xf32>)
  return %own#0, %own#1 : i1, i1
}

// -----

// Two operands of one allocation (a view and its source) stay together:
// the combined op frees the allocation once.

// CHECK-LABEL: func.func @same_allocation
// CHECK-NOT: bufferization.dealloc (%{{.*}} : memref<2xf32
// CHECK: bufferization.dealloc (%{{.*}}, %{{.*}} : memref<4xf32>, memref<2xf32, strided<[1], offset: 2>>) if (%true, %true)
// CHECK-NEXT: return
func.func @same_allocation() {
  %true = arith.constant true
  %a = memref.alloc() : memref<4xf32>
  %v = memref.subview %a[2] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 2>>
  bufferization.dealloc (%a, %v : memref<4xf32>, memref<2xf32, strided<[1], offset: 2>>) if (%true, %true)
  return
}

// -----

// A retained value of unknown origin (a call's result) may alias anything:
// nothing moves.

func.func private @make() -> memref<4xf32>

// CHECK-LABEL: func.func @unknown_retained
// CHECK: %{{.*}} = bufferization.dealloc (%{{.*}}, %{{.*}} : memref<4xf32>, memref<4xf32>) if (%true, %true) retain
// CHECK-NOT: bufferization.dealloc
func.func @unknown_retained() -> (memref<4xf32>, i1) {
  %true = arith.constant true
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  %m = call @make() : () -> memref<4xf32>
  %own = bufferization.dealloc (%a, %b : memref<4xf32>, memref<4xf32>) if (%true, %true) retain (%m : memref<4xf32>)
  return %m, %own : memref<4xf32>, i1
}
