/*===- warp.c - warp collectives: shfl, vote, mma.sync, ldmatrix ---------===*
 *
 * A lane arriving at a collective records its operands and waits; the
 * scheduler completes the collective once every lane of the member mask
 * has arrived (exec.c) and each lane reads its result. Lanes of one
 * collective must agree on the operation and the mask, as PTX requires.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <string.h>

enum { SHFL_UP, SHFL_DOWN, SHFL_BFLY, SHFL_IDX };
enum { VOTE_ALL, VOTE_ANY, VOTE_UNI, VOTE_BALLOT };

/* Records the calling lane's part: its warp, and its index in `*lane`. */
static emu_warp *arrive(int op, int mode, uint32_t mask, int *lane_out) {
  emu_exec *x = emu_current;
  emu_fiber *f = x->current;
  emu_warp *w = &x->warps[f->linear / 32];
  int lane = f->linear % 32;
  if (!(mask & (1u << lane)))
    emu_report(0,
               "warp collective with a member mask 0x%08x that excludes "
               "the calling lane %d",
               mask, lane);
  if (w->arrived && (w->op != op || w->mode != mode || w->mask != mask))
    emu_report(0,
               "divergent warp collectives: lanes of one warp wait at "
               "different operations or masks (0x%08x and 0x%08x)",
               w->mask, mask);
  w->op = op;
  w->mode = mode;
  w->mask = mask;
  w->arrived |= 1u << lane;
  *lane_out = lane;
  return w;
}

/* ldmatrix.m8n8.b16: matrix j's row i starts at the address of lane
 * 8 j + i. Lane l gets, in its register j, row l / 4 at columns 2 (l % 4)
 * and 2 (l % 4) + 1 (low half first); transposed, column l / 4 at rows
 * 2 (l % 4) and 2 (l % 4) + 1. */
static void ldmatrix_complete(emu_warp *w) {
  int num = w->mode & 7, trans = w->mode >> 4;
  /* Shared memory serves 32 banks of 4 bytes a cycle: a matrix's 8 rows of
   * 16 bytes take one wavefront when they fall in 8 different 16-byte bank
   * groups, else one per distinct row in the busiest group (equal
   * addresses are one broadcast). */
  long long extra = 0;
  for (int j = 0; j < num; ++j) {
    int rows_in_group[8] = {0}, busiest = 1;
    for (int r = 0; r < 8; ++r) {
      uintptr_t segment = w->row_address[8 * j + r] >> 4;
      int repeated = 0;
      for (int q = 0; q < r; ++q)
        repeated |= w->row_address[8 * j + q] >> 4 == segment;
      if (!repeated && ++rows_in_group[segment & 7] > busiest)
        busiest = rows_in_group[segment & 7];
    }
    extra += busiest - 1;
  }
  if (extra)
    emu_count_bank_conflicts(extra);
  for (int lane = 0; lane < 32; ++lane)
    for (int j = 0; j < num; ++j) {
      uint16_t h[2];
      for (int e = 0; e < 2; ++e) {
        int row = lane / 4, col = 2 * (lane % 4) + e;
        if (trans) {
          int t = row;
          row = col;
          col = t;
        }
        memcpy(&h[e], (const char *)w->row_address[8 * j + row] + 2 * col, 2);
      }
      w->result_regs[lane][j] = (uint32_t)h[0] | (uint32_t)h[1] << 16;
    }
}

