/*===- driver.c - the CUDA driver entry points of the emulator -----------===*
 *
 * libmoe_cuda_emulator.so exports the driver functions the runtime resolves
 * (runtime/cuda/driver.c), so a CUDA model runs unchanged with
 * MOE_CUDA_DRIVER pointing here. One device, memory is host memory (every
 * allocation is recorded for the bounds checks), launches run to completion
 * before they return, streams and events only keep time, except that a
 * stream being captured records its work into a graph (graph.c).
 *
 *===---------------------------------------------------------------------===*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "emulator.h"
#include "moe/Runtime/GPUImage.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;

/* The runtime recognizes the emulator by this symbol and hands it the
 * container of a model's kernels rather than the fat binary. */
const int moe_cuda_emulator = 1;

static __thread char last_error[1100];

/* Driver calls counted since the library was loaded: what a model call
 * costs in launches, synchronizations, allocations and copies (tests take
 * the difference around one call); and the blocks its launches ran and
 * the warp-wide mma.sync operations they executed (tensor-core work);
 * managed_allocations: those of the allocations that were unified memory;
 * host_functions: host functions queued on streams (cuLaunchHostFunc);
 * graph_launches: graphs launched (cuGraphLaunch; their kernels, fills and
 * copies are not counted as launches, fills and copies); wgmma_operations:
 * warpgroup-wide wgmma.mma_async operations (sm_90a tensor-core work);
 * ldmatrix_bank_conflicts: the shared-memory wavefronts ldmatrix needed
 * beyond one per 8 x 8 matrix (rows in the same bank group). */
typedef struct moe_cuda_emulator_counters {
  long long launches, synchronizations, allocations, frees, copies, fills,
      function_lookups, stream_creations, mma_operations, blocks,
      managed_allocations, host_functions, graph_launches, wgmma_operations,
      ldmatrix_bank_conflicts;
} moe_cuda_emulator_counters;

static struct {
  atomic_llong launches, synchronizations, allocations, frees, copies, fills,
      function_lookups, stream_creations, mma_operations, blocks,
      managed_allocations, host_functions, graph_launches, wgmma_operations,
      ldmatrix_bank_conflicts;
} counts;

void emu_count_mma(void) { atomic_fetch_add(&counts.mma_operations, 1); }
void emu_count_wgmma(void) { atomic_fetch_add(&counts.wgmma_operations, 1); }
void emu_count_bank_conflicts(long long extra) {
  atomic_fetch_add(&counts.ldmatrix_bank_conflicts, extra);
}

void moe_cuda_emulator_get_counters(moe_cuda_emulator_counters *out) {
  out->launches = atomic_load(&counts.launches);
  out->synchronizations = atomic_load(&counts.synchronizations);
  out->allocations = atomic_load(&counts.allocations);
  out->frees = atomic_load(&counts.frees);
  out->copies = atomic_load(&counts.copies);
  out->fills = atomic_load(&counts.fills);
  out->function_lookups = atomic_load(&counts.function_lookups);
  out->stream_creations = atomic_load(&counts.stream_creations);
  out->mma_operations = atomic_load(&counts.mma_operations);
  out->blocks = atomic_load(&counts.blocks);
  out->managed_allocations = atomic_load(&counts.managed_allocations);
  out->host_functions = atomic_load(&counts.host_functions);
  out->graph_launches = atomic_load(&counts.graph_launches);
  out->wgmma_operations = atomic_load(&counts.wgmma_operations);
  out->ldmatrix_bank_conflicts = atomic_load(&counts.ldmatrix_bank_conflicts);
}

#define COUNT(field) atomic_fetch_add(&counts.field, 1)

void emu_count_graph_launch(void) { COUNT(graph_launches); }

/* The graph `stream` is being captured into, or NULL. */
static struct emu_graph *capturing(void *stream) {
  return stream ? ((emu_stream *)stream)->capture : NULL;
}

static void device_access(int open);

void emu_set_error(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_error, sizeof(last_error), format, args);
  va_end(args);
}

static CUresult fail(CUresult code, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static CUresult fail(CUresult code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_error, sizeof(last_error), format, args);
  va_end(args);
  return code;
}

