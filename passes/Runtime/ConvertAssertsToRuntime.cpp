//===- ConvertAssertsToRuntime.cpp - cf.assert -> moe_runtime_fail
//---------------===//
//
// Generated code checks what it cannot prove (expert ids in range, sizes
// that must agree at run time) with cf.assert. A model must report such a
// failure to its caller, not abort the caller's process: the check's
// failure branch calls the runtime, which unwinds to the entry point.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Runtime.h"
#include "moe/Runtime/Symbols.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTASSERTSTORUNTIME
#include "passes/Runtime/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

struct ConvertAssertsToRuntimePass
    : moe::impl::ConvertAssertsToRuntimeBase<ConvertAssertsToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<cf::AssertOp> asserts;
    module.walk([&](cf::AssertOp op) { asserts.push_back(op); });
    if (asserts.empty())
      return;

    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    FailureOr<LLVM::LLVMFuncOp> fail =
        LLVM::lookupOrCreateFn(rewriter, module, moe::runtime::kFail, {ptrType},
                               LLVM::LLVMVoidType::get(ctx));
    if (failed(fail))
      return signalPassFailure();
    unsigned counter = 0;
    for (cf::AssertOp op : asserts) {
      Location loc = op.getLoc();
      Block *before = op->getBlock();
      Block *after = rewriter.splitBlock(before, std::next(op->getIterator()));
      Block *failBlock = rewriter.createBlock(after);
      rewriter.setInsertionPointToStart(failBlock);
      std::string message = op.getMsg().str();
      message.push_back('\0');
      Value text = LLVM::createGlobalString(
          loc, rewriter, ("moe_check_msg_" + Twine(counter++)).str(), message,
          LLVM::Linkage::Internal);
      LLVM::CallOp::create(rewriter, loc, *fail, ValueRange{text});
      LLVM::UnreachableOp::create(rewriter, loc);
      rewriter.setInsertionPoint(op);
      cf::CondBranchOp::create(rewriter, loc, op.getArg(), after, failBlock);
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
