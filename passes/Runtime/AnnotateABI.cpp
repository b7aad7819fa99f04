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
  return t.isF32() || t.isF16() || t.isBF16() || t.isSignlessInteger(8) ||
         t.isSignlessInteger(16) || t.isSignlessInteger(32) ||
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

/// Why `type` cannot cross the C interface; empty when it can.
std::string unsupportedReason(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return "is not a ranked tensor";
  if (isSupportedElement(tensor.getElementType()))
    return "";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "has element type " << tensor.getElementType();
  return text;
}

struct AnnotateABIPass : moe::impl::AnnotateABIBase<AnnotateABIPass> {
  using Base::Base;

  void runOnOperation() override {
    Builder b(&getContext());
    bool anyEntry = false;
    std::optional<std::pair<func::FuncOp, std::string>> firstUnsupported;
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isPrivate() || fn.isExternal())
        continue;
      SmallVector<Attribute> inputs, outputs;
      std::string why;
      auto add = [&](Type type, DictionaryAttr attrs, StringRef kind,
                     unsigned i, SmallVectorImpl<Attribute> &list) {
        std::string fallback = (kind + Twine(i)).str();
        if (DictionaryAttr d = describe(b, type, attrs, fallback)) {
          list.push_back(d);
          return;
        }
        if (!why.empty())
          return;
        StringAttr name = attrs ? attrs.getAs<StringAttr>("onnx.name") : nullptr;
        why = (kind + " '" + (name ? name.strref() : StringRef(fallback)) +
               "' " + unsupportedReason(type))
                  .str();
      };
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        add(fn.getArgumentTypes()[i], fn.getArgAttrDict(i), "input", i,
            inputs);
      for (unsigned i = 0; i < fn.getNumResults(); ++i)
        add(fn.getResultTypes()[i], fn.getResultAttrDict(i), "output", i,
            outputs);
      if (!why.empty()) {
        // Said when an artifact is emitted: the C interface takes f32,
        // f16, bf16, i8, i16, i32, i64 and bool tensors.
        fn->setAttr("moe.abi_unsupported", b.getStringAttr(why));
        if (!firstUnsupported)
          firstUnsupported = {fn, why};
        continue;
      }
      anyEntry = true;
      fn->setAttr("moe.abi",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("inputs", b.getArrayAttr(inputs)),
                       b.getNamedAttr("outputs", b.getArrayAttr(outputs))}));
    }
    if (require && !anyEntry && firstUnsupported) {
      firstUnsupported->first.emitError()
          << "the model's " << firstUnsupported->second
          << ", which a compiled model's C interface does not take (f32, "
             "f16, bf16, i8, i16, i32, i64 and bool tensors)";
      signalPassFailure();
    }
  }
};
} // namespace