void emu_warp_complete(emu_exec *x, emu_warp *w) {
  switch (w->op) {
  case WARP_SHFL:
    for (int lane = 0; lane < 32; ++lane) {
      if (!(w->arrived & (1u << lane)))
        continue;
      uint32_t b = w->b[lane] & 31, c = w->c[lane];
      uint32_t clamp = c & 31, segmask = (c >> 8) & 31;
      int max_lane = (int)((lane & segmask) | (clamp & ~segmask));
      int min_lane = (int)(lane & segmask), j = lane, in_range = 0;
      switch (w->mode) {
      case SHFL_UP:
        j = lane - (int)b;
        in_range = j >= max_lane;
        break;
      case SHFL_DOWN:
        j = lane + (int)b;
        in_range = j <= max_lane;
        break;
      case SHFL_BFLY:
        j = lane ^ (int)b;
        in_range = j <= max_lane;
        break;
      default:
        j = min_lane | (int)(b & ~segmask);
        in_range = j <= max_lane;
        break;
      }
      if (!in_range)
        j = lane;
      if (!(w->arrived & (1u << j))) {
        x->current = NULL;
        emu_report(0,
                   "shfl.sync reads lane %d, which is not in the member "
                   "mask 0x%08x",
                   j, w->mask);
      }
      w->result[lane] = w->value[j];
      w->pred[lane] = (uint8_t)in_range;
    }
    break;
  case WARP_VOTE: {
    uint32_t ballot = 0;
    for (int lane = 0; lane < 32; ++lane)
      if ((w->arrived & (1u << lane)) && w->value[lane])
        ballot |= 1u << lane;
    for (int lane = 0; lane < 32; ++lane) {
      switch (w->mode) {
      case VOTE_ALL:
        w->result[lane] = ballot == w->arrived;
        break;
      case VOTE_ANY:
        w->result[lane] = ballot != 0;
        break;
      case VOTE_UNI:
        w->result[lane] = ballot == 0 || ballot == w->arrived;
        break;
      default:
        w->result[lane] = ballot;
      }
    }
    break;
  }
  case WARP_MMA:
    emu_mma_compute(w);
    emu_count_mma();
    break;
  case WARP_LDMATRIX:
    ldmatrix_complete(w);
    break;
  default:
    break;
  }
}

static uint32_t shfl(int mode, uint32_t mask, uint32_t value, uint32_t b,
                     uint32_t c, uint8_t *pred) {
  int lane;
  emu_warp *w = arrive(WARP_SHFL, mode, mask, &lane);
  w->value[lane] = value;
  w->b[lane] = b;
  w->c[lane] = c;
  emu_yield(FIBER_WARP);
  if (pred)
    *pred = w->pred[lane];
  return w->result[lane];
}

static float as_float(uint32_t bits) {
  float v;
  memcpy(&v, &bits, sizeof(v));
  return v;
}
static uint32_t as_bits(float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof(bits));
  return bits;
}

#define SHFL_FUNCTIONS(name, mode)                                             \
  int32_t __moe_emu_shfl_sync_##name##_i32(int32_t mask, int32_t v, int32_t b, \
                                           int32_t c) {                        \
    return (int32_t)shfl(mode, (uint32_t)mask, (uint32_t)v, (uint32_t)b,       \
                         (uint32_t)c, NULL);                                   \
  }                                                                            \
  float __moe_emu_shfl_sync_##name##_f32(int32_t mask, float v, int32_t b,     \
                                         int32_t c) {                          \
    return as_float(shfl(mode, (uint32_t)mask, as_bits(v), (uint32_t)b,        \
                         (uint32_t)c, NULL));                                  \
  }                                                                            \
  /* {T, i1} results: (result, {mask, value, b, c}). */                        \
  void __moe_emu_shfl_sync_##name##_i32p(void *result, const void *args) {     \
    uint32_t in[4];                                                            \
    memcpy(in, args, sizeof(in));                                              \
    uint8_t pred = 0;                                                          \
    uint32_t v = shfl(mode, in[0], in[1], in[2], in[3], &pred);                \
    memcpy(result, &v, 4);                                                     \
    memcpy((char *)result + 4, &pred, 1);                                      \
  }                                                                            \
  void __moe_emu_shfl_sync_##name##_f32p(void *result, const void *args) {     \
    __moe_emu_shfl_sync_##name##_i32p(result, args);                           \
  }

SHFL_FUNCTIONS(up, SHFL_UP)
SHFL_FUNCTIONS(down, SHFL_DOWN)
SHFL_FUNCTIONS(bfly, SHFL_BFLY)
SHFL_FUNCTIONS(idx, SHFL_IDX)

static uint32_t vote(int mode, const void *args) {
  struct {
    uint32_t mask;
    uint8_t pred;
  } in;
  memcpy(&in.mask, args, 4);
  memcpy(&in.pred, (const char *)args + 4, 1);
  int lane;
  emu_warp *w = arrive(WARP_VOTE, mode, in.mask, &lane);
  w->value[lane] = in.pred & 1;
  emu_yield(FIBER_WARP);
  return w->result[lane];
}

