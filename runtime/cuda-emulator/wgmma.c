/*===- wgmma.c - wgmma.mma_async of a whole warpgroup ---------------------===*
 *
 * sm_90a's warpgroup MMA with both operands in shared memory, named by
 * matrix descriptors, D in f32 registers. The emulator computes it when the
 * warpgroup's 128 threads have all issued it (exec.c completes it like a
 * warp collective spanning four warps), reading the operands then and
 * writing each thread's D registers; the asynchronous completion PTX allows
 * (wgmma.commit_group / wait_group) is the earliest one here. What the
 * asynchrony allows a kernel is checked instead: the operands' bytes stay
 * read until the warpgroup's wgmma.wait_group retires the operation's
 * commit group, and a store or cp.async to them before that is reported
 * (on a GPU the tensor cores may still be reading them); so is a block
 * that ends before a wait retired every operation (its accumulators were
 * read, or stored, undefined).
 *
 * Descriptors (PTX ISA, "Matrix Descriptor Format"): bits 0-13 the start
 * address >> 4, 16-29 the leading byte offset >> 4 (between core matrices
 * adjacent in K), 32-45 the stride byte offset >> 4 (adjacent in M or N),
 * 49-51 the base offset, 62-63 the swizzle mode. A core matrix is 8 rows of
 * 16 contiguous bytes. Only K-major operands without swizzling are
 * supported (the layouts our kernels use); others are reported.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <string.h>

/* The packed operands the retargeted call passes (Retarget.cpp): the
 * instruction's shape and type, then its operands in PTX order except the
 * accumulators, which come last. */
typedef struct wgmma_args {
  int32_t n, type; /* type: 0 f16, 1 bf16 */
  uint64_t desc_a, desc_b;
  int32_t scale_d, scale_a, scale_b, tnsp_a, tnsp_b;
  float acc[];
} wgmma_args;

enum { WGMMA_MAX_N = 256, SPACE_SHARED = 3 };

static float element(const uint8_t *p, int type) {
  uint16_t h;
  memcpy(&h, p, 2);
  if (type == 1) {
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, sizeof(v));
    return v;
  }
  _Float16 v;
  memcpy(&v, &h, sizeof(v));
  return (float)v;
}

/* The address of element (row, k) of a K-major operand, or NULL (and a
 * report) when the descriptor's layout is not one the emulator reads. */
static const uint8_t *operand(emu_exec *x, uint64_t desc, int row, int k) {
  uintptr_t start = (uintptr_t)((desc & 0x3fff) << 4);
  uintptr_t lbo = (uintptr_t)(((desc >> 16) & 0x3fff) << 4);
  uintptr_t sbo = (uintptr_t)(((desc >> 32) & 0x3fff) << 4);
  uintptr_t offset = start + (uintptr_t)(row / 8) * sbo +
                     (uintptr_t)(k / 8) * lbo + (uintptr_t)(row % 8) * 16 +
                     (uintptr_t)(k % 8) * 2;
  return (const uint8_t *)x->arena + offset;
}

/* The 16-byte rows of the warpgroup's operands, spread over its threads,
 * are checked as the reads of the thread that names them (bounds, races
 * with writes of the same barrier interval). */
static void check_operands(const wgmma_args *a, int thread) {
  emu_exec *x = emu_current;
  for (int piece = thread; piece < 2 * 64 + 2 * a->n; piece += 128) {
    int is_b = piece >= 2 * 64, p = is_b ? piece - 2 * 64 : piece;
    const uint8_t *row =
        operand(x, is_b ? a->desc_b : a->desc_a, p / 2, 8 * (p % 2));
    __moe_emu_access((void *)row, 16, EMU_ACCESS_FLAGS(0, 4, SPACE_SHARED));
    if (x->abort_block)
      return;
  }
}