CUresult cuInit(unsigned flags) { return EMU_SUCCESS; }
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return EMU_SUCCESS;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return fail(EMU_ERROR_INVALID_VALUE, "the emulator has one device");
  *device = 0;
  return EMU_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int length, int device) {
  snprintf(name, (size_t)length, "moe CUDA emulator");
  return EMU_SUCCESS;
}
static int context_token;
CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  *context = &context_token;
  return EMU_SUCCESS;
}
CUresult cuCtxSetCurrent(void *context) { return EMU_SUCCESS; }
CUresult cuCtxSynchronize(void) {
  COUNT(synchronizations);
  return EMU_SUCCESS;
}

CUresult cuGetErrorName(CUresult code, const char **name) {
  switch (code) {
  case EMU_SUCCESS:
    *name = "CUDA_SUCCESS";
    break;
  case EMU_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    break;
  case EMU_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    break;
  case EMU_ERROR_INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    break;
  case EMU_ERROR_NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  case EMU_ERROR_ILLEGAL_ADDRESS:
    *name = "CUDA_ERROR_ILLEGAL_ADDRESS";
    break;
  case EMU_ERROR_LAUNCH_FAILED:
    *name = "CUDA_ERROR_LAUNCH_FAILED";
    break;
  case EMU_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    break;
  default:
    *name = "CUDA_ERROR_UNKNOWN";
    return EMU_ERROR_INVALID_VALUE;
  }
  return EMU_SUCCESS;
}

/* The description of the calling thread's last failure. */
CUresult cuGetErrorString(CUresult code, const char **text) {
  *text = last_error[0] ? last_error : "no details";
  return EMU_SUCCESS;
}

/* ---- modules ---- */

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

CUresult cuModuleLoadData(void **out, const void *image) {
  moe_gpu_image_header header;
  memcpy(&header, image, sizeof(header));
  if (memcmp(header.magic, MOE_GPU_IMAGE_MAGIC, sizeof(header.magic)) != 0 ||
      header.emulator_size == 0)
    return fail(EMU_ERROR_INVALID_IMAGE,
                "the model's kernels have no emulator image: they were "
                "compiled with emulator=0, or the compiler warned why they "
                "cannot be emulated");
  int fd = memfd_create("moe-emulated-kernels", MFD_CLOEXEC);
  if (fd < 0)
    return fail(EMU_ERROR_OUT_OF_MEMORY, "memfd_create failed");
  const char *bytes = (const char *)image + header.emulator_offset;
  for (uint64_t done = 0; done < header.emulator_size;) {
    ssize_t n = write(fd, bytes + done, header.emulator_size - done);
    if (n <= 0) {
      close(fd);
      return fail(EMU_ERROR_OUT_OF_MEMORY, "writing the kernel image failed");
    }
    done += (uint64_t)n;
  }
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  /* The descriptor stays open while the module is loaded: the dynamic
   * loader knows libraries by path, and a reused descriptor number would
   * make a second module resolve to the first. */
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    close(fd);
    return fail(EMU_ERROR_INVALID_IMAGE, "cannot load the emulated kernels: %s",
                dlerror());
  }
  const uint64_t *shared = dlsym(handle, MOE_EMU_SHARED_BYTES);
  const uint64_t *align = dlsym(handle, MOE_EMU_DYNAMIC_SHARED_ALIGN);
  const struct {
    void *address;
    uint64_t bytes;
  } *globals = dlsym(handle, MOE_EMU_GLOBALS);
  emu_module *m = calloc(1, sizeof(emu_module));
  if (!shared || !align || !globals || !m) {
    dlclose(handle);
    close(fd);
    free(m);
    return fail(EMU_ERROR_INVALID_IMAGE, "the emulated kernels lack their "
                                         "shared-memory layout");
  }
  m->handle = handle;
  m->fd = fd;
  m->shared_bytes = *shared;
  m->dynamic_shared_align = *align;
  for (int i = 0; globals[i].address; ++i)
    emu_register(globals[i].address, globals[i].bytes);
  *out = m;
  return EMU_SUCCESS;
}

