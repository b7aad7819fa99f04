//===- ConvertMoEToLinalg.cpp - moe step ops -> linalg / scf / tensor -----===//
//
// The reference lowering of the moe step ops on tensors: a direct
// transcription of each op's semantics in MoEOps.td. Work that is parallel
// over tokens or rows is an scf.forall or a linalg op; the routing plan is
// built by sequential loops (a counting sort). Fusion and tiling passes
// improve on this; every target must compute what this computes. Each op's
// lowering is in its own file (Route, Dispatch, ExpertMatmul, Activation,
// Combine, FusedForms).
//
//===----------------------------------------------------------------------===//

#include "MoEToLinalg/Patterns.h"
#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"
#include "moe/Passes/MoEToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/TargetParser/Host.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "passes/MoEToLinalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

Value mlir::moe::castIfNeeded(OpBuilder &b, Location loc, Value v, Type type) {
  return v.getType() == type ? v
                             : Value(tensor::CastOp::create(b, loc, type, v));
}

namespace {
struct ConvertMoEToLinalgPass
    : moe::impl::ConvertMoEToLinalgBase<ConvertMoEToLinalgPass> {
  using ConvertMoEToLinalgBase::ConvertMoEToLinalgBase;

  void runOnOperation() override {
    // Layers first, so that the second walk sees their step ops.
    RewritePatternSet layers(&getContext());
    populateDecomposeLayerPatterns(layers);
    populateFusedFormExpansionPatterns(layers);
    walkAndApplyPatterns(getOperation(), std::move(layers));
    RewritePatternSet patterns(&getContext());
    populateDispatchLoweringPatterns(patterns);
    std::optional<Int8Dot> int8;
    if (int8Activations == "vnni")
      int8 = Int8Dot::VNNI;
    else if (int8Activations == "generic")
      int8 = Int8Dot::Generic;
    else if (int8Activations == "auto")
      int8 = llvm::sys::getHostCPUFeatures().lookup("avx512vnni")
                 ? Int8Dot::VNNI
                 : Int8Dot::Generic;
    else if (!int8Activations.empty() && int8Activations != "off") {
      getOperation()->emitError()
          << "int8-activations must be 'off', 'auto', 'vnni' or 'generic', "
             "not '"
          << int8Activations << "'";
      return signalPassFailure();
    }
    populateExpertMatmulLoweringPatterns(patterns, int8);
    populateActivationLoweringPatterns(patterns);
    populateRouteLoweringPatterns(patterns, scoreRows);
    populateCombineLoweringPatterns(patterns, vectorCombine);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // Anything left (collectives) has no single-device lowering here.
    WalkResult result = getOperation()->walk([](Operation *op) {
      if (!isa<MoEDialect>(op->getDialect()))
        return WalkResult::advance();
      if (isa<CombineOp>(op))
        op->emitError() << "'" << op->getName()
                        << "' cannot be lowered: its k (routing weights "
                           "dimension 1) must be static";
      else
        op->emitError() << "'" << op->getName()
                        << "' has no lowering to linalg (collectives need "
                           "the expert-parallel runtime)";
      return WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
