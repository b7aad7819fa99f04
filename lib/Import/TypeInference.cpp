//===- TypeInference.cpp - result types of imported onnx ops --------------===//
//
// A forward shape inference over the supported op set. It is deliberately
// conservative: a dimension is static only when the ONNX semantics make it
// so given static operand dimensions and constant operand values.
//
//===----------------------------------------------------------------------===//

#include "TypeInference.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/MathExtras.h"


using namespace mlir;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;
/// A shape, or nullopt when even the rank is unknown.
using Shape = std::optional<SmallVector<int64_t>>;

Type elementTypeOf(Value v) { return onnx::getTensorElementType(v); }
Shape shapeOf(Value v) { return onnx::getTensorShape(v); }

bool isNone(Value v) { return isa<NoneType>(v.getType()); }

Type makeType(const Shape &shape, Type elt) {
  if (!shape)
    return UnrankedTensorType::get(elt);
  return RankedTensorType::get(*shape, elt);
}

/// Normalizes a possibly negative axis against `rank`; nullopt if out of range.
std::optional<int64_t> normAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

/// Numpy broadcasting of two shapes; sets `error` when static sizes clash.
Shape broadcast(const Shape &a, const Shape &b, std::string &error) {
  if (!a || !b)
    return std::nullopt;
  size_t rank = std::max(a->size(), b->size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a->size() ? 1 : (*a)[i - (rank - a->size())];
    int64_t y = i < rank - b->size() ? 1 : (*b)[i - (rank - b->size())];
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (x == kDyn)
      out[i] = y;
    else if (y == kDyn || x == y)
      out[i] = x;
    else {
      error = "cannot broadcast dimension " + std::to_string(x) + " with " +
              std::to_string(y);
      return std::nullopt;
    }
  }
  return out;
}

/// Element count of a static 1-D shape operand, i.e. the rank it describes.
std::optional<int64_t> staticLength(Value v) {
  Shape s = shapeOf(v);
  if (!s || s->size() != 1 || (*s)[0] == kDyn)
    return std::nullopt;
  return (*s)[0];
}

class Inference {
public:
  Inference(ValueRange operands, DictionaryAttr attrs)
      : operands(operands), attrs(attrs) {}

  int64_t intAttr(StringRef name, int64_t dflt) const {
    if (auto a = attrs ? attrs.getAs<IntegerAttr>(name) : IntegerAttr())
      return a.getInt();
    return dflt;
  }
  std::optional<SmallVector<int64_t>> intsAttr(StringRef name) const {
    auto a = attrs ? attrs.getAs<ArrayAttr>(name) : ArrayAttr();
    if (!a)
      return std::nullopt;
    SmallVector<int64_t> out;
    for (Attribute e : a)
      if (auto i = dyn_cast<IntegerAttr>(e))
        out.push_back(i.getInt());
    return out;
  }
  Value in(unsigned i) const {
    return i < operands.size() ? operands[i] : Value();
  }
  Shape shape(unsigned i) const {
    Value v = in(i);
    return v && !isNone(v) ? shapeOf(v) : std::nullopt;
  }
  Type elt(unsigned i) const {
    Value v = in(i);
    return v ? elementTypeOf(v) : Type();
  }

  ValueRange operands;
  DictionaryAttr attrs;
  std::string error;
};

/// Maps ONNX TensorProto data type numbers (the `to` of Cast) to MLIR types.
Type typeFromOnnxCode(MLIRContext *ctx, int64_t code) {
  Builder b(ctx);
  switch (code) {
  case 1: return b.getF32Type();
  case 2: return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case 3: return b.getIntegerType(8);
  case 4: return IntegerType::get(ctx, 16, IntegerType::Unsigned);
  case 5: return b.getIntegerType(16);
  case 6: return b.getIntegerType(32);
  case 7: return b.getIntegerType(64);
  case 9: return b.getI1Type();
  case 10: return b.getF16Type();
  case 11: return b.getF64Type();
  case 12: return IntegerType::get(ctx, 32, IntegerType::Unsigned);
  case 13: return IntegerType::get(ctx, 64, IntegerType::Unsigned);
  case 16: return b.getBF16Type();
  default: return {};
  }
}

Shape inferMatMul(Inference &c) {
  Shape a = c.shape(0), b = c.shape(1);
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
    c.error = "inner dimensions differ: " + std::to_string(k1) + " and " +
              std::to_string(k2);
    return std::nullopt;
  }
  Shape batchA = SmallVector<int64_t>(x.begin(), x.end() - 2);
  Shape batchB = SmallVector<int64_t>(y.begin(), y.end() - 2);
  Shape out = broadcast(batchA, batchB, c.error);
  if (!out)
    return std::nullopt;
  if (!vecA)
    out->push_back(x[x.size() - 2]);
  if (!vecB)
    out->push_back(y.back());
  return out;
}

