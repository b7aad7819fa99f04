/*===- async.c - calls queued on the caller's stream ---------------------===*
 *
 * A model's <function>_run_async queues its work on the caller's stream
 * and returns without waiting. Two things of a call then happen later, on
 * the stream, in one host function queued after the call's work
 * (cuLaunchHostFunc): the checks whose flag words kernels set (deferred
 * by moe-gpu-async-entry) are read, the first failure kept for
 * moe_cuda_async_status; and the unified buffers the call freed, which
 * host code of a later call would touch at once, go back to the cache.
 * Device buffers need no such care: the cache reuses them in the stream's
 * order (pool.c).
 *
 *===---------------------------------------------------------------------===*/

#include "async.h"
#include "graphs.h"
#include "grow.h"
#include "pool.h"
#include "moe/Runtime/CUDA.h"
#include "moe/Runtime/Errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uintptr_t word;
  int32_t must_equal, value;
  const char *message;
} deferred_check;

/* What one call leaves to its host function. */
typedef struct {
  deferred_check *checks;
  size_t num_checks, checks_capacity;
  void **frees;
  size_t num_frees, frees_capacity;
  moe_cuda_call_status *status; /* NULL: the process-wide status */
} deferred;

static __thread int active;
static __thread CUstream stream;
static __thread deferred *pending;
static __thread moe_cuda_call_status *report_to;

/* moe_cuda_async_status's: the first failure of calls that report to no
 * call of their own. */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static moe_cuda_call_status process_status;

static int passes(const deferred_check *c) {
  int32_t v;
  memcpy(&v, (const void *)c->word, sizeof(v));
  return c->must_equal ? v == c->value : v != c->value;
}

static void release(deferred *p) {
  free(p->checks);
  free(p->frees);
  free(p);
}

/* Keeps the first failed check of `p` for moe_cuda_async_status, or in
 * the status of its synchronous call. */
static void run_checks(void *data) {
  deferred *p = data;
  for (size_t i = 0; i < p->num_checks; ++i)
    if (!passes(&p->checks[i])) {
      moe_cuda_call_status *status = p->status ? p->status : &process_status;
      pthread_mutex_lock(&status_lock);
      if (!status->failed) {
        status->failed = 1;
        snprintf(status->message, sizeof(status->message), "%s",
                 p->checks[i].message);
      }
      pthread_mutex_unlock(&status_lock);
      return;
    }
}

/* On the stream, after the call's work: no driver calls here. */
static void run_deferred(void *data) {
  deferred *p = data;
  run_checks(p);
  for (size_t i = 0; i < p->num_frees; ++i)
    moe_cuda_pool_give_from_host_function(p->frees[i]);
  release(p);
}

/* gpu.c: the wait generated code makes (the pool learns of it). */
void mgpuStreamSynchronize(void *stream);

/* Waits for the stream (work queued so far is done). */
static void wait_for_stream(void) { mgpuStreamSynchronize(stream); }

void moe_cuda_async_begin(void *s) {
  active = 1;
  stream = (CUstream)s;
  pending = NULL;
}

int moe_cuda_async_stream(CUstream *s) {
  if (active)
    *s = stream;
  return active;
}

static deferred *current(void) {
  if (!pending && (pending = calloc(1, sizeof(deferred))))
    pending->status = report_to;
  return pending;
}

void moe_cuda_async_report_to(moe_cuda_call_status *status) {
  report_to = status;
}

moe_cuda_call_status *moe_cuda_async_reporting_to(void) { return report_to; }

int moe_cuda_async_defer_free(void *ptr) {
  if (!active)
    return 0;
  deferred *p = current();
  if (!p || !moe_cuda_grow((void **)&p->frees, &p->frees_capacity, p->num_frees,
                  sizeof(void *))) {
    /* No room to remember it: once the stream is done, it is idle. */
    wait_for_stream();
    moe_cuda_pool_give(ptr);
    return 1;
  }
  p->frees[p->num_frees++] = ptr;
  return 1;
}

void moe_cuda_check_later(uintptr_t word, int32_t must_equal, int32_t value,
                          const char *message) {
  deferred_check c = {word, must_equal, value, message};
  deferred *p = active ? current() : NULL;
  if (!p || !moe_cuda_grow((void **)&p->checks, &p->checks_capacity, p->num_checks,
                  sizeof(deferred_check))) {
    /* Outside an asynchronous call, or no room: checked now. */
    if (active)
      wait_for_stream();
    else
      moe_cuda_synchronize();
    if (!passes(&c))
      moe_runtime_fail(message);
    return;
  }
  p->checks[p->num_checks++] = c;
}

/* A graph's host node runs run_checks on every replay; the graph keeps
 * the record (the captured call freed nothing: its buffers are the
 * graph's). */
static void release_record(void *data) { release(data); }

void moe_cuda_async_end(void) {
  deferred *p = pending;
  pending = NULL;
  if (p && p->num_checks && moe_cuda_graph_capturing()) {
    const moe_cuda_driver *d = moe_cuda_driver_or_fail();
    moe_cuda_graph_keep(p, release_record);
    moe_cuda_check(d->cuLaunchHostFunc(stream, run_checks, p),
                   "queueing the checks of a call (cuLaunchHostFunc)");
  } else if (p && (p->num_checks || p->num_frees)) {
    const moe_cuda_driver *d = moe_cuda_driver_or_fail();
    if (d->cuLaunchHostFunc(stream, run_deferred, p) != 0) {
      /* Not queued: done here, once the stream has run the call. */
      wait_for_stream();
      run_deferred(p);
    }
  } else if (p) {
    release(p);
  }
  active = 0;
}

void moe_cuda_async_abort(void) {
  deferred *p = pending;
  pending = NULL;
  active = 0;
  if (!p)
    return;
  /* The stream is drained: nothing queued uses the buffers. */
  for (size_t i = 0; i < p->num_frees; ++i)
    moe_cuda_pool_give(p->frees[i]);
  release(p);
}

int moe_cuda_async_status(char *error, size_t error_size) {
  pthread_mutex_lock(&status_lock);
  int was = process_status.failed;
  if (was && error && error_size)
    snprintf(error, error_size, "%s", process_status.message);
  process_status.failed = 0;
  pthread_mutex_unlock(&status_lock);
  return was;
}