CUresult cuModuleUnload(void *module) {
  emu_module *m = module;
  const struct {
    void *address;
    uint64_t bytes;
  } *globals = dlsym(m->handle, MOE_EMU_GLOBALS);
  for (int i = 0; globals && globals[i].address; ++i)
    emu_unregister(globals[i].address);
  for (emu_function *f = m->functions, *next; f; f = next) {
    next = f->next;
    free(f);
  }
  dlclose(m->handle);
  close(m->fd);
  free(m);
  return EMU_SUCCESS;
}

CUresult cuModuleGetFunction(void **out, void *module, const char *name) {
  emu_module *m = module;
  COUNT(function_lookups);
  pthread_mutex_lock(&modules_lock);
  for (emu_function *f = m->functions; f; f = f->next)
    if (strcmp(f->name, name) == 0) {
      pthread_mutex_unlock(&modules_lock);
      *out = f;
      return EMU_SUCCESS;
    }
  pthread_mutex_unlock(&modules_lock);
  char symbol[192];
  snprintf(symbol, sizeof(symbol), "%s%s", MOE_EMU_ENTRY_PREFIX, name);
  void (*entry)(void **) = (void (*)(void **))dlsym(m->handle, symbol);
  if (!entry)
    return fail(EMU_ERROR_NOT_FOUND, "no kernel '%s' in the module", name);
  emu_function *f = calloc(1, sizeof(emu_function));
  if (!f)
    return fail(EMU_ERROR_OUT_OF_MEMORY, "out of memory");
  f->module = m;
  f->entry = entry;
  snprintf(symbol, sizeof(symbol), "%s%s", MOE_EMU_ARGS_PREFIX, name);
  f->arg_sizes = (const uint64_t *)dlsym(m->handle, symbol);
  snprintf(f->name, sizeof(f->name), "%s", name);
  pthread_mutex_lock(&modules_lock);
  f->next = m->functions;
  m->functions = f;
  pthread_mutex_unlock(&modules_lock);
  *out = f;
  return EMU_SUCCESS;
}

/* Dynamic shared memory a block may have without asking (48 KB), and at
 * most (an H100's 227 KB). */
enum {
  ATTRIBUTE_MAX_DYNAMIC_SHARED = 8,
  DEFAULT_DYNAMIC_SHARED = 48 * 1024,
  LARGEST_DYNAMIC_SHARED = 227 * 1024
};

CUresult cuFuncSetAttribute(void *function, int attribute, int value) {
  emu_function *f = function;
  if (!f)
    return fail(EMU_ERROR_INVALID_VALUE, "cuFuncSetAttribute of no function");
  if (attribute == ATTRIBUTE_MAX_DYNAMIC_SHARED) {
    if (value < 0 || value > LARGEST_DYNAMIC_SHARED)
      return fail(EMU_ERROR_INVALID_VALUE,
                  "kernel '%s': %d bytes of dynamic shared memory exceed "
                  "the device's %d",
                  f->name, value, LARGEST_DYNAMIC_SHARED);
    f->max_dynamic_shared = value;
  }
  return EMU_SUCCESS;
}

/* ---- launches ---- */

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  emu_function *f = function;
  COUNT(launches);
  if (!f || !gx || !gy || !gz || !bx || !by || !bz)
    return fail(EMU_ERROR_INVALID_VALUE, "invalid launch configuration");
  if ((uint64_t)bx * by * bz > 1024)
    return fail(EMU_ERROR_INVALID_VALUE,
                "a block of %u x %u x %u threads exceeds 1024", bx, by, bz);
  if (extra)
    return fail(EMU_ERROR_INVALID_VALUE,
                "kernel arguments through 'extra' are not supported");
  int allowed = f->max_dynamic_shared > DEFAULT_DYNAMIC_SHARED
                    ? f->max_dynamic_shared
                    : DEFAULT_DYNAMIC_SHARED;
  if (smem > (unsigned)allowed)
    return fail(EMU_ERROR_INVALID_VALUE,
                "kernel '%s' launched with %u bytes of dynamic shared memory, "
                "over its limit of %d (cuFuncSetAttribute raises it)",
                f->name, smem, allowed);
  unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  if (capturing(stream))
    return emu_graph_add_kernel(capturing(stream), f, grid, block, smem,
                                params);
  return emu_run_kernel(f, grid, block, smem, params);
}

