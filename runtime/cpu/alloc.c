/*===- alloc.c - the buffers a CPU model's call allocates ----------------===*
 *
 * The implementation of include/moe/Runtime/Allocation.h: an open-addressing
 * set of the live buffers (pool threads allocate too, so it is locked).
 *
 *===---------------------------------------------------------------------===*/

#include "moe/Runtime/Allocation.h"
#include "moe/Runtime/Errors.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static void **live;      /* slots: NULL empty, TOMBSTONE removed */
static size_t capacity;  /* a power of two, or 0 */
static size_t used;      /* slots not empty (live or removed) */
static size_t count;     /* live buffers */
static char tombstone;
#define TOMBSTONE ((void *)&tombstone)

static size_t slot_of(void *p, size_t cap) {
  uintptr_t h = (uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (cap - 1);
}

/* Re-inserts every live buffer into a table of `cap` slots. */
static int rehash(size_t cap) {
  void **fresh = calloc(cap, sizeof(void *));
  if (!fresh)
    return 0;
  for (size_t i = 0; i < capacity; ++i) {
    void *p = live[i];
    if (!p || p == TOMBSTONE)
      continue;
    size_t s = slot_of(p, cap);
    while (fresh[s])
      s = (s + 1) & (cap - 1);
    fresh[s] = p;
  }
  free(live);
  live = fresh;
  capacity = cap;
  used = count;
  return 1;
}

/* Remembers `p`; 0 when the table cannot grow. */
static int remember(void *p) {
  if ((used + 1) * 2 > capacity &&
      !rehash(capacity ? (count * 4 > capacity ? capacity * 2 : capacity)
                       : 64))
    return 0;
  size_t s = slot_of(p, capacity);
  while (live[s] && live[s] != TOMBSTONE)
    s = (s + 1) & (capacity - 1);
  if (!live[s])
    ++used;
  live[s] = p;
  ++count;
  return 1;
}

static void forget(void *p) {
  if (!capacity)
    return;
  for (size_t s = slot_of(p, capacity); live[s]; s = (s + 1) & (capacity - 1))
    if (live[s] == p) {
      live[s] = TOMBSTONE;
      --count;
      return;
    }
}

static void out_of_memory(size_t bytes) {
  char message[128];
  snprintf(message, sizeof(message),
           "out of memory: allocating %zu bytes failed", bytes);
  moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY, message);
}

void *moe_runtime_malloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p)
    out_of_memory(bytes);
  pthread_mutex_lock(&live_lock);
  int kept = remember(p);
  pthread_mutex_unlock(&live_lock);
  if (!kept) {
    free(p);
    out_of_memory(bytes);
  }
  return p;
}

void moe_runtime_free(void *buffer) {
  if (!buffer)
    return;
  pthread_mutex_lock(&live_lock);
  forget(buffer);
  pthread_mutex_unlock(&live_lock);
  free(buffer);
}

void moe_runtime_end_allocations(int failed) {
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < capacity; ++i) {
    if (failed && live[i] && live[i] != TOMBSTONE)
      free(live[i]);
    live[i] = NULL;
  }
  used = count = 0;
  pthread_mutex_unlock(&live_lock);
}
