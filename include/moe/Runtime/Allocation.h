/*===- Allocation.h - the buffers a CPU model's call allocates -----------===*
 *
 * Generated CPU code allocates its buffers through these functions (the
 * compiler renames its malloc/free calls); CUDA models' device buffers are
 * remembered the same way (runtime/cuda/gpu.c). The runtime remembers the
 * buffers a call holds, so that a call that fails part-way (a run-time
 * check, or memory running out) frees them all, and an allocation that
 * fails unwinds the call with MOE_ERROR_OUT_OF_MEMORY instead of crashing.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_ALLOCATION_H
#define MOE_RUNTIME_ALLOCATION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* malloc, remembered for the call; on failure the call fails (out of
 * memory, with the size asked for). */
void *moe_runtime_malloc(size_t bytes);

/* free of a buffer from moe_runtime_malloc (or NULL). */
void moe_runtime_free(void *buffer);

/* Remembers a buffer allocated otherwise (device memory) with the function
 * that frees it; 0 when out of memory. */
int moe_runtime_remember(void *buffer, void (*release)(void *));
/* Forgets a remembered buffer (about to be freed by its owner). */
void moe_runtime_forget(void *buffer);
/* At the end of a call: forget the buffers still held (the outputs, now
 * the caller's), or free them when the call failed. */
void moe_runtime_end_allocations(int failed);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_ALLOCATION_H */
