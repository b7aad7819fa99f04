/*===- ModelABI.h - the C ABI of compiled models -------------------------===*
 *
 * Types of the entry points that `moe-opt --emit=shared` generates
 * (`moe_model_get_info`, `moe_model_run`, and `<function>_info` /
 * `<function>_run` per entry function, listed by `moe_model_num_functions`
 * and `moe_model_function_info`; CUDA models also `<function>_run_async`
 * on device buffers); `--emit=header` writes them with the model's
 * declarations. Plain C, usable from C and C++.
 *
 *===---------------------------------------------------------------------===*/

#include <stddef.h>
#include <stdint.h>

#ifndef MOE_MODEL_ABI_V1
#define MOE_MODEL_ABI_V1
#define MOE_MAX_RANK 8

/* Element types of model inputs and outputs. */
typedef enum moe_dtype {
  MOE_DTYPE_F32 = 0,
  MOE_DTYPE_F16 = 1,  /* IEEE half, stored as 2 bytes */
  MOE_DTYPE_BF16 = 2, /* bfloat16, stored as 2 bytes */
  MOE_DTYPE_I32 = 3,
  MOE_DTYPE_I64 = 4,
  MOE_DTYPE_BOOL = 5, /* one byte per element, 0 or 1 */
  MOE_DTYPE_I8 = 6,
  MOE_DTYPE_I16 = 7
} moe_dtype;

/* A dense row-major tensor. */
typedef struct moe_tensor {
  void *data;
  moe_dtype dtype;
  int32_t rank;
  int64_t shape[MOE_MAX_RANK];
} moe_tensor;

/* What an entry point expects or produces: a size of -1 is dynamic; dynamic
 * sizes with the same non-empty `dims` name must be equal at run time. */
typedef struct moe_tensor_info {
  const char *name;
  moe_dtype dtype;
  int32_t rank;
  int64_t shape[MOE_MAX_RANK];
  const char *dims[MOE_MAX_RANK];
} moe_tensor_info;

typedef struct moe_model_info {
  const char *name;
  int32_t num_inputs;
  int32_t num_outputs;
  const moe_tensor_info *inputs;
  const moe_tensor_info *outputs;
} moe_model_info;

/* Status codes of the run functions. */
enum {
  MOE_OK = 0,
  MOE_ERROR_INVALID_ARGUMENT = 1, /* inputs do not match the model */
  MOE_ERROR_OUT_OF_MEMORY = 2,
  MOE_ERROR_RUNTIME = 3, /* a run-time check of the model failed (e.g. an
                            expert id out of range) */
  MOE_ERROR_DEVICE = 4,  /* the model's device cannot be used (no GPU, no
                            driver) */
  MOE_ERROR_WEIGHTS = 5, /* the weights file is missing, truncated, or from
                            another compile of the model */
  MOE_ERROR_UNSUPPORTED = 6 /* the entry point cannot run this model (the
                               error message says why) */
};
#endif
