/*===- staging.c - synchronous calls through the asynchronous entry ------===*
 *
 * A synchronous call (<function>_run, host tensors) of a model with an
 * asynchronous variant runs that variant: the inputs are copied into
 * device buffers, the call is queued on the thread's stream, the outputs
 * are copied back, and the host waits once. Each entry function keeps its
 * device buffers between calls (one per tensor, grown when a call needs
 * more), so a warmed-up call allocates nothing and its buffers have the
 * same addresses as the last call's: calls with the same shapes replay
 * one CUDA graph (graphs.c), as asynchronous calls do. The checks kernels
 * make report to the call's own status, not to moe_cuda_async_status.
 *
 *===---------------------------------------------------------------------===*/

#include "async.h"
#include "driver.h"
#include "pool.h"
#include "moe/Runtime/CUDA.h"
#include "moe/Runtime/Errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* gpu.c: the thread's stream (outside an asynchronous call). */
void *mgpuStreamCreate(void);
void mgpuStreamSynchronize(void *stream);

typedef struct {
  void *buffer;
  size_t capacity;
} staged_tensor;

typedef struct staging {
  staged_tensor *tensors;
  size_t num_tensors;
  moe_cuda_call_status status;
  int busy; /* a call is using the buffers (between begin and end) */
  struct staging *next;
} staging;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static staging *all;

/* The entry function's staging, made on its first call. */
static staging *get(void **handle) {
  pthread_mutex_lock(&lock);
  staging *s = *handle;
  if (!s && (s = calloc(1, sizeof(staging)))) {
    s->next = all;
    all = s;
    *handle = s;
  }
  pthread_mutex_unlock(&lock);
  if (!s)
    moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY,
                          "out of memory for a call's staging buffers");
  return s;
}

void *moe_cuda_stage_begin(void **handle) {
  staging *s = get(handle);
  pthread_mutex_lock(&lock);
  s->busy = 1;
  pthread_mutex_unlock(&lock);
  s->status.failed = 0;
  s->status.message[0] = 0;
  moe_cuda_async_report_to(&s->status);
  return mgpuStreamCreate();
}

/* Device memory of `bytes` for tensor `index` of the call; NULL for none. */
static void *buffer(void **handle, int32_t index, size_t bytes) {
  staging *s = get(handle);
  if (!bytes)
    return NULL;
  size_t needed = (size_t)index + 1;
  if (needed > s->num_tensors) {
    staged_tensor *more = realloc(s->tensors, needed * sizeof(staged_tensor));
    if (!more)
      moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY,
                            "out of memory for a call's staging buffers");
    for (size_t i = s->num_tensors; i < needed; ++i)
      more[i] = (staged_tensor){NULL, 0};
    s->tensors = more;
    s->num_tensors = needed;
  }
  staged_tensor *t = &s->tensors[index];
  if (t->capacity >= bytes)
    return t->buffer;
  /* From the cache, which handles running out of device memory; the
   * buffer it replaces may still be read by work queued on the stream. */
  void *stream = mgpuStreamCreate();
  void *grown = moe_cuda_pool_take(bytes, MOE_CUDA_POOL_DEVICE, stream);
  moe_cuda_pool_give_queued(t->buffer, stream);
  t->buffer = grown;
  t->capacity = bytes;
  return t->buffer;
}

void *moe_cuda_stage_in(void **handle, int32_t index, const void *host,
                        size_t bytes) {
  void *device = buffer(handle, index, bytes);
  if (bytes)
    moe_cuda_check(moe_cuda_driver_or_fail()->cuMemcpyHtoDAsync(
                       (CUdeviceptr)(uintptr_t)device, host, bytes,
                       (CUstream)mgpuStreamCreate()),
                   "copying an input to the device (cuMemcpyHtoDAsync)");
  return device;
}

void *moe_cuda_stage_buffer(void **handle, int32_t index, size_t bytes) {
  return buffer(handle, index, bytes);
}

void moe_cuda_stage_out(void *host, const void *device, size_t bytes) {
  if (bytes)
    moe_cuda_check(moe_cuda_driver_or_fail()->cuMemcpyDtoHAsync(
                       host, (CUdeviceptr)(uintptr_t)device, bytes,
                       (CUstream)mgpuStreamCreate()),
                   "copying an output to the host (cuMemcpyDtoHAsync)");
}

static void done(staging *s) {
  moe_cuda_async_report_to(NULL);
  pthread_mutex_lock(&lock);
  s->busy = 0;
  pthread_mutex_unlock(&lock);
}

int moe_cuda_stage_end(void **handle, char *error, size_t error_size) {
  staging *s = *handle;
  mgpuStreamSynchronize(mgpuStreamCreate());
  done(s);
  if (!s->status.failed)
    return 0;
  if (error && error_size)
    snprintf(error, error_size, "%s", s->status.message);
  return 1;
}

void moe_cuda_stage_abort(void **handle) {
  if (*handle)
    done(*handle);
  else
    moe_cuda_async_report_to(NULL);
}

void moe_cuda_stage_release(void) {
  pthread_mutex_lock(&lock);
  /* A call under way keeps its buffers; the others go back to the cache
   * (every call waited for its stream before it returned). */
  for (staging *s = all; s; s = s->next)
    for (size_t i = 0; i < s->num_tensors && !s->busy; ++i) {
      moe_cuda_pool_give(s->tensors[i].buffer);
      s->tensors[i] = (staged_tensor){NULL, 0};
    }
  pthread_mutex_unlock(&lock);
}
