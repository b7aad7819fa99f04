/*===- exec.c - running a launch: blocks, fibers, barriers ---------------===*
 *
 * Blocks are taken in a seeded random order (MOE_CUDA_EMULATOR_SEED) by
 * worker threads (MOE_CUDA_EMULATOR_THREADS, default: the CPUs). A block's
 * threads are fibers on its worker: each runs until it waits at a barrier
 * or a warp collective or exits; then the scheduler completes the
 * collectives whose lanes have all arrived and opens the barrier once every
 * thread waits there. A barrier some threads never reach, or threads
 * waiting on each other, is reported with the block and thread.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

__thread emu_exec *emu_current;

static void signal_default(int signal);

enum { STACK_BYTES = 64 << 10, GUARD_BYTES = 4096, MAX_REPORTS_PER_KIND = 3 };

void emu_report(int fatal, const char *format, ...) {
  emu_exec *x = emu_current;
  emu_launch *l = x->launch;
  char what[384], message[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(what, sizeof(what), format, args);
  va_end(args);
  emu_fiber *f = x->current;
  if (f)
    snprintf(message, sizeof(message),
             "%s in kernel '%s', block (%u,%u,%u), thread (%d,%d,%d)", what,
             l->function->name, x->block[0], x->block[1], x->block[2],
             f->tid[0], f->tid[1], f->tid[2]);
  else
    snprintf(message, sizeof(message), "%s in kernel '%s', block (%u,%u,%u)",
             what, l->function->name, x->block[0], x->block[1], x->block[2]);
  pthread_mutex_lock(&l->report_lock);
  if (l->reports == 0) {
    snprintf(l->first_report, sizeof(l->first_report), "%s", message);
    /* Fatal reports are accesses outside memory the kernel may touch. */
    l->status = fatal ? EMU_ERROR_ILLEGAL_ADDRESS : EMU_ERROR_LAUNCH_FAILED;
  }
  /* A few of each kind of report: one kind must not hide the others. */
  int kind = 0;
  while (kind < MAX_KINDS && l->kinds[kind] && l->kinds[kind] != format)
    ++kind;
  if (kind < MAX_KINDS) {
    l->kinds[kind] = format;
    if (l->kind_counts[kind] < MAX_REPORTS_PER_KIND)
      fprintf(stderr, "moe CUDA emulator: %s\n", message);
    else if (l->kind_counts[kind] == MAX_REPORTS_PER_KIND)
      fprintf(stderr, "moe CUDA emulator: further reports like the last one "
                      "omitted\n");
    ++l->kind_counts[kind];
  }
  ++l->reports;
  pthread_mutex_unlock(&l->report_lock);
  if (fatal) {
    atomic_store(&l->fatal, 1);
    x->abort_block = 1;
    /* The faulting thread never continues; its block is abandoned. */
    if (f)
      emu_yield(FIBER_DONE);
  }
}

/* A kernel that crashes the process says where: the signal handler runs on
 * its own stack (a fiber's may be what overflowed) and then lets the
 * signal take its course. */
static void on_crash(int signal, siginfo_t *info, void *context) {
  emu_exec *x = emu_current;
  char text[1024];
  int n = 0;
  if (x && x->current) {
    emu_fiber *f = x->current;
    uintptr_t a = (uintptr_t)info->si_addr;
    int overflow =
        a < (uintptr_t)f->stack_lo && a >= (uintptr_t)f->stack_lo - GUARD_BYTES;
    n = snprintf(text, sizeof(text),
                 "moe CUDA emulator: %s at %p in kernel '%s', block "
                 "(%u,%u,%u), thread (%d,%d,%d)%s\n",
                 signal == SIGSEGV ? "segmentation fault" : "bus error",
                 info->si_addr, x->launch->function->name, x->block[0],
                 x->block[1], x->block[2], f->tid[0], f->tid[1], f->tid[2],
                 overflow ? ": the thread's stack overflowed" : "");
  } else if (emu_device_buffer_bytes((uintptr_t)info->si_addr)) {
    n = snprintf(text, sizeof(text),
                 "moe CUDA emulator: host access at %p to device memory (a "
                 "cuMemAlloc buffer), which only kernels and the driver's "
                 "copies and fills may touch\n",
                 info->si_addr);
  }
  if (n > 0)
    (void)!write(2, text, (size_t)n);
  signal_default(signal);
}

