/*===- gpu.c - what generated CUDA host code calls -----------------------===*
 *
 * The upstream GPU-to-LLVM lowering emits calls to mgpu* functions (module
 * load, kernel launch, streams, stream-ordered buffers); the MemRef
 * lowering with generic allocation functions emits
 * _mlir_memref_to_llvm_alloc/free. They are implemented here on the
 * dynamically loaded driver:
 *
 * - Modules are loaded lazily: mgpuModuleLoad runs in a global constructor
 *   when the model library is loaded, possibly on a machine without a GPU,
 *   so it only records the image; the first kernel lookup, inside a model
 *   call, loads it and can fail with an error status. Each kernel is looked
 *   up once; later launches find it in the module's table.
 * - A call's work goes to one stream per thread, in order, or to the
 *   caller's stream (<function>_run_async, async.c); the host waits where
 *   the generated code says (moe-gpu-stream-allocations).
 * - Buffers the host touches (inputs, outputs, check flags, what host code
 *   of the model reads) are unified memory; intermediates only kernels and
 *   the copy engine touch are device memory. Both come from a cache
 *   (pool.c), not from the driver each call.
 * - Constant globals (weights) are copied to device memory once per
 *   process.
 *
 *===---------------------------------------------------------------------===*/

#include "async.h"
#include "driver.h"
#include "graphs.h"
#include "pool.h"
#include "moe/Runtime/Allocation.h"
#include "moe/Runtime/CUDA.h"
#include "moe/Runtime/Errors.h"
#include "moe/Runtime/GPUImage.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kernels found so far, by the name the generated code passes (a constant
 * string of the model library: compared by address first). */
typedef struct moe_gpu_kernel {
  const char *name;
  CUfunction function;
  struct moe_gpu_kernel *next;
} moe_gpu_kernel;

typedef struct moe_gpu_module {
  const void *image;
  size_t size;
  CUmodule module;
  moe_gpu_kernel *kernels;
} moe_gpu_module;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Kernels whose dynamic shared memory limit was raised, and to what: the
 * attribute is set once per kernel and size, not before every launch. */
typedef struct {
  CUfunction function;
  int32_t bytes;
} raised_limit;
enum { MAX_RAISED = 64 };
static raised_limit raised[MAX_RAISED];
static int num_raised;

/* With the lock held: the kernel's entry, or NULL. */
static raised_limit *raised_entry(CUfunction f) {
  for (int i = 0; i < num_raised; ++i)
    if (raised[i].function == f)
      return &raised[i];
  return NULL;
}

static void allow_shared(const moe_cuda_driver *d, CUfunction f,
                         int32_t bytes) {
  pthread_mutex_lock(&lock);
  raised_limit *r = raised_entry(f);
  int known = r && r->bytes >= bytes;
  pthread_mutex_unlock(&lock);
  if (known)
    return;
  moe_cuda_check(d->cuFuncSetAttribute(f, 8 /* max dynamic shared size */,
                                       bytes),
                 "raising a kernel's shared memory limit");
  pthread_mutex_lock(&lock);
  if ((r = raised_entry(f)) && r->bytes < bytes)
    r->bytes = bytes;
  else if (!r && num_raised < MAX_RAISED)
    raised[num_raised++] = (raised_limit){f, bytes};
  pthread_mutex_unlock(&lock);
}

void *mgpuModuleLoad(void *image, size_t size) {
  moe_gpu_module *m = calloc(1, sizeof(moe_gpu_module));
  if (m) {
    m->image = image;
    m->size = size;
  }
  return m;
}

void mgpuModuleUnload(void *handle) {
  moe_gpu_module *m = handle;
  if (!m)
    return;
  /* Graphs launch the module's kernels; a later module's kernels may have
   * their handles. */
  moe_cuda_graph_release();
  pthread_mutex_lock(&lock);
  num_raised = 0;
  pthread_mutex_unlock(&lock);
  const moe_cuda_driver *d = m->module ? moe_cuda_driver_get() : NULL;
  if (d)
    d->cuModuleUnload(m->module);
  while (m->kernels) {
    moe_gpu_kernel *next = m->kernels->next;
    free(m->kernels);
    m->kernels = next;
  }
  free(m);
}

