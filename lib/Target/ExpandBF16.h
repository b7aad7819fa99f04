//===- ExpandBF16.h - bf16 arithmetic for targets without AVX512-BF16 -----===//
#ifndef MOE_LIB_TARGET_EXPANDBF16_H
#define MOE_LIB_TARGET_EXPANDBF16_H

namespace llvm {
class Module;
} // namespace llvm

namespace mlir::moe::detail {
/// For a target without AVX512-BF16: replaces every call of
/// llvm.x86.avx512bf16.dpbf16ps.512 in `module` with the same sums in
/// plain vector code, and every f32 -> bf16 truncation with integer
/// rounding (which LLVM would otherwise leave to a __truncsfbf2 call that
/// the C runtime may not have). Returns the number of instructions
/// replaced.
unsigned expandBF16(llvm::Module &module);
} // namespace mlir::moe::detail

#endif // MOE_LIB_TARGET_EXPANDBF16_H