static void fiber_start(void) {
  emu_exec *x = emu_current;
  x->launch->function->entry(x->launch->params);
  emu_yield(FIBER_DONE);
}

/* Whether all 128 threads of the warpgroup from warp `first` wait at
 * wgmma (a block of fewer threads cannot run one). */
static int warpgroup_waits(const emu_exec *x, int first) {
  if (32 * (first + 4) > x->threads)
    return 0;
  for (int w = first; w < first + 4; ++w) {
    const emu_warp *wp = &x->warps[w];
    if (wp->op != WARP_WGMMA || wp->arrived != 0xffffffffu)
      return 0;
    for (int lane = 0; lane < 32; ++lane)
      if (x->fibers[w * 32 + lane].state != FIBER_WARP)
        return 0;
  }
  return 1;
}

static int warpgroup_exited(const emu_exec *x, int first) {
  for (int i = 32 * first; i < 32 * (first + 4); ++i)
    if (i >= x->threads || x->fibers[i].state == FIBER_DONE)
      return 1;
  return 0;
}

static void run_block(emu_exec *x, uint64_t linear) {
  emu_launch *l = x->launch;
  x->block[0] = linear % l->grid[0];
  x->block[1] = (linear / l->grid[0]) % l->grid[1];
  x->block[2] = linear / ((uint64_t)l->grid[0] * l->grid[1]);
  x->abort_block = 0;
  x->epoch = 1;
  memset(x->arena, 0xcd, x->arena_bytes);
  memset(x->shadow, 0, x->arena_bytes * sizeof(emu_shadow));
  memset(x->warps, 0, (size_t)((x->threads + 31) / 32) * sizeof(emu_warp));
  for (int i = 0; i < x->threads; ++i) {
    emu_fiber_init(&x->fibers[i], fiber_start);
    emu_async_reset(&x->fibers[i]);
    x->fibers[i].wgmma_groups = 0;
  }
  x->wgmma_read_count = 0;
  memset(x->wgmma_committed, 0, sizeof(x->wgmma_committed));
  memset(x->wgmma_retired, 0, sizeof(x->wgmma_retired));
  int n = x->threads, warps = (n + 31) / 32;
  /* Threads run in a rotated order that differs from block to block. */
  int rotation = (int)(linear * 7919 % (uint64_t)n);
  for (;;) {
    int progressed = 0;
    for (int k = 0; k < n && !x->abort_block; ++k) {
      emu_fiber *f = &x->fibers[(k + rotation) % n];
      if (f->state != FIBER_RUN)
        continue;
      x->current = f;
      emu_switch(&x->scheduler_sp, f->sp);
      progressed = 1;
    }
    x->current = NULL;
    if (x->abort_block)
      return;
    for (int w = 0; w < warps; ++w) {
      emu_warp *wp = &x->warps[w];
      if (!wp->arrived)
        continue;
      uint32_t waiting = 0, exited = 0;
      for (int lane = 0; lane < 32 && w * 32 + lane < n; ++lane) {
        int s = x->fibers[w * 32 + lane].state;
        if (s == FIBER_WARP)
          waiting |= 1u << lane;
        else if (s == FIBER_DONE)
          exited |= 1u << lane;
      }
      if (wp->mask & exited) {
        emu_report(0,
                   "warp collective waits for lanes 0x%08x that have "
                   "exited (mask 0x%08x)",
                   wp->mask & exited, wp->mask);
        x->abort_block = 1;
        return;
      }
      if ((wp->mask & waiting) != wp->mask)
        continue;
      int first = w, count = 1;
      if (wp->op == WARP_WGMMA) {
        /* A warpgroup collective: the four warps from w & ~3, all of whose
         * lanes wait at it, complete together. */
        first = w & ~3;
        count = 4;
        if (!warpgroup_waits(x, first)) {
          if (warpgroup_exited(x, first)) {
            emu_report(0, "wgmma.mma_async waits for threads of its "
                          "warpgroup that have exited");
            x->abort_block = 1;
            return;
          }
          continue;
        }
        if (!emu_wgmma_complete(x, &x->warps[first])) {
          x->abort_block = 1;
          return;
        }
      } else {
        emu_warp_complete(x, wp);
      }
      for (int v = first; v < first + count; ++v) {
        emu_warp *done = &x->warps[v];
        for (int lane = 0; lane < 32; ++lane)
          if (done->arrived & (1u << lane))
            x->fibers[v * 32 + lane].state = FIBER_RUN;
        done->arrived = 0;
        done->mask = 0;
        done->op = WARP_NONE;
        ++done->syncs;
      }
      progressed = 1;
    }
    if (progressed)
      continue;
    int done = 0, barrier = 0;
    for (int i = 0; i < n; ++i) {
      done += x->fibers[i].state == FIBER_DONE;
      barrier += x->fibers[i].state == FIBER_BARRIER;
    }
    if (done == n) {
      emu_wgmma_block_end(x);
      return;
    }
    if (barrier && barrier + done == n) {
      if (done) {
        emu_report(0,
                   "barrier divergence: %d of the block's threads wait at "
                   "bar.sync, which %d exited without reaching",
                   barrier, done);
        x->abort_block = 1;
        return;
      }
      ++x->epoch;
      for (int i = 0; i < n; ++i)
        x->fibers[i].state = FIBER_RUN;
      continue;
    }
    emu_report(0,
               "deadlock: %d threads wait at a barrier while %d wait at "
               "a warp collective that cannot complete",
               barrier, n - done - barrier);
    x->abort_block = 1;
    return;
  }
}