Shape inferGemm(Inference &c) {
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
Shape inferReduce(Inference &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size();
  bool keep = c.intAttr("keepdims", 1) != 0;
  SmallVector<int64_t> axes;
  if (c.in(1) && !isNone(c.in(1))) {
    auto constAxes = onnx::getConstantInts(c.in(1));
    if (!constAxes) {
      if (keep)
        return SmallVector<int64_t>(rank, kDyn);
      return std::nullopt;
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

Shape inferReshape(Inference &c) {
  auto target = onnx::getPartialInts(c.in(1));
  if (!target) {
    if (auto len = staticLength(c.in(1)))
      return SmallVector<int64_t>(*len, kDyn);
    return std::nullopt;
  }
  Shape data = c.shape(0);
  bool allowZero = c.intAttr("allowzero", 0) != 0;
  SmallVector<int64_t> out;
  int64_t inferred = -1;
  for (auto [i, d] : llvm::enumerate(*target)) {
    if (d == 0 && !allowZero) {
      out.push_back(data && i < data->size() ? (*data)[i] : kDyn);
    } else if (d == -1) {
      if (inferred >= 0) {
        c.error = "shape has more than one -1";
        return std::nullopt;
      }
      inferred = i;
      out.push_back(kDyn);
    } else if (d == kDyn) {
      out.push_back(kDyn);
    } else if (d < 0) {
      c.error = "shape holds negative size " + std::to_string(d);
      return std::nullopt;
    } else {
      out.push_back(d);
    }
  }
  // Resolve -1 when every other size and the input size are static.
  if (inferred >= 0 && data && llvm::none_of(*data, ShapedType::isDynamic)) {
    int64_t total = 1, known = 1;
    bool overflow = false;
    for (int64_t d : *data)
      overflow |= llvm::MulOverflow(total, d, total);
    for (auto [i, d] : llvm::enumerate(out))
      if (static_cast<int64_t>(i) != inferred) {
        if (d == kDyn)
          return out;
        overflow |= llvm::MulOverflow(known, d, known);
      }
    if (!overflow && known != 0 && total % known == 0)
      out[inferred] = total / known;
  }
  return out;
}

Shape inferTranspose(Inference &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size();
  SmallVector<int64_t> perm;
  if (auto p = c.intsAttr("perm"))
    perm = *p;
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank) {
    c.error = "perm has " + std::to_string(perm.size()) +
              " entries for rank " + std::to_string(rank);
    return std::nullopt;
  }
  SmallVector<int64_t> out;
  for (int64_t p : perm) {
    auto n = normAxis(p, rank);
    if (!n) {
      c.error = "perm entry " + std::to_string(p) + " is out of range";
      return std::nullopt;
    }
    out.push_back((*data)[*n]);
  }
  return out;
}

Shape inferSqueeze(Inference &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size();
  if (!c.in(1) || isNone(c.in(1))) {
    if (llvm::any_of(*data, ShapedType::isDynamic))
      return std::nullopt;
    SmallVector<int64_t> out;
    for (int64_t d : *data)
      if (d != 1)
        out.push_back(d);
    return out;
  }
  auto axes = onnx::getConstantInts(c.in(1));
  if (!axes)
    return std::nullopt;
  SmallVector<bool> drop(rank, false);
  for (int64_t a : *axes) {
    auto n = normAxis(a, rank);
    if (!n || ((*data)[*n] != 1 && (*data)[*n] != kDyn)) {
      c.error = "cannot squeeze axis " + std::to_string(a);
      return std::nullopt;
    }
    drop[*n] = true;
  }
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[i])
      out.push_back((*data)[i]);
  return out;
}

Shape inferUnsqueeze(Inference &c) {
  Shape data = c.shape(0);
  auto axes = onnx::getConstantInts(c.in(1));
  if (!data || !axes)
    return std::nullopt;
  int64_t rank = data->size() + axes->size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t a : *axes) {
    auto n = normAxis(a, rank);
    if (!n || inserted[*n]) {
      c.error = "invalid unsqueeze axis " + std::to_string(a);
      return std::nullopt;
    }
    inserted[*n] = true;
  }
  SmallVector<int64_t> out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i)
    out.push_back(inserted[i] ? 1 : (*data)[next++]);
  return out;
}

