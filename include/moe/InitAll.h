//===- InitAll.h - register everything the moe compiler uses ----*- C++ -*-===//

#ifndef MOE_INITALL_H
#define MOE_INITALL_H

namespace mlir {
class DialectRegistry;
namespace moe {

/// Our dialects, the upstream dialects the pipelines use, their interface
/// extensions and the LLVM IR translations (needed to serialize GPU modules).
void registerAllDialects(DialectRegistry &registry);

/// Our passes and pipelines plus every upstream pass, so that moe-opt can run
/// any pipeline step on its own.
void registerAllPasses();

} // namespace moe
} // namespace mlir

#endif // MOE_INITALL_H
