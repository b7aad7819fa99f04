/*===- Collectives.h - the runtime's all-to-all exchange (expert parallelism)
 *===*
 *
 * The C API that code generated for sharded models calls (`moe.all_to_all`,
 * `moe.all_to_all_start` / `moe.all_to_all_wait` lowered by
 * moe-convert-collectives-to-runtime). The CPU backend is MPI: ranks and the
 * world size come from the launcher (`mpirun -np N`); one communication
 * thread of the runtime owns MPI, so an exchange progresses while the
 * model's thread computes. Errors (launched with the wrong number of ranks,
 * shards of different layouts, a timeout) unwind to the model's entry point
 * through moe_runtime_fail and mark the communicator broken, so no later
 * exchange can hang on it.
 *
 * Environment:
 *   MOE_COLLECTIVE_TIMEOUT  seconds an exchange may take before the runtime
 *                           reports it and aborts the job (default 60).
 *   MOE_TRACE               path prefix: at exit each rank writes a Chrome
 *                           trace of its exchanges and of the model thread's
 *                           compute and waits to PREFIX.rank<R>.json.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_COLLECTIVES_H
#define MOE_RUNTIME_COLLECTIVES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts an all-to-all of `rows` rows of `row_bytes` bytes: rows
 * [sum(send_counts[0..p)), +send_counts[p]) go to rank p. `ranks`, `rank`
 * and `layout` are what the shard was compiled for (its rank count, its rank,
 * a hash of the expert placement), checked against the launcher and the other
 * ranks at the first exchange. The rows are copied before the call returns,
 * so `data` may be reused at once. Returns a handle for moe_rt_a2a_wait. */
int64_t moe_rt_a2a_start(const void *data, int64_t rows, int64_t row_bytes,
                         const int32_t *send_counts, int64_t ranks,
                         int64_t rank, int64_t layout);

/* Blocks until the exchange is complete; returns the number of rows
 * received. */
int64_t moe_rt_a2a_wait(int64_t handle);

/* Copies the received rows (in source-rank order) to `out` and the rows per
 * source rank to `recv_counts`, and releases the handle. */
void moe_rt_a2a_take(int64_t handle, void *out, int32_t *recv_counts);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_COLLECTIVES_H */
