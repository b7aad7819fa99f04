/*===- driver.h - the CUDA driver API, loaded at run time ----------------===*
 *
 * The few driver entry points the runtime uses, resolved with dlopen/dlsym
 * from libcuda.so.1 so that nothing links against the driver. Types are
 * declared here (opaque handles, CUresult as int) rather than taken from
 * cuda.h, which is not installed where models are built.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDA_DRIVER_H
#define MOE_RUNTIME_CUDA_DRIVER_H

#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

#define MOE_CU_MEM_ATTACH_GLOBAL 0x1

/* One field per driver function, named after it (without the _v2 suffix the
 * exported symbol may carry). */
typedef struct moe_cuda_driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)(void);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamQuery)(CUstream); /* 0: done, 600: not ready */
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuLaunchHostFunc)(CUstream, void (*)(void *), void *);
  /* CUDA graphs (stream capture); NULL where the driver lacks them. */
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph,
                                          unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  /* Set for the CUDA emulator (runtime/cuda-emulator), which loads the
   * emulator part of a kernel image container. */
  int is_emulator;
} moe_cuda_driver;

/* The driver with a current context on the calling thread, or NULL when it
 * cannot be used; then moe_cuda_driver_error() says why. Loading happens
 * once per process. */
const moe_cuda_driver *moe_cuda_driver_get(void);
const char *moe_cuda_driver_error(void);

/* Reports a failed driver call through moe_runtime_fail: "<what>: <name>
 * (<description>)". Does nothing for CUDA_SUCCESS. */
void moe_cuda_check(CUresult result, const char *what);

/* The driver, or a moe_runtime_fail naming why it cannot be used. */
const moe_cuda_driver *moe_cuda_driver_or_fail(void);

#endif
