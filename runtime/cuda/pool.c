/*===- pool.c - device buffers kept for reuse ----------------------------===*
 *
 * A model call allocates and frees the same intermediate buffers every
 * time; asking the driver each time costs a driver call per buffer, and a
 * free synchronizes the whole device. Freed buffers are kept instead, by
 * size class (four per power of two from 256 bytes: at most a quarter
 * wasted), and handed out again. All work of a call is ordered on one
 * stream, so a buffer freed by one operation and taken by a later one is
 * only touched in that order: a device buffer given back while work on a
 * stream may still use it goes only to that stream, or to any once the
 * host has waited for that stream or the whole device. Unified buffers
 * come back only once nothing queued uses them (after a wait, or from the
 * stream's host function: moe_cuda_async_end). Running out of device memory gives the cache
 * back to the driver and tries once more. Buffers the host touches are
 * unified memory; buffers only kernels and the copy engine touch are
 * device memory: two caches, one per kind.
 *
 *===---------------------------------------------------------------------===*/

#include "pool.h"

#include "driver.h"
#include "grow.h"
#include "moe/Runtime/Errors.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { NUM_CLASSES = 4 * 56, NUM_KINDS = 2 };

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* A cached buffer; work queued on `stream` may still use it unless it is
 * idle or the host has waited for that stream (or the device) since. */
typedef struct {
  void *ptr;
  void *stream;
  uint64_t stream_waits, device_waits;
  int idle;
} cached_buffer;

/* Cached buffers of each kind and class. */
typedef struct {
  cached_buffer *items;
  size_t count, capacity;
} stack;
static stack cached[NUM_KINDS][NUM_CLASSES];

/* The kind and class of every buffer the pool made (in use or cached):
 * open addressing, linear probing, keys never 0. */
typedef struct {
  uintptr_t key;
  int cls;
  int kind;
} slot;
static slot *table;
static size_t table_capacity, table_count;

/* How often the host waited for each stream that gave buffers back, and
 * for the whole device. */
typedef struct {
  void *stream;
  uint64_t waits;
} stream_waits;
static stream_waits *waited;
static size_t num_waited, waited_capacity;
static uint64_t device_waits;

static stream_waits *find_stream(void *stream) {
  for (size_t i = 0; i < num_waited; ++i)
    if (waited[i].stream == stream)
      return &waited[i];
  return NULL;
}

static uint64_t waits_of(void *stream) {
  stream_waits *w = find_stream(stream);
  return w ? w->waits : 0;
}

static size_t class_bytes(int c) {
  return (size_t)(4 + c % 4) << (c / 4 + 6);
}

static int class_of(size_t bytes) {
  if (bytes <= 256)
    return 0;
  int high = 63 - __builtin_clzll((unsigned long long)(bytes - 1));
  int k = high - 8;
  size_t unit = (size_t)1 << (k + 6);
  int q = (int)((bytes + unit - 1) / unit);
  return 4 * k + (q - 4);
}

static size_t hash(uintptr_t key) {
  return (size_t)((key >> 8) * 0x9e3779b97f4a7c15ull);
}

static int table_grow(void) {
  size_t capacity = table_capacity ? 2 * table_capacity : 256;
  slot *fresh = calloc(capacity, sizeof(slot));
  if (!fresh)
    return 0;
  for (size_t i = 0; i < table_capacity; ++i)
    if (table[i].key) {
      size_t j = hash(table[i].key) & (capacity - 1);
      while (fresh[j].key)
        j = (j + 1) & (capacity - 1);
      fresh[j] = table[i];
    }
  free(table);
  table = fresh;
  table_capacity = capacity;
  return 1;
}

static int table_put(uintptr_t key, int kind, int cls) {
  if (2 * (table_count + 1) > table_capacity && !table_grow())
    return 0;
  size_t j = hash(key) & (table_capacity - 1);
  while (table[j].key)
    j = (j + 1) & (table_capacity - 1);
  table[j].key = key;
  table[j].kind = kind;
  table[j].cls = cls;
  ++table_count;
  return 1;
}

static slot *table_find(uintptr_t key) {
  if (!table_capacity)
    return NULL;
  size_t j = hash(key) & (table_capacity - 1);
  while (table[j].key) {
    if (table[j].key == key)
      return &table[j];
    j = (j + 1) & (table_capacity - 1);
  }
  return NULL;
}

/* Removal by backward shift: the probe sequences stay unbroken. */
static void table_remove(slot *s) {
  size_t mask = table_capacity - 1;
  size_t i = (size_t)(s - table), j = i;
  table[i].key = 0;
  for (;;) {
    j = (j + 1) & mask;
    if (!table[j].key)
      break;
    size_t home = hash(table[j].key) & mask;
    /* Move j back to i when i lies on the probe path from home to j. */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      table[i] = table[j];
      table[j].key = 0;
      i = j;
    }
  }
  --table_count;
}

static int push(stack *s, cached_buffer b) {
  if (!moe_cuda_grow((void **)&s->items, &s->capacity, s->count,
                     sizeof(cached_buffer)))
    return 0;
  s->items[s->count++] = b;
  return 1;
}

/* Whether work queued on `stream` may use `b` without a wait. Host code
 * touches unified buffers at once, not in the stream's order: those need
 * the wait even on the same stream. */
