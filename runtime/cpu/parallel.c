/*===- parallel.c - the thread pool behind generated parallel loops -----===*
 *
 * The CPU pipeline lowers parallel loops through MLIR's OpenMP dialect, whose
 * LLVM translation emits calls to the libomp entry points below. This file
 * implements exactly those, on a persistent pthread pool of our own, so that
 * compiled models need no OpenMP runtime:
 *   __kmpc_fork_call          run an outlined region on every team thread
 *   __kmpc_fork_call_if       the same, or on the calling thread alone
 *   __kmpc_for_static_init_*  the calling thread's block of a static loop
 *   __kmpc_dispatch_init_*, __kmpc_dispatch_next_*  guided or dynamic loops
 *   __kmpc_for_static_fini, __kmpc_barrier, __kmpc_global_thread_num
 * Parallel regions entered from inside a region run serially (a team of 1).
 * The team size is moe_runtime_set_num_threads(n), else MOE_NUM_THREADS,
 * else the number of online CPUs.
 *
 *===---------------------------------------------------------------------===*/

#include "moe/Runtime/Errors.h"
#include "moe/Runtime/Threads.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOE_MAX_THREADS 256

typedef void (*moe_microtask)(int32_t *gtid, int32_t *btid, ...);

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;
static int requested_threads; /* 0: not set, use the environment */
static int started_workers;   /* pool threads started (team size - 1) */
static pthread_t workers[MOE_MAX_THREADS];
static int stopping;          /* the library is being unloaded */
static uint64_t generation;   /* bumped for each region */
static int team_size = 1;     /* size of the region in flight */
static int remaining;         /* workers still running the region */
static moe_microtask task;
static int task_argc;
static void *task_args[4];

/* Per thread: its id in the current team and whether it is inside one. */
static __thread int32_t thread_id;
static __thread int in_region;
static __thread int current_team = 1;
static __thread uint64_t dispatch_seq; /* dispatched loops begun, per region */

/* A failure on a team thread (a failed check, an allocation): the first
 * one's kind and message, reported by the forking thread once the team has
 * joined. Threads waiting at a barrier leave the region when it is set, so
 * that a thread that unwound past a barrier cannot leave the others waiting
 * for it. */
static int team_failed;
static int failure_kind;
static char failure_message[256];
static __thread jmp_buf *task_handler; /* this thread's exit from the task */
static __thread int cancelled; /* left the task because another failed */

/* A sense-reversing barrier for the team in flight. */
static pthread_mutex_t barrier_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t barrier_cond = PTHREAD_COND_INITIALIZER;
static int barrier_count;
static uint64_t barrier_phase;

void moe_runtime_set_num_threads(int n) {
  pthread_mutex_lock(&pool_lock);
  requested_threads = n < 1 ? 1 : (n > MOE_MAX_THREADS ? MOE_MAX_THREADS : n);
  pthread_mutex_unlock(&pool_lock);
}

int moe_runtime_get_num_threads(void) {
  if (requested_threads)
    return requested_threads;
  const char *env = getenv("MOE_NUM_THREADS");
  long n = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    n = 1;
  return n > MOE_MAX_THREADS ? MOE_MAX_THREADS : (int)n;
}

/* Calls `fn` as thread `*gtid` with its `argc` (at most 4) captured values. */
static void invoke(moe_microtask fn, int32_t argc, void *const args[4],
                   int32_t *gtid, int32_t *btid) {
  switch (argc) {
  case 0: fn(gtid, btid); break;
  case 1: fn(gtid, btid, args[0]); break;
  case 2: fn(gtid, btid, args[0], args[1]); break;
  case 3: fn(gtid, btid, args[0], args[1], args[2]); break;
  default: fn(gtid, btid, args[0], args[1], args[2], args[3]);
  }
}

/* Marks the team failed with the first failure's kind and message, and wakes
 * the threads waiting at a barrier so that they leave. */
static void record_failure(int kind, const char *message) {
  pthread_mutex_lock(&barrier_lock);
  if (!__atomic_load_n(&team_failed, __ATOMIC_ACQUIRE)) {
    failure_kind = kind;
    strncpy(failure_message, message, sizeof(failure_message) - 1);
    failure_message[sizeof(failure_message) - 1] = '\0';
    __atomic_store_n(&team_failed, 1, __ATOMIC_RELEASE);
  }
  pthread_cond_broadcast(&barrier_cond);
  pthread_mutex_unlock(&barrier_lock);
}

