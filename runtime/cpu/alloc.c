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

typedef struct live_buffer {
  void *p; /* NULL empty, TOMBSTONE removed */
  void (*release)(void *);
} live_buffer;

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static live_buffer *live;
static size_t capacity; /* a power of two, or 0 */
static size_t used;     /* slots not empty (live or removed) */
static size_t count;    /* live buffers */
static char tombstone;
#define TOMBSTONE ((void *)&tombstone)

static size_t slot_of(void *p, size_t cap) {
  uintptr_t h = (uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (cap - 1);
}

/* Re-inserts every live buffer into a table of `cap` slots. */
static int rehash(size_t cap) {
  live_buffer *fresh = calloc(cap, sizeof(live_buffer));
  if (!fresh)
    return 0;
  for (size_t i = 0; i < capacity; ++i) {
    void *p = live[i].p;
    if (!p || p == TOMBSTONE)
      continue;
    size_t s = slot_of(p, cap);
    while (fresh[s].p)
      s = (s + 1) & (cap - 1);
    fresh[s] = live[i];
  }
  free(live);
  live = fresh;
  capacity = cap;
  used = count;
  return 1;
}

/* Remembers `p`; 0 when the table cannot grow. */
static int remember(void *p, void (*release)(void *)) {
  if ((used + 1) * 2 > capacity &&
      !rehash(capacity ? (count * 4 > capacity ? capacity * 2 : capacity) : 64))
    return 0;
  size_t s = slot_of(p, capacity);
  while (live[s].p && live[s].p != TOMBSTONE)
    s = (s + 1) & (capacity - 1);
  if (!live[s].p)
    ++used;
  live[s].p = p;
  live[s].release = release;
  ++count;
  return 1;
}

/* The table goes with the library (dlclose of a model, or exit). */
__attribute__((destructor)) static void release_table(void) {
  free(live);
  live = NULL;
  capacity = used = count = 0;
}

static void forget(void *p) {
  if (!capacity)
    return;
  for (size_t s = slot_of(p, capacity); live[s].p; s = (s + 1) & (capacity - 1))
    if (live[s].p == p) {
      live[s].p = TOMBSTONE;
      --count;
      return;
    }
}

int moe_runtime_remember(void *buffer, void (*release)(void *)) {
  pthread_mutex_lock(&live_lock);
  int kept = remember(buffer, release);
  pthread_mutex_unlock(&live_lock);
  return kept;
}

void moe_runtime_forget(void *buffer) {
  pthread_mutex_lock(&live_lock);
  forget(buffer);
  pthread_mutex_unlock(&live_lock);
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
  if (!moe_runtime_remember(p, free)) {
    free(p);
    out_of_memory(bytes);
  }
  return p;
}

void moe_runtime_free(void *buffer) {
  if (!buffer)
    return;
  moe_runtime_forget(buffer);
  free(buffer);
}

void moe_runtime_end_allocations(int failed) {
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < capacity; ++i) {
    if (failed && live[i].p && live[i].p != TOMBSTONE)
      live[i].release(live[i].p);
    live[i].p = NULL;
  }
  used = count = 0;
  pthread_mutex_unlock(&live_lock);
}
