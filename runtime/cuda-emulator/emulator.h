/*===- emulator.h - internals of the CUDA emulator -----------------------===*
 *
 * The emulator is a CUDA driver (the entry points of runtime/cuda/driver.h)
 * that runs kernel images built by lib/Target/GPUEmulation on the host: one
 * fiber per GPU thread, the blocks of a launch spread over worker threads,
 * every memory access checked (memory.c), warp collectives computed when
 * all lanes of a warp have arrived (warp.c, mma.c).
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_CUDA_EMULATOR_H
#define MOE_CUDA_EMULATOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_HIDDEN __attribute__((visibility("hidden")))

/* Driver status codes the emulator returns (values of the CUDA driver). */
enum {
  EMU_SUCCESS = 0,
  EMU_ERROR_INVALID_VALUE = 1,
  EMU_ERROR_OUT_OF_MEMORY = 2,
  EMU_ERROR_INVALID_IMAGE = 200,
  EMU_ERROR_NOT_FOUND = 500,
  EMU_ERROR_ILLEGAL_ADDRESS = 700,
  EMU_ERROR_LAUNCH_FAILED = 719,
  EMU_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
};

struct emu_function;
typedef struct emu_module {
  void *handle;
  int fd;
  uint64_t shared_bytes, dynamic_shared_align;
  struct emu_function *functions;
} emu_module;

typedef struct emu_function {
  emu_module *module;
  void (*entry)(void **);
  const uint64_t *arg_sizes; /* count, then bytes of each; NULL if unknown */
  int max_dynamic_shared;    /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
  char name[128];
  struct emu_function *next;
} emu_function;

/* A cp.async copy issued and not yet waited for (async.c). */
typedef struct emu_async_copy {
  char *dst;
  const char *src;
  uint32_t bytes, src_bytes; /* written; read from src, the rest zeros */
  uint32_t group;            /* commit groups before it was issued */
} emu_async_copy;
#define EMU_MAX_ASYNC_COPIES 64

/* The shared-memory bytes a wgmma.mma_async reads (the bounds of its A's
 * and of its B's, arena offsets) until its warpgroup's wgmma.wait_group
 * retires its commit group (wgmma.c). */
typedef struct emu_wgmma_reads {
  uintptr_t lo[2], hi[2];
  uint32_t group; /* its warpgroup's commit groups when it was issued */
  int warpgroup;
} emu_wgmma_reads;
#define EMU_MAX_WGMMA_READS 64
/* A block has at most 1024 threads (cuLaunchKernel refuses more). */
#define EMU_MAX_WARPGROUPS (1024 / 128)

/* A fiber: one GPU thread. */
enum { FIBER_RUN, FIBER_BARRIER, FIBER_WARP, FIBER_DONE };
typedef struct emu_fiber {
  void *sp;
  char *stack_lo, *stack_hi;
  int linear, tid[3];
  int state;
  /* Its pending cp.async copies, oldest first, and its commit count. */
  emu_async_copy async[EMU_MAX_ASYNC_COPIES];
  uint32_t async_count, async_groups;
  uint32_t wgmma_groups; /* its wgmma.commit_group count */
} emu_fiber;

/* Warp collectives, completed by the scheduler once every lane of the mask
 * has arrived. */
enum {
  WARP_NONE,
  WARP_SHFL,
  WARP_VOTE,
  WARP_SYNC,
  WARP_MMA,
  WARP_LDMATRIX,
  WARP_WGMMA /* completes when all four warps of its warpgroup wait */
};
typedef struct emu_warp {
  int op, mode;
  uint32_t arrived, mask;
  uint32_t syncs; /* completed collectives: orders the lanes' accesses */
  uint32_t value[32], b[32], c[32];
  uint32_t result[32];
  uint8_t pred[32];
  uint32_t mma_a[32][4], mma_b[32][2];
  float mma_c[32][4], mma_d[32][4];
  uintptr_t row_address[32]; /* ldmatrix: the row each lane names */
  uint32_t result_regs[32][4];
  /* wgmma: each lane's packed operands and result slot (wgmma.c). */
  const void *lane_args[32];
  void *lane_result[32];
} emu_warp;