static int supported(const wgmma_args *a) {
  const char *why = NULL;
  if (a->n < 8 || a->n > WGMMA_MAX_N || a->n % 8)
    why = "an N outside 8..256 in steps of 8";
  else if (a->tnsp_a || a->tnsp_b)
    why = "transposed (M- or N-major) operands";
  else if (a->scale_a != 1 || a->scale_b != 1)
    why = "negated operands";
  else if ((a->desc_a | a->desc_b) >> 49)
    why = "swizzled layouts or a base offset";
  if (why)
    emu_report(1, "wgmma.mma_async with %s, which the emulator does not run",
               why);
  return !why;
}

/* Each thread of the warpgroup arrives with its packed operands and its
 * result slot, both on its own stack, which stays put while it waits. */
void __moe_emu_wgmma_f32(void *result, const void *args) {
  emu_exec *x = emu_current;
  emu_fiber *f = x->current;
  emu_warp *w = &x->warps[f->linear / 32];
  int lane = f->linear % 32;
  const wgmma_args *a = args;
  int mode = a->n | a->type << 12;
  if (!supported(a))
    return;
  check_operands(a, f->linear % 128);
  if (x->abort_block)
    return;
  if (w->arrived && (w->op != WARP_WGMMA || w->mode != mode))
    emu_report(0, "divergent warp collectives: lanes of one warp wait at "
                  "different operations");
  w->op = WARP_WGMMA;
  w->mode = mode;
  w->mask = 0xffffffffu;
  w->arrived |= 1u << lane;
  w->lane_args[lane] = args;
  w->lane_result[lane] = result;
  emu_yield(FIBER_WARP);
}

/* D fragment of m64nNk16 with f32 accumulators: register i of lane l in
 * warp w (of the warpgroup) is row 16 w + l / 4 + 8 ((i / 2) % 2), column
 * 8 (i / 4) + 2 (l % 4) + i % 2. */
static int d_row(int warp, int lane, int i) {
  return 16 * warp + lane / 4 + 8 * ((i / 2) % 2);
}
static int d_col(int lane, int i) { return 8 * (i / 4) + 2 * (lane % 4) + i % 2; }

/* The arena offsets that operand `desc` of `rows` rows spans: from its
 * first element to its last (16 of K: two core matrices along K; the
 * offset grows with the row and with K). */
static void operand_bounds(emu_exec *x, uint64_t desc, int rows, uintptr_t *lo,
                           uintptr_t *hi) {
  *lo = (uintptr_t)(operand(x, desc, 0, 0) - (uint8_t *)x->arena);
  *hi = (uintptr_t)(operand(x, desc, rows - 1, 15) - (uint8_t *)x->arena) + 2;
}

/* Drops the reads of operations their warpgroups have retired. */
static void forget_retired(emu_exec *x) {
  int kept = 0;
  for (int i = 0; i < x->wgmma_read_count; ++i) {
    emu_wgmma_reads *r = &x->wgmma_reads[i];
    if (r->group >= x->wgmma_retired[r->warpgroup])
      x->wgmma_reads[kept++] = *r;
  }
  x->wgmma_read_count = kept;
}

static void remember_reads(emu_exec *x, emu_warp *group, const wgmma_args *a) {
  int warpgroup = (int)(group - x->warps) / 4;
  forget_retired(x);
  /* No room: the oldest is forgotten (a hazard on it goes unreported). */
  if (x->wgmma_read_count == EMU_MAX_WGMMA_READS) {
    memmove(x->wgmma_reads, x->wgmma_reads + 1,
            (EMU_MAX_WGMMA_READS - 1) * sizeof(emu_wgmma_reads));
    --x->wgmma_read_count;
  }
  emu_wgmma_reads *r = &x->wgmma_reads[x->wgmma_read_count++];
  operand_bounds(x, a->desc_a, 64, &r->lo[0], &r->hi[0]);
  operand_bounds(x, a->desc_b, a->n, &r->lo[1], &r->hi[1]);
  r->group = x->wgmma_committed[warpgroup];
  r->warpgroup = warpgroup;
}

