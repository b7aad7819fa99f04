/*===- driver.c - loading the CUDA driver at run time --------------------===*
 *
 * dlopen("libcuda.so.1") once, resolve every entry point of
 * moe_cuda_driver, initialize, and retain the primary context of the
 * chosen device. Any failure is remembered as a message; callers turn it
 * into an error status, never an abort.
 *
 *===---------------------------------------------------------------------===*/

#include "driver.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void moe_runtime_fail(const char *message);

static moe_cuda_driver driver;
static CUcontext context;
static int driver_ok;
static char driver_error[384];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void describe(CUresult r, char *out, size_t size) {
  const char *name = NULL, *text = NULL;
  if (driver.cuGetErrorName)
    driver.cuGetErrorName(r, &name);
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(r, &text);
  if (name)
    snprintf(out, size, "%s (%s)", name, text ? text : "no description");
  else
    snprintf(out, size, "CUDA error %d", r);
}

static int resolve(void *library) {
  struct {
    const char *symbol;
    void **slot;
  } table[] = {
#define MOE_SYM(field, symbol) {symbol, (void **)&driver.field}
      MOE_SYM(cuInit, "cuInit"),
      MOE_SYM(cuDeviceGetCount, "cuDeviceGetCount"),
      MOE_SYM(cuDeviceGet, "cuDeviceGet"),
      MOE_SYM(cuDeviceGetName, "cuDeviceGetName"),
      MOE_SYM(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
      MOE_SYM(cuCtxSetCurrent, "cuCtxSetCurrent"),
      MOE_SYM(cuCtxSynchronize, "cuCtxSynchronize"),
      MOE_SYM(cuGetErrorName, "cuGetErrorName"),
      MOE_SYM(cuGetErrorString, "cuGetErrorString"),
      MOE_SYM(cuModuleLoadData, "cuModuleLoadData"),
      MOE_SYM(cuModuleUnload, "cuModuleUnload"),
      MOE_SYM(cuModuleGetFunction, "cuModuleGetFunction"),
      MOE_SYM(cuFuncSetAttribute, "cuFuncSetAttribute"),
      MOE_SYM(cuLaunchKernel, "cuLaunchKernel"),
      MOE_SYM(cuStreamCreate, "cuStreamCreate"),
      MOE_SYM(cuStreamSynchronize, "cuStreamSynchronize"),
      MOE_SYM(cuStreamQuery, "cuStreamQuery"),
      MOE_SYM(cuStreamDestroy, "cuStreamDestroy_v2"),
      MOE_SYM(cuMemAllocManaged, "cuMemAllocManaged"),
      MOE_SYM(cuMemAlloc, "cuMemAlloc_v2"),
      MOE_SYM(cuMemFree, "cuMemFree_v2"),
      MOE_SYM(cuMemcpy, "cuMemcpy"),
      MOE_SYM(cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
      MOE_SYM(cuMemcpyAsync, "cuMemcpyAsync"),
      MOE_SYM(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
      MOE_SYM(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
      MOE_SYM(cuMemsetD32Async, "cuMemsetD32Async"),
      MOE_SYM(cuMemsetD16Async, "cuMemsetD16Async"),
      MOE_SYM(cuEventCreate, "cuEventCreate"),
      MOE_SYM(cuEventRecord, "cuEventRecord"),
      MOE_SYM(cuEventSynchronize, "cuEventSynchronize"),
      MOE_SYM(cuEventElapsedTime, "cuEventElapsedTime"),
      MOE_SYM(cuEventDestroy, "cuEventDestroy_v2"),
      MOE_SYM(cuLaunchHostFunc, "cuLaunchHostFunc"),
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); ++i) {
    *table[i].slot = dlsym(library, table[i].symbol);
    if (!*table[i].slot) {
      snprintf(driver_error, sizeof(driver_error),
               "the CUDA driver lacks '%s' (driver too old?)",
               table[i].symbol);
      return 0;
    }
  }
  /* Without these, calls are not captured into graphs. */
  const struct {
    const char *symbol;
    void **slot;
  } optional[] = {
      MOE_SYM(cuStreamBeginCapture, "cuStreamBeginCapture_v2"),
      MOE_SYM(cuStreamEndCapture, "cuStreamEndCapture"),
      MOE_SYM(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags"),
      MOE_SYM(cuGraphLaunch, "cuGraphLaunch"),
      MOE_SYM(cuGraphExecDestroy, "cuGraphExecDestroy"),
      MOE_SYM(cuGraphDestroy, "cuGraphDestroy"),
  };
  for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); ++i)
    *optional[i].slot = dlsym(library, optional[i].symbol);
  return 1;
#undef MOE_SYM
}

static void load(void) {
  /* Tests point this at a library that is not a driver. */
  const char *name = getenv("MOE_CUDA_DRIVER");
  if (!name || !*name)
    name = "libcuda.so.1";
  else if (!strcmp(name, "emulator")) /* found on the library path */
    name = "libmoe_cuda_emulator.so";
  void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    snprintf(driver_error, sizeof(driver_error),
             "no CUDA driver: cannot load %s (%s); is an NVIDIA driver "
             "installed?",
             name, dlerror());
    return;
  }
  if (!resolve(library))
    return;
  driver.is_emulator = dlsym(library, "moe_cuda_emulator") != NULL;
  char what[256];
  CUresult r = driver.cuInit(0);
  if (r != 0) {
    describe(r, what, sizeof(what));
    snprintf(driver_error, sizeof(driver_error),
             "the CUDA driver failed to initialize: %s", what);
    return;
  }
  int count = 0;
  r = driver.cuDeviceGetCount(&count);
  if (r != 0 || count == 0) {
    snprintf(driver_error, sizeof(driver_error), "no CUDA device found");
    return;
  }
  /* Ranks of one node spread over its GPUs by default (NCCL refuses two
   * ranks on one GPU). */
  int ordinal = 0;
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  if (!local)
    local = getenv("MPI_LOCALRANKID");
  if (local && *local)
    ordinal = atoi(local) % count;
  const char *env = getenv("MOE_CUDA_DEVICE");
  if (env && *env) {
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (*end || v < 0 || v >= count) {
      snprintf(driver_error, sizeof(driver_error),
               "MOE_CUDA_DEVICE=%s is not a device of this machine (it has "
               "%d)",
               env, count);
      return;
    }
    ordinal = (int)v;
  }
  CUdevice device;
  r = driver.cuDeviceGet(&device, ordinal);
  if (r == 0)
    r = driver.cuDevicePrimaryCtxRetain(&context, device);
  if (r != 0) {
    describe(r, what, sizeof(what));
    snprintf(driver_error, sizeof(driver_error),
             "cannot open CUDA device %d: %s", ordinal, what);
    return;
  }
  driver_ok = 1;
}

const moe_cuda_driver *moe_cuda_driver_get(void) {
  pthread_once(&load_once, load);
  if (!driver_ok)
    return NULL;
  /* The primary context is current per thread; setting it is cheap. */
  if (driver.cuCtxSetCurrent(context) != 0)
    return NULL;
  return &driver;
}

const char *moe_cuda_driver_error(void) {
  pthread_once(&load_once, load);
  return driver_ok ? "" : driver_error;
}

void moe_cuda_check(CUresult result, const char *what) {
  if (result == 0)
    return;
  char text[256], message[384];
  describe(result, text, sizeof(text));
  snprintf(message, sizeof(message), "%s failed: %s", what, text);
  moe_runtime_fail(message);
}

const moe_cuda_driver *moe_cuda_driver_or_fail(void) {
  const moe_cuda_driver *d = moe_cuda_driver_get();
  if (!d)
    moe_runtime_fail(moe_cuda_driver_error());
  return d;
}

int moe_cuda_available(char *error, size_t error_size) {
  if (moe_cuda_driver_get())
    return 1;
  if (error && error_size)
    snprintf(error, error_size, "%s", moe_cuda_driver_error());
  return 0;
}
