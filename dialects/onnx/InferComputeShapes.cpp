//===- InferComputeShapes.cpp - contractions, reductions, indexing --------===//
//
// Result types of MatMul, Gemm, the reductions and ArgMax, and the indexing
// ops: Gather, GatherElements, GatherND, NonZero, OneHot, TopK.
//
//===----------------------------------------------------------------------===//

#include "ShapeInference.h"

#include "moe/Dialect/ONNX.h"

using namespace mlir;
using namespace mlir::onnx;
using namespace mlir::onnx::detail;

namespace {
Shape matMulShape(Shape a, Shape b, std::string &error) {
  if (!a || !b || a->empty() || b->empty())
    return std::nullopt;
  SmallVector<int64_t> x = *a, y = *b;
  bool vecA = x.size() == 1, vecB = y.size() == 1;
  if (vecA)
    x.insert(x.begin(), 1);
  if (vecB)
    y.push_back(1);
  int64_t k1 = x.back(), k2 = y[y.size() - 2];
  if (k1 != kDyn && k2 != kDyn && k1 != k2) {
    error = "inner dimensions differ: " + std::to_string(k1) + " and " +
            std::to_string(k2);
    return std::nullopt;
  }
  Shape batchA = SmallVector<int64_t>(x.begin(), x.end() - 2);
  Shape batchB = SmallVector<int64_t>(y.begin(), y.end() - 2);
  Shape out = broadcast(batchA, batchB, error);
  if (!out)
    return std::nullopt;
  if (!vecA)
    out->push_back(x[x.size() - 2]);
  if (!vecB)
    out->push_back(y.back());
  return out;
}

Shape inferMatMul(InferenceContext &c) {
  if (!c.sameElementType({0, 1}))
    return std::nullopt;
  return matMulShape(c.shape(0), c.shape(1), c.error);
}

/// FusedMatMul: MatMul of the operands with their last two dimensions
/// swapped where transA/transB say so.
Shape inferFusedMatMul(InferenceContext &c) {
  auto swapped = [&](unsigned i, StringRef attr) {
    Shape s = c.shape(i);
    if (s && s->size() >= 2 && c.intAttr(attr, 0))
      std::swap((*s)[s->size() - 2], (*s)[s->size() - 1]);
    return s;
  };
  return matMulShape(swapped(0, "transA"), swapped(1, "transB"), c.error);
}

/// MatMulNBits: A's shape with the last dimension N.
Shape inferMatMulNBits(InferenceContext &c) {
  Shape a = c.shape(0);
  if (a && !a->empty())
    a->back() = c.intAttr("N", kDyn);
  return a;
}

Shape inferGemm(InferenceContext &c) {
  Shape a = c.shape(0), b = c.shape(1);
  if (!a || !b || a->size() != 2 || b->size() != 2)
    return std::nullopt;
  int64_t m = c.intAttr("transA", 0) ? (*a)[1] : (*a)[0];
  int64_t n = c.intAttr("transB", 0) ? (*b)[0] : (*b)[1];
  return SmallVector<int64_t>{m, n};
}

/// Reduction over constant `axes` (all axes when absent, unless
/// noop_with_empty_axes); non-constant axes leave the rank known only with
/// keepdims.
Shape inferReduce(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size();
  bool keep = c.intAttr("keepdims", 1) != 0;
  SmallVector<int64_t> axes;
  if (c.has(1)) {
    auto constAxes = getConstantInts(c.in(1));
    if (!constAxes) {
      // Each size may be reduced to 1 (1s stay 1s); without keepdims the
      // count of axes gives the rank.
      SmallVector<int64_t> maybe;
      for (int64_t d : *data)
        maybe.push_back(d == 1 ? 1 : kDyn);
      if (keep)
        return maybe;
      Shape axesShape = c.shape(1);
      if (!axesShape || axesShape->size() != 1 || (*axesShape)[0] == kDyn ||
          (*axesShape)[0] > rank)
        return std::nullopt;
      int64_t n = (*axesShape)[0];
      if (n == 0)
        return c.intAttr("noop_with_empty_axes", 0) ? data
                                                  : SmallVector<int64_t>{};
      return SmallVector<int64_t>(rank - n, kDyn);
    }
    axes = *constAxes;
  }
  if (axes.empty()) {
    if (c.intAttr("noop_with_empty_axes", 0))
      return data;
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  SmallVector<bool> reduced(rank, false);
  for (int64_t a : axes) {
    auto n = normAxis(a, rank);
    if (!n) {
      c.error = "axis " + std::to_string(a) + " is out of range for rank " +
                std::to_string(rank);
      return std::nullopt;
    }
    reduced[*n] = true;
  }
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < rank; ++i)
    if (!reduced[i])
      out.push_back((*data)[i]);
    else if (keep)
      out.push_back(1);
  return out;
}

Shape inferGather(InferenceContext &c) {
  Shape data = c.shape(0), idx = c.shape(1);
  if (!data || !idx)
    return std::nullopt;
  auto axis = normAxis(c.intAttr("axis", 0), data->size());
  if (!axis) {
    c.error = "gather axis is out of range";
    return std::nullopt;
  }
  SmallVector<int64_t> out(data->begin(), data->begin() + *axis);
  out.append(idx->begin(), idx->end());
  out.append(data->begin() + *axis + 1, data->end());
  return out;
}

Shape inferGatherND(InferenceContext &c) {
  Shape data = c.shape(0), idx = c.shape(1);
  if (!data || !idx || idx->empty() || idx->back() == kDyn)
    return std::nullopt;
  int64_t b = c.intAttr("batch_dims", 0), last = idx->back();
  if (b < 0 || b + last > static_cast<int64_t>(data->size())) {
    c.error = "index tuples are longer than the data rank";
    return std::nullopt;
  }
  SmallVector<int64_t> out(idx->begin(), idx->end() - 1);
  out.append(data->begin() + b + last, data->end());
  return out;
}

Shape inferTopK(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  auto axis = normAxis(c.intAttr("axis", -1), data->size());
  if (!axis) {
    c.error = "TopK axis is out of range";
    return std::nullopt;
  }
  auto k = getConstantInts(c.in(1));
  SmallVector<int64_t> out = *data;
  out[*axis] = k && k->size() == 1 ? (*k)[0] : kDyn;
  if (k && k->size() == 1 && (*data)[*axis] != kDyn &&
      (*k)[0] > (*data)[*axis]) {
    c.error = "k = " + std::to_string((*k)[0]) + " exceeds the axis size " +
              std::to_string((*data)[*axis]);
    return std::nullopt;
  }
  return out;
}

Shape inferArgMax(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  auto axis = normAxis(c.intAttr("axis", 0), data->size());
  if (!axis)
    return std::nullopt;
  SmallVector<int64_t> out = *data;
  if (c.intAttr("keepdims", 1))
    out[*axis] = 1;
  else
    out.erase(out.begin() + *axis);
  return out;
}

Shape inferNonZero(InferenceContext &c) {
  if (Shape data = c.shape(0))
    return SmallVector<int64_t>{static_cast<int64_t>(data->size()), kDyn};
  return std::nullopt;
}

Shape inferOneHot(InferenceContext &c) {
  Shape idx = c.shape(0);
  auto depth = getConstantInts(c.in(1));
  if (!idx)
    return std::nullopt;
  int64_t rank = idx->size() + 1;
  auto axis = normAxis(c.intAttr("axis", -1), rank);
  if (!axis)
    return std::nullopt;
  SmallVector<int64_t> out = *idx;
  out.insert(out.begin() + *axis,
             depth && depth->size() == 1 ? (*depth)[0] : kDyn);
  return out;
}

/// Values, then indices of the same shape.
void topK(InferenceContext &c) {
  Shape shape = inferTopK(c);
  c.results.push_back(makeType(shape, c.defaultElt()));
  for (unsigned i = 1; i < c.numResults; ++i)
    c.results.push_back(makeType(shape, c.i64()));
}

template <Shape (*F)(InferenceContext &)> void shaped(InferenceContext &c) {
  c.result(F(c));
}
} // namespace