/* One entry per byte of shared memory: who accessed it in which barrier
 * interval (epoch). */
typedef struct emu_shadow {
  uint32_t write_epoch, read_epoch;
  uint32_t write_sync, read_sync; /* warp's collective count at the access */
  uint16_t writer, reader;        /* reader 0xffff: several */
  uint8_t written, atomic;
} emu_shadow;

typedef struct emu_region {
  uintptr_t start, end;
} emu_region;

typedef struct emu_launch {
  emu_function *function;
  unsigned grid[3], block[3];
  size_t dynamic_shared;
  void **params;
  uint64_t blocks, *order;
  atomic_uint_fast64_t next;
  atomic_int fatal;    /* stop dispatching blocks */
  emu_region *regions; /* sorted snapshot of the device allocations */
  size_t region_count;
  pthread_mutex_t report_lock;
  int reports;
  int status; /* the driver status of the first report */
  char first_report[1024];
#define MAX_KINDS 16
  const char *kinds[MAX_KINDS]; /* report formats seen, and how often */
  int kind_counts[MAX_KINDS];
} emu_launch;

/* A worker thread's state while it runs one block. */
typedef struct emu_exec {
  emu_launch *launch;
  emu_fiber *fibers, *current;
  emu_warp *warps;
  int threads;
  void *scheduler_sp;
  char *stacks;
  size_t stack_bytes, stacks_bytes;
  char *arena;
  size_t arena_bytes, dynamic_offset;
  emu_shadow *shadow;
  uint32_t epoch;
  unsigned block[3];
  int abort_block;
  const emu_region *last_region;
  /* wgmma operands not yet retired, and per warpgroup its commit groups
   * and the groups its wgmma.wait_group has retired (all before it). */
  emu_wgmma_reads wgmma_reads[EMU_MAX_WGMMA_READS];
  int wgmma_read_count;
  uint32_t wgmma_committed[EMU_MAX_WARPGROUPS];
  uint32_t wgmma_retired[EMU_MAX_WARPGROUPS];
} emu_exec;

EMU_HIDDEN extern __thread emu_exec *emu_current;

/* fiber.c */
EMU_HIDDEN void emu_fiber_init(emu_fiber *f, void (*start)(void));
EMU_HIDDEN void emu_switch(void **save_sp, void *load_sp);
/* Suspends the current fiber in `state` until the scheduler resumes it. */
EMU_HIDDEN void emu_yield(int state);

/* exec.c */
EMU_HIDDEN int emu_run_launch(emu_launch *launch);
/* Reports a failed check with kernel, block and thread; a fatal one ends
 * the current thread's block (and the launch). */
