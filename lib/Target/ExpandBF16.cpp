//===- ExpandBF16.cpp - bf16 arithmetic for targets without AVX512-BF16 ---===//
//
// The bf16 expert GEMM sums 32 products per vdpbf16ps whenever the model
// is bf16, whatever the target; the choice of instruction is made here, at
// code generation, where the target CPU is known. For a CPU without
// AVX512-BF16 (--cpu=x86-64, haswell, skylake-avx512) each call becomes the
// same arithmetic in portable vector code: both operands widened to f32
// (exact), then per lane acc + a[2l+1] * b[2l+1], then + a[2l] * b[2l], as
// the instruction orders them. A bf16 product is exact in f32, so a fused
// multiply-add rounds like the instruction's addition (denormal inputs
// aside, which it flushes).
//
// Such targets also have no f32 -> bf16 conversion: LLVM calls
// __truncsfbf2, which libgcc before GCC 13 lacks, so a library would not
// load. The truncations become integer code: round to nearest even on the
// bit pattern, NaNs kept quiet.
//
//===----------------------------------------------------------------------===//

#include "ExpandBF16.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace {
unsigned expandDots(Module &module) {
  Function *dot = module.getFunction("llvm.x86.avx512bf16.dpbf16ps.512");
  if (!dot)
    return 0;
  SmallVector<CallInst *> calls;
  for (User *user : dot->users())
    if (auto *call = dyn_cast<CallInst>(user);
        call && call->getCalledFunction() == dot)
      calls.push_back(call);
  for (CallInst *call : calls) {
    IRBuilder<> b(call);
    Value *acc = call->getArgOperand(0);
    auto *accType = cast<FixedVectorType>(acc->getType());
    unsigned lanes = accType->getNumElements();
    auto *wide = FixedVectorType::get(b.getFloatTy(), 2 * lanes);
    Value *x = b.CreateFPExt(call->getArgOperand(1), wide);
    Value *y = b.CreateFPExt(call->getArgOperand(2), wide);
    SmallVector<int> even, odd;
    for (unsigned l = 0; l < lanes; ++l) {
      even.push_back(2 * l);
      odd.push_back(2 * l + 1);
    }
    Value *sum = acc;
    for (ArrayRef<int> pick : {ArrayRef<int>(odd), ArrayRef<int>(even)})
      sum = b.CreateIntrinsic(Intrinsic::fma, {accType},
                              {b.CreateShuffleVector(x, pick),
                               b.CreateShuffleVector(y, pick), sum});
    call->replaceAllUsesWith(sum);
    call->eraseFromParent();
  }
  if (dot->use_empty())
    dot->eraseFromParent();
  return calls.size();
}

/// `type` with its (scalar or vector) element replaced by `elt`.
Type *withElement(Type *type, Type *elt) {
  if (auto *v = dyn_cast<VectorType>(type))
    return VectorType::get(elt, v);
  return elt;
}

unsigned expandTruncations(Module &module) {
  SmallVector<FPTruncInst *> truncs;
  for (Function &fn : module)
    for (Instruction &inst : instructions(fn))
      if (auto *t = dyn_cast<FPTruncInst>(&inst);
          t && t->getDestTy()->getScalarType()->isBFloatTy() &&
          t->getSrcTy()->getScalarType()->isFloatTy())
        truncs.push_back(t);
  for (FPTruncInst *t : truncs) {
    IRBuilder<> b(t);
    Type *i32 = withElement(t->getSrcTy(), b.getInt32Ty());
    auto c = [&](uint32_t v) { return ConstantInt::get(i32, v); };
    Value *bits = b.CreateBitCast(t->getOperand(0), i32);
    // Nearest even: add 0x7fff plus the lowest kept bit, keep the top half.
    Value *lsb = b.CreateAnd(b.CreateLShr(bits, c(16)), c(1));
    Value *rounded =
        b.CreateLShr(b.CreateAdd(b.CreateAdd(bits, c(0x7fff)), lsb), c(16));
    Value *isNaN =
        b.CreateICmpUGT(b.CreateAnd(bits, c(0x7fffffff)), c(0x7f800000));
    Value *quiet = b.CreateOr(b.CreateLShr(bits, c(16)), c(0x40));
    Value *half = b.CreateTrunc(b.CreateSelect(isNaN, quiet, rounded),
                                withElement(t->getSrcTy(), b.getInt16Ty()));
    t->replaceAllUsesWith(b.CreateBitCast(half, t->getDestTy()));
    t->eraseFromParent();
  }
  return truncs.size();
}
} // namespace

unsigned mlir::moe::detail::expandBF16(Module &module) {
  return expandDots(module) + expandTruncations(module);
}
