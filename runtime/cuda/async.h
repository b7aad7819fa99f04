/*===- async.h - calls queued on the caller's stream ---------------------===*
 *
 * Private to runtime/cuda: what gpu.c, graphs.c and staging.c ask of an
 * asynchronous call (moe_cuda_async_begin ... end, async.c).
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

/* Where the failed checks of the calling thread's calls go: NULL for
 * moe_cuda_async_status (the caller's stream), else the status of a
 * synchronous call queued through the asynchronous entry (staging.c),
 * which waits for its stream and reads it. */
typedef struct moe_cuda_call_status {
  int failed;
  char message[512];
} moe_cuda_call_status;
void moe_cuda_async_report_to(moe_cuda_call_status *status);
moe_cuda_call_status *moe_cuda_async_reporting_to(void);

/* staging.c: gives the entry functions' device buffers back. */
void moe_cuda_stage_release(void);

#endif
