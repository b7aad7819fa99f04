/*===- grow.h - room for one more element of a growable array ------------===*
 *
 * Private to runtime/cuda: the cache's stacks, the per-stream wait counts,
 * a call's deferred checks and frees and a graph's buffers all grow the
 * same way.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDA_GROW_H
#define MOE_RUNTIME_CUDA_GROW_H

#include <stddef.h>
#include <stdlib.h>

/* Makes room for element `count` of `*items` (elements of `size` bytes,
 * `*capacity` allocated), doubling it: 1, or 0 without memory (the array
 * is unchanged). */
static inline int moe_cuda_grow(void **items, size_t *capacity, size_t count,
                                size_t size) {
  if (count < *capacity)
    return 1;
  size_t more = *capacity ? 2 * *capacity : 8;
  void *grown = realloc(*items, more * size);
  if (!grown)
    return 0;
  *items = grown;
  *capacity = more;
  return 1;
}

#endif