void *mgpuModuleGetFunction(void *handle, const char *name) {
  moe_gpu_module *m = handle;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (!m)
    moe_runtime_fail("out of memory for a CUDA module");
  pthread_mutex_lock(&lock);
  for (moe_gpu_kernel *k = m->kernels; k; k = k->next)
    if (k->name == name || !strcmp(k->name, name)) {
      pthread_mutex_unlock(&lock);
      return k->function;
    }
  pthread_mutex_unlock(&lock);
  /* A container (GPUImage.h) holds a fat binary for the driver and a host
   * build of the kernels for the emulator, which takes the container. */
  const void *image = m->image;
  moe_gpu_image_header header;
  if (m->size >= sizeof(header)) {
    memcpy(&header, m->image, sizeof(header));
    if (!memcmp(header.magic, MOE_GPU_IMAGE_MAGIC, sizeof(header.magic)) &&
        !d->is_emulator)
      image = (const char *)m->image + header.fatbin_offset;
  }
  pthread_mutex_lock(&lock);
  CUresult r = 0;
  if (!m->module)
    r = d->cuModuleLoadData(&m->module, image);
  pthread_mutex_unlock(&lock);
  moe_cuda_check(r, "loading the model's kernels (cuModuleLoadData)");
  CUfunction f = NULL;
  char what[256];
  snprintf(what, sizeof(what), "finding kernel '%s'", name);
  moe_cuda_check(d->cuModuleGetFunction(&f, m->module, name), what);
  moe_gpu_kernel *k = malloc(sizeof(moe_gpu_kernel));
  if (k) { /* Without room to remember it, the next launch looks again. */
    k->name = name;
    k->function = f;
    pthread_mutex_lock(&lock);
    k->next = m->kernels;
    m->kernels = k;
    pthread_mutex_unlock(&lock);
  }
  return f;
}

/* One stream per thread, reused: the lowering creates and destroys one per
 * launch. Inside an asynchronous call, the caller's stream instead. */
static __thread CUstream thread_stream;

void *mgpuStreamCreate(void) {
  CUstream caller;
  if (moe_cuda_async_stream(&caller))
    return caller;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (!thread_stream)
    moe_cuda_check(d->cuStreamCreate(&thread_stream, 0), "cuStreamCreate");
  return thread_stream;
}

void mgpuStreamDestroy(void *stream) { (void)stream; }

void moe_cuda_drain(void) {
  const moe_cuda_driver *d = moe_cuda_driver_get();
  CUstream stream = thread_stream;
  int caller = moe_cuda_async_stream(&stream);
  if (d && (caller || stream) && d->cuStreamSynchronize(stream) == 0)
    moe_cuda_pool_waited(stream);
}

void mgpuStreamSynchronize(void *stream) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  moe_cuda_check(d->cuStreamSynchronize((CUstream)stream),
                 "running a kernel (cuStreamSynchronize)");
  moe_cuda_pool_waited(stream);
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount) {
  (void)paramsCount;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  /* An empty grid (no tokens) launches nothing. */
  if (gridX <= 0 || gridY <= 0 || gridZ <= 0)
    return;
  if (gridX > 0x7fffffff || gridY > 65535 || gridZ > 65535)
    moe_runtime_fail("a kernel grid exceeds the device limits (too many "
                     "tokens for one launch)");
  if (smem > 48 * 1024)
    allow_shared(d, (CUfunction)function, smem);
  moe_cuda_check(d->cuLaunchKernel((CUfunction)function, (unsigned)gridX,
                                   (unsigned)gridY, (unsigned)gridZ,
                                   (unsigned)blockX, (unsigned)blockY,
                                   (unsigned)blockZ, (unsigned)smem,
                                   (CUstream)stream, params, extra),
                 "launching a kernel (cuLaunchKernel)");
}

/* Fills and copies of whole buffers (gpu.memset / gpu.memcpy): the copy
 * engine's work, ordered on the stream with the kernels, not a launch. */
void mgpuMemset32(void *dst, int32_t value, size_t count, void *stream) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (count == 0)
    return;
  moe_cuda_check(d->cuMemsetD32Async((CUdeviceptr)(uintptr_t)dst,
                                     (unsigned)value, count, (CUstream)stream),
                 "filling a buffer (cuMemsetD32Async)");
}

void mgpuMemset16(void *dst, int16_t value, size_t count, void *stream) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (count == 0)
    return;
  moe_cuda_check(d->cuMemsetD16Async((CUdeviceptr)(uintptr_t)dst,
                                     (unsigned short)value, count,
                                     (CUstream)stream),
                 "filling a buffer (cuMemsetD16Async)");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (bytes == 0)
    return;
  moe_cuda_check(d->cuMemcpyAsync((CUdeviceptr)(uintptr_t)dst,
                                  (CUdeviceptr)(uintptr_t)src, bytes,
                                  (CUstream)stream),
                 "copying a buffer (cuMemcpyAsync)");
}

/* A call's buffers come from the cache and are remembered like a CPU
 * model's (Allocation.h), so a call that fails part-way gives them all
 * back. */
static void *take(size_t bytes, int kind, void *stream) {
  void *p = moe_cuda_pool_take(bytes, kind, stream);
  /* A captured call's buffers stay with its graph. */
  if (moe_cuda_graph_capturing()) {
    if (!moe_cuda_graph_own(p)) {
      moe_cuda_pool_give(p);
      moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY,
                            "out of memory for the buffer list of a CUDA "
                            "graph");
    }
    return p;
  }
  if (!moe_runtime_remember(p, moe_cuda_pool_give)) {
    moe_cuda_pool_give(p);
    moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY,
                          "out of memory for the table of device buffers");
  }
  return p;
}

