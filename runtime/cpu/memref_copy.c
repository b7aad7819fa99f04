/*===- memref_copy.c - strided buffer copies for generated code ---------===*
 *
 * Generated code copies between buffers that are not both contiguous (for
 * example a slice of a larger buffer) by calling memrefCopy, the symbol the
 * upstream MemRef-to-LLVM lowering emits. Defining it here keeps compiled
 * models independent of MLIR's own runner libraries.
 *
 *===---------------------------------------------------------------------===*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The layout of an unranked memref and of the ranked descriptor it points
 * to: allocated and aligned pointers, offset, then `rank` sizes and
 * `rank` strides (in elements). */
typedef struct {
  int64_t rank;
  void *descriptor;
} moe_unranked_memref;

typedef struct {
  char *allocated;
  char *aligned;
  int64_t offset;
  int64_t sizes_and_strides[];
} moe_memref_header;

void memrefCopy(int64_t elem_size, moe_unranked_memref *src,
                moe_unranked_memref *dst) {
  int64_t rank = src->rank;
  const moe_memref_header *s = (const moe_memref_header *)src->descriptor;
  const moe_memref_header *d = (const moe_memref_header *)dst->descriptor;
  const int64_t *sizes = s->sizes_and_strides;
  const int64_t *src_strides = s->sizes_and_strides + rank;
  const int64_t *dst_strides = d->sizes_and_strides + rank;
  char *src_base = s->aligned + s->offset * elem_size;
  char *dst_base = d->aligned + d->offset * elem_size;

  if (rank == 0) {
    memcpy(dst_base, src_base, (size_t)elem_size);
    return;
  }
  for (int64_t i = 0; i < rank; ++i)
    if (sizes[i] == 0)
      return;

  /* Walk every index of the leading rank-1 dimensions; copy the innermost
   * dimension as one block when both sides are unit-strided there. */
  int64_t small_index[8] = {0};
  int64_t *index = rank <= 8 ? small_index : calloc((size_t)rank, sizeof(int64_t));
  if (!index)
    abort(); /* out of memory for a loop counter: nothing sane to do */
  int64_t inner = sizes[rank - 1];
  int contiguous = src_strides[rank - 1] == 1 && dst_strides[rank - 1] == 1;
  for (;;) {
    int64_t src_off = 0, dst_off = 0;
    for (int64_t i = 0; i < rank - 1; ++i) {
      src_off += index[i] * src_strides[i];
      dst_off += index[i] * dst_strides[i];
    }
    if (contiguous) {
      memcpy(dst_base + dst_off * elem_size, src_base + src_off * elem_size,
             (size_t)(inner * elem_size));
    } else {
      for (int64_t j = 0; j < inner; ++j)
        memcpy(dst_base + (dst_off + j * dst_strides[rank - 1]) * elem_size,
               src_base + (src_off + j * src_strides[rank - 1]) * elem_size,
               (size_t)elem_size);
    }
    int64_t dim = rank - 2;
    while (dim >= 0 && ++index[dim] == sizes[dim])
      index[dim--] = 0;
    if (dim < 0)
      break;
  }
  if (index != small_index)
    free(index);
}