/* vote.sync with an i1 predicate: (result, {mask, pred}). */
void __moe_emu_vote_all_sync(void *result, const void *args) {
  uint8_t r = (uint8_t)vote(VOTE_ALL, args);
  memcpy(result, &r, 1);
}
void __moe_emu_vote_any_sync(void *result, const void *args) {
  uint8_t r = (uint8_t)vote(VOTE_ANY, args);
  memcpy(result, &r, 1);
}
void __moe_emu_vote_uni_sync(void *result, const void *args) {
  uint8_t r = (uint8_t)vote(VOTE_UNI, args);
  memcpy(result, &r, 1);
}
void __moe_emu_vote_ballot_sync(void *result, const void *args) {
  uint32_t r = vote(VOTE_BALLOT, args);
  memcpy(result, &r, 4);
}

void __moe_emu_bar_warp_sync(int32_t mask) {
  int lane;
  arrive(WARP_SYNC, 0, (uint32_t)mask, &lane);
  emu_yield(FIBER_WARP);
}

/* mma.sync: (result {f32 x4}, {a regs, b regs, c f32 x4}); the A and B
 * registers are 32 bits in every supported shape. */
static void mma(int kind, int a_regs, int b_regs, void *result,
                const void *args) {
  int lane;
  emu_warp *w = arrive(WARP_MMA, kind, 0xffffffffu, &lane);
  const char *p = args;
  memcpy(w->mma_a[lane], p, 4 * (size_t)a_regs);
  memcpy(w->mma_b[lane], p + 4 * a_regs, 4 * (size_t)b_regs);
  memcpy(w->mma_c[lane], p + 4 * (a_regs + b_regs), 16);
  emu_yield(FIBER_WARP);
  memcpy(result, w->mma_d[lane], 16);
}

void __moe_emu_mma_m16n8k16_row_col_f32_f32(void *result, const void *args) {
  mma(MMA_F16_M16N8K16, 4, 2, result, args);
}
void __moe_emu_mma_m16n8k16_row_col_bf16(void *result, const void *args) {
  mma(MMA_BF16_M16N8K16, 4, 2, result, args);
}
void __moe_emu_mma_m16n8k8_row_col_tf32(void *result, const void *args) {
  mma(MMA_TF32_M16N8K8, 4, 2, result, args);
}

/* ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].b16: each of the first
 * 8 * num lanes names one 16-byte row in shared memory, checked as its
 * read. */
static void ldmatrix(int num, int trans, void *address, uint32_t *regs) {
  int lane;
  emu_warp *w = arrive(WARP_LDMATRIX, num | trans << 4, 0xffffffffu, &lane);
  if (lane < 8 * num) {
    __moe_emu_access(address, 16, EMU_ACCESS_FLAGS(0, 4, 3));
    w->row_address[lane] = (uintptr_t)address;
  }
  emu_yield(FIBER_WARP);
  memcpy(regs, w->result_regs[lane], 4 * (size_t)num);
}

#define LDMATRIX(num, trans, suffix)                                           \
  void __moe_emu_ldmatrix_sync_aligned_m8n8_x##num##suffix##_b16_p3(           \
      void *result, const void *args) {                                        \
    void *address;                                                             \
    memcpy(&address, args, sizeof(address));                                   \
    uint32_t regs[4];                                                          \
    ldmatrix(num, trans, address, regs);                                       \
    memcpy(result, regs, 4 * num);                                             \
  }

LDMATRIX(2, 0, )
LDMATRIX(4, 0, )
LDMATRIX(2, 1, _trans)
LDMATRIX(4, 1, _trans)

/* x1 returns one i32: called directly. */
int32_t __moe_emu_ldmatrix_sync_aligned_m8n8_x1_b16_p3(void *address) {
  uint32_t reg;
  ldmatrix(1, 0, address, &reg);
  return (int32_t)reg;
}
int32_t __moe_emu_ldmatrix_sync_aligned_m8n8_x1_trans_b16_p3(void *address) {
  uint32_t reg;
  ldmatrix(1, 1, address, &reg);
  return (int32_t)reg;
}
