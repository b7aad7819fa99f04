/*===- graphs.c - asynchronous calls replayed as CUDA graphs -------------===*
 *
 * A decode step launches a handful of small kernels, each costing several
 * microseconds of driver time; a CUDA graph launches them all at once. The
 * second asynchronous call of an entry function with the same key (shapes
 * and buffer addresses) is captured into a graph on the caller's stream
 * (the first ran eagerly: weights, modules and kernel handles are loaded
 * by then, which a capture could not do); later calls with that key launch
 * the graph and nothing else. What the host computed while queueing the
 * captured call depends only on the key, so the replay does without it.
 * The buffers the captured call took belong to the graph (its replays
 * reuse them), as does the record its host node reads (the deferred
 * checks). At most MAX_GRAPHS keys are kept, the least recently used
 * evicted.
 *
 *===---------------------------------------------------------------------===*/

#include "graphs.h"

#include "async.h"
#include "driver.h"
#include "grow.h"
#include "moe/Runtime/CUDA.h"
#include "moe/Runtime/Errors.h"
#include "pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_GRAPHS = 64, CAPTURE_MODE_RELAXED = 2 };

typedef struct graph_entry {
  const void *function;
  const void *status; /* where its checks report (async.h) */
  uint64_t hash;
  size_t key_bytes;
  unsigned char *key;
  CUgraphExec exec; /* NULL until captured */
  int uncapturable; /* capturing it failed: it runs eagerly */
  int lost_buffer;  /* a buffer of the capture could not be remembered */
  void **buffers;
  size_t num_buffers, buffers_capacity;
  void *kept;
  void (*release_kept)(void *);
  CUstream stream; /* where it was captured */
  uint64_t last_use;
  struct graph_entry *next;
} graph_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static graph_entry *entries;
static size_t num_entries;
static uint64_t ticks;
static int enabled = -1; /* -1: MOE_CUDA_GRAPHS not read yet */

static __thread graph_entry *capture;

static int is_enabled(void) {
  if (enabled < 0) {
    const char *env = getenv("MOE_CUDA_GRAPHS");
    enabled = !(env && !strcmp(env, "0"));
  }
  return enabled;
}

static uint64_t hash_key(const void *function, const unsigned char *key,
                         size_t bytes) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)function;
  for (size_t i = 0; i < bytes; ++i)
    h = (h ^ key[i]) * 1099511628211ull;
  return h;
}

/* Gives back what the entry holds once the device is done with it (the
 * whole device: the caller may have destroyed the stream it last ran on). */
static void drop_graph(const moe_cuda_driver *d, graph_entry *e) {
  if (e->exec && d) {
    d->cuCtxSynchronize();
    moe_cuda_pool_device_waited();
    d->cuGraphExecDestroy(e->exec);
    e->exec = NULL;
  }
  for (size_t i = 0; i < e->num_buffers; ++i)
    moe_cuda_pool_give(e->buffers[i]);
  e->num_buffers = 0;
  if (e->kept && e->release_kept)
    e->release_kept(e->kept);
  e->kept = NULL;
}

static void free_entry(const moe_cuda_driver *d, graph_entry *e) {
  drop_graph(d, e);
  free(e->buffers);
  free(e->key);
  free(e);
}

/* With the lock held. */
static void evict_oldest(const moe_cuda_driver *d) {
  graph_entry **oldest = NULL;
  for (graph_entry **p = &entries; *p; p = &(*p)->next)
    if (*p != capture && (!oldest || (*p)->last_use < (*oldest)->last_use))
      oldest = p;
  if (!oldest)
    return;
  graph_entry *e = *oldest;
  *oldest = e->next;
  --num_entries;
  free_entry(d, e);
}