/* Leaves the task of a team in which another thread failed. */
static void leave_failed_team(void) {
  cancelled = 1;
  longjmp(*task_handler, 1);
}

static void run_task(int32_t id) {
  int32_t gtid = id, btid = id;
  thread_id = id;
  in_region = 1;
  current_team = team_size;
  dispatch_seq = 0;
  /* A failure inside the task unwinds to here on every thread (the pool's
   * threads have no handler of their own; the forking thread's would skip
   * the join). */
  jmp_buf *outer = moe_runtime_get_error_handler();
  jmp_buf here;
  task_handler = &here;
  moe_runtime_set_error_handler(&here);
  if (setjmp(here) == 0)
    invoke(task, task_argc, task_args, &gtid, &btid);
  else if (!cancelled)
    record_failure(moe_runtime_error_kind(), moe_runtime_error_message());
  cancelled = 0;
  moe_runtime_set_error_handler(outer);
  task_handler = NULL;
  in_region = 0;
  current_team = 1;
}

/* Workers and the forking thread spin this many times before sleeping: a
 * region follows another within microseconds in generated code, far less
 * than a condition-variable wake-up takes. */
#define MOE_SPIN_ITERATIONS 20000

/* Spinning only pays when every team thread has a core: with more threads
 * than online CPUs a spinning thread holds the core the one it waits for
 * needs, so waits go straight to sleep. Set at each fork. */
static int spin_limit = MOE_SPIN_ITERATIONS;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg) {
  int32_t id = (int32_t)(intptr_t)arg;
  uint64_t seen = 0;
  for (;;) {
    for (int spin = 0; spin < __atomic_load_n(&spin_limit, __ATOMIC_RELAXED) &&
                       __atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen;
         ++spin)
      cpu_relax();
    if (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen) {
      pthread_mutex_lock(&pool_lock);
      while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen &&
             !__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&work_ready, &pool_lock);
      pthread_mutex_unlock(&pool_lock);
    }
    if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
      return NULL;
    seen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    if (id >= __atomic_load_n(&team_size, __ATOMIC_ACQUIRE))
      continue; /* this region uses fewer threads */
    run_task(id);
    if (__atomic_sub_fetch(&remaining, 1, __ATOMIC_ACQ_REL) == 0) {
      pthread_mutex_lock(&pool_lock);
      pthread_cond_signal(&work_done);
      pthread_mutex_unlock(&pool_lock);
    }
  }
  return NULL;
}

int32_t __kmpc_global_thread_num(void *loc) {
  (void)loc;
  return thread_id;
}

/* A region run by this thread alone, as id 0 of a team of 1. */
static void run_serial(moe_microtask fn, int32_t argc, void *args[4]) {
  int32_t saved_id = thread_id;
  int saved_region = in_region, saved_team = current_team;
  int32_t gtid = 0, btid = 0;
  thread_id = 0;
  in_region = 1;
  current_team = 1;
  invoke(fn, argc, args, &gtid, &btid);
  thread_id = saved_id;
  in_region = saved_region;
  current_team = saved_team;
}

