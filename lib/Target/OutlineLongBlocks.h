//===- OutlineLongBlocks.h - Pieces of long straight-line code -> calls
//----===//
#ifndef MOE_LIB_TARGET_OUTLINELONGBLOCKS_H
#define MOE_LIB_TARGET_OUTLINELONGBLOCKS_H

namespace llvm {
class Module;
} // namespace llvm

namespace mlir::moe::detail {
/// Moves pieces of `maxInstructions` instructions of every longer block
/// outside loops into functions of their own, called in their place.
/// Returns the number of functions created.
unsigned outlineLongBlocks(llvm::Module &module, unsigned maxInstructions);
} // namespace mlir::moe::detail

#endif // MOE_LIB_TARGET_OUTLINELONGBLOCKS_H
