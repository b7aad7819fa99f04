//===- Attention.cpp - onnxruntime's rotary embedding and attention -------===//
//
// The com.microsoft RotaryEmbedding and MultiHeadAttention contrib ops that
// transformers' OnnxExporter writes with `ort_fusions`, with onnxruntime's
// documented semantics. Products and softmax run in f32 whatever the
// element type.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
bool isAbsent(Value v) { return !v || isa<NoneType>(v.getType()); }

Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// RotaryEmbedding: one linalg.generic over the input's shape; each element
/// reads its partner in the rotation pair and its position's cos/sin.
struct RotaryPattern : OpRewritePattern<onnx::RotaryEmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnx::RotaryEmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    auto type = rankedFloat(x);
    auto outType = rankedFloat(op.getOutput());
    auto cosType = rankedFloat(op.getCosCache());
    auto sinType = rankedFloat(op.getSinCache());
    auto posType = dyn_cast<RankedTensorType>(op.getPositionIds().getType());
    if (!type || !outType || !cosType || !sinType || !posType ||
        !posType.getElementType().isSignlessInteger())
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    if (op.getIsPackedBatching())
      return op.emitError("RotaryEmbedding with packed batching is not "
                          "supported");
    int64_t rank = type.getRank();
    if (rank != 3 && rank != 4)
      return op.emitError("RotaryEmbedding input must be 3-D [batch, "
                          "sequence, hidden] or 4-D [batch, heads, sequence, "
                          "head_size], got rank ")
             << rank;
    if (cosType.getRank() != 2 || cosType.isDynamicDim(1) ||
        sinType.getRank() != 2 || sinType.getDimSize(1) != cosType.getDimSize(1))
      return op.emitError("RotaryEmbedding cos_cache and sin_cache must be "
                          "2-D [positions, rotary_dim / 2] of one static "
                          "width");
    int64_t half = cosType.getDimSize(1);
    int64_t rotary = op.getRotaryEmbeddingDim() ? op.getRotaryEmbeddingDim()
                                                : 2 * half;
    if (rotary != 2 * half)
      return op.emitError() << "RotaryEmbedding rotary_embedding_dim "
                            << rotary << " is not twice the caches' width "
                            << half;
    int64_t last = type.getDimSize(rank - 1);
    if (ShapedType::isDynamic(last))
      return op.emitError("RotaryEmbedding needs a static last dimension");
    int64_t heads = op.getNumHeads();
    int64_t headSize = last;
    if (rank == 3) {
      headSize = heads > 0 ? last / heads : rotary;
      if (headSize <= 0 || last % headSize != 0)
        return op.emitError() << "RotaryEmbedding hidden size " << last
                              << " does not split into heads of "
                              << (heads > 0 ? "num_heads " : "size ")
                              << (heads > 0 ? heads : headSize);
    }
    if (rotary > headSize)
      return op.emitError() << "RotaryEmbedding rotary dimension " << rotary
                            << " exceeds the head size " << headSize;
    int64_t posRank = posType.getRank();
    bool offsetForm = posRank <= 1;
    if (offsetForm && posType.getNumElements() != 1)
      return op.emitError("RotaryEmbedding position_ids must be [batch, "
                          "sequence] or a single offset");
    if (!offsetForm && posRank != 2)
      return op.emitError("RotaryEmbedding position_ids must be [batch, "
                          "sequence] or a single offset");

    auto init = emptyFor(rewriter, loc, outType, x);
    if (failed(init))
      return failure();
    Value positions = tensor::DimOp::create(rewriter, loc, op.getCosCache(), 0);
    Value cosCache = op.getCosCache(), sinCache = op.getSinCache();
    Value pos = op.getPositionIds();
    bool posBroadcastBatch = !offsetForm && posType.getDimSize(0) == 1;
    bool interleaved = op.getInterleaved() != 0;
    Type elt = outType.getElementType();
    MLIRContext *ctx = rewriter.getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{outType}, ValueRange{x}, ValueRange{*init},
        SmallVector<AffineMap>{id, id},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange a) {
          SmallVector<Value> idx;
          for (int64_t d = 0; d < rank; ++d)
            idx.push_back(linalg::IndexOp::create(b, l, d));
          Value seq = idx[rank == 3 ? 1 : 2];
          Value inLast = idx[rank - 1];
          Value i = rank == 3 ? Value(arith::RemUIOp::create(
                                    b, l, inLast, indexConst(b, l, headSize)))
                              : inLast;
          Value headBase = arith::SubIOp::create(b, l, inLast, i);
          // Row of the caches.
          Value p;
          if (offsetForm) {
            SmallVector<Value> at(posRank, indexConst(b, l, 0));
            Value off = tensor::ExtractOp::create(b, l, pos, at);
            p = arith::AddIOp::create(
                b, l, arith::IndexCastOp::create(b, l, b.getIndexType(), off),
                seq);
            p = arith::IndexCastOp::create(b, l, b.getI64Type(), p);
          } else {
            Value batch = posBroadcastBatch ? indexConst(b, l, 0) : idx[0];
            p = tensor::ExtractOp::create(b, l, pos, ValueRange{batch, seq});
          }
          Value row = normalizeIndex(b, l, p, positions);
          // Pair member, cache column and sign of the sine term.
          Value c0 = indexConst(b, l, 0), c1 = indexConst(b, l, 1);
          Value halfV = indexConst(b, l, half);
          Value col, partner, first;
          if (interleaved) {
            col = arith::DivUIOp::create(b, l, i, indexConst(b, l, 2));
            Value odd = arith::RemUIOp::create(b, l, i, indexConst(b, l, 2));
            first = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, odd,
                                          c0);
            partner = arith::SelectOp::create(
                b, l, first, arith::AddIOp::create(b, l, i, c1),
                arith::SubIOp::create(b, l, i, c1));
            partner = arith::MinUIOp::create(b, l, partner,
                                             indexConst(b, l, headSize - 1));
          } else {
            first = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, i,
                                          halfV);
            col = arith::SelectOp::create(b, l, first, i,
                                          arith::SubIOp::create(b, l, i, halfV));
            partner = arith::SelectOp::create(
                b, l, first, arith::AddIOp::create(b, l, i, halfV),
                arith::SubIOp::create(b, l, i, halfV));
          }
          // Past the rotary dimensions col may run off the caches; the
          // value is discarded there but the read must stay in bounds.
          col = arith::MinUIOp::create(b, l, col, indexConst(b, l, half - 1));
          SmallVector<Value> partnerIdx(idx);
          partnerIdx[rank - 1] =
              arith::AddIOp::create(b, l, headBase, partner);
          Value xv = toF32(b, l, a[0]);
          Value xp = toF32(b, l, tensor::ExtractOp::create(b, l, x, partnerIdx));
          Value cv = toF32(
              b, l, tensor::ExtractOp::create(b, l, cosCache, ValueRange{row, col}));
          Value sv = toF32(
              b, l, tensor::ExtractOp::create(b, l, sinCache, ValueRange{row, col}));
          Value sinTerm = arith::MulFOp::create(b, l, xp, sv);
          Value rotated = arith::SelectOp::create(
              b, l, first,
              arith::SubFOp::create(
                  b, l, arith::MulFOp::create(b, l, xv, cv), sinTerm),
              arith::AddFOp::create(
                  b, l, arith::MulFOp::create(b, l, xv, cv), sinTerm));
          Value inside = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::ult, i, indexConst(b, l, rotary));
          Value y = arith::SelectOp::create(b, l, inside, rotated, xv);
          linalg::YieldOp::create(b, l, fromF32(b, l, y, elt));
        });
    replaceWithCast(rewriter, op, generic.getResult(0), op.getType());
    return success();
  }
};

