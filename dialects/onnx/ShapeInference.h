//===- ShapeInference.h - the onnx dialect's result-type rules --*- C++ -*-===//
//
// Private to dialects/onnx: the context one op's inference rule reads
// (operands, attributes) and writes (result types), the shape helpers the
// rules share, and the rule tables of each op family.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECTS_ONNX_SHAPEINFERENCE_H
#define MOE_DIALECTS_ONNX_SHAPEINFERENCE_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "mlir/IR/ValueRange.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>

namespace mlir::onnx::detail {

constexpr int64_t kDyn = ShapedType::kDynamic;
/// A shape, or nullopt when even the rank is unknown.
using Shape = std::optional<SmallVector<int64_t>>;

Type elementTypeOf(Value v);
Shape shapeOf(Value v);
bool isNone(Value v);
Type makeType(const Shape &shape, Type elt);
/// Normalizes a possibly negative axis against `rank`; nullopt if out of
/// range.
std::optional<int64_t> normAxis(int64_t axis, int64_t rank);
/// Numpy broadcasting of two shapes; sets `error` when static sizes clash.
Shape broadcast(const Shape &a, const Shape &b, std::string &error);
/// Element count of a static 1-D shape operand, i.e. the rank it describes.
std::optional<int64_t> staticLength(Value v);

/// What one op's rule sees and produces. A rule sets the first result
/// (`result`) or all of them (`results`); `error` explains operands that
/// contradict the op.
class InferenceContext {
public:
  InferenceContext(ValueRange operands, DictionaryAttr attrs,
                   unsigned numResults, MLIRContext *ctx)
      : operands(operands), attrs(attrs), numResults(numResults), ctx(ctx) {}

  int64_t intAttr(StringRef name, int64_t dflt) const;
  std::optional<SmallVector<int64_t>> intsAttr(StringRef name) const;
  Value in(unsigned i) const {
    return i < operands.size() ? operands[i] : Value();
  }
  /// Whether input `i` is given (present and not `none`).
  bool has(unsigned i) const { return in(i) && !isNone(in(i)); }
  Shape shape(unsigned i) const { return has(i) ? shapeOf(in(i)) : Shape(); }
  Type elt(unsigned i) const { return in(i) ? elementTypeOf(in(i)) : Type(); }
  Type i64() const { return IntegerType::get(ctx, 64); }
  Type i1() const { return IntegerType::get(ctx, 1); }
  Type f32() const { return Float32Type::get(ctx); }
  /// Whether the given inputs that are present share one element type
  /// (ONNX's type constraint T); sets `error` naming the two that differ.
  bool sameElementType(ArrayRef<unsigned> inputs);

  /// The first result: `shape` of element type `elt` (default: input 0's).
  void result(const Shape &shape, Type elt = {}) {
    first = makeType(shape, elt ? elt : defaultElt());
  }
  Type defaultElt() const {
    Type e = elt(0);
    return e ? e : f32();
  }

  ValueRange operands;
  DictionaryAttr attrs;
  unsigned numResults;
  MLIRContext *ctx;
  std::string error;
  Type first;                // set by `result`
  SmallVector<Type> results; // or every result, by the rule
};

using InferRule = void (*)(InferenceContext &);
using RuleTable = llvm::StringMap<InferRule>;

/// Elementwise, normalization and MoE ops (shape of an input, broadcast).
void addElementwiseRules(RuleTable &rules);
/// Shape manipulation and generators: Reshape ... Range, Constant.
void addTensorRules(RuleTable &rules);
/// Contractions, reductions and indexing: MatMul ... TopK.
void addComputeRules(RuleTable &rules);

} // namespace mlir::onnx::detail

#endif // MOE_DIALECTS_ONNX_SHAPEINFERENCE_H
