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
#include <stdint.h>

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

/* Gives the buffers kept for reuse (the cache's, CUDA graphs', the entry
 * functions' staging buffers) back to the driver. */
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

/* Calls on the caller's stream (the generated <function>_run_async): begin
 * makes `stream` (a CUstream) the stream of the calling thread's model
 * work until end or abort. Buffers the call frees that host code may touch
 * return to the cache only once the stream has run the call's work, and
 * device buffers it frees are reused on that stream or after a wait; end
 * queues the call's deferred checks and those frees on the stream (one
 * host function), abort (after a failure, once the stream is drained)
 * gives the buffers back and drops the checks. */
void moe_cuda_async_begin(void *stream);
void moe_cuda_async_end(void);
void moe_cuda_async_abort(void);

/* A check of generated code deferred to the stream (moe-gpu-async-entry):
 * once the stream reaches this point of the call, the 32-bit word at
 * `word` must equal `value` (must_equal != 0) or differ from it; otherwise
 * the call has failed with `message` (a string of the model library). */
void moe_cuda_check_later(uintptr_t word, int32_t must_equal, int32_t value,
                          const char *message);

/* The first deferred check that failed since the last query: 1 with its
 * message written to `error` (error_size bytes, may be NULL), then
 * forgotten; 0 when none failed. Final for the calls whose stream the
 * caller has synchronized. */
int moe_cuda_async_status(char *error, size_t error_size);

/* CUDA graphs of asynchronous calls: a call of entry function `function`
 * (any address that identifies it) whose key (its tensors' shapes and
 * buffer addresses: `key_bytes` bytes at `key`) was seen before is
 * captured into a graph, and the calls after it with that key replay the
 * graph (one cuGraphLaunch). Call replay inside moe_cuda_async_begin/end:
 * 1 when it launched the graph (the call is done), else 0, and then, after
 * the call's work and moe_cuda_async_end, moe_cuda_graph_end, which ends a
 * capture this call began, instantiates the graph and launches it. abort
 * (after a failure) discards a capture under way. set_enabled(0) stops
 * capturing and replaying and releases the graphs (also MOE_CUDA_GRAPHS=0
 * in the environment); release drops the graphs, giving their buffers
 * back. */
int moe_cuda_graph_replay(const void *function, const void *key,
                          size_t key_bytes, void *stream);
void moe_cuda_graph_end(void);
void moe_cuda_graph_abort(void);
void moe_cuda_graph_set_enabled(int enabled);
void moe_cuda_graph_release(void);

/* Synchronous calls (<function>_run, host tensors) of an entry function
 * with an asynchronous variant run it on device buffers the entry
 * function keeps (`*staging`, NULL before its first call): begin makes
 * the calling thread's stream (returned) the call's and its checks report
 * to the call; stage_in gives tensor `index`'s device buffer of `bytes`
 * with `host` copied in on the stream, stage_buffer one to fill (NULL for
 * 0 bytes); stage_out queues a copy back to the host; end waits for the
 * stream once and returns 1 with the first failed check's message in
 * `error` (error_size bytes), else 0; abort (after a failure) stops
 * reporting to the call. moe_cuda_release_cached gives back the buffers
 * of entry functions no call is using. The buffers keep their addresses from
 * call to call unless a call needs more, so calls of the same shapes replay one
 * CUDA graph. */
void *moe_cuda_stage_begin(void **staging);
void *moe_cuda_stage_in(void **staging, int32_t index, const void *host,
                        size_t bytes);
void *moe_cuda_stage_buffer(void **staging, int32_t index, size_t bytes);
void moe_cuda_stage_out(void *host, const void *device, size_t bytes);
int moe_cuda_stage_end(void **staging, char *error, size_t error_size);
void moe_cuda_stage_abort(void **staging);

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