int emu_run_kernel(emu_function *f, const unsigned grid[3],
                   const unsigned block[3], unsigned smem, void **params) {
  atomic_fetch_add(&counts.blocks, (long long)grid[0] * grid[1] * grid[2]);
  emu_launch l;
  memset(&l, 0, sizeof(l));
  l.function = f;
  for (int i = 0; i < 3; ++i) {
    l.grid[i] = grid[i];
    l.block[i] = block[i];
  }
  l.dynamic_shared = smem;
  l.params = params;
  pthread_mutex_init(&l.report_lock, NULL);
  if (!emu_regions_snapshot(&l.regions, &l.region_count))
    return fail(EMU_ERROR_OUT_OF_MEMORY, "out of host memory");
  device_access(1);
  CUresult r = emu_run_launch(&l);
  device_access(0);
  free(l.regions);
  pthread_mutex_destroy(&l.report_lock);
  if (r != EMU_SUCCESS)
    return fail(r, "%s",
                l.first_report[0] ? l.first_report : "out of host memory");
  return EMU_SUCCESS;
}

/* ---- streams and events: launches are synchronous ---- */

/* Streams are distinct handles (the runtime tells them apart), with
 * nothing behind them: work completes as it is queued. */
CUresult cuStreamCreate(void **stream, unsigned flags) {
  COUNT(stream_creations);
  *stream = calloc(1, sizeof(emu_stream));
  return *stream ? EMU_SUCCESS : EMU_ERROR_OUT_OF_MEMORY;
}
CUresult cuStreamSynchronize(void *stream) {
  COUNT(synchronizations);
  if (capturing(stream))
    return fail(900 /* CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED */,
                "cuStreamSynchronize of a stream being captured");
  return EMU_SUCCESS;
}
CUresult cuStreamQuery(void *stream) { return EMU_SUCCESS; }
CUresult cuStreamDestroy_v2(void *stream) {
  free(stream);
  return EMU_SUCCESS;
}

/* The stream's earlier work is done: the function runs now. */
CUresult cuLaunchHostFunc(void *stream, void (*fn)(void *), void *data) {
  COUNT(host_functions);
  if (capturing(stream))
    return emu_graph_add_host(capturing(stream), fn, data);
  fn(data);
  return EMU_SUCCESS;
}

CUresult cuEventCreate(void **event, unsigned flags) {
  *event = calloc(1, sizeof(double));
  return *event ? EMU_SUCCESS : EMU_ERROR_OUT_OF_MEMORY;
}
CUresult cuEventRecord(void *event, void *stream) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  *(double *)event = (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
  return EMU_SUCCESS;
}
CUresult cuEventSynchronize(void *event) {
  COUNT(synchronizations);
  return EMU_SUCCESS;
}
CUresult cuEventElapsedTime(float *ms, void *start, void *stop) {
  *ms = (float)(*(double *)stop - *(double *)start);
  return EMU_SUCCESS;
}
CUresult cuEventDestroy_v2(void *event) {
  free(event);
  return EMU_SUCCESS;
}

/* ---- memory ---- */

static atomic_llong live_buffers, live_bytes;

/* What the program holds in device memory now (for leak tests). */
long long moe_cuda_emulator_live_buffers(long long *bytes) {
  if (bytes)
    *bytes = atomic_load(&live_bytes);
  return atomic_load(&live_buffers);
}

/* MOE_CUDA_EMULATOR_MEMORY: the device's memory in bytes (suffixes K, M,
 * G), so that running out of it can be tested; unlimited by default. */
static long long memory_limit(void) {
  const char *v = getenv("MOE_CUDA_EMULATOR_MEMORY");
  if (!v || !*v)
    return -1;
  char *end = NULL;
  long long n = strtoll(v, &end, 10);
  switch (*end) {
  case 'G':
    n <<= 10; /* fall through */
  case 'M':
    n <<= 10; /* fall through */
  case 'K':
    n <<= 10;
  default:
    break;
  }
  return n;
}

/* Device memory (cuMemAlloc) is closed to the host except while the
 * driver itself works on it: mapped without access, opened for the length
 * of every launch, copy and fill. Host code that touches it, which on a GPU
 * faults or reads garbage, crashes here and the crash handler names the
 * buffer. Unified memory (cuMemAllocManaged) is open to both. */