Shape inferConcat(Inference &c) {
  SmallVector<int64_t> out;
  bool first = true;
  int64_t axis = c.intAttr("axis", 0);
  for (Value v : c.operands) {
    Shape s = shapeOf(v);
    if (!s)
      return std::nullopt;
    if (first) {
      out = *s;
      auto n = normAxis(axis, out.size());
      if (!n) {
        c.error = "axis " + std::to_string(axis) + " is out of range";
        return std::nullopt;
      }
      axis = *n;
      first = false;
      continue;
    }
    if (s->size() != out.size()) {
      c.error = "inputs have different ranks";
      return std::nullopt;
    }
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t d = (*s)[i];
      if (static_cast<int64_t>(i) == axis)
        out[i] = (out[i] == kDyn || d == kDyn) ? kDyn : out[i] + d;
      else if (out[i] == kDyn)
        out[i] = d;
    }
  }
  if (first)
    return std::nullopt;
  return out;
}

void inferSplit(Inference &c, unsigned numResults, Type elt,
                SmallVectorImpl<Type> &results) {
  Shape data = c.shape(0);
  std::optional<int64_t> axis;
  if (data)
    axis = normAxis(c.intAttr("axis", 0), data->size());
  std::optional<SmallVector<int64_t>> sizes;
  if (c.in(1) && !isNone(c.in(1)))
    sizes = onnx::getConstantInts(c.in(1));
  for (unsigned i = 0; i < numResults; ++i) {
    if (!data || !axis) {
      results.push_back(UnrankedTensorType::get(elt));
      continue;
    }
    SmallVector<int64_t> s = *data;
    int64_t total = (*data)[*axis];
    if (sizes && sizes->size() == numResults)
      s[*axis] = (*sizes)[i];
    else if (!sizes && total != kDyn && total % numResults == 0)
      s[*axis] = total / numResults;
    else
      s[*axis] = kDyn;
    results.push_back(RankedTensorType::get(s, elt));
  }
}

Shape inferSlice(Inference &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size();
  auto starts = onnx::getConstantInts(c.in(1));
  auto ends = onnx::getConstantInts(c.in(2));
  std::optional<SmallVector<int64_t>> axes, steps;
  bool hasAxes = c.in(3) && !isNone(c.in(3));
  bool hasSteps = c.in(4) && !isNone(c.in(4));
  if (hasAxes)
    axes = onnx::getConstantInts(c.in(3));
  if (hasSteps)
    steps = onnx::getConstantInts(c.in(4));
  SmallVector<int64_t> out = *data;
  if (!starts || !ends || (hasAxes && !axes) || (hasSteps && !steps)) {
    // Which axes change is unknown without constant axes.
    if (!hasAxes)
      return SmallVector<int64_t>(rank, kDyn);
    if (!axes)
      return SmallVector<int64_t>(rank, kDyn);
    for (int64_t a : *axes)
      if (auto n = normAxis(a, rank))
        out[*n] = kDyn;
    return out;
  }
  size_t n = starts->size();
  if (ends->size() != n || (axes && axes->size() != n) ||
      (steps && steps->size() != n)) {
    c.error = "starts, ends, axes and steps have different lengths";
    return std::nullopt;
  }
  for (size_t i = 0; i < n; ++i) {
    int64_t axisIn = axes ? (*axes)[i] : static_cast<int64_t>(i);
    auto axis = normAxis(axisIn, rank);
    int64_t step = steps ? (*steps)[i] : 1;
    if (!axis || step == 0) {
      c.error = !axis ? "slice axis " + std::to_string(axisIn) +
                            " is out of range"
                      : "slice step is 0";
      return std::nullopt;
    }
    int64_t dim = (*data)[*axis];
    if (dim == kDyn || dim == 0) {
      out[*axis] = dim;
      continue;
    }
    // ONNX's clamping rules; sizes are bounded by `dim` after clamping, so
    // nothing below overflows (a step of INT64_MIN takes one element).
    int64_t first = (*starts)[i], last = (*ends)[i];
    if (first < 0)
      first += dim;
    if (last < 0)
      last += dim;
    if (step > 0) {
      first = std::clamp<int64_t>(first, 0, dim);
      last = std::clamp<int64_t>(last, 0, dim);
      out[*axis] = last > first ? (last - first - 1) / step + 1 : 0;
    } else {
      first = std::clamp<int64_t>(first, 0, dim - 1);
      last = std::clamp<int64_t>(last, -1, dim - 1);
      int64_t span = first - last;
      out[*axis] = span <= 0 ? 0
                   : step == INT64_MIN ? 1
                                       : (span - 1) / -step + 1;
    }
  }
  return out;
}

