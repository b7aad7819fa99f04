/*===- nccl.c - the row exchange over NCCL, for models on GPUs ----------===*
 *
 * NCCL (libnccl.so.2) is loaded with dlopen, like the CUDA driver, so the
 * runtime builds and links without it. The communicator is bootstrapped by
 * the MPI side (mpi.c broadcasts the unique id) and used by the same
 * communication thread; an exchange is a group of ncclSend/ncclRecv pairs
 * on the thread's stream, polled with a deadline. Buffers are unified
 * memory (cuMemAllocManaged), which NCCL and the host both reach.
 *
 *===---------------------------------------------------------------------===*/

#include "collectives.h"

#include "../cuda/driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The few NCCL declarations used (nccl.h is not needed to build). */
typedef struct ncclComm *ncclComm_t;
typedef int ncclResult_t;
enum { NCCL_INT8 = 0, NCCL_UNIQUE_ID_BYTES = 128 };

static struct {
  ncclResult_t (*getUniqueId)(void *id);
  ncclResult_t (*commInitRank)(ncclComm_t *, int, const char *id, int);
  ncclResult_t (*commDestroy)(ncclComm_t);
  ncclResult_t (*commAbort)(ncclComm_t);
  ncclResult_t (*send)(const void *, size_t, int, int, ncclComm_t, CUstream);
  ncclResult_t (*recv)(void *, size_t, int, int, ncclComm_t, CUstream);
  ncclResult_t (*groupStart)(void);
  ncclResult_t (*groupEnd)(void);
  const char *(*getErrorString)(ncclResult_t);
} nccl;
static ncclComm_t comm;
static CUstream stream;
static const moe_cuda_driver *cuda;

int moe_nccl_load(char *error, size_t size) {
  const char *path = getenv("MOE_NCCL_LIBRARY");
  void *lib = dlopen(path ? path : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(error, size, "cannot load NCCL (%s): %s",
             path ? path : "libnccl.so.2", dlerror());
    return 0;
  }
  struct {
    const char *symbol;
    void **slot;
  } table[] = {
      {"ncclGetUniqueId", (void **)&nccl.getUniqueId},
      {"ncclCommInitRank", (void **)&nccl.commInitRank},
      {"ncclCommDestroy", (void **)&nccl.commDestroy},
      {"ncclCommAbort", (void **)&nccl.commAbort},
      {"ncclSend", (void **)&nccl.send},
      {"ncclRecv", (void **)&nccl.recv},
      {"ncclGroupStart", (void **)&nccl.groupStart},
      {"ncclGroupEnd", (void **)&nccl.groupEnd},
      {"ncclGetErrorString", (void **)&nccl.getErrorString},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (!(*table[i].slot = dlsym(lib, table[i].symbol))) {
      snprintf(error, size, "NCCL lacks '%s' (version too old?)",
               table[i].symbol);
      return 0;
    }
  cuda = moe_cuda_driver_get();
  if (!cuda) {
    snprintf(error, size, "NCCL needs a GPU: %s", moe_cuda_driver_error());
    return 0;
  }
  return 1;
}

static int failed(ncclResult_t r, const char *what, char *error,
                  size_t size) {
  if (r == 0)
    return 0;
  snprintf(error, size, "%s failed: %s", what, nccl.getErrorString(r));
  return 1;
}

int moe_nccl_unique_id(char id[128], char *error, size_t size) {
  return !failed(nccl.getUniqueId(id), "ncclGetUniqueId", error, size);
}

int moe_nccl_init(const char id[128], int rank, int ranks, char *error,
                  size_t size) {
  if (cuda->cuStreamCreate(&stream, 1 /* non-blocking */) != 0) {
    snprintf(error, size, "cannot create the exchange's CUDA stream");
    return 0;
  }
  return !failed(nccl.commInitRank(&comm, ranks, id, rank),
                 "ncclCommInitRank", error, size);
}

void *moe_nccl_alloc(size_t bytes) {
  CUdeviceptr p = 0;
  if (cuda->cuMemAllocManaged(&p, bytes ? bytes : 1,
                              MOE_CU_MEM_ATTACH_GLOBAL) != 0)
    return NULL;
  return (void *)(uintptr_t)p;
}

void moe_nccl_free(void *p) {
  if (p)
    cuda->cuMemFree((CUdeviceptr)(uintptr_t)p);
}

int moe_nccl_exchange(const char *send, const int *send_counts,
                      const int *send_displs, char *recv,
                      const int *recv_counts, const int *recv_displs,
                      int ranks, int64_t row_bytes, double timeout_s,
                      char *error, size_t size) {
  if (failed(nccl.groupStart(), "ncclGroupStart", error, size))
    return 0;
  for (int p = 0; p < ranks; ++p) {
    if (send_counts[p] &&
        failed(nccl.send(send + send_displs[p] * row_bytes,
                         send_counts[p] * row_bytes, NCCL_INT8, p, comm,
                         stream),
               "ncclSend", error, size))
      return 0;
    if (recv_counts[p] &&
        failed(nccl.recv(recv + recv_displs[p] * row_bytes,
                         recv_counts[p] * row_bytes, NCCL_INT8, p, comm,
                         stream),
               "ncclRecv", error, size))
      return 0;
  }
  if (failed(nccl.groupEnd(), "ncclGroupEnd", error, size))
    return 0;
  /* Polled, so that a peer that never posts its half ends the job. */
  struct timespec start, now, pause = {0, 20000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    CUresult r = cuda->cuStreamQuery(stream);
    if (r == 0)
      return 1;
    if (r != 600 /* CUDA_ERROR_NOT_READY */) {
      snprintf(error, size, "the NCCL exchange failed on the GPU (CUDA "
                            "error %d)", r);
      return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) + 1e-9 * (now.tv_nsec - start.tv_nsec) >
        timeout_s) {
      nccl.commAbort(comm);
      comm = NULL;
      snprintf(error, size, "the NCCL exchange timed out after %.0f s "
                            "(another rank died or stopped exchanging)",
               timeout_s);
      return -1;
    }
    nanosleep(&pause, NULL);
  }
}

void moe_nccl_finalize(void) {
  if (comm)
    nccl.commDestroy(comm);
  comm = NULL;
}
