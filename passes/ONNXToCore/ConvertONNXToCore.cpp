//===- ConvertONNXToCore.cpp - onnx dense ops -> linalg/tensor/arith/math -===//
//
// Lowers the dense (non-MoE) onnx ops to upstream dialects by applying the
// per-family rewrite patterns once over the IR (types do not change, so no
// type conversion is involved). MoE blocks are raised to the moe dialect first
// (moe-raise-onnx-moe) and are not touched here.
//
//===----------------------------------------------------------------------===//

#include "ONNXToCore/Patterns.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/ONNXToCore.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTONNXTOCORE
#include "passes/ONNXToCore/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Keeps the reasons patterns give for not rewriting an op (their
/// notifyMatchFailure messages, by the op's location), so that an op left
/// over is reported with them rather than with a generic "cannot be lowered".
struct MatchFailureLog : RewriterBase::Listener {
  DenseMap<Location, SmallVector<std::string, 1>> reasons;

  void notifyMatchFailure(Location loc,
                          function_ref<void(Diagnostic &)> reason) override {
    Diagnostic diag(loc, DiagnosticSeverity::Remark);
    reason(diag);
    std::string text = diag.str();
    auto &list = reasons[loc];
    if (!llvm::is_contained(list, text))
      list.push_back(std::move(text));
  }
};

struct ConvertONNXToCorePass
    : moe::impl::ConvertONNXToCoreBase<ConvertONNXToCorePass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    moe::onnx_to_core::populateElementwisePatterns(patterns);
    moe::onnx_to_core::populateLinalgPatterns(patterns, tileMatmuls);
    moe::onnx_to_core::populateReducePatterns(patterns);
    moe::onnx_to_core::populateDequantizePatterns(patterns);
    moe::onnx_to_core::populateNormalizationPatterns(patterns);
    moe::onnx_to_core::populateAttentionPatterns(patterns);
    moe::onnx_to_core::populateTensorPatterns(patterns);
    moe::onnx_to_core::populateIndexingPatterns(patterns, checksInLoops);
    moe::onnx_to_core::populateShapePatterns(patterns);
    moe::onnx_to_core::populateScatterPatterns(patterns);

    MatchFailureLog log;
    // Ops a pattern already reported an error for are not reported again
    // as leftovers.
    DenseSet<Location> reported;
    {
      ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &diag) {
        if (diag.getSeverity() == DiagnosticSeverity::Error)
          reported.insert(diag.getLocation());
        return failure(); // and on to the usual handler
      });
      walkAndApplyPatterns(getOperation(), std::move(patterns), &log);
    }
    if (!allowPartial) {
      // Whatever is left has no lowering (or an unranked type).
      WalkResult result = getOperation()->walk([&](Operation *op) {
        if (!isa<onnx::ONNXDialect>(op->getDialect()) ||
            isa<onnx::NoValueOp>(op) || op->use_empty())
          return WalkResult::advance();
        if (reported.contains(op->getLoc()))
          return WalkResult::interrupt();
        InFlightDiagnostic diag = op->emitError()
                                  << "'" << op->getName()
                                  << "' cannot be lowered to core dialects";
        auto it = log.reasons.find(op->getLoc());
        if (it != log.reasons.end() && !it->second.empty())
          diag << ": " << llvm::join(it->second, "; ");
        else
          diag << " (unsupported op or attributes, or an unranked type)";
        return WalkResult::interrupt();
      });
      if (result.wasInterrupted())
        return signalPassFailure();
    }
    getOperation()->walk([](onnx::NoValueOp op) {
      if (op->use_empty())
        op->erase();
    });
  }
};
} // namespace