void __kmpc_fork_call(void *loc, int32_t argc, moe_microtask fn, ...) {
  (void)loc;
  va_list ap;
  va_start(ap, fn);
  void *args[4] = {0, 0, 0, 0};
  for (int32_t i = 0; i < argc && i < 4; ++i)
    args[i] = va_arg(ap, void *);
  va_end(ap);

  int n = in_region ? 1 : moe_runtime_get_num_threads();
  if (n == 1) {
    run_serial(fn, argc, args);
    return;
  }

  pthread_mutex_lock(&pool_lock);
  while (started_workers < n - 1) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker_main,
                       (void *)(intptr_t)(started_workers + 1)) != 0)
      break; /* run with the threads we have */
    workers[started_workers++] = t;
  }
  if (n > started_workers + 1)
    n = started_workers + 1;
  static long online;
  if (!online)
    online = sysconf(_SC_NPROCESSORS_ONLN);
  __atomic_store_n(&spin_limit, n <= online ? MOE_SPIN_ITERATIONS : 0,
                   __ATOMIC_RELAXED);
  task = fn;
  task_argc = argc;
  for (int i = 0; i < 4; ++i)
    task_args[i] = args[i];
  __atomic_store_n(&team_size, n, __ATOMIC_RELEASE);
  __atomic_store_n(&remaining, n - 1, __ATOMIC_RELEASE);
  __atomic_store_n(&barrier_count, 0, __ATOMIC_RELAXED);
  __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
  pthread_cond_broadcast(&work_ready);
  pthread_mutex_unlock(&pool_lock);

  run_task(0);

  for (int spin = 0; spin < __atomic_load_n(&spin_limit, __ATOMIC_RELAXED) &&
                     __atomic_load_n(&remaining, __ATOMIC_ACQUIRE) > 0;
       ++spin)
    cpu_relax();
  pthread_mutex_lock(&pool_lock);
  while (__atomic_load_n(&remaining, __ATOMIC_ACQUIRE) > 0)
    pthread_cond_wait(&work_done, &pool_lock);
  pthread_mutex_unlock(&pool_lock);
  thread_id = 0;
  if (__atomic_load_n(&team_failed, __ATOMIC_ACQUIRE)) {
    char message[sizeof(failure_message)];
    memcpy(message, failure_message, sizeof(message));
    __atomic_store_n(&team_failed, 0, __ATOMIC_RELEASE);
    moe_runtime_fail_with(failure_kind, message);
  }
}

/* omp.parallel with an if clause: the OpenMP translation passes the
 * region's captured values as one struct pointer (argc 1) or none (argc 0,
 * args null). cond 0 runs the region on this thread alone. */
void __kmpc_fork_call_if(void *loc, int32_t argc, moe_microtask fn,
                         int32_t cond, void *args) {
  if (cond) {
    if (argc > 0)
      __kmpc_fork_call(loc, 1, fn, args);
    else
      __kmpc_fork_call(loc, 0, fn);
    return;
  }
  void *serial_args[4] = {args, 0, 0, 0};
  run_serial(fn, argc > 0 ? 1 : 0, serial_args);
}

/* Static schedule without chunks: thread t of T gets one contiguous block
 * of the inclusive range [*lower, *upper]. */
#define MOE_STATIC_INIT(suffix, T)                                            \
  void __kmpc_for_static_init_##suffix(void *loc, int32_t gtid,              \
                                       int32_t schedule, int32_t *last,      \
                                       T *lower, T *upper, T *stride,        \
                                       T incr, T chunk) {                    \
    (void)loc;                                                                \
    (void)schedule;                                                           \
    (void)chunk;                                                              \
    int team = current_team;                                                  \
    T lo = *lower, hi = *upper;                                               \
    T trips = incr > 0 ? (hi - lo) / incr + 1 : (lo - hi) / -incr + 1;       \
    if ((incr > 0 && hi < lo) || (incr < 0 && hi > lo))                       \
      trips = 0;                                                              \
    T per = trips / team, extra = trips % team;                               \
    T t = (T)gtid;                                                            \
    T begin = t * per + (t < extra ? t : extra);                              \
    T count = per + (t < extra ? 1 : 0);                                      \
    *lower = lo + begin * incr;                                               \
    *upper = lo + (begin + count - 1) * incr;                                 \
    if (count == 0)                                                           \
      *upper = *lower - incr; /* empty */                                     \
    *stride = trips * incr;                                                   \
    if (last)                                                                 \
      *last = (begin + count == trips);                                       \
  }

MOE_STATIC_INIT(4, int32_t)
MOE_STATIC_INIT(4u, uint32_t)
MOE_STATIC_INIT(8, int64_t)
MOE_STATIC_INIT(8u, uint64_t)

/* Dispatched (guided or dynamic) loops. The team's threads share one loop
 * at a time: every thread calls dispatch_init with the same bounds, the
 * first to arrive publishes them, and all claim chunks of iteration numbers
 * [0, trips) from one counter. Only one such loop is in flight per team
 * because the OpenMP translation ends each worksharing loop with a barrier
 * (the SCF conversion never makes them nowait). */
enum { MOE_SCHED_GUIDED_CHUNKED = 36, MOE_SCHED_GUIDED_ITERATIVE = 39,
       MOE_SCHED_GUIDED_ANALYTICAL = 40 };