void *moe_cuda_alloc(size_t bytes) {
  return take(bytes, MOE_CUDA_POOL_MANAGED, NULL);
}

/* A unified buffer host code frees: nothing queued uses it after a
 * synchronous call's waits; an asynchronous call's work may. */
void moe_cuda_free(void *ptr) {
  if (!ptr || moe_cuda_graph_capturing())
    return;
  moe_runtime_forget(ptr);
  if (!moe_cuda_async_defer_free(ptr))
    moe_cuda_pool_give(ptr);
}

void moe_cuda_release_cached(void) {
  moe_cuda_graph_release();
  moe_cuda_stage_release();
  moe_cuda_pool_trim();
}

/* gpu.alloc / gpu.dealloc, ordered on `stream`: the cache's buffers are
 * reused in the stream's order (one stream per call), so no driver call
 * and no synchronization. Buffers the host touches are host_shared
 * (moe-gpu-stream-allocations): unified memory; the rest device memory. */
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool host_shared) {
  return take((size_t)bytes,
              host_shared ? MOE_CUDA_POOL_MANAGED : MOE_CUDA_POOL_DEVICE,
              stream);
}

void mgpuMemFree(void *ptr, void *stream) {
  if (!ptr || moe_cuda_graph_capturing())
    return;
  moe_runtime_forget(ptr);
  if (moe_cuda_pool_kind(ptr) == MOE_CUDA_POOL_DEVICE ||
      !moe_cuda_async_defer_free(ptr))
    moe_cuda_pool_give_queued(ptr, stream);
}

void moe_cuda_synchronize(void) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  moe_cuda_check(d->cuCtxSynchronize(), "cuCtxSynchronize");
  moe_cuda_pool_device_waited();
}

/* Device time of a model call: events on the calling thread's stream,
 * which every launch of the call uses. Reading the time waits for the stop
 * event, so a call that nobody times does not wait for it. Calls of one
 * model are serialized, so one pair of events serves them. */
static CUevent timer_start, timer_stop;
static int timer_stopped;

void moe_cuda_timer_start(void) {
  timer_stopped = 0;
  /* A captured call's work runs when its graph is launched. */
  if (moe_cuda_graph_capturing())
    return;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (!timer_start) {
    moe_cuda_check(d->cuEventCreate(&timer_start, 0), "cuEventCreate");
    moe_cuda_check(d->cuEventCreate(&timer_stop, 0), "cuEventCreate");
  }
  timer_stopped = 0;
  moe_cuda_check(d->cuEventRecord(timer_start, mgpuStreamCreate()),
                 "cuEventRecord");
}

void moe_cuda_timer_stop(void) {
  if (moe_cuda_graph_capturing())
    return;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  moe_cuda_check(d->cuEventRecord(timer_stop, mgpuStreamCreate()),
                 "cuEventRecord");
  timer_stopped = 1;
}

double moe_cuda_timer_elapsed(void) {
  const moe_cuda_driver *d = moe_cuda_driver_get();
  float ms = 0;
  if (!d || !timer_stopped || d->cuEventSynchronize(timer_stop) ||
      d->cuEventElapsedTime(&ms, timer_start, timer_stop))
    return 0;
  return ms;
}

/* memref.alloc / memref.dealloc of generated host code. */
void *_mlir_memref_to_llvm_alloc(size_t bytes) { return moe_cuda_alloc(bytes); }

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t bytes) {
  /* Managed allocations are aligned to at least 256 bytes. */
  if (alignment > 256)
    moe_runtime_fail("a buffer asks for more than 256-byte alignment");
  return moe_cuda_alloc(bytes);
}

void _mlir_memref_to_llvm_free(void *ptr) { moe_cuda_free(ptr); }

typedef struct constant_entry {
  const void *host;
  size_t bytes;
  void *device;
  struct constant_entry *next;
} constant_entry;

static constant_entry *constants;

void *moe_cuda_constant(const void *host, size_t bytes) {
  pthread_mutex_lock(&lock);
  for (constant_entry *e = constants; e; e = e->next)
    if (e->host == host && e->bytes == bytes) {
      pthread_mutex_unlock(&lock);
      return e->device;
    }
  pthread_mutex_unlock(&lock);
  /* Kept for the process, not for the call; device memory, which host
   * code of the model never reads (it passes weights to kernels). */
  void *device = moe_cuda_pool_take(bytes, MOE_CUDA_POOL_DEVICE, NULL);
  moe_cuda_check(moe_cuda_driver_or_fail()->cuMemcpyHtoD(
                     (CUdeviceptr)(uintptr_t)device, host, bytes),
                 "copying weights to the device (cuMemcpyHtoD)");
  constant_entry *e = malloc(sizeof(constant_entry));
  if (!e) {
    moe_cuda_pool_give(device);
    moe_runtime_fail("out of memory for the constant table");
  }
  e->host = host;
  e->bytes = bytes;
  e->device = device;
  pthread_mutex_lock(&lock);
  e->next = constants;
  constants = e;
  pthread_mutex_unlock(&lock);
  return device;
}