static int usable(const cached_buffer *b, int kind, void *stream) {
  return b->idle || (kind == MOE_CUDA_POOL_DEVICE && b->stream == stream) ||
         device_waits > b->device_waits ||
         waits_of(b->stream) > b->stream_waits;
}

/* Every cached buffer back to the driver (with the lock held), once queued
 * work no longer uses them. */
static void trim_locked(const moe_cuda_driver *d) {
  d->cuCtxSynchronize();
  ++device_waits;
  for (int k = 0; k < NUM_KINDS; ++k)
    for (int c = 0; c < NUM_CLASSES; ++c) {
      stack *st = &cached[k][c];
      for (size_t i = 0; i < st->count; ++i) {
        void *p = st->items[i].ptr;
        slot *s = table_find((uintptr_t)p);
        if (s)
          table_remove(s);
        d->cuMemFree((CUdeviceptr)(uintptr_t)p);
      }
      st->count = 0;
    }
}

static CUresult allocate(const moe_cuda_driver *d, int kind, size_t bytes,
                         CUdeviceptr *p) {
  return kind == MOE_CUDA_POOL_DEVICE
             ? d->cuMemAlloc(p, bytes)
             : d->cuMemAllocManaged(p, bytes, MOE_CU_MEM_ATTACH_GLOBAL);
}

void *moe_cuda_pool_take(size_t bytes, int kind, void *stream) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  int cls = class_of(bytes);
  pthread_mutex_lock(&pool_lock);
  stack *st = &cached[kind][cls];
  for (size_t i = st->count; i-- > 0;)
    if (usable(&st->items[i], kind, stream)) {
      void *p = st->items[i].ptr;
      st->items[i] = st->items[--st->count];
      pthread_mutex_unlock(&pool_lock);
      return p;
    }
  CUdeviceptr p = 0;
  CUresult r = allocate(d, kind, class_bytes(cls), &p);
  if (r == 2 /* CUDA_ERROR_OUT_OF_MEMORY */) {
    trim_locked(d);
    r = allocate(d, kind, class_bytes(cls), &p);
  }
  if (r == 0 && !table_put((uintptr_t)p, kind, cls)) {
    d->cuMemFree(p);
    pthread_mutex_unlock(&pool_lock);
    moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY,
                          "out of memory for the table of device buffers");
  }
  pthread_mutex_unlock(&pool_lock);
  if (r == 2) {
    char message[128];
    snprintf(message, sizeof(message),
             "out of device memory: allocating %zu bytes failed", bytes);
    moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY, message);
  }
  moe_cuda_check(r, kind == MOE_CUDA_POOL_DEVICE
                        ? "allocating device memory (cuMemAlloc)"
                        : "allocating device memory (cuMemAllocManaged)");
  return (void *)(uintptr_t)p;
}

/* `ptr` back to the cache; without room to remember it, the driver takes
 * it back, except where no driver call may be made. */
static void give(void *ptr, void *stream, int idle, int may_call_driver) {
  if (!ptr)
    return;
  const moe_cuda_driver *d = may_call_driver ? moe_cuda_driver_get() : NULL;
  pthread_mutex_lock(&pool_lock);
  slot *s = table_find((uintptr_t)ptr);
  cached_buffer b = {ptr, stream, 0, device_waits, idle};
  b.stream_waits = waits_of(stream);
  if (s && !push(&cached[s->kind][s->cls], b)) {
    table_remove(s);
    s = NULL;
  }
  pthread_mutex_unlock(&pool_lock);
  if (!s && d)
    d->cuMemFree((CUdeviceptr)(uintptr_t)ptr);
}

void moe_cuda_pool_give(void *ptr) { give(ptr, NULL, 1, 1); }

void moe_cuda_pool_give_queued(void *ptr, void *stream) {
  give(ptr, stream, 0, 1);
}

void moe_cuda_pool_give_from_host_function(void *ptr) {
  give(ptr, NULL, 1, 0);
}

int moe_cuda_pool_kind(void *ptr) {
  pthread_mutex_lock(&pool_lock);
  slot *s = table_find((uintptr_t)ptr);
  int kind = s ? s->kind : -1;
  pthread_mutex_unlock(&pool_lock);
  return kind;
}

void moe_cuda_pool_waited(void *stream) {
  pthread_mutex_lock(&pool_lock);
  stream_waits *w = find_stream(stream);
  if (!w && moe_cuda_grow((void **)&waited, &waited_capacity, num_waited,
                          sizeof(stream_waits))) {
    w = &waited[num_waited++];
    w->stream = stream;
    w->waits = 0;
  }
  /* Without room for the count, buffers of this stream stay its own. */
  if (w)
    ++w->waits;
  pthread_mutex_unlock(&pool_lock);
}

void moe_cuda_pool_device_waited(void) {
  pthread_mutex_lock(&pool_lock);
  ++device_waits;
  pthread_mutex_unlock(&pool_lock);
}

void moe_cuda_pool_trim(void) {
  const moe_cuda_driver *d = moe_cuda_driver_get();
  if (!d)
    return;
  pthread_mutex_lock(&pool_lock);
  trim_locked(d);
  pthread_mutex_unlock(&pool_lock);
}