/// One of key and value as read by the attention: [B, L, N, H] after
/// splitting a 3-D operand's last dimension, or [B, N, L, H] as given.
struct HeadOperand {
  Value value;
  bool headsFirst; // [B, N, L, H]
  int64_t headSize;
};

/// MultiHeadAttention: scores = q k^T (a reduction over the head), the
/// scale, biases and masks, linalg.softmax over keys, then p v (a reduction
/// over keys).
struct MultiHeadAttentionPattern
    : OpRewritePattern<onnx::MultiHeadAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  /// `v` ([B, L, N*H] or [B, N, L, H]) as a HeadOperand.
  static FailureOr<HeadOperand> splitHeads(PatternRewriter &rewriter,
                                           Location loc, Operation *op,
                                           Value v, int64_t heads,
                                           StringRef name) {
    auto t = rankedFloat(v);
    if (!t || (t.getRank() != 3 && t.getRank() != 4))
      return op->emitError() << "MultiHeadAttention " << name
                             << " must be a 3-D [batch, length, hidden] or "
                                "4-D [batch, heads, length, head_size] float "
                                "tensor";
    int64_t last = t.getDimSize(t.getRank() - 1);
    if (ShapedType::isDynamic(last))
      return op->emitError() << "MultiHeadAttention " << name
                             << " needs a static last dimension";
    if (t.getRank() == 4) {
      if (t.getDimSize(1) != heads)
        return op->emitError() << "MultiHeadAttention " << name << " has "
                               << t.getDimSize(1) << " heads, num_heads is "
                               << heads;
      return HeadOperand{v, true, last};
    }
    if (last % heads != 0)
      return op->emitError() << "MultiHeadAttention " << name
                             << " hidden size " << last
                             << " is not a multiple of num_heads " << heads;
    int64_t h = last / heads;
    SmallVector<int64_t> shape = {t.getDimSize(0), t.getDimSize(1), heads, h};
    SmallVector<OpFoldResult> sizes = {sizeOf(rewriter, loc, v, 0),
                                       sizeOf(rewriter, loc, v, 1),
                                       rewriter.getIndexAttr(heads),
                                       rewriter.getIndexAttr(h)};
    Value e = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, t.getElementType()), v,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}}, sizes);
    return HeadOperand{e, false, h};
  }

  LogicalResult matchAndRewrite(onnx::MultiHeadAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto qType = rankedFloat(op.getQuery());
    auto outType = rankedFloat(op.getOutput());
    if (!qType || !outType)
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    if (isAbsent(op.getKey()) || isAbsent(op.getValue()))
      return op.emitError("MultiHeadAttention with packed query, key and "
                          "value is not supported: give key and value");
    for (Value v : {op.getPastKey(), op.getPastValue(),
                    op.getPastSequenceLength(), op.getCacheIndirection()})
      if (!isAbsent(v))
        return op.emitError("MultiHeadAttention with a key/value cache is "
                            "not supported (export with use_cache=False)");
    for (Value r : {op.getPresentKey(), op.getPresentValue(), op.getQk()})
      if (r && !r.use_empty())
        return op.emitError("MultiHeadAttention's present_key, "
                            "present_value and qk outputs are not "
                            "supported");
    int64_t heads = op.getNumHeads();
    if (heads <= 0)
      return op.emitError("MultiHeadAttention needs num_heads > 0");
    if (qType.getRank() != 3)
      return op.emitError("MultiHeadAttention query must be 3-D [batch, "
                          "sequence, hidden]");
    auto q = splitHeads(rewriter, loc, op, op.getQuery(), heads, "query");
    if (failed(q))
      return failure();
    auto k = splitHeads(rewriter, loc, op, op.getKey(), heads, "key");
    if (failed(k))
      return failure();
    auto v = splitHeads(rewriter, loc, op, op.getValue(), heads, "value");
    if (failed(v))
      return failure();
    int64_t h = q->headSize, hv = v->headSize;
    if (k->headSize != h)
      return op.emitError() << "MultiHeadAttention key head size "
                            << k->headSize << " differs from the query's "
                            << h;

    // Optional per-projection biases, [D + D + Dv].
    Value qBias, kBias, vBias;
    if (!isAbsent(op.getBias())) {
      auto bt = rankedFloat(op.getBias());
      int64_t d = heads * h, dv = heads * hv;
      if (!bt || bt.getRank() != 1 || bt.getDimSize(0) != 2 * d + dv)
        return op.emitError() << "MultiHeadAttention bias must be 1-D of "
                              << 2 * d + dv << " values";
      if (k->headsFirst || v->headsFirst)
        return op.emitError("MultiHeadAttention bias needs 3-D key and "
                            "value");
      auto slice = [&](int64_t off, int64_t hs) -> Value {
        Value s = tensor::ExtractSliceOp::create(
            rewriter, loc, op.getBias(), ArrayRef<OpFoldResult>{rewriter.getIndexAttr(off)},
            ArrayRef<OpFoldResult>{rewriter.getIndexAttr(heads * hs)},
            ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
        return tensor::ExpandShapeOp::create(
            rewriter, loc,
            RankedTensorType::get({heads, hs}, bt.getElementType()), s,
            SmallVector<ReassociationIndices>{{0, 1}});
      };
      qBias = slice(0, h);
      kBias = slice(d, h);
      vBias = slice(2 * d, hv);
    }

    MLIRContext *ctx = rewriter.getContext();
    auto dim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    Value batch = tensor::DimOp::create(rewriter, loc, op.getQuery(), 0);
    Value seq = tensor::DimOp::create(rewriter, loc, op.getQuery(), 1);
    Value keys = tensor::DimOp::create(rewriter, loc, k->value,
                                       k->headsFirst ? 2 : 1);
    // Key and value must agree with each other and with the query's batch:
    // the reductions below index them with one set of loop bounds.
    auto check = [&](Value have, Value want, StringRef what) {
      Value same = arith::CmpIOp::create(rewriter, loc,
                                         arith::CmpIPredicate::eq, have, want);
      cf::AssertOp::create(rewriter, loc, same,
                           ("MultiHeadAttention " + what).str());
    };
    check(tensor::DimOp::create(rewriter, loc, k->value, 0), batch,
          "key batch differs from the query's");
    check(tensor::DimOp::create(rewriter, loc, v->value, 0), batch,
          "value batch differs from the query's");
    check(tensor::DimOp::create(rewriter, loc, v->value, v->headsFirst ? 2 : 1),
          keys, "value length differs from the key's");

    // scores[b, n, s, l] = sum_h (q + qb)[b, s, n, h] * (k + kb)[., h]
    // over loops (b, n, s, l, h).
    auto kvMap = [&](const HeadOperand &o, unsigned lenDim, unsigned hDim) {
      return o.headsFirst
                 ? AffineMap::get(5, 0, {dim(0), dim(1), dim(lenDim), dim(hDim)},
                                  ctx)
                 : AffineMap::get(5, 0, {dim(0), dim(lenDim), dim(1), dim(hDim)},
                                  ctx);
    };
    SmallVector<OpFoldResult> scoreSizes = {batch, rewriter.getIndexAttr(heads),
                                            seq, keys};
    Value scores = zeroAcc(rewriter, loc, scoreSizes);
    SmallVector<Value> ins = {q->value, k->value};
    SmallVector<AffineMap> maps = {
        AffineMap::get(5, 0, {dim(0), dim(2), dim(1), dim(4)}, ctx),
        kvMap(*k, 3, 4)};
    AffineMap nh = AffineMap::get(5, 0, {dim(1), dim(4)}, ctx);
    if (qBias) {
      ins.append({qBias, kBias});
      maps.append({nh, nh});
    }
    maps.push_back(AffineMap::get(5, 0, {dim(0), dim(1), dim(2), dim(3)}, ctx));
    using IT = utils::IteratorType;
    scores = linalg::GenericOp::create(
                 rewriter, loc, TypeRange{scores.getType()}, ins,
                 ValueRange{scores}, maps,
                 SmallVector<IT>{IT::parallel, IT::parallel, IT::parallel,
                                 IT::parallel, IT::reduction},
                 [&](OpBuilder &b, Location l, ValueRange a) {
                   Value qv = toF32(b, l, a[0]), kv = toF32(b, l, a[1]);
                   if (qBias) {
                     qv = arith::AddFOp::create(b, l, qv, toF32(b, l, a[2]));
                     kv = arith::AddFOp::create(b, l, kv, toF32(b, l, a[3]));
                   }
                   Value p = arith::MulFOp::create(b, l, qv, kv);
                   Value sum = arith::AddFOp::create(b, l, p, a.back());
                   linalg::YieldOp::create(b, l, sum);
                 })
                 .getResult(0);

    // Scale, attention bias and masks, elementwise over (b, n, s, l).
    double scale = op.getScale().convertToDouble();
    if (scale == 0)
      scale = 1.0 / std::sqrt(static_cast<double>(h));
    double filter = op.getMaskFilterValue().convertToDouble();
    AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, ctx);
    ins = {scores};
    maps = {id4};
    Value attnBias = op.getAttentionBias();
    if (!isAbsent(attnBias)) {
      auto t = rankedFloat(attnBias);
      if (!t || t.getRank() != 4)
        return op.emitError("MultiHeadAttention attention_bias must be 4-D "
                            "[batch or 1, heads or 1, sequence, length]");
      SmallVector<AffineExpr> exprs;
      for (unsigned i = 0; i < 4; ++i)
        exprs.push_back(i < 2 && t.getDimSize(i) == 1
                            ? getAffineConstantExpr(0, ctx)
                            : dim(i));
      ins.push_back(attnBias);
      maps.push_back(AffineMap::get(4, 0, exprs, ctx));
    }
    Value mask = op.getKeyPaddingMask();
    int64_t maskRank = -1;
    if (!isAbsent(mask)) {
      auto t = dyn_cast<RankedTensorType>(mask.getType());
      if (!t || !t.getElementType().isSignlessInteger() ||
          (t.getRank() != 1 && t.getRank() != 2))
        return op.emitError("MultiHeadAttention key_padding_mask must be "
                            "integer [batch] (key lengths) or [batch, "
                            "length] (0 masks a key)");
      maskRank = t.getRank();
      ins.push_back(mask);
      maps.push_back(maskRank == 2
                         ? AffineMap::get(4, 0, {dim(0), dim(3)}, ctx)
                         : AffineMap::get(4, 0, {dim(0)}, ctx));
    }
    bool causal = op.getUnidirectional() != 0;
    Value pastLen = arith::SubIOp::create(rewriter, loc, keys, seq);
    Value logits = tensor::EmptyOp::create(rewriter, loc, scoreSizes,
                                           rewriter.getF32Type());
    maps.push_back(id4);
    logits =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{logits.getType()}, ins, ValueRange{logits},
            maps, SmallVector<IT>(4, IT::parallel),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Type f32 = b.getF32Type();
              Value y = arith::MulFOp::create(
                  b, l, a[0],
                  arith::ConstantOp::create(b, l, b.getFloatAttr(f32, scale)));
              unsigned next = 1;
              if (!isAbsent(attnBias))
                y = arith::AddFOp::create(b, l, y, toF32(b, l, a[next++]));
              Value masked;
              Value key = linalg::IndexOp::create(b, l, 3);
              if (maskRank >= 0) {
                Value m = a[next++];
                Value zero =
                    arith::ConstantOp::create(b, l, b.getIntegerAttr(m.getType(), 0));
                if (maskRank == 2) {
                  // onnxruntime keeps keys whose mask is positive.
                  masked = arith::CmpIOp::create(
                      b, l, arith::CmpIPredicate::sle, m, zero);
                } else {
                  Value len = arith::IndexCastOp::create(b, l, b.getIndexType(), m);
                  masked = arith::CmpIOp::create(
                      b, l, arith::CmpIPredicate::sge, key, len);
                }
              }
              if (causal) {
                Value s = linalg::IndexOp::create(b, l, 2);
                Value future = arith::CmpIOp::create(
                    b, l, arith::CmpIPredicate::sgt, key,
                    arith::AddIOp::create(b, l, s, pastLen));
                masked = masked ? Value(arith::OrIOp::create(b, l, masked, future))
                                : future;
              }
              if (masked) {
                Value f = arith::ConstantOp::create(
                    b, l, b.getFloatAttr(f32, filter));
                y = arith::SelectOp::create(
                    b, l, masked, arith::AddFOp::create(b, l, y, f), y);
              }
              linalg::YieldOp::create(b, l, y);
            })
            .getResult(0);
    Value probs = tensor::EmptyOp::create(rewriter, loc, scoreSizes,
                                          rewriter.getF32Type());
    probs = linalg::SoftmaxOp::create(rewriter, loc, TypeRange{probs.getType()},
                                      logits, probs, 3)
                .getResult()[0];

    // out[b, s, n, hv] = sum_l p[b, n, s, l] * v[., hv] over loops
    // (b, n, s, hv, l); the value bias adds once (each row of p sums to 1).
    SmallVector<OpFoldResult> outSizes = {batch, seq,
                                          rewriter.getIndexAttr(heads),
                                          rewriter.getIndexAttr(hv)};
    Value acc = zeroAcc(rewriter, loc, outSizes);
    AffineMap outMap = AffineMap::get(5, 0, {dim(0), dim(2), dim(1), dim(3)}, ctx);
    acc = linalg::GenericOp::create(
              rewriter, loc, TypeRange{acc.getType()},
              ValueRange{probs, v->value},
              ValueRange{acc},
              SmallVector<AffineMap>{
                  AffineMap::get(5, 0, {dim(0), dim(1), dim(2), dim(4)}, ctx),
                  kvMap(*v, 4, 3), outMap},
              SmallVector<IT>{IT::parallel, IT::parallel, IT::parallel,
                              IT::parallel, IT::reduction},
              [&](OpBuilder &b, Location l, ValueRange a) {
                Value p = arith::MulFOp::create(b, l, a[0], toF32(b, l, a[1]));
                Value sum = arith::AddFOp::create(b, l, p, a[2]);
                linalg::YieldOp::create(b, l, sum);
              })
              .getResult(0);
    Type elt = outType.getElementType();
    Value out = tensor::EmptyOp::create(rewriter, loc, outSizes, elt);
    ins = {acc};
    maps = {id4};
    if (vBias) {
      ins.push_back(vBias);
      maps.push_back(AffineMap::get(4, 0, {dim(2), dim(3)}, ctx));
    }
    maps.push_back(id4);
    out = linalg::GenericOp::create(
              rewriter, loc, TypeRange{out.getType()}, ins, ValueRange{out},
              maps, SmallVector<IT>(4, IT::parallel),
              [&](OpBuilder &b, Location l, ValueRange a) {
                Value y = a[0];
                if (vBias)
                  y = arith::AddFOp::create(b, l, y, toF32(b, l, a[1]));
                linalg::YieldOp::create(b, l, fromF32(b, l, y, elt));
              })
              .getResult(0);
    auto outTy = cast<RankedTensorType>(out.getType());
    int64_t width = heads * hv;
    Value result = tensor::CollapseShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({outTy.getDimSize(0), outTy.getDimSize(1), width},
                              elt),
        out, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    if (result.getType() != op.getOutput().getType())
      result = tensor::CastOp::create(rewriter, loc, op.getOutput().getType(),
                                      result);
    rewriter.replaceAllUsesWith(op.getOutput(), result);
    rewriter.eraseOp(op);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateAttentionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<RotaryPattern, MultiHeadAttentionPattern>(
      patterns.getContext());
}
