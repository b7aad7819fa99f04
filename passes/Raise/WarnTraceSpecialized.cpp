//===- WarnTraceSpecialized.cpp - counts baked in by a trace --------------===//
//
// Finds Splits with constant sizes whose input's split dimension is a
// run-time count (rows of a NonZero): the trace of a data-dependent loop;
// and Splits of rows sorted by expert into the tracing input's per-expert
// counts.
//
//===----------------------------------------------------------------------===//

#include "Raise/ONNXValueMatchers.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/Raise.h"

#include "llvm/ADT/STLExtras.h"

namespace mlir::moe {
#define GEN_PASS_DEF_WARNTRACESPECIALIZED
#include "passes/Raise/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe::match;

namespace {
/// The NonZero whose count of nonzeros becomes dimension `dim` of `v`
/// through layout ops; null otherwise.
onnx::NonZeroOp countSource(Value v, int64_t dim) {
  for (int i = 0; i < 8 && v; ++i) {
    Operation *op = v.getDefiningOp();
    if (auto nz = dyn_cast_or_null<onnx::NonZeroOp>(op))
      return dim == 1 ? nz : nullptr; // NonZero is [rank, count]
    if (auto t = dyn_cast_or_null<onnx::TransposeOp>(op)) {
      auto in = rankedType(t.getData());
      if (!in || dim >= in.getRank())
        return nullptr;
      if (auto perm = t.getPerm()) // (absent: the dimensions reversed)
        dim = cast<IntegerAttr>((*perm)[dim]).getInt();
      else
        dim = in.getRank() - 1 - dim;
    } else if (!isa_and_nonnull<onnx::CastOp, onnx::IdentityOp>(op)) {
      return nullptr;
    }
    v = op->getOperand(0);
  }
  return nullptr;
}

/// The sort (an ascending TopK) whose order gathers the rows of `v`: a
/// Gather along axis 0 or a GatherND at indices computed from its indices
/// by casts, reshapes and divisions; null otherwise.
onnx::TopKOp sortOfRows(Value v) {
  Operation *op = v.getDefiningOp();
  Value idx;
  if (auto g = dyn_cast_or_null<onnx::GatherOp>(op); g && g.getAxis() == 0)
    idx = g.getIndices();
  else if (auto g = dyn_cast_or_null<onnx::GatherNDOp>(op))
    idx = g.getIndices();
  for (int i = 0; i < 8 && idx; ++i) {
    Operation *def = idx.getDefiningOp();
    if (auto t = dyn_cast_or_null<onnx::TopKOp>(def))
      return idx == t.getIndices() && t.getLargest() == 0 ? t : nullptr;
    if (!isa_and_nonnull<onnx::CastOp, onnx::IdentityOp, onnx::DivOp,
                         onnx::UnsqueezeOp, onnx::ReshapeOp>(def))
      return nullptr;
    idx = def->getOperand(0);
  }
  return nullptr;
}

struct WarnTraceSpecializedPass
    : moe::impl::WarnTraceSpecializedBase<WarnTraceSpecializedPass> {
  void runOnOperation() override {
    getOperation()->walk([](onnx::SplitOp split) {
      // Once per Split, however often the import pipeline runs.
      constexpr StringLiteral kWarned = "moe.trace_specialized";
      if (split->hasAttr(kWarned))
        return;
      auto type = rankedType(split.getInput());
      std::optional<SmallVector<int64_t>> sizes =
          onnx::getPartialInts(split.getSplit());
      if (!type || !sizes || llvm::is_contained(*sizes, ShapedType::kDynamic))
        return;
      int64_t axis = split.getAxis();
      if (axis < 0)
        axis += type.getRank();
      if (axis < 0 || axis >= type.getRank() || !type.isDynamicDim(axis))
        return;
      onnx::NonZeroOp nz = countSource(split.getInput(), axis);
      int64_t total = 0;
      for (int64_t s : *sizes)
        total += s;
      if (!nz && axis == 0 && sortOfRows(split.getInput())) {
        split->setAttr(kWarned, UnitAttr::get(split.getContext()));
        InFlightDiagnostic diag =
            split.emitWarning()
            << "the export is specialized to its tracing input: this Split "
               "cuts rows sorted by expert into the tracing input's "
               "per-expert counts [";
        llvm::interleaveComma(*sizes, diag);
        diag << "]; inputs routed differently compute wrong results, or "
                "fail at run time when their "
             << total
             << " rows differ (export with torch.onnx.export(dynamo=True), "
                "which keeps the counts computed)";
        return;
      }
      if (!nz)
        return;
      split->setAttr(kWarned, UnitAttr::get(split.getContext()));
      InFlightDiagnostic diag = split.emitWarning()
                                << "the export is specialized to its tracing "
                                   "input: this Split cuts a count known "
                                   "only at run time (the nonzeros of a "
                                   "NonZero) into fixed sizes adding up to "
                                << total
                                << "; inputs for which the count differs "
                                   "fail at run time";
      // A loop over the experts hit: NonZero(ReduceSum(mask) > 0).
      auto nzIn = rankedType(nz.getX());
      if (nzIn && nzIn.getRank() == 1 &&
          nz.getX().getDefiningOp<onnx::GreaterOp>())
        diag << " (a loop over the experts hit, unrolled for the " << total
             << " that the tracing input routed to; export the experts with "
                "_experts_implementation=\"batched_mm\" to keep them all)";
    });
  }
};
} // namespace
