//===- Npy.h - NumPy .npy files as moe_tensor --------------------*- C++
//-*-===//

#ifndef MOE_TOOLS_MOE_RUN_NPY_H
#define MOE_TOOLS_MOE_RUN_NPY_H

#include "moe/Runtime/ModelABI.h"

#include <string>
#include <vector>

namespace moe_run {

/// A tensor read from or written to a .npy file; owns its bytes.
struct NpyTensor {
  moe_dtype dtype = MOE_DTYPE_F32;
  std::vector<int64_t> shape;
  std::vector<char> data;
};

/// Reads a little-endian, C-ordered .npy file of f4, f2, i4, i8 or b1.
/// 2-byte integers (u2/i2) are read as raw bfloat16 when `want` is BF16.
/// Returns false with a message naming the problem.
bool readNpy(const std::string &path, moe_dtype want, NpyTensor &out,
             std::string &error);

/// Writes `t` (bfloat16 as raw u2). Returns false with a message.
bool writeNpy(const std::string &path, const moe_tensor &t, std::string &error);

size_t dtypeBytes(moe_dtype t);
const char *dtypeName(moe_dtype t);

} // namespace moe_run

#endif // MOE_TOOLS_MOE_RUN_NPY_H
