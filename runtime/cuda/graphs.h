/*===- graphs.h - calls captured into CUDA graphs ------------------------===*
 *
 * Private to runtime/cuda: what gpu.c and async.c ask of a capture under
 * way (graphs.c).
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDA_GRAPHS_H
#define MOE_RUNTIME_CUDA_GRAPHS_H

/* Whether the calling thread's model call is being captured. */
int moe_cuda_graph_capturing(void);

/* A buffer the captured call took: the graph keeps it for its replays.
 * 0 without room to remember it (the capture then fails). */
int moe_cuda_graph_own(void *ptr);

/* Data a host node of the graph reads on every replay, released with the
 * graph. */
void moe_cuda_graph_keep(void *data, void (*release)(void *));

#endif
