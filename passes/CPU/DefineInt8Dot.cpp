//===- DefineInt8Dot.cpp - the VNNI dot product's body --------------------===//
//
// The int8 quantized GEMM calls vpdpbusd through a private declaration
// (see passes/Utils/Int8Contraction.cpp); past bufferization it becomes a
// function of one intrinsic call.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"
#include "Utils/TiledContraction.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUDEFINEINT8DOT
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
constexpr StringLiteral kName = moe::kInt8DotVNNI;

struct CPUDefineInt8DotPass
    : moe::impl::CPUDefineInt8DotBase<CPUDefineInt8DotPass> {
  void runOnOperation() override {
    auto fn = getOperation().lookupSymbol<func::FuncOp>(kName);
    if (!fn || !fn.isExternal())
      return;
    FunctionType type = fn.getFunctionType();
    if (type.getNumInputs() != 3 || type.getNumResults() != 1) {
      fn.emitError() << "'" << kName << "' must take 3 vectors and return 1";
      return signalPassFailure();
    }
    Block *body = fn.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(body);
    Value sum = LLVM::CallIntrinsicOp::create(
                    b, fn.getLoc(), type.getResult(0),
                    b.getStringAttr("llvm.x86.avx512.vpdpbusd.512"),
                    body->getArguments())
                    .getResult(0);
    func::ReturnOp::create(b, fn.getLoc(), sum);
    fn->removeAttr("llvm.emit_c_interface");
    fn->setAttr("llvm.linkage",
                LLVM::LinkageAttr::get(&getContext(), LLVM::Linkage::Internal));
  }
};
} // namespace
