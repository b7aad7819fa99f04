//===- ShapeInference.cpp - result types of onnx ops ----------------------===//
//
// A forward shape inference over the supported op set, one rule per op. It
// is deliberately conservative: a dimension is static only when the ONNX
// semantics make it so given static operand dimensions and constant operand
// values. The importer asks it for the result types of each node.
//
//===----------------------------------------------------------------------===//

#include "ShapeInference.h"

#include "moe/Dialect/ONNX.h"

using namespace mlir;
using namespace mlir::onnx;
using namespace mlir::onnx::detail;

int64_t InferenceContext::intAttr(StringRef name, int64_t dflt) const {
  if (auto a = attrs ? attrs.getAs<IntegerAttr>(name) : IntegerAttr())
    return a.getInt();
  return dflt;
}

std::optional<SmallVector<int64_t>>
InferenceContext::intsAttr(StringRef name) const {
  auto a = attrs ? attrs.getAs<ArrayAttr>(name) : ArrayAttr();
  if (!a)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (Attribute e : a)
    if (auto i = dyn_cast<IntegerAttr>(e))
      out.push_back(i.getInt());
  return out;
}

bool InferenceContext::sameElementType(ArrayRef<unsigned> inputs) {
  Type first;
  for (unsigned i : inputs) {
    Type t = has(i) ? elt(i) : Type();
    if (!t)
      continue;
    if (!first) {
      first = t;
      continue;
    }
    if (t != first) {
      std::string a, b;
      llvm::raw_string_ostream(a) << first;
      llvm::raw_string_ostream(b) << t;
      error = "inputs must share one element type, got " + a + " and " + b;
      return false;
    }
  }
  return true;
}

namespace {
void sameShape(InferenceContext &c) { c.result(c.shape(0)); }

void broadcastBinary(InferenceContext &c) {
  if (!c.sameElementType({0, 1}))
    return;
  c.result(broadcast(c.shape(0), c.shape(1), c.error));
}

/// Pow: base and exponent may differ in type.
void power(InferenceContext &c) {
  c.result(broadcast(c.shape(0), c.shape(1), c.error));
}

void compare(InferenceContext &c) {
  if (!c.sameElementType({0, 1}))
    return;
  c.result(broadcast(c.shape(0), c.shape(1), c.error), c.i1());
}

void variadicBroadcast(InferenceContext &c) {
  SmallVector<unsigned> all;
  for (unsigned i = 0; i < c.operands.size(); ++i)
    all.push_back(i);
  if (!c.sameElementType(all))
    return;
  Shape shape = c.shape(0);
  for (unsigned i = 1; i < c.operands.size(); ++i)
    shape = broadcast(shape, c.shape(i), c.error);
  c.result(shape);
}

void where(InferenceContext &c) {
  if (!c.sameElementType({1, 2}))
    return;
  Shape shape = broadcast(broadcast(c.shape(0), c.shape(1), c.error),
                          c.shape(2), c.error);
  c.result(shape, c.elt(1));
}

void castTo(InferenceContext &c) {
  Type to = typeFromONNXCode(c.ctx, c.intAttr("to", 0));
  if (!to) {
    c.error = "Cast to unsupported ONNX element type " +
              onnxElementTypeName(c.intAttr("to", 0));
    return;
  }
  c.result(c.shape(0), to);
}

/// Y, then the f32 statistics (Mean, InvStdDev) whose shapes are not
/// inferred.
void normalization(InferenceContext &c) {
  c.result(c.shape(0));
  c.results.push_back(c.first);
  for (unsigned i = 1; i < c.numResults; ++i)
    c.results.push_back(UnrankedTensorType::get(c.f32()));
}

/// output, mean, inv_std_var, input_skip_bias_sum (shaped like the input).
void skipNormalization(InferenceContext &c) {
  normalization(c);
  if (c.numResults > 3)
    c.results[3] = c.first;
}
/// MultiHeadAttention: the query's shape with the last dimension N * Hv
/// (value [B, L, N*Hv] or [B, N, L, Hv]); the cache and qk outputs are not
/// inferred.
void multiHeadAttention(InferenceContext &c) {
  Shape q = c.shape(0), v = c.shape(2);
  if (q && !q->empty()) {
    int64_t last = kDyn;
    if (v && v->size() == 3)
      last = v->back();
    else if (v && v->size() == 4 && (*v)[1] != kDyn && (*v)[3] != kDyn)
      last = (*v)[1] * (*v)[3];
    q->back() = last;
  }
  c.result(q);
  c.results.push_back(c.first);
  for (unsigned i = 1; i < c.numResults; ++i)
    c.results.push_back(UnrankedTensorType::get(c.defaultElt()));
}
} // namespace

