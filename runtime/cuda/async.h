/*===- async.h - calls queued on the caller's stream ---------------------===*
 *
 * Private to runtime/cuda: what gpu.c asks of an asynchronous call
 * (moe_cuda_async_begin ... end, async.c).
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDA_ASYNC_H
#define MOE_RUNTIME_CUDA_ASYNC_H

#include "driver.h"

/* 1 with the caller's stream inside an asynchronous call, else 0. */
int moe_cuda_async_stream(CUstream *stream);

/* Inside an asynchronous call, takes unified buffer `ptr` to give back
 * once the stream has run the call's work, and returns 1; else 0. */
int moe_cuda_async_defer_free(void *ptr);

#endif
