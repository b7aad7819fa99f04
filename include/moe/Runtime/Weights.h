/*===- Weights.h - weights files mapped at load time ---------------------===*
 *
 * A model compiled with external weights (moe-opt's weights file beside the
 * library) reads its large constant tensors from that file, mapped
 * read-only on first use: pages of experts that are never routed to are
 * never read, and processes that load the same file share its pages.
 *
 * File layout: a 64-byte header, then the tensors at the offsets the
 * compiler recorded (64-byte aligned, as the kernels read them).
 *   bytes 0-7   magic "MOEWTS01"
 *   bytes 8-15  data size in bytes (little-endian u64, after the header)
 *   bytes 16-23 content hash of the data: FNV-1a over its little-endian
 *               64-bit words (the data size is a multiple of 64)
 *   bytes 24-31 header size (64)
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_WEIGHTS_H
#define MOE_RUNTIME_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOE_WEIGHTS_MAGIC "MOEWTS01"
#define MOE_WEIGHTS_HEADER_BYTES 64

/* Maps the weights file `path` read-only and checks that it is the one the
 * model was compiled with: the header's size and hash must equal `size`
 * and `hash`, and the file must hold all `size` bytes (the data itself is
 * not re-read). Returns the data (after the header), or NULL with the
 * reason in `error`. The mapping lives as long as the process. */
const void *moe_runtime_map_weights(const char *path, uint64_t size,
                                    uint64_t hash, char *error,
                                    size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_WEIGHTS_H */