typedef struct {
  char *start;
  size_t mapped;
} device_map;
static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;
static device_map *device_maps;
static size_t device_count, device_capacity;
static int device_open; /* driver operations on device memory running */

static void set_access(const device_map *m, int open) {
  mprotect(m->start, m->mapped, open ? PROT_READ | PROT_WRITE : PROT_NONE);
}

/* Opens (1) or closes (0) device memory around one driver operation. */
static void device_access(int open) {
  pthread_mutex_lock(&device_lock);
  if (open ? device_open++ == 0 : --device_open == 0)
    for (size_t i = 0; i < device_count; ++i)
      set_access(&device_maps[i], open);
  pthread_mutex_unlock(&device_lock);
}

size_t emu_device_buffer_bytes(uintptr_t a) {
  /* From the crash handler: no lock (the table is only read). */
  for (size_t i = 0; i < device_count; ++i)
    if (a - (uintptr_t)device_maps[i].start < device_maps[i].mapped)
      return device_maps[i].mapped;
  return 0;
}

static void *map_device(size_t bytes) {
  long page = sysconf(_SC_PAGESIZE);
  size_t mapped = (bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
  char *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  pthread_mutex_lock(&device_lock);
  if (device_count == device_capacity) {
    size_t capacity = device_capacity ? 2 * device_capacity : 64;
    device_map *grown = realloc(device_maps, capacity * sizeof(device_map));
    if (!grown) {
      pthread_mutex_unlock(&device_lock);
      munmap(p, mapped);
      return NULL;
    }
    device_maps = grown;
    device_capacity = capacity;
  }
  device_maps[device_count] = (device_map){p, mapped};
  /* The pattern below is written while the map is still open. */
  ++device_count;
  pthread_mutex_unlock(&device_lock);
  return p;
}

/* Closes a new map unless a driver operation has device memory open. */
static void close_new_map(void *p) {
  pthread_mutex_lock(&device_lock);
  for (size_t i = 0; i < device_count; ++i)
    if (device_maps[i].start == p && !device_open)
      set_access(&device_maps[i], 0);
  pthread_mutex_unlock(&device_lock);
}

/* Unmaps `p` when it is device memory; 0 when it is not. */
static int unmap_device(void *p) {
  pthread_mutex_lock(&device_lock);
  for (size_t i = 0; i < device_count; ++i)
    if (device_maps[i].start == p) {
      munmap(p, device_maps[i].mapped);
      device_maps[i] = device_maps[--device_count];
      pthread_mutex_unlock(&device_lock);
      return 1;
    }
  pthread_mutex_unlock(&device_lock);
  return 0;
}

static CUresult allocate(unsigned long long *out, size_t bytes, int device) {
  COUNT(allocations);
  long long limit = memory_limit();
  if (limit >= 0 && atomic_load(&live_bytes) + (long long)bytes > limit)
    return fail(EMU_ERROR_OUT_OF_MEMORY,
                "out of device memory: %zu bytes asked, %lld of %lld in use",
                bytes, (long long)atomic_load(&live_bytes), limit);
  size_t rounded = (bytes + 255) / 256 * 256;
  void *p = !rounded  ? NULL
            : device ? map_device(rounded)
                     : aligned_alloc(256, rounded);
  if (!p || !emu_register(p, bytes)) {
    if (p && !unmap_device(p))
      free(p);
    return fail(EMU_ERROR_OUT_OF_MEMORY, "out of memory for %zu bytes", bytes);
  }
  /* Device memory starts out with whatever was there: a pattern makes a
   * kernel that reads what nobody wrote visible in its results. */
  memset(p, 0xa5, rounded);
  if (device) {
    emu_install_crash_handler();
    close_new_map(p);
  }
  atomic_fetch_add(&live_buffers, 1);
  atomic_fetch_add(&live_bytes, (long long)bytes);
  *out = (unsigned long long)(uintptr_t)p;
  return EMU_SUCCESS;
}

CUresult cuMemAllocManaged(unsigned long long *out, size_t bytes,
                           unsigned flags) {
  (void)flags;
  COUNT(managed_allocations);
  return allocate(out, bytes, 0);
}

CUresult cuMemAlloc_v2(unsigned long long *out, size_t bytes) {
  return allocate(out, bytes, 1);
}

CUresult cuMemFree_v2(unsigned long long pointer) {
  COUNT(frees);
  void *p = (void *)(uintptr_t)pointer;
  if (!p)
    return EMU_SUCCESS;
  long long bytes = emu_unregister(p);
  if (bytes < 0)
    return fail(EMU_ERROR_INVALID_VALUE,
                "cuMemFree of %p, which is not a device buffer", p);
  atomic_fetch_sub(&live_buffers, 1);
  atomic_fetch_sub(&live_bytes, bytes);
  if (!unmap_device(p))
    free(p);
  return EMU_SUCCESS;
}

/* Host-side copies and fills must stay inside one allocation too. */
static CUresult check_range(unsigned long long pointer, size_t bytes,
                            const char *what) {
  if (!emu_is_device_range((uintptr_t)pointer, bytes))
    return fail(EMU_ERROR_INVALID_VALUE,
                "%s of %zu bytes at %p is outside every device buffer", what,
                bytes, (void *)(uintptr_t)pointer);
  return EMU_SUCCESS;
}

CUresult cuMemcpy(unsigned long long dst, unsigned long long src,
                  size_t bytes) {
  COUNT(copies);
  return emu_copy(dst, src, bytes);
}

int emu_copy(unsigned long long dst, unsigned long long src, size_t bytes) {
  CUresult r = check_range(dst, bytes, "a copy's destination");
  if (r == EMU_SUCCESS)
    r = check_range(src, bytes, "a copy's source");
  if (r == EMU_SUCCESS) {
    device_access(1);
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
    device_access(0);
  }
  return r;
}
CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
                         size_t bytes) {
  COUNT(copies);
  CUresult r = check_range(dst, bytes, "a copy's destination");
  if (r == EMU_SUCCESS) {
    device_access(1);
    memcpy((void *)(uintptr_t)dst, src, bytes);
    device_access(0);
  }
  return r;
}
CUresult cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t bytes) {
  COUNT(copies);
  CUresult r = check_range(src, bytes, "a copy's source");
  if (r == EMU_SUCCESS) {
    device_access(1);
    memcpy(dst, (const void *)(uintptr_t)src, bytes);
    device_access(0);
  }
  return r;
}
CUresult cuMemcpyAsync(unsigned long long dst, unsigned long long src,
                       size_t bytes, void *stream) {
  if (capturing(stream))
    return emu_graph_add_copy(capturing(stream), dst, src, bytes);
  return cuMemcpy(dst, src, bytes);
}

