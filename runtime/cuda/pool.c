/*===- pool.c - device buffers kept for reuse ----------------------------===*
 *
 * A model call allocates and frees the same intermediate buffers every
 * time; asking the driver each time costs a driver call per buffer, and a
 * free synchronizes the whole device. Freed buffers are kept instead, by
 * size class (four per power of two from 256 bytes: at most a quarter
 * wasted), and handed out again. All work of a call is ordered on one
 * stream, so a buffer freed by one operation and taken by a later one is
 * only touched in that order. Running out of device memory gives the cache
 * back to the driver and tries once more. Buffers the host touches are
 * unified memory; buffers only kernels and the copy engine touch are
 * device memory: two caches, one per kind.
 *
 *===---------------------------------------------------------------------===*/

#include "pool.h"

#include "driver.h"
#include "moe/Runtime/Errors.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { NUM_CLASSES = 4 * 56, NUM_KINDS = 2 };

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* Cached buffers of each kind and class. */
typedef struct {
  void **items;
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

static int push(stack *s, void *p) {
  if (s->count == s->capacity) {
    size_t capacity = s->capacity ? 2 * s->capacity : 8;
    void **items = realloc(s->items, capacity * sizeof(void *));
    if (!items)
      return 0;
    s->items = items;
    s->capacity = capacity;
  }
  s->items[s->count++] = p;
  return 1;
}

/* Every cached buffer back to the driver (with the lock held). */
static void trim_locked(const moe_cuda_driver *d) {
  for (int k = 0; k < NUM_KINDS; ++k)
    for (int c = 0; c < NUM_CLASSES; ++c) {
      stack *st = &cached[k][c];
      for (size_t i = 0; i < st->count; ++i) {
        void *p = st->items[i];
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

void *moe_cuda_pool_take(size_t bytes, int kind) {
  const moe_cuda_driver *d = moe_cuda_driver_or_fail();
  int cls = class_of(bytes);
  pthread_mutex_lock(&pool_lock);
  stack *st = &cached[kind][cls];
  if (st->count) {
    void *p = st->items[--st->count];
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

void moe_cuda_pool_give(void *ptr) {
  if (!ptr)
    return;
  const moe_cuda_driver *d = moe_cuda_driver_get();
  pthread_mutex_lock(&pool_lock);
  slot *s = table_find((uintptr_t)ptr);
  if (s && !push(&cached[s->kind][s->cls], ptr)) {
    /* No room to remember it: the driver takes it back. */
    table_remove(s);
    s = NULL;
  }
  pthread_mutex_unlock(&pool_lock);
  if (!s && d)
    d->cuMemFree((CUdeviceptr)(uintptr_t)ptr);
}

void moe_cuda_pool_trim(void) {
  const moe_cuda_driver *d = moe_cuda_driver_get();
  if (!d)
    return;
  pthread_mutex_lock(&pool_lock);
  trim_locked(d);
  pthread_mutex_unlock(&pool_lock);
}
