// RUN: moe-opt %s -split-input-file --moe-gpu-device-checks --cse | FileCheck %s

// The check's failure is recorded in a one-word buffer (zeroed on the
// stream, check number 1) and skips what it guards; the host fails the
// same check after the launch, reading the word marked as a check flag.
// CHECK-LABEL: func.func @count
// CHECK: %[[SLOT:.*]] = memref.alloc() : memref<1xi32>
// CHECK: gpu.memset %[[SLOT]], %c0_i32 : memref<1xi32>, i32
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: %[[OK:.*]] = arith.andi
// CHECK: scf.if %[[OK]] {
// CHECK: memref.load %[[COUNTS:.*]][%{{.*}}]
// CHECK: memref.store %{{.*}}, %[[COUNTS]][%{{.*}}]
// CHECK: } else {
// CHECK: memref.store %c1_i32, %[[SLOT]][%c0
// CHECK-NOT: cf.assert
// CHECK: gpu.terminator
// CHECK: %[[FAILED:.*]] = memref.load %[[SLOT]][%c0] {moe.check_flag}
// CHECK: %[[NOT1:.*]] = arith.cmpi ne, %[[FAILED]], %c1_i32
// CHECK: cf.assert %[[NOT1]], "moe.dispatch: expert id out of range [0, 8)"
// CHECK: memref.dealloc %[[SLOT]]
func.func @count(%ids: memref<?xi32>, %counts: memref<8xi32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    scf.for %i = %c0 to %n step %c1 {
      %id = memref.load %ids[%i] : memref<?xi32>
      %e = arith.index_cast %id : i32 to index
      %lo = arith.cmpi sge, %e, %c0 : index
      %hi = arith.cmpi slt, %e, %c8 : index
      %ok = arith.andi %lo, %hi : i1
      cf.assert %ok, "moe.dispatch: expert id out of range [0, 8)"
      %v = memref.load %counts[%e] : memref<8xi32>
      %w = arith.addi %v, %one : i32
      memref.store %w, %counts[%e] : memref<8xi32>
    }
    gpu.terminator
  }
  return
}

// -----

// Values the guarded code yields to the block's terminator are zero when
// the check fails; two checks get numbers 1 and 2.
// CHECK-LABEL: func.func @yielding
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32)
// CHECK: %[[R:.*]] = scf.if %{{.*}} -> (f32) {
// CHECK: %[[S:.*]] = arith.addf %[[ACC]]
// CHECK: scf.yield %[[S]] : f32
// CHECK: } else {
// CHECK: memref.store %c1_i32
// CHECK: scf.yield %cst{{.*}} : f32
// CHECK: scf.yield %[[R]] : f32
// CHECK: cf.assert %{{.*}}, "first"
// CHECK: cf.assert %{{.*}}, "second"
func.func @yielding(%a: memref<?xf32>, %out: memref<1xf32>, %n: index, %c: i1, %d: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
      %v = memref.load %a[%i] : memref<?xf32>
      cf.assert %c, "first"
      %t = arith.addf %acc, %v : f32
      scf.yield %t : f32
    }
    cf.assert %d, "second"
    memref.store %s, %out[%c0] : memref<1xf32>
    gpu.terminator
  }
  return
}