void onnx::detail::addComputeRules(RuleTable &rules) {
  rules["MatMul"] = shaped<inferMatMul>;
  rules["FusedMatMul"] = shaped<inferFusedMatMul>;
  rules["Gemm"] = shaped<inferGemm>;
  rules["MatMulNBits"] = shaped<inferMatMulNBits>;
  // x's shape in the scale's type, or output_dtype's.
  rules["DequantizeLinear"] = [](InferenceContext &c) {
    int64_t code = c.intAttr("output_dtype", 0);
    Type elt = code ? typeFromONNXCode(c.ctx, code) : c.elt(1);
    if (!elt) {
      c.error = "DequantizeLinear to unsupported ONNX element type " +
                onnxElementTypeName(code);
      return;
    }
    c.result(c.shape(0), elt);
  };
  for (StringRef op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                       "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
                       "ReduceLogSum", "ReduceLogSumExp"})
    rules[op] = shaped<inferReduce>;
  rules["ArgMax"] = [](InferenceContext &c) {
    c.result(inferArgMax(c), c.i64());
  };
  rules["Gather"] = shaped<inferGather>;
  rules["GatherElements"] = [](InferenceContext &c) { c.result(c.shape(1)); };
  rules["GatherND"] = shaped<inferGatherND>;
  rules["NonZero"] = [](InferenceContext &c) {
    c.result(inferNonZero(c), c.i64());
  };
  rules["OneHot"] = [](InferenceContext &c) {
    c.result(inferOneHot(c), c.elt(2));
  };
  rules["TopK"] = topK;
}
