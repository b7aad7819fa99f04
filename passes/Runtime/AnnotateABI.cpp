//===- AnnotateABI.cpp - record entry signatures for the C entry point ----===//
//
// The tensor types of a model's entry function are gone once it is lowered
// to the LLVM dialect, but the C entry point generated at --emit time must
// check inputs against them; this pass writes them down first.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/Runtime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace mlir::moe {
#define GEN_PASS_DEF_ANNOTATEABI
#include "passes/Runtime/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
bool isSupportedElement(Type t) {
  return t.isF32() || t.isF16() || t.isBF16() || t.isSignlessInteger(32) ||
         t.isSignlessInteger(64) || t.isSignlessInteger(1);
}

/// {name, type, dims} for one argument or result, or null if unsupported.
DictionaryAttr describe(Builder &b, Type type, DictionaryAttr attrs,
                        StringRef fallbackName) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !isSupportedElement(tensor.getElementType()))
    return nullptr;
  StringAttr name = attrs ? attrs.getAs<StringAttr>("onnx.name") : nullptr;
  ArrayAttr dims = attrs ? attrs.getAs<ArrayAttr>("onnx.dims") : nullptr;
  if (!dims || dims.size() != static_cast<size_t>(tensor.getRank()))
    dims = b.getStrArrayAttr(SmallVector<StringRef>(tensor.getRank(), ""));
  return b.getDictionaryAttr(
      {b.getNamedAttr("name", name ? name : b.getStringAttr(fallbackName)),
       b.getNamedAttr("type", TypeAttr::get(tensor)),
       b.getNamedAttr("dims", dims)});
}

struct AnnotateABIPass : moe::impl::AnnotateABIBase<AnnotateABIPass> {
  void runOnOperation() override {
    Builder b(&getContext());
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isPrivate() || fn.isExternal())
        continue;
      SmallVector<Attribute> inputs, outputs;
      bool supported = true;
      for (unsigned i = 0; i < fn.getNumArguments() && supported; ++i) {
        DictionaryAttr d =
            describe(b, fn.getArgumentTypes()[i], fn.getArgAttrDict(i),
                     ("input" + Twine(i)).str());
        supported = static_cast<bool>(d);
        inputs.push_back(d);
      }
      for (unsigned i = 0; i < fn.getNumResults() && supported; ++i) {
        DictionaryAttr d =
            describe(b, fn.getResultTypes()[i], fn.getResultAttrDict(i),
                     ("output" + Twine(i)).str());
        supported = static_cast<bool>(d);
        outputs.push_back(d);
      }
      if (!supported)
        continue;
      fn->setAttr("moe.abi",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("inputs", b.getArrayAttr(inputs)),
                       b.getNamedAttr("outputs", b.getArrayAttr(outputs))}));
    }
  }
};
} // namespace
