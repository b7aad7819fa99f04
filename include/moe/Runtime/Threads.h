/*===- Threads.h - the CPU thread pool of libmoe_runtime -----------------===*
 *
 * Parallel loops of CPU models run on the runtime's pool (it implements the
 * libomp entry points the OpenMP translation calls). The team size is
 * moe_runtime_set_num_threads(n), else MOE_NUM_THREADS, else the number of
 * online CPUs.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_THREADS_H
#define MOE_RUNTIME_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the team size of later parallel regions (clamped to 1..256). */
void moe_runtime_set_num_threads(int n);

/* The team size a parallel region started now would get. */
int moe_runtime_get_num_threads(void);

/* Calls into a compiled model are serialized: the runtime (linked into each
 * model library) has one thread pool, so each call holds it whole. A
 * model's entry point takes the lock for the call (several threads may call
 * it; the calls run one at a time). */
void moe_runtime_call_begin(void);
void moe_runtime_call_end(void);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_THREADS_H */
