//===- OutlineLongBlocks.cpp - Pieces of long straight-line code -> calls -===//
//
// A model function is one straight-line block of calls to its loop nests,
// allocations and frees: a block of tens of thousands of instructions for a
// model of thousands of layers. The register allocator's splitting within a
// block grows faster than linearly with the block's length (in PIC code
// more so), so such blocks dominate code generation (1,667 layers: 12 of
// 15 s). Cutting them into pieces of bounded length, each outlined into a
// function called in its place, keeps code generation linear; the call per
// piece costs nothing next to the loop nests it calls. Blocks inside loops
// (unrolled kernels) are left alone.
//
//===----------------------------------------------------------------------===//

#include "OutlineLongBlocks.h"

#include "llvm/Analysis/LoopInfo.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/Transforms/Utils/CodeExtractor.h"

using namespace llvm;

namespace {
/// Whether moving `block` into a function of its own keeps its meaning:
/// no stack allocation or stack save/restore whose lifetime would end with
/// the new function's frame.
bool movable(BasicBlock &block) {
  for (Instruction &inst : block) {
    if (isa<AllocaInst>(inst))
      return false;
    if (auto *intrinsic = dyn_cast<IntrinsicInst>(&inst))
      if (intrinsic->getIntrinsicID() == Intrinsic::stacksave ||
          intrinsic->getIntrinsicID() == Intrinsic::stackrestore)
        return false;
  }
  return true;
}

/// Cuts `block` into pieces of at most `size` instructions, after its phis
/// and leading allocas (which must stay where they are: static allocas live
/// in the entry block) and before its terminator; returns the pieces.
SmallVector<BasicBlock *> cut(BasicBlock *block, unsigned size) {
  auto it = block->getFirstNonPHIIt();
  while (it != block->end() && isa<AllocaInst>(*it))
    ++it;
  size_t left = std::distance(it, block->end()) - 1;
  BasicBlock *rest = block->splitBasicBlock(it);
  SmallVector<BasicBlock *> pieces;
  while (left > size) {
    BasicBlock *next = rest->splitBasicBlock(std::next(rest->begin(), size));
    pieces.push_back(rest);
    rest = next;
    left -= size;
  }
  rest->splitBasicBlock(rest->getTerminator());
  pieces.push_back(rest);
  return pieces;
}
} // namespace

unsigned mlir::moe::detail::outlineLongBlocks(Module &module,
                                              unsigned maxInstructions) {
  unsigned created = 0;
  SmallVector<Function *> functions;
  for (Function &fn : module)
    if (!fn.isDeclaration() && !fn.callsFunctionThatReturnsTwice())
      functions.push_back(&fn);
  for (Function *fn : functions) {
    SmallVector<BasicBlock *> longBlocks;
    for (BasicBlock &block : *fn)
      if (block.size() > 2 * maxInstructions)
        longBlocks.push_back(&block);
    if (longBlocks.empty())
      continue;
    DominatorTree dominators(*fn);
    LoopInfo loops(dominators);
    SmallVector<BasicBlock *> pieces;
    for (BasicBlock *block : longBlocks)
      if (!loops.getLoopFor(block))
        pieces.append(cut(block, maxInstructions));
    if (pieces.empty())
      continue;
    // One analysis of the function serves every extraction (which keeps it
    // valid).
    CodeExtractorAnalysisCache cache(*fn);
    for (BasicBlock *piece : pieces) {
      if (!movable(*piece))
        continue;
      SmallVector<BasicBlock *, 1> region = {piece};
      CodeExtractor extractor(region);
      if (!extractor.isEligible())
        continue;
      if (Function *outlined = extractor.extractCodeRegion(cache)) {
        outlined->addFnAttr(Attribute::NoInline);
        ++created;
      }
    }
  }
  return created;
}