static struct {
  uint64_t tag; /* (region generation << 20) + loop number, once published */
  int init_lock;
  int64_t next; /* first iteration number not yet claimed */
  int64_t trips, chunk;
  int guided;
} shared_loop;

static __thread struct {
  int64_t next, trips, chunk; /* a team of one claims from its own copy */
  int guided, team;
  int64_t lo, incr; /* first iteration and step, in the loop's own type */
} my_loop;

static void dispatch_init(int32_t schedule, int64_t lo, int64_t hi,
                          int64_t incr, int64_t chunk) {
  int64_t trips = incr > 0 ? (hi < lo ? 0 : (hi - lo) / incr + 1)
                           : (hi > lo ? 0 : (lo - hi) / -incr + 1);
  int kind = schedule & 0xff; /* drop the (non)monotonic modifier bits */
  int guided = kind == MOE_SCHED_GUIDED_CHUNKED ||
               kind == MOE_SCHED_GUIDED_ITERATIVE ||
               kind == MOE_SCHED_GUIDED_ANALYTICAL;
  my_loop.lo = lo;
  my_loop.incr = incr;
  my_loop.team = current_team;
  my_loop.trips = trips;
  my_loop.chunk = chunk > 0 ? chunk : 1;
  my_loop.guided = guided;
  my_loop.next = 0;
  if (my_loop.team <= 1)
    return;
  uint64_t tag = (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) << 20) +
                 ++dispatch_seq;
  if (__atomic_load_n(&shared_loop.tag, __ATOMIC_ACQUIRE) == tag)
    return;
  int expected = 0;
  if (__atomic_compare_exchange_n(&shared_loop.init_lock, &expected, 1, 0,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    if (__atomic_load_n(&shared_loop.tag, __ATOMIC_ACQUIRE) != tag) {
      shared_loop.trips = trips;
      shared_loop.chunk = my_loop.chunk;
      shared_loop.guided = guided;
      __atomic_store_n(&shared_loop.next, 0, __ATOMIC_RELAXED);
      __atomic_store_n(&shared_loop.tag, tag, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&shared_loop.init_lock, 0, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(&shared_loop.tag, __ATOMIC_ACQUIRE) != tag)
    cpu_relax();
}

/* Claims the next chunk of iteration numbers: [*first, *first + *count). */
static int dispatch_claim(int64_t *first, int64_t *count) {
  int team = my_loop.team;
  int64_t *next = team <= 1 ? &my_loop.next : &shared_loop.next;
  int64_t trips = my_loop.trips, chunk = my_loop.chunk;
  int64_t cur = __atomic_load_n(next, __ATOMIC_RELAXED);
  for (;;) {
    /* A failed team claims no more work: its result is discarded. */
    if (cur >= trips || __atomic_load_n(&team_failed, __ATOMIC_ACQUIRE))
      return 0;
    int64_t size = chunk;
    if (my_loop.guided) {
      /* Guided: a share of what is left, never below the chunk size. */
      int64_t share = (trips - cur) / (2 * (int64_t)team);
      size = share > chunk ? share : chunk;
    }
    if (size > trips - cur)
      size = trips - cur;
    if (__atomic_compare_exchange_n(next, &cur, cur + size, 1,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
      *first = cur;
      *count = size;
      return 1;
    }
  }
}

#define MOE_DISPATCH(suffix, T)                                               \
  void __kmpc_dispatch_init_##suffix(void *loc, int32_t gtid,                \
                                     int32_t schedule, T lb, T ub, T st,     \
                                     T chunk) {                              \
    (void)loc;                                                                \
    (void)gtid;                                                               \
    dispatch_init(schedule, (int64_t)lb, (int64_t)ub, (int64_t)st,           \
                  (int64_t)chunk);                                            \
  }                                                                           \
  int32_t __kmpc_dispatch_next_##suffix(void *loc, int32_t gtid,             \
                                        int32_t *last, T *lower, T *upper,   \
                                        T *stride) {                         \
    (void)loc;                                                                \
    (void)gtid;                                                               \
    int64_t first, count;                                                     \
    if (!dispatch_claim(&first, &count))                                      \
      return 0;                                                               \
    *lower = (T)(my_loop.lo + first * my_loop.incr);                          \
    *upper = (T)(my_loop.lo + (first + count - 1) * my_loop.incr);            \
    *stride = (T)my_loop.incr;                                                \
    if (last)                                                                 \
      *last = first + count == my_loop.trips;                                 \
    return 1;                                                                 \
  }                                                                           \
  void __kmpc_dispatch_fini_##suffix(void *loc, int32_t gtid) {              \
    (void)loc;                                                                \
    (void)gtid;                                                               \
  }

