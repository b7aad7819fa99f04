//===- DefineDotIntrinsics.cpp - dot-product declarations' bodies ---------===//
//
// The quantized int8 GEMM (vpdpbusd) and the bf16 GEMM (vdpbf16ps) call
// their dot-product instruction through private declarations (see
// passes/Utils/TiledContraction.h); past bufferization each becomes a
// function of one intrinsic call, which LLVM inlines.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"
#include "Utils/TiledContraction.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUDEFINEDOTINTRINSICS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct CPUDefineDotIntrinsicsPass
    : moe::impl::CPUDefineDotIntrinsicsBase<CPUDefineDotIntrinsicsPass> {
  void runOnOperation() override {
    for (const moe::DotIntrinsic &dot : {moe::kInt8DotVNNI, moe::kBF16Dot}) {
      auto fn = getOperation().lookupSymbol<func::FuncOp>(dot.function);
      if (!fn || !fn.isExternal())
        continue;
      FunctionType type = fn.getFunctionType();
      if (type.getNumInputs() != 3 || type.getNumResults() != 1 ||
          type.getInput(0) != type.getResult(0)) {
        fn.emitError() << "'" << dot.function
                       << "' must take an accumulator and 2 vectors and "
                          "return the accumulator";
        return signalPassFailure();
      }
      Block *body = fn.addEntryBlock();
      OpBuilder b = OpBuilder::atBlockBegin(body);
      Value sum = LLVM::CallIntrinsicOp::create(
                      b, fn.getLoc(), type.getResult(0),
                      b.getStringAttr(dot.intrinsic), body->getArguments())
                      .getResult(0);
      func::ReturnOp::create(b, fn.getLoc(), sum);
      fn->removeAttr("llvm.emit_c_interface");
      fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(
                                      &getContext(), LLVM::Linkage::Internal));
    }
  }
};
} // namespace
