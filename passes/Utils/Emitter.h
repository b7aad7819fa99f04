//===- Emitter.h - scalar IR helpers bound to a builder ---------*- C++ -*-===//
//
// Private to passes/: the arith / tensor / scf shorthand of the moe
// lowerings, so that scalar code reads like the semantics it implements.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_EMITTER_H
#define MOE_PASSES_UTILS_EMITTER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::moe {

/// Scalar and small-tensor helpers bound to one builder and location.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value extract(Value t, ValueRange idx) {
    return tensor::ExtractOp::create(b, loc, t, idx);
  }
  Value toF32(Value v) {
    Type f = b.getF32Type();
    return v.getType() == f ? v : arith::ExtFOp::create(b, loc, f, v);
  }
  Value fromF32(Value v, Type t) {
    return v.getType() == t ? v : arith::TruncFOp::create(b, loc, t, v);
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  Value toI32(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), v);
  }
  Value dim(Value t, int64_t d) { return tensor::DimOp::create(b, loc, t, d); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value addi(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value muli(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value sigmoid(Value x) {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return div(f32(1.0), add(f32(1.0), e));
  }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value cmpi(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }

  /// A rank-1/2 tensor filled with `value`, dynamic sizes given as Values.
  Value filled(ArrayRef<OpFoldResult> sizes, TypedAttr value) {
    Value empty = tensor::EmptyOp::create(b, loc, sizes, value.getType());
    Value v = arith::ConstantOp::create(b, loc, value);
    return linalg::FillOp::create(b, loc, v, empty).getResult(0);
  }

  /// for (i = 0; i < n; ++i) with loop-carried values; `body` returns the
  /// next values.
  ValueRange loop(Value n, ValueRange init,
                  function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, index(0), n, index(1), init,
        [&](OpBuilder &nb, Location nloc, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> next = body(iv, args);
          scf::YieldOp::create(b, loc, next);
        });
    return forOp.getResults();
  }
};

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_EMITTER_H