/* The emulator runs a stream's work as it is queued; a capture records
 * only device-side work. */
CUresult cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src,
                              size_t bytes, void *stream) {
  if (capturing(stream))
    return fail(EMU_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                "a copy from host memory on a stream being captured");
  return cuMemcpyHtoD_v2(dst, src, bytes);
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src, size_t bytes,
                              void *stream) {
  if (capturing(stream))
    return fail(EMU_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                "a copy to host memory on a stream being captured");
  return cuMemcpyDtoH_v2(dst, src, bytes);
}

int emu_fill(unsigned long long dst, unsigned value, size_t count,
             unsigned bytes) {
  CUresult r = check_range(dst, bytes * count, "a fill");
  if (r != EMU_SUCCESS)
    return r;
  device_access(1);
  for (size_t i = 0; i < count; ++i) {
    if (bytes == 4)
      ((uint32_t *)(uintptr_t)dst)[i] = value;
    else
      ((uint16_t *)(uintptr_t)dst)[i] = (uint16_t)value;
  }
  device_access(0);
  return r;
}

CUresult cuMemsetD32Async(unsigned long long dst, unsigned value, size_t count,
                          void *stream) {
  if (capturing(stream))
    return emu_graph_add_fill(capturing(stream), dst, value, count, 4);
  COUNT(fills);
  return emu_fill(dst, value, count, 4);
}
CUresult cuMemsetD16Async(unsigned long long dst, unsigned short value,
                          size_t count, void *stream) {
  if (capturing(stream))
    return emu_graph_add_fill(capturing(stream), dst, value, count, 2);
  COUNT(fills);
  return emu_fill(dst, value, count, 2);
}
