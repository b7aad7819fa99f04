/*===- collectives.h - the NCCL side of the runtime's exchanges ---------===*
 *
 * Private to runtime/collectives: what mpi.c's communication thread calls
 * when the exchange backend is NCCL (MOE_COLLECTIVES=nccl). Functions
 * return 1 on success and 0 (or -1 for a timeout) with a message in `error`.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_COLLECTIVES_PRIVATE_H
#define MOE_RUNTIME_COLLECTIVES_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

int moe_nccl_load(char *error, size_t size);
int moe_nccl_unique_id(char id[128], char *error, size_t size);
int moe_nccl_init(const char id[128], int rank, int ranks, char *error,
                  size_t size);
void *moe_nccl_alloc(size_t bytes);
void moe_nccl_free(void *p);
int moe_nccl_exchange(const char *send, const int *send_counts,
                      const int *send_displs, char *recv,
                      const int *recv_counts, const int *recv_displs,
                      int ranks, int64_t row_bytes, double timeout_s,
                      char *error, size_t size);
void moe_nccl_finalize(void);

#endif