static void *worker(void *arg) {
  emu_launch *l = arg;
  /* The crash report runs on its own stack while this worker runs kernels
   * (the caller's alternate stack, if any, is put back afterwards). */
  size_t signal_bytes = SIGSTKSZ > 65536 ? SIGSTKSZ : 65536;
  stack_t signal_stack = {.ss_sp = malloc(signal_bytes),
                          .ss_size = signal_bytes},
          previous;
  int own_stack =
      signal_stack.ss_sp && sigaltstack(&signal_stack, &previous) == 0;
  emu_exec x = {0};
  x.launch = l;
  x.threads = (int)(l->block[0] * l->block[1] * l->block[2]);
  x.stack_bytes = STACK_BYTES + GUARD_BYTES;
  x.stacks_bytes = x.stack_bytes * (size_t)x.threads;
  x.stacks = mmap(NULL, x.stacks_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  x.fibers = calloc((size_t)x.threads, sizeof(emu_fiber));
  x.warps = calloc((size_t)(x.threads + 31) / 32, sizeof(emu_warp));
  emu_module *m = l->function->module;
  size_t dynamic_align = m->dynamic_shared_align ? m->dynamic_shared_align : 16;
  x.dynamic_offset =
      (m->shared_bytes + dynamic_align - 1) / dynamic_align * dynamic_align;
  x.arena_bytes = x.dynamic_offset + l->dynamic_shared;
  /* The arena itself is aligned far beyond any declaration (and wgmma
   * descriptors' addresses are its offsets). */
  x.arena = aligned_alloc(EMU_ARENA_ALIGN,
                          (x.arena_bytes + EMU_ARENA_ALIGN) / EMU_ARENA_ALIGN *
                              EMU_ARENA_ALIGN);
  x.shadow = calloc(x.arena_bytes + 1, sizeof(emu_shadow));
  if (x.stacks == MAP_FAILED || !x.fibers || !x.warps || !x.arena ||
      !x.shadow) {
    pthread_mutex_lock(&l->report_lock);
    if (!l->reports++) {
      snprintf(l->first_report, sizeof(l->first_report),
               "out of host memory for %d emulated threads", x.threads);
      l->status = EMU_ERROR_LAUNCH_FAILED;
    }
    pthread_mutex_unlock(&l->report_lock);
    atomic_store(&l->fatal, 1);
  } else {
    for (int i = 0; i < x.threads; ++i) {
      emu_fiber *f = &x.fibers[i];
      f->stack_lo = x.stacks + (size_t)i * x.stack_bytes + GUARD_BYTES;
      f->stack_hi = f->stack_lo + STACK_BYTES;
      mprotect(f->stack_lo - GUARD_BYTES, GUARD_BYTES, PROT_NONE);
      f->linear = i;
      f->tid[0] = i % (int)l->block[0];
      f->tid[1] = (i / (int)l->block[0]) % (int)l->block[1];
      f->tid[2] = i / (int)(l->block[0] * l->block[1]);
    }
    emu_current = &x;
    for (;;) {
      if (atomic_load(&l->fatal))
        break;
      uint64_t b = atomic_fetch_add(&l->next, 1);
      if (b >= l->blocks)
        break;
      run_block(&x, l->order[b]);
    }
    emu_current = NULL;
  }
  if (x.stacks != MAP_FAILED)
    munmap(x.stacks, x.stacks_bytes);
  free(x.fibers);
  free(x.warps);
  free(x.arena);
  free(x.shadow);
  if (own_stack)
    sigaltstack(&previous, NULL);
  free(signal_stack.ss_sp);
  return NULL;
}

static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static long env_long(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : fallback;
}

static void signal_default(int signal) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  sigaction(signal, &action, NULL);
}