Shape inferExpand(Inference &c) {
  auto target = onnx::getPartialInts(c.in(1));
  Shape data = c.shape(0);
  if (!target) {
    auto len = staticLength(c.in(1));
    if (!len || !data)
      return std::nullopt;
    return SmallVector<int64_t>(std::max<int64_t>(*len, data->size()), kDyn);
  }
  for (int64_t d : *target)
    if (d < 0 && d != kDyn) {
      c.error = "Expand shape holds negative size " + std::to_string(d);
      return std::nullopt;
    }
  return broadcast(data, SmallVector<int64_t>(*target), c.error);
}

Shape inferGather(Inference &c) {
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

Shape inferGatherND(Inference &c) {
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

Shape inferTopK(Inference &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  auto axis = normAxis(c.intAttr("axis", -1), data->size());
  if (!axis) {
    c.error = "TopK axis is out of range";
    return std::nullopt;
  }
  auto k = onnx::getConstantInts(c.in(1));
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
} // namespace

std::optional<std::string> mlir::moe::detail::inferResultTypes(
    StringRef opType, ValueRange operands, DictionaryAttr attrs,
    unsigned numResults, SmallVectorImpl<Type> &results) {
  Inference c(operands, attrs);
  MLIRContext *ctx = attrs ? attrs.getContext()
                           : (operands.empty() ? nullptr
                                               : operands[0].getContext());
  Type elt = c.elt(0);
  if (!elt && ctx)
    elt = Float32Type::get(ctx);
  Builder b(ctx);
  Type i64 = ctx ? b.getIntegerType(64) : Type();
  Type i1 = ctx ? b.getI1Type() : Type();
  Shape shape = std::nullopt;
  Type resultElt = elt;

  auto isOneOf = [&](std::initializer_list<StringRef> names) {
    return llvm::is_contained(names, opType);
  };
  if (isOneOf({"Add", "Sub", "Mul", "Div", "Pow", "And", "Or"})) {
    shape = broadcast(c.shape(0), c.shape(1), c.error);
    if (isOneOf({"And", "Or"}))
      resultElt = i1;
  } else if (isOneOf({"Equal", "Less", "LessOrEqual", "Greater",
                      "GreaterOrEqual"})) {
    shape = broadcast(c.shape(0), c.shape(1), c.error);
    resultElt = i1;
  } else if (isOneOf({"Max", "Min"})) {
    shape = c.shape(0);
    for (unsigned i = 1; i < operands.size(); ++i)
      shape = broadcast(shape, c.shape(i), c.error);
  } else if (opType == "Where") {
    shape = broadcast(broadcast(c.shape(0), c.shape(1), c.error), c.shape(2),
                      c.error);
    resultElt = c.elt(1);
  } else if (isOneOf({"Sqrt", "Reciprocal", "Neg", "Relu", "Sigmoid", "Tanh",
                      "Erf", "Exp", "Log", "Abs", "Not", "Identity",
                      "Softplus", "Gelu", "Softmax", "Clip", "CumSum",
                      "MoE", "QMoE", "LayerNormalization",
                      "SimplifiedLayerNormalization", "ScatterND",
                      "ScatterElements"})) {
    shape = c.shape(0);
  } else if (opType == "SkipSimplifiedLayerNormalization") {
    shape = c.shape(0);
  } else if (opType == "Cast") {
    shape = c.shape(0);
    resultElt = ctx ? typeFromOnnxCode(ctx, c.intAttr("to", 0)) : Type();
    if (!resultElt)
      return "Cast to unsupported ONNX data type " +
             std::to_string(c.intAttr("to", 0));
  } else if (opType == "MatMul") {
    shape = inferMatMul(c);
  } else if (opType == "Gemm") {
    shape = inferGemm(c);
  } else if (isOneOf({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"})) {
    shape = inferReduce(c);
  } else if (opType == "ArgMax") {
    Shape data = c.shape(0);
    if (data) {
      auto axis = normAxis(c.intAttr("axis", 0), data->size());
      if (axis) {
        shape = *data;
        if (c.intAttr("keepdims", 1))
          (*shape)[*axis] = 1;
        else
          shape->erase(shape->begin() + *axis);
      }
    }
    resultElt = i64;
  } else if (opType == "Reshape") {
    shape = inferReshape(c);
  } else if (opType == "Transpose") {
    shape = inferTranspose(c);
  } else if (opType == "Squeeze") {
    shape = inferSqueeze(c);
  } else if (opType == "Unsqueeze") {
    shape = inferUnsqueeze(c);
  } else if (opType == "Flatten") {
    Shape data = c.shape(0);
    if (data) {
      int64_t rank = data->size(), axis = c.intAttr("axis", 1);
      if (axis < 0)
        axis += rank;
      if (axis >= 0 && axis <= rank) {
        int64_t lead = 1, trail = 1;
        for (int64_t i = 0; i < rank; ++i) {
          int64_t &acc = i < axis ? lead : trail;
          int64_t d = (*data)[i];
          if (acc == kDyn || d == kDyn || llvm::MulOverflow(acc, d, acc))
            acc = kDyn;
        }
        shape = SmallVector<int64_t>{lead, trail};
      }
    }
  } else if (opType == "Concat") {
    shape = inferConcat(c);
  } else if (opType == "Split") {
    inferSplit(c, numResults, elt, results);
    return c.error.empty() ? std::nullopt : std::optional(c.error);
  } else if (opType == "Slice") {
    shape = inferSlice(c);
  } else if (opType == "Expand") {
    shape = inferExpand(c);
  } else if (opType == "Gather") {
    shape = inferGather(c);
  } else if (opType == "GatherElements") {
    shape = c.shape(1);
  } else if (opType == "GatherND") {
    shape = inferGatherND(c);
  } else if (opType == "NonZero") {
    if (Shape data = c.shape(0))
      shape = SmallVector<int64_t>{static_cast<int64_t>(data->size()), kDyn};
    resultElt = i64;
  } else if (opType == "OneHot") {
    Shape idx = c.shape(0);
    auto depth = onnx::getConstantInts(c.in(1));
    if (idx) {
      int64_t rank = idx->size() + 1;
      if (auto axis = normAxis(c.intAttr("axis", -1), rank)) {
        shape = *idx;
        shape->insert(shape->begin() + *axis,
                      depth && depth->size() == 1 ? (*depth)[0] : kDyn);
      }
    }
    resultElt = c.elt(2);
  } else if (opType == "Shape") {
    if (Shape data = c.shape(0)) {
      int64_t rank = data->size();
      int64_t start = std::clamp<int64_t>(
          c.intAttr("start", 0) < 0 ? c.intAttr("start", 0) + rank
                                    : c.intAttr("start", 0),
          0, rank);
      int64_t end = c.intAttr("end", rank);
      end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
      shape = SmallVector<int64_t>{std::max<int64_t>(end - start, 0)};
    } else {
      shape = SmallVector<int64_t>{kDyn};
    }
    resultElt = i64;
  } else if (opType == "Constant") {
    auto value = attrs ? attrs.getAs<TypedAttr>("value") : TypedAttr();
    if (!value)
      return std::string("Constant has no value");
    results.push_back(value.getType());
    return std::nullopt;
  } else if (opType == "ConstantOfShape") {
    auto dims = onnx::getPartialInts(c.in(0));
    if (dims)
      shape = SmallVector<int64_t>(*dims);
    else if (auto len = staticLength(c.in(0)))
      shape = SmallVector<int64_t>(*len, kDyn);
    auto value = attrs ? attrs.getAs<TypedAttr>("value") : TypedAttr();
    resultElt = value ? cast<ShapedType>(value.getType()).getElementType()
                      : b.getF32Type();
    if (dims && llvm::any_of(*dims, [](int64_t d) { return d < 0 && d != kDyn; }))
      return std::string("ConstantOfShape with a negative size");
  } else if (opType == "Range") {
    auto start = onnx::getConstantInts(c.in(0)), limit = onnx::getConstantInts(c.in(1)),
         delta = onnx::getConstantInts(c.in(2));
    int64_t n = kDyn;
    if (start && limit && delta && start->size() == 1 && limit->size() == 1 &&
        delta->size() == 1 && (*delta)[0] != 0) {
      double count = std::ceil(double((*limit)[0] - (*start)[0]) /
                               double((*delta)[0]));
      n = count > 0 ? static_cast<int64_t>(count) : 0;
    }
    shape = SmallVector<int64_t>{n};
  } else if (opType == "TopK") {
    shape = inferTopK(c);
  }

  if (!c.error.empty())
    return c.error;
  if (!resultElt)
    resultElt = elt;
  results.push_back(makeType(shape, resultElt));
  // Secondary results: TopK indices, normalization statistics.
  for (unsigned i = 1; i < numResults; ++i) {
    if (opType == "TopK")
      results.push_back(makeType(shape, i64));
    else if (opType == "SkipSimplifiedLayerNormalization" && i == 3)
      results.push_back(makeType(shape, elt));
    else
      results.push_back(UnrankedTensorType::get(
          isOneOf({"LayerNormalization", "SimplifiedLayerNormalization",
                   "SkipSimplifiedLayerNormalization"})
              ? b.getF32Type()
              : elt));
  }
  return std::nullopt;
}
