//===- InferTensorShapes.cpp - shape manipulation and generators ----------===//
//
// Result types of the onnx ops that rearrange or create tensors: Reshape,
// Transpose, (Un)Squeeze, Flatten, Concat, Split, Slice, Expand, Shape,
// Constant, ConstantOfShape, Range.
//
//===----------------------------------------------------------------------===//

#include "ShapeInference.h"

#include "moe/Dialect/ONNX.h"

#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::onnx;
using namespace mlir::onnx::detail;

namespace {
Shape inferReshape(InferenceContext &c) {
  auto target = getPartialInts(c.in(1));
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

Shape inferTranspose(InferenceContext &c) {
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
    c.error = "perm has " + std::to_string(perm.size()) + " entries for rank " +
              std::to_string(rank);
    return std::nullopt;
  }
  // A permutation of 0..rank-1 (ONNX has no negative entries here).
  SmallVector<int64_t> out;
  SmallVector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p]) {
      c.error = "perm is not a permutation of 0.." + std::to_string(rank - 1) +
                " (entry " + std::to_string(p) + ")";
      return std::nullopt;
    }
    seen[p] = true;
    out.push_back((*data)[p]);
  }
  return out;
}

Shape inferSqueeze(InferenceContext &c) {
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
  auto axes = getConstantInts(c.in(1));
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

Shape inferUnsqueeze(InferenceContext &c) {
  Shape data = c.shape(0);
  auto axes = getConstantInts(c.in(1));
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

Shape inferConcat(InferenceContext &c) {
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

/// Sizes from a constant `split`, an even split without one; a `split`
/// known only at run time leaves the axis dynamic.
void inferSplit(InferenceContext &c) {
  Shape data = c.shape(0);
  Type elt = c.defaultElt();
  unsigned numResults = c.numResults;
  std::optional<int64_t> axis;
  if (data)
    axis = normAxis(c.intAttr("axis", 0), data->size());
  std::optional<SmallVector<int64_t>> sizes;
  if (c.has(1))
    sizes = getConstantInts(c.in(1));
  for (unsigned i = 0; i < numResults; ++i) {
    if (!data || !axis) {
      c.results.push_back(UnrankedTensorType::get(elt));
      continue;
    }
    SmallVector<int64_t> s = *data;
    int64_t total = (*data)[*axis];
    if (sizes && sizes->size() == numResults)
      s[*axis] = (*sizes)[i];
    else if (!c.has(1) && total != kDyn && total % numResults == 0)
      s[*axis] = total / numResults;
    else
      s[*axis] = kDyn;
    c.results.push_back(RankedTensorType::get(s, elt));
  }
}

Shape inferSlice(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size();
  // Bounds computed from shapes (x[..., : x.shape[-1] // 2]) count as known
  // when every entry is.
  auto known = [](Value v) -> std::optional<SmallVector<int64_t>> {
    auto vals = getPartialInts(v);
    if (!vals || llvm::is_contained(*vals, kDyn))
      return std::nullopt;
    return vals;
  };
  auto starts = known(c.in(1));
  auto ends = known(c.in(2));
  std::optional<SmallVector<int64_t>> axes, steps;
  bool hasAxes = c.has(3);
  bool hasSteps = c.has(4);
  if (hasAxes)
    axes = getConstantInts(c.in(3));
  if (hasSteps)
    steps = getConstantInts(c.in(4));
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
      c.error =
          !axis ? "slice axis " + std::to_string(axisIn) + " is out of range"
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
      out[*axis] = span <= 0           ? 0
                   : step == INT64_MIN ? 1
                                       : (span - 1) / -step + 1;
    }
  }
  return out;
}

Shape inferExpand(InferenceContext &c) {
  auto target = getPartialInts(c.in(1));
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

Shape inferFlatten(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  int64_t rank = data->size(), axis = c.intAttr("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return std::nullopt;
  int64_t lead = 1, trail = 1;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t &acc = i < axis ? lead : trail;
    int64_t d = (*data)[i];
    if (acc == kDyn || d == kDyn || llvm::MulOverflow(acc, d, acc))
      acc = kDyn;
  }
  return SmallVector<int64_t>{lead, trail};
}

Shape inferShape(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return SmallVector<int64_t>{kDyn};
  int64_t rank = data->size();
  auto clampAxis = [&](int64_t a) {
    return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank);
  };
  int64_t start = clampAxis(c.intAttr("start", 0));
  int64_t end = clampAxis(c.intAttr("end", rank));
  return SmallVector<int64_t>{std::max<int64_t>(end - start, 0)};
}

void inferConstant(InferenceContext &c) {
  auto value = c.attrs ? c.attrs.getAs<TypedAttr>("value") : TypedAttr();
  if (!value) {
    c.error = "Constant has no value";
    return;
  }
  c.results.push_back(value.getType());
}

void inferConstantOfShape(InferenceContext &c) {
  auto dims = getPartialInts(c.in(0));
  Shape shape;
  if (dims)
    shape = SmallVector<int64_t>(*dims);
  else if (auto len = staticLength(c.in(0)))
    shape = SmallVector<int64_t>(*len, kDyn);
  if (dims &&
      llvm::any_of(*dims, [](int64_t d) { return d < 0 && d != kDyn; })) {
    c.error = "ConstantOfShape with a negative size";
    return;
  }
  Attribute given = c.attrs ? c.attrs.get("value") : Attribute();
  auto value = dyn_cast_or_null<ElementsAttr>(given);
  if (given && !value) {
    c.error = "its 'value' attribute must be a one-element tensor";
    return;
  }
  c.result(shape, value ? value.getElementType() : c.f32());
}

Shape inferRange(InferenceContext &c) {
  auto start = getConstantInts(c.in(0)), limit = getConstantInts(c.in(1)),
       delta = getConstantInts(c.in(2));
  int64_t n = kDyn;
  if (start && limit && delta && start->size() == 1 && limit->size() == 1 &&
      delta->size() == 1 && (*delta)[0] != 0) {
    double count =
        std::ceil(double((*limit)[0] - (*start)[0]) / double((*delta)[0]));
    n = count > 0 ? static_cast<int64_t>(count) : 0;
  }
  return SmallVector<int64_t>{n};
}

Shape inferTile(InferenceContext &c) {
  Shape data = c.shape(0);
  if (!data)
    return std::nullopt;
  auto repeats = getPartialInts(c.in(1));
  SmallVector<int64_t> out = *data;
  if (repeats && repeats->size() != out.size()) {
    c.error = "repeats has " + std::to_string(repeats->size()) +
              " entries for rank " + std::to_string(out.size());
    return std::nullopt;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (repeats && (*repeats)[i] < 0 && (*repeats)[i] != kDyn) {
      c.error = "repeats holds negative count " + std::to_string((*repeats)[i]);
      return std::nullopt;
    }
    if (!repeats || out[i] == kDyn || (*repeats)[i] == kDyn ||
        llvm::MulOverflow(out[i], (*repeats)[i], out[i]))
      out[i] = kDyn;
  }
  return out;
}

/// A rule that sets the first result from a shape function.
template <Shape (*F)(InferenceContext &)> void shaped(InferenceContext &c) {
  c.result(F(c));
}
} // namespace

void onnx::detail::addTensorRules(RuleTable &rules) {
  rules["Reshape"] = shaped<inferReshape>;
  rules["Transpose"] = shaped<inferTranspose>;
  rules["Squeeze"] = shaped<inferSqueeze>;
  rules["Unsqueeze"] = shaped<inferUnsqueeze>;
  rules["Flatten"] = shaped<inferFlatten>;
  rules["Concat"] = shaped<inferConcat>;
  rules["Split"] = inferSplit;
  rules["Slice"] = shaped<inferSlice>;
  rules["Expand"] = shaped<inferExpand>;
  rules["Tile"] = shaped<inferTile>;
  rules["Trilu"] = [](InferenceContext &c) { c.result(c.shape(0)); };
  rules["Shape"] = [](InferenceContext &c) {
    c.result(inferShape(c), c.i64());
  };
  rules["Constant"] = inferConstant;
  rules["ConstantOfShape"] = inferConstantOfShape;
  rules["Range"] = shaped<inferRange>;
}
