/*===- graph.c - CUDA graphs of the emulator -----------------------------===*
 *
 * Stream capture and graph replay: between cuStreamBeginCapture and
 * cuStreamEndCapture, the kernels, fills, copies and host functions queued
 * on the stream are recorded, in order, as the nodes of a graph (a
 * kernel's arguments copied by value, with the sizes the image exports);
 * cuGraphLaunch runs them in that order. A graph and its executable share
 * the nodes (counted references): the graph may be destroyed first.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <stdlib.h>
#include <string.h>

typedef int CUresult;

enum { NODE_KERNEL, NODE_FILL, NODE_COPY, NODE_HOST };

typedef struct emu_node {
  int kind;
  struct emu_node *next;
  /* kernel */
  emu_function *function;
  unsigned grid[3], block[3], smem;
  void **params; /* into `values` */
  char *values;
  /* fill, copy */
  unsigned long long dst, src;
  size_t count;
  unsigned value, bytes;
  /* host function */
  void (*fn)(void *);
  void *data;
} emu_node;

typedef struct emu_graph {
  emu_node *head, *tail;
  int references;
  int failed; /* a node could not be recorded: the capture fails */
} emu_graph;

static void release(emu_graph *g) {
  if (!g || --g->references > 0)
    return;
  while (g->head) {
    emu_node *next = g->head->next;
    free(g->head->params);
    free(g->head->values);
    free(g->head);
    g->head = next;
  }
  free(g);
}

static emu_node *append(emu_graph *g, int kind) {
  emu_node *n = calloc(1, sizeof(emu_node));
  if (!n) {
    g->failed = 1;
    return NULL;
  }
  n->kind = kind;
  if (g->tail)
    g->tail->next = n;
  else
    g->head = n;
  g->tail = n;
  return n;
}

int emu_graph_add_kernel(emu_graph *g, emu_function *f, const unsigned grid[3],
                         const unsigned block[3], unsigned smem,
                         void **params) {
  if (!f->arg_sizes) {
    g->failed = 1;
    emu_set_error("kernel '%s' cannot be captured: its image lists no "
                  "argument sizes (rebuild the model)",
                  f->name);
    return EMU_ERROR_INVALID_VALUE;
  }
  emu_node *n = append(g, NODE_KERNEL);
  if (!n)
    return EMU_ERROR_OUT_OF_MEMORY;
  uint64_t count = f->arg_sizes[0], total = 0;
  for (uint64_t i = 0; i < count; ++i)
    total += (f->arg_sizes[1 + i] + 7) & ~7ull;
  n->params = calloc(count ? count : 1, sizeof(void *));
  n->values = malloc(total ? total : 1);
  if (!n->params || !n->values) {
    g->failed = 1;
    return EMU_ERROR_OUT_OF_MEMORY;
  }
  /* The values now: the caller may reuse its argument array at once. */
  for (uint64_t i = 0, at = 0; i < count; ++i) {
    memcpy(n->values + at, params[i], f->arg_sizes[1 + i]);
    n->params[i] = n->values + at;
    at += (f->arg_sizes[1 + i] + 7) & ~7ull;
  }
  n->function = f;
  memcpy(n->grid, grid, sizeof(n->grid));
  memcpy(n->block, block, sizeof(n->block));
  n->smem = smem;
  return EMU_SUCCESS;
}

int emu_graph_add_fill(emu_graph *g, unsigned long long dst, unsigned value,
                       size_t count, unsigned bytes) {
  emu_node *n = append(g, NODE_FILL);
  if (!n)
    return EMU_ERROR_OUT_OF_MEMORY;
  n->dst = dst;
  n->value = value;
  n->count = count;
  n->bytes = bytes;
  return EMU_SUCCESS;
}

int emu_graph_add_copy(emu_graph *g, unsigned long long dst,
                       unsigned long long src, size_t bytes) {
  emu_node *n = append(g, NODE_COPY);
  if (!n)
    return EMU_ERROR_OUT_OF_MEMORY;
  n->dst = dst;
  n->src = src;
  n->count = bytes;
  return EMU_SUCCESS;
}

int emu_graph_add_host(emu_graph *g, void (*fn)(void *), void *data) {
  emu_node *n = append(g, NODE_HOST);
  if (!n)
    return EMU_ERROR_OUT_OF_MEMORY;
  n->fn = fn;
  n->data = data;
  return EMU_SUCCESS;
}

CUresult cuStreamBeginCapture_v2(void *stream, int mode) {
  (void)mode;
  emu_stream *s = stream;
  if (!s || s->capture) {
    emu_set_error("cuStreamBeginCapture: %s",
                  s ? "the stream is already being captured"
                    : "the legacy default stream cannot be captured");
    return EMU_ERROR_INVALID_VALUE;
  }
  s->capture = calloc(1, sizeof(emu_graph));
  if (!s->capture)
    return EMU_ERROR_OUT_OF_MEMORY;
  s->capture->references = 1;
  return EMU_SUCCESS;
}

CUresult cuStreamEndCapture(void *stream, void **graph) {
  emu_stream *s = stream;
  if (!s || !s->capture) {
    emu_set_error("cuStreamEndCapture: the stream is not being captured");
    return EMU_ERROR_INVALID_VALUE;
  }
  emu_graph *g = s->capture;
  s->capture = NULL;
  if (g->failed) {
    release(g);
    *graph = NULL;
    return 901; /* CUDA_ERROR_STREAM_CAPTURE_INVALIDATED */
  }
  *graph = g;
  return EMU_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                     unsigned long long flags) {
  (void)flags;
  emu_graph *g = graph;
  if (!g)
    return EMU_ERROR_INVALID_VALUE;
  ++g->references;
  *exec = g;
  return EMU_SUCCESS;
}

CUresult cuGraphLaunch(void *exec, void *stream) {
  emu_graph *g = exec;
  emu_count_graph_launch();
  if (!g)
    return EMU_ERROR_INVALID_VALUE;
  if (stream && ((emu_stream *)stream)->capture) {
    emu_set_error("cuGraphLaunch into a stream being captured");
    return EMU_ERROR_INVALID_VALUE;
  }
  for (emu_node *n = g->head; n; n = n->next) {
    int r = EMU_SUCCESS;
    switch (n->kind) {
    case NODE_KERNEL:
      r = emu_run_kernel(n->function, n->grid, n->block, n->smem, n->params);
      break;
    case NODE_FILL:
      r = emu_fill(n->dst, n->value, n->count, n->bytes);
      break;
    case NODE_COPY:
      r = emu_copy(n->dst, n->src, n->count);
      break;
    case NODE_HOST:
      n->fn(n->data);
      break;
    }
    if (r != EMU_SUCCESS)
      return r;
  }
  return EMU_SUCCESS;
}

CUresult cuGraphExecDestroy(void *exec) {
  release(exec);
  return EMU_SUCCESS;
}

CUresult cuGraphDestroy(void *graph) {
  release(graph);
  return EMU_SUCCESS;
}
