/*===- parallel.c - the thread pool behind generated parallel loops -----===*
 *
 * The CPU pipeline lowers parallel loops through MLIR's OpenMP dialect, whose
 * LLVM translation emits calls to the libomp entry points below. This file
 * implements exactly those, on a persistent pthread pool of our own, so that
 * compiled models need no OpenMP runtime:
 *   __kmpc_fork_call          run an outlined region on every team thread
 *   __kmpc_for_static_init_*  the calling thread's block of a static loop
 *   __kmpc_for_static_fini, __kmpc_barrier, __kmpc_global_thread_num
 * Parallel regions entered from inside a region run serially (a team of 1).
 * The team size is moe_runtime_set_num_threads(n), else MOE_NUM_THREADS,
 * else the number of online CPUs.
 *
 *===---------------------------------------------------------------------===*/

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define MOE_MAX_THREADS 256

typedef void (*moe_microtask)(int32_t *gtid, int32_t *btid, ...);

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;
static int requested_threads; /* 0: not set, use the environment */
static int started_workers;   /* pool threads started (team size - 1) */
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

static void run_task(int32_t id) {
  int32_t gtid = id, btid = id;
  thread_id = id;
  in_region = 1;
  current_team = team_size;
  switch (task_argc) {
  case 0: task(&gtid, &btid); break;
  case 1: task(&gtid, &btid, task_args[0]); break;
  case 2: task(&gtid, &btid, task_args[0], task_args[1]); break;
  case 3: task(&gtid, &btid, task_args[0], task_args[1], task_args[2]); break;
  default:
    task(&gtid, &btid, task_args[0], task_args[1], task_args[2], task_args[3]);
  }
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
      while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen)
        pthread_cond_wait(&work_ready, &pool_lock);
      pthread_mutex_unlock(&pool_lock);
    }
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
    /* Serial team: this thread alone, as id 0 of a team of 1. */
    int32_t saved_id = thread_id;
    int saved_region = in_region, saved_team = current_team;
    int32_t gtid = 0, btid = 0;
    thread_id = 0;
    in_region = 1;
    current_team = 1;
    switch (argc) {
    case 0: fn(&gtid, &btid); break;
    case 1: fn(&gtid, &btid, args[0]); break;
    case 2: fn(&gtid, &btid, args[0], args[1]); break;
    case 3: fn(&gtid, &btid, args[0], args[1], args[2]); break;
    default: fn(&gtid, &btid, args[0], args[1], args[2], args[3]);
    }
    thread_id = saved_id;
    in_region = saved_region;
    current_team = saved_team;
    return;
  }

  pthread_mutex_lock(&pool_lock);
  while (started_workers < n - 1) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker_main,
                       (void *)(intptr_t)(started_workers + 1)) != 0)
      break; /* run with the threads we have */
    pthread_detach(t);
    ++started_workers;
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
    cpu_relax();
  }
  pthread_mutex_lock(&barrier_lock);
  while (__atomic_load_n(&barrier_phase, __ATOMIC_ACQUIRE) == phase)
    pthread_cond_wait(&barrier_cond, &barrier_lock);
  pthread_mutex_unlock(&barrier_lock);
}