void onnx::detail::addElementwiseRules(RuleTable &rules) {
  for (StringRef op : {"Add", "Sub", "Mul", "Div", "Mod"})
    rules[op] = broadcastBinary;
  rules["Pow"] = power;
  for (StringRef op : {"Equal", "Less", "LessOrEqual", "Greater",
                       "GreaterOrEqual", "And", "Or"})
    rules[op] = compare;
  for (StringRef op : {"Max", "Min"})
    rules[op] = variadicBroadcast;
  for (StringRef op : {"Sqrt",     "Reciprocal", "Neg",
                       "Relu",     "Sigmoid",    "Tanh",
                       "Erf",      "Exp",        "Log",
                       "Abs",      "Not",        "Identity",
                       "Softplus", "Gelu",       "Softmax",
                       "Clip",     "CumSum",     "MoE",
                       "QMoE",     "ScatterND",  "ScatterElements"})
    rules[op] = sameShape;
  for (StringRef op :
       {"Floor", "Ceil", "Round", "Sign", "Cos", "Sin", "Tan", "Acos", "Asin",
        "Atan", "Cosh", "Sinh", "Acosh", "Asinh", "Atanh", "Softsign"})
    rules[op] = sameShape;
  rules["IsNaN"] = [](InferenceContext &c) { c.result(c.shape(0), c.i1()); };
  rules["Where"] = where;
  rules["Cast"] = castTo;
  rules["LayerNormalization"] = normalization;
  rules["SimplifiedLayerNormalization"] = normalization;
  rules["SkipSimplifiedLayerNormalization"] = skipNormalization;
  rules["RotaryEmbedding"] = sameShape;
  rules["MultiHeadAttention"] = multiHeadAttention;
}

static const RuleTable &ruleTable() {
  static const RuleTable table = [] {
    RuleTable rules;
    addElementwiseRules(rules);
    addTensorRules(rules);
    addComputeRules(rules);
    return rules;
  }();
  return table;
}

std::optional<std::string>
mlir::onnx::inferResultTypes(StringRef opType, ValueRange operands,
                             DictionaryAttr attrs, unsigned numResults,
                             SmallVectorImpl<Type> &results) {
  MLIRContext *ctx =
      attrs ? attrs.getContext()
            : (operands.empty() ? nullptr : operands[0].getContext());
  if (!ctx)
    return std::string("cannot infer result types without operands or "
                       "attributes");
  InferenceContext c(operands, attrs, numResults, ctx);
  auto rule = ruleTable().find(opType);
  if (rule != ruleTable().end())
    rule->second(c);
  if (!c.error.empty())
    return c.error;
  if (!c.results.empty()) {
    results.append(c.results.begin(), c.results.end());
    return std::nullopt;
  }
  // Results no rule describes are unranked tensors of input 0's type.
  Type elt = c.defaultElt();
  results.push_back(c.first ? c.first : UnrankedTensorType::get(elt));
  for (unsigned i = 1; i < numResults; ++i)
    results.push_back(UnrankedTensorType::get(elt));
  return std::nullopt;
}