void emu_wgmma_check_write(emu_exec *x, uintptr_t offset, uint64_t bytes,
                           const char *what) {
  for (int i = 0; i < x->wgmma_read_count; ++i) {
    const emu_wgmma_reads *r = &x->wgmma_reads[i];
    if (r->group < x->wgmma_retired[r->warpgroup])
      continue;
    for (int o = 0; o < 2; ++o)
      if (offset < r->hi[o] && offset + bytes > r->lo[o]) {
        emu_report(0,
                   "%s to shared byte %llu, which a wgmma.mma_async of "
                   "warpgroup %d still reads (its %s; before the "
                   "wgmma.wait_group that retires it)",
                   what, (unsigned long long)offset, r->warpgroup,
                   o ? "B" : "A");
        return;
      }
  }
}

void emu_wgmma_block_end(emu_exec *x) {
  forget_retired(x);
  if (x->wgmma_read_count)
    emu_report(0,
               "the block ended with a wgmma.mma_async of warpgroup %d that "
               "no wgmma.wait_group retired (its accumulators are undefined "
               "until one does)",
               x->wgmma_reads[0].warpgroup);
}

int emu_wgmma_complete(emu_exec *x, emu_warp *group) {
  const wgmma_args *first = group[0].lane_args[0];
  for (int w = 0; w < 4; ++w)
    for (int lane = 0; lane < 32; ++lane) {
      const wgmma_args *a = group[w].lane_args[lane];
      if (a->desc_a != first->desc_a || a->desc_b != first->desc_b ||
          a->scale_d != first->scale_d) {
        emu_report(0, "wgmma.mma_async with descriptors or scale-d that "
                      "differ between the warpgroup's threads");
        return 0;
      }
    }
  int n = first->n, type = first->type;
  static __thread float am[64][16], bm[WGMMA_MAX_N][16];
  for (int r = 0; r < 64; ++r)
    for (int k = 0; k < 16; ++k)
      am[r][k] = element(operand(x, first->desc_a, r, k), type);
  for (int c = 0; c < n; ++c)
    for (int k = 0; k < 16; ++k)
      bm[c][k] = element(operand(x, first->desc_b, c, k), type);
  for (int w = 0; w < 4; ++w)
    for (int lane = 0; lane < 32; ++lane) {
      const wgmma_args *a = group[w].lane_args[lane];
      float *d = group[w].lane_result[lane];
      for (int i = 0; i < n / 2; ++i) {
        int r = d_row(w, lane, i), c = d_col(lane, i);
        double sum = first->scale_d ? (double)a->acc[i] : 0.0;
        for (int k = 0; k < 16; ++k)
          sum += (double)am[r][k] * bm[c][k];
        d[i] = (float)sum;
      }
    }
  remember_reads(x, group, first);
  emu_count_wgmma();
  return 1;
}

/* The warpgroup's groups, as its furthest thread has them (the
 * instructions are .aligned: all its threads execute them together). */
void __moe_emu_wgmma_fence_sync_aligned(void) {}
void __moe_emu_wgmma_commit_group_sync_aligned(void) {
  emu_exec *x = emu_current;
  emu_fiber *f = x->current;
  int warpgroup = f->linear / 128;
  if (++f->wgmma_groups > x->wgmma_committed[warpgroup])
    x->wgmma_committed[warpgroup] = f->wgmma_groups;
}
void __moe_emu_wgmma_wait_group_sync_aligned(int64_t groups) {
  emu_exec *x = emu_current;
  emu_fiber *f = x->current;
  int warpgroup = f->linear / 128;
  uint32_t done = groups < 0 || (uint64_t)groups >= f->wgmma_groups
                      ? 0
                      : f->wgmma_groups - (uint32_t)groups;
  if (done > x->wgmma_retired[warpgroup])
    x->wgmma_retired[warpgroup] = done;
}
/* Orders the generic proxy's shared-memory writes (st.shared, cp.async)
 * before the async proxy's reads (wgmma): here both are the same memory. */
void __moe_emu_fence_proxy_async_shared_cta(void) {}
