/*===- mma.c - mma.sync of a whole warp ----------------------------------===*
 *
 * The lanes' fragments are scattered into matrices through the PTX ISA
 * tables (fragments.h), multiplied with exact products accumulated in
 * double, and gathered back into each lane's D fragment. tf32 operands keep
 * only their top 19 bits, as the tensor cores read them.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"
#include "fragments.h"

#include <string.h>

static float half_to_float(uint16_t h) {
  _Float16 v;
  memcpy(&v, &h, sizeof(v));
  return (float)v;
}

static float bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float v;
  memcpy(&v, &bits, sizeof(v));
  return v;
}

static float tf32_to_float(uint32_t bits) {
  bits &= 0xffffe000u;
  float v;
  memcpy(&v, &bits, sizeof(v));
  return v;
}

void emu_mma_compute(emu_warp *w) {
  float a[16][16], b[16][8], c[16][8];
  int k = w->mode == MMA_TF32_M16N8K8 ? 8 : 16;
  for (int lane = 0; lane < 32; ++lane) {
    if (w->mode == MMA_TF32_M16N8K8) {
      for (int i = 0; i < 4; ++i) {
        const emu_fragment_element *e = &emu_m16n8k8_tf32_a[i];
        a[emu_fragment_row(e, lane)][emu_fragment_col(e, lane)] =
            tf32_to_float(w->mma_a[lane][i]);
      }
      for (int i = 0; i < 2; ++i) {
        const emu_fragment_element *e = &emu_m16n8k8_tf32_b[i];
        b[emu_fragment_row(e, lane)][emu_fragment_col(e, lane)] =
            tf32_to_float(w->mma_b[lane][i]);
      }
    } else {
      float (*convert)(uint16_t) =
          w->mode == MMA_F16_M16N8K16 ? half_to_float : bf16_to_float;
      for (int i = 0; i < 8; ++i) {
        const emu_fragment_element *e = &emu_m16n8k16_a[i];
        uint16_t h = (uint16_t)(w->mma_a[lane][i / 2] >> (16 * (i % 2)));
        a[emu_fragment_row(e, lane)][emu_fragment_col(e, lane)] = convert(h);
      }
      for (int i = 0; i < 4; ++i) {
        const emu_fragment_element *e = &emu_m16n8k16_b[i];
        uint16_t h = (uint16_t)(w->mma_b[lane][i / 2] >> (16 * (i % 2)));
        b[emu_fragment_row(e, lane)][emu_fragment_col(e, lane)] = convert(h);
      }
    }
    for (int i = 0; i < 4; ++i) {
      const emu_fragment_element *e = &emu_m16n8_c[i];
      c[emu_fragment_row(e, lane)][emu_fragment_col(e, lane)] =
          w->mma_c[lane][i];
    }
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const emu_fragment_element *e = &emu_m16n8_c[i];
      int r = emu_fragment_row(e, lane), n = emu_fragment_col(e, lane);
      double sum = c[r][n];
      for (int kk = 0; kk < k; ++kk)
        sum += (double)a[r][kk] * b[kk][n];
      w->mma_d[lane][i] = (float)sum;
    }
}
