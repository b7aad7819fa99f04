/*===- CUDA.h - the CUDA side of libmoe_runtime --------------------------===*
 *
 * What compiled CUDA models (and applications that want to ask first) call.
 * The driver (libcuda.so.1) is loaded at run time, so models build, link and
 * load on machines without one; the functions below report its absence.
 * The device is MOE_CUDA_DEVICE (default 0).
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDA_H
#define MOE_RUNTIME_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the driver loads and the device can be used; otherwise 0, with the
 * reason written to `error` (error_size bytes, may be NULL). */
int moe_cuda_available(char *error, size_t error_size);

/* Unified (managed) memory, usable by kernels and by host code alike. On
 * failure they report through moe_runtime_fail (an error status from a
 * model's entry point). Freed buffers are kept for reuse, not given back
 * to the driver: a warmed-up call allocates nothing from it. */
void *moe_cuda_alloc(size_t bytes);
void moe_cuda_free(void *ptr);

/* Gives the buffers kept for reuse back to the driver. */
void moe_cuda_release_cached(void);

/* A device copy of constant host data (model weights), made once per
 * address and kept for the life of the process. */
void *moe_cuda_constant(const void *host, size_t bytes);

/* Waits for all work on the device. */
void moe_cuda_synchronize(void);

/* Waits for the calling thread's stream, ignoring errors: a call that
 * fails while its kernels are queued lets them finish before its buffers
 * are reused. */
void moe_cuda_drain(void);

/* Device time of a call: CUDA events recorded on the calling thread's
 * stream at start and stop (no waiting); elapsed waits for the stop event
 * and gives the milliseconds between them (0 before any stop). */
void moe_cuda_timer_start(void);
void moe_cuda_timer_stop(void);
double moe_cuda_timer_elapsed(void);

#ifdef __cplusplus
}
#endif
#endif