int moe_cuda_graph_replay(const void *function, const void *key,
                          size_t key_bytes, void *stream) {
  if (!is_enabled() || !stream)
    return 0;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  if (!d->cuStreamBeginCapture || !d->cuStreamEndCapture ||
      !d->cuGraphInstantiateWithFlags || !d->cuGraphLaunch ||
      !d->cuGraphExecDestroy || !d->cuGraphDestroy)
    return 0;
  uint64_t h = hash_key(function, key, key_bytes);
  /* A graph's host node reports to the status of the call captured. */
  const void *status = moe_cuda_async_reporting_to();
  pthread_mutex_lock(&lock);
  graph_entry *e = entries;
  while (e &&
         !(e->function == function && e->status == status && e->hash == h &&
           e->key_bytes == key_bytes && !memcmp(e->key, key, key_bytes)))
    e = e->next;
  if (e)
    e->last_use = ++ticks;
  if (e && e->exec) {
    pthread_mutex_unlock(&lock);
    moe_cuda_timer_start();
    moe_cuda_check(d->cuGraphLaunch(e->exec, (CUstream)stream),
                   "launching a CUDA graph (cuGraphLaunch)");
    moe_cuda_timer_stop();
    return 1;
  }
  if (!e) {
    /* First seen: runs eagerly; the next call with this key is captured. */
    e = calloc(1, sizeof(graph_entry));
    unsigned char *copy = malloc(key_bytes ? key_bytes : 1);
    if (e && copy) {
      memcpy(copy, key, key_bytes);
      e->function = function;
      e->status = status;
      e->hash = h;
      e->key = copy;
      e->key_bytes = key_bytes;
      e->last_use = ++ticks;
      e->next = entries;
      entries = e;
      if (++num_entries > MAX_GRAPHS)
        evict_oldest(d);
    } else {
      free(e);
      free(copy);
    }
    pthread_mutex_unlock(&lock);
    return 0;
  }
  int begin = !e->uncapturable &&
              d->cuStreamBeginCapture((CUstream)stream,
                                      CAPTURE_MODE_RELAXED) == 0;
  if (begin) {
    e->stream = (CUstream)stream;
    capture = e;
  }
  pthread_mutex_unlock(&lock);
  return 0;
}

int moe_cuda_graph_capturing(void) { return capture != NULL; }

int moe_cuda_graph_own(void *ptr) {
  graph_entry *e = capture;
  if (!moe_cuda_grow((void **)&e->buffers, &e->buffers_capacity,
                     e->num_buffers, sizeof(void *))) {
    e->lost_buffer = 1;
    return 0;
  }
  e->buffers[e->num_buffers++] = ptr;
  return 1;
}

void moe_cuda_graph_keep(void *data, void (*release)(void *)) {
  capture->kept = data;
  capture->release_kept = release;
}

/* Ends the capture under way: its entry, and in *graph what was captured
 * (NULL where capturing failed). */
static graph_entry *end_capture(const moe_cuda_driver *d, CUgraph *graph) {
  graph_entry *e = capture;
  capture = NULL;
  *graph = NULL;
  if (d && d->cuStreamEndCapture(e->stream, graph) != 0)
    *graph = NULL;
  return e;
}

/* The entry's buffers and record back; nothing of its capture ran. */
static void discard(const moe_cuda_driver *d, graph_entry *e, int never) {
  pthread_mutex_lock(&lock);
  drop_graph(d, e);
  e->uncapturable |= never;
  pthread_mutex_unlock(&lock);
}

void moe_cuda_graph_end(void) {
  if (!capture)
    return;
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  CUgraph g;
  graph_entry *e = end_capture(d, &g);
  CUresult r = g && !e->lost_buffer
                   ? d->cuGraphInstantiateWithFlags(&e->exec, g, 0)
                   : 1;
  if (g)
    d->cuGraphDestroy(g);
  if (r != 0) {
    /* The call fails, and its key runs eagerly from now on. */
    e->exec = NULL;
    discard(d, e, 1);
    moe_runtime_fail(e->lost_buffer
                         ? "out of memory for the buffer list of a CUDA graph"
                         : "capturing a model call into a CUDA graph failed "
                           "(MOE_CUDA_GRAPHS=0 turns graphs off)");
  }
  /* The captured work has not run yet: the graph runs it. */
  moe_cuda_check(d->cuGraphLaunch(e->exec, e->stream),
                 "launching a CUDA graph (cuGraphLaunch)");
}

void moe_cuda_graph_abort(void) {
  if (!capture)
    return;
  const moe_cuda_driver *d = moe_cuda_driver_get();
  CUgraph g;
  graph_entry *e = end_capture(d, &g);
  if (g)
    d->cuGraphDestroy(g);
  discard(d, e, 0);
}

void moe_cuda_graph_release(void) {
  const moe_cuda_driver *d = moe_cuda_driver_get();
  pthread_mutex_lock(&lock);
  while (entries) {
    graph_entry *e = entries;
    entries = e->next;
    free_entry(d, e);
  }
  num_entries = 0;
  pthread_mutex_unlock(&lock);
}

void moe_cuda_graph_set_enabled(int on) {
  enabled = on != 0;
  if (!on)
    moe_cuda_graph_release();
}