static void install_handler(void) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_sigaction = on_crash;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigaction(SIGSEGV, &action, NULL);
  sigaction(SIGBUS, &action, NULL);
}

void emu_install_crash_handler(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_handler);
}

/* MOE_CUDA_EMULATOR_STATS=1: totals printed at exit, for the speed of the
 * emulator (emulated GPU threads per second of launch time). */
static atomic_uint_fast64_t stat_launches, stat_blocks, stat_threads,
    stat_nanoseconds;

static void print_stats(void) {
  double seconds = (double)atomic_load(&stat_nanoseconds) * 1e-9;
  uint64_t threads = atomic_load(&stat_threads);
  fprintf(stderr,
          "moe CUDA emulator: %llu launches, %llu blocks, %llu threads in "
          "%.3f s: %.3g emulated threads/s\n",
          (unsigned long long)atomic_load(&stat_launches),
          (unsigned long long)atomic_load(&stat_blocks),
          (unsigned long long)threads, seconds,
          seconds > 0 ? (double)threads / seconds : 0.0);
}

static void start_stats(void) {
  const char *v = getenv("MOE_CUDA_EMULATOR_STATS");
  if (v && *v && strcmp(v, "0"))
    atexit(print_stats);
}

int emu_run_launch(emu_launch *l) {
  static atomic_uint_fast64_t launches;
  static pthread_once_t stats_once = PTHREAD_ONCE_INIT;
  pthread_once(&stats_once, start_stats);
  struct timespec begin, end;
  clock_gettime(CLOCK_MONOTONIC, &begin);
  emu_install_crash_handler();
  l->blocks = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
  l->order = malloc(l->blocks * sizeof(uint64_t));
  if (!l->order)
    return EMU_ERROR_OUT_OF_MEMORY;
  uint64_t seed = (uint64_t)env_long("MOE_CUDA_EMULATOR_SEED", 1) * 1000003u +
                  atomic_fetch_add(&launches, 1);
  for (uint64_t i = 0; i < l->blocks; ++i)
    l->order[i] = i;
  for (uint64_t i = l->blocks; i > 1; --i) {
    uint64_t j = next_random(&seed) % i, t = l->order[i - 1];
    l->order[i - 1] = l->order[j];
    l->order[j] = t;
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long workers = env_long("MOE_CUDA_EMULATOR_THREADS", cpus > 0 ? cpus : 1);
  if (workers < 1)
    workers = 1;
  if ((uint64_t)workers > l->blocks)
    workers = (long)l->blocks;
  pthread_t threads[256];
  if (workers > 256)
    workers = 256;
  long started = 0;
  for (long i = 1; i < workers; ++i, ++started)
    if (pthread_create(&threads[i - 1], NULL, worker, l))
      break;
  worker(l);
  for (long i = 0; i < started; ++i)
    pthread_join(threads[i], NULL);
  free(l->order);
  clock_gettime(CLOCK_MONOTONIC, &end);
  atomic_fetch_add(&stat_launches, 1);
  atomic_fetch_add(&stat_blocks, l->blocks);
  atomic_fetch_add(&stat_threads,
                   l->blocks * l->block[0] * l->block[1] * l->block[2]);
  atomic_fetch_add(&stat_nanoseconds,
                   (uint64_t)((end.tv_sec - begin.tv_sec) * 1000000000ll +
                              (end.tv_nsec - begin.tv_nsec)));
  return l->status;
}
