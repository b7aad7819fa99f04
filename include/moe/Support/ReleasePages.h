//===- ReleasePages.h - hand pages of read-once data back -------*- C++ -*-===//
//
// Weights are read once to be written or relaid out; asking the kernel to
// reclaim their pages afterwards keeps the compiler's memory from growing
// with the weights.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SUPPORT_RELEASEPAGES_H
#define MOE_SUPPORT_RELEASEPAGES_H

#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Process.h"

#include <cstddef>
#include <cstdint>
#include <sys/mman.h>

namespace mlir::moe {

/// Asks the kernel to reclaim the whole pages inside [data, data + size)
/// (MADV_PAGEOUT). Non-destructive for any memory: contents are kept, dirty
/// file pages are written back first, and without swap heap pages stay.
inline void releasePages(const void *data, size_t size) {
#ifdef MADV_PAGEOUT
  uint64_t page = llvm::sys::Process::getPageSizeEstimate();
  uintptr_t begin = llvm::alignTo(reinterpret_cast<uintptr_t>(data), page);
  uintptr_t end =
      llvm::alignDown(reinterpret_cast<uintptr_t>(data) + size, page);
  if (end > begin)
    (void)::madvise(reinterpret_cast<void *>(begin), end - begin,
                    MADV_PAGEOUT);
#endif
}

} // namespace mlir::moe

#endif // MOE_SUPPORT_RELEASEPAGES_H