MOE_DISPATCH(4, int32_t)
MOE_DISPATCH(4u, uint32_t)
MOE_DISPATCH(8, int64_t)
MOE_DISPATCH(8u, uint64_t)

void __kmpc_dispatch_deinit(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

void __kmpc_for_static_fini(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

/* Spins like the workers do before sleeping: the team's threads reach a
 * barrier within microseconds of each other, less than a futex wake-up. */
void __kmpc_barrier(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
  int team = current_team;
  if (team <= 1)
    return;
  if (__atomic_load_n(&team_failed, __ATOMIC_ACQUIRE))
    leave_failed_team();
  uint64_t phase = __atomic_load_n(&barrier_phase, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&barrier_count, 1, __ATOMIC_ACQ_REL) == team) {
    /* The count is reset before the phase moves on, so no thread can
     * arrive at the next barrier and see the old count. */
    __atomic_store_n(&barrier_count, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&barrier_lock);
    __atomic_add_fetch(&barrier_phase, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&barrier_cond);
    pthread_mutex_unlock(&barrier_lock);
    return;
  }
  for (int spin = 0; spin < __atomic_load_n(&spin_limit, __ATOMIC_RELAXED);
       ++spin) {
    if (__atomic_load_n(&barrier_phase, __ATOMIC_ACQUIRE) != phase)
      return;
    if (__atomic_load_n(&team_failed, __ATOMIC_ACQUIRE))
      leave_failed_team();
    cpu_relax();
  }
  pthread_mutex_lock(&barrier_lock);
  while (__atomic_load_n(&barrier_phase, __ATOMIC_ACQUIRE) == phase &&
         !__atomic_load_n(&team_failed, __ATOMIC_ACQUIRE))
    pthread_cond_wait(&barrier_cond, &barrier_lock);
  pthread_mutex_unlock(&barrier_lock);
  if (__atomic_load_n(&barrier_phase, __ATOMIC_ACQUIRE) == phase)
    leave_failed_team();
}

/* One model call at a time (see Threads.h). */
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;

void moe_runtime_call_begin(void) { pthread_mutex_lock(&call_lock); }

void moe_runtime_call_end(void) { pthread_mutex_unlock(&call_lock); }

/* fork(): the child has none of the pool's threads. It starts from an
 * empty pool whose locks no vanished thread holds; its first region starts
 * new workers. (The fork does not wait for a call in flight: MPI forks its
 * helper from inside one.) */
static void after_fork_child(void) {
  pthread_mutex_init(&call_lock, NULL);
  pthread_mutex_init(&pool_lock, NULL);
  pthread_cond_init(&work_ready, NULL);
  pthread_cond_init(&work_done, NULL);
  pthread_mutex_init(&barrier_lock, NULL);
  pthread_cond_init(&barrier_cond, NULL);
  started_workers = 0;
  remaining = 0;
  team_size = 1;
  barrier_count = 0;
}

__attribute__((constructor)) static void register_fork_handlers(void) {
  pthread_atfork(NULL, NULL, after_fork_child);
}

/* Unloading the library (dlclose, or exit): the pool's threads run this
 * library's code and wait on its condition variables, so they are stopped
 * and joined first (before, a library loaded again at the same address had
 * the old threads wake up on its work). A call still in flight on another
 * thread keeps its pool: it cannot be unloaded safely either way. */
__attribute__((destructor)) static void stop_pool(void) {
  if (pthread_mutex_trylock(&call_lock) != 0)
    return;
  pthread_mutex_lock(&pool_lock);
  __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&work_ready);
  pthread_mutex_unlock(&pool_lock);
  for (int i = 0; i < started_workers; ++i)
    pthread_join(workers[i], NULL);
  started_workers = 0;
  __atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&call_lock);
}