EMU_HIDDEN void emu_report(int fatal, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* memory.c */
EMU_HIDDEN int emu_regions_snapshot(emu_region **regions, size_t *count);
EMU_HIDDEN int emu_register(void *start, size_t bytes);
/* Forgets the region starting at `start`: its size, or -1 when none does. */
EMU_HIDDEN long long emu_unregister(void *start);
/* Whether [a, a + bytes) lies inside one registered region. */
EMU_HIDDEN int emu_is_device_range(uintptr_t a, uint64_t bytes);

/* warp.c */
EMU_HIDDEN void emu_warp_complete(emu_exec *x, emu_warp *w);

/* memory.c: the check every emulated access makes (Retarget.cpp). */
void __moe_emu_access(void *pointer, uint64_t bytes, uint32_t flags);
/* Its flags for an access of 2^log2_align-byte alignment in `space`. */
#define EMU_ACCESS_FLAGS(write, log2_align, space)                             \
  ((uint32_t)(write) | (uint32_t)(log2_align) << 4 | (uint32_t)(space) << 12)

/* async.c: a thread's pending cp.async copies are forgotten at the start
 * of a block (a thread that ends without waiting never observes them). */
EMU_HIDDEN void emu_async_reset(emu_fiber *f);

/* mma.c */
enum { MMA_F16_M16N8K16, MMA_BF16_M16N8K16, MMA_TF32_M16N8K8 };
EMU_HIDDEN void emu_mma_compute(emu_warp *w);

/* wgmma.c: computes the wgmma.mma_async of the warpgroup whose four warps
 * start at `group`, all of whose lanes wait at it; 0 after a report. */
EMU_HIDDEN int emu_wgmma_complete(emu_exec *x, emu_warp *group);
/* Reports a write of [offset, offset + bytes) of the arena (`what`: a
 * store, a cp.async issued) that a wgmma in flight still reads. */
EMU_HIDDEN void emu_wgmma_check_write(emu_exec *x, uintptr_t offset,
                                      uint64_t bytes, const char *what);
/* Reports a wgmma of the ended block that no wgmma.wait_group retired:
 * the kernel used its accumulators, undefined until one does. */
EMU_HIDDEN void emu_wgmma_block_end(emu_exec *x);
/* Shared-memory addresses in wgmma descriptors keep bits 4-17: the block's
 * arena is aligned to this, so that they are the arena's offsets. */
#define EMU_ARENA_ALIGN ((size_t)1 << 18)

/* driver.c: the size of the device-memory (cuMemAlloc) mapping holding
 * `a`, or 0 (for the crash handler). */
EMU_HIDDEN size_t emu_device_buffer_bytes(uintptr_t a);
/* exec.c: names kernel crashes and host accesses to device memory. */
EMU_HIDDEN void emu_install_crash_handler(void);
/* A stream: work queued on one that is being captured goes into the graph
 * (graph.c) instead of running. */
struct emu_graph;
typedef struct emu_stream {
  struct emu_graph *capture;
} emu_stream;

/* driver.c: what graph nodes replay (not counted as driver calls). */
EMU_HIDDEN int emu_run_kernel(emu_function *f, const unsigned grid[3],
                              const unsigned block[3], unsigned smem,
                              void **params);
EMU_HIDDEN int emu_fill(unsigned long long dst, unsigned value, size_t count,
                        unsigned bytes);
EMU_HIDDEN int emu_copy(unsigned long long dst, unsigned long long src,
                        size_t bytes);
EMU_HIDDEN void emu_count_graph_launch(void);

/* graph.c: work recorded into the graph a stream is captured into. */
EMU_HIDDEN int emu_graph_add_kernel(struct emu_graph *g, emu_function *f,
                                    const unsigned grid[3],
                                    const unsigned block[3], unsigned smem,
                                    void **params);
EMU_HIDDEN int emu_graph_add_fill(struct emu_graph *g, unsigned long long dst,
                                  unsigned value, size_t count,
                                  unsigned bytes);
EMU_HIDDEN int emu_graph_add_copy(struct emu_graph *g, unsigned long long dst,
                                  unsigned long long src, size_t bytes);
EMU_HIDDEN int emu_graph_add_host(struct emu_graph *g, void (*fn)(void *),
                                  void *data);

/* driver.c: counts one warp-wide mma.sync (moe_cuda_emulator_counters). */
EMU_HIDDEN void emu_count_mma(void);
/* driver.c: counts one warpgroup-wide wgmma.mma_async. */
EMU_HIDDEN void emu_count_wgmma(void);
/* driver.c: counts `extra` ldmatrix wavefronts lost to bank conflicts. */
EMU_HIDDEN void emu_count_bank_conflicts(long long extra);
/* driver.c: the message of the last failed call on this thread. */
EMU_HIDDEN void emu_set_error(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

#endif
