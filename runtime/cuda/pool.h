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

/* A buffer of at least `bytes` (256-byte aligned) of `kind` for work
 * queued on `stream`: a cached one of its size class that the stream may
 * use, or a new one from the driver. Running out of device memory fails
 * through moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY). */
void *moe_cuda_pool_take(size_t bytes, int kind, void *stream);

/* `ptr` (from moe_cuda_pool_take) back to the cache: no queued work uses
 * it; queued work on `stream` may still use it (a device buffer); or from
 * a stream's host function, where no driver call may be made. */
void moe_cuda_pool_give(void *ptr);
void moe_cuda_pool_give_queued(void *ptr, void *stream);
void moe_cuda_pool_give_from_host_function(void *ptr);

/* The kind of a buffer of the cache, or -1. */
int moe_cuda_pool_kind(void *ptr);

/* The host has waited for `stream`, or for the whole device: its buffers
 * are free for any stream. */
void moe_cuda_pool_waited(void *stream);
void moe_cuda_pool_device_waited(void);

/* Every cached buffer back to the driver. */
void moe_cuda_pool_trim(void);

#endif
