/*===- pool.h - device buffers kept for reuse ----------------------------===*
 *
 * Private to runtime/cuda: the cache behind every device buffer of a model
 * call (pool.c says why and how).
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDA_POOL_H
#define MOE_RUNTIME_CUDA_POOL_H

#include <stddef.h>

/* What a buffer is: unified memory, which the host may touch too, or
 * device memory, which only kernels and the copy engine touch. */
enum { MOE_CUDA_POOL_MANAGED = 0, MOE_CUDA_POOL_DEVICE = 1 };

/* A buffer of at least `bytes` (256-byte aligned) of `kind`: a cached one
 * of its size class, or a new one from the driver. Running out of device
 * memory fails through moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY). */
void *moe_cuda_pool_take(size_t bytes, int kind);

/* `ptr` (from moe_cuda_pool_take) back to the cache. */
void moe_cuda_pool_give(void *ptr);

/* Every cached buffer back to the driver. */
void moe_cuda_pool_trim(void);

#endif
