/*===- fragments.h - mma.sync fragment layouts, from the PTX ISA ---------===*
 *
 * Which matrix element each register element of each lane holds, as the
 * PTX ISA states it ("Matrix fragments for mma.m16n8k16 / mma.m16n8k8"):
 * with groupID = laneid >> 2 and threadID_in_group = laneid % 4, element i
 * of a fragment sits at
 *   row = row_g * groupID + row_t * threadID_in_group + row_c
 *   col = col_g * groupID + col_t * threadID_in_group + col_c.
 * Elements are numbered in register order, the low half of a packed
 * register first. test/Unit/EmulatorFragmentsTest.cpp checks these rows
 * against CUTLASS's CuTe MMA traits.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_CUDA_EMULATOR_FRAGMENTS_H
#define MOE_CUDA_EMULATOR_FRAGMENTS_H

typedef struct emu_fragment_element {
  signed char row_g, row_t, row_c, col_g, col_t, col_c;
} emu_fragment_element;

/* m16n8k16, .f16 and .bf16: A is 16x16 (row-major), 8 elements in 4
 * registers. */
static const emu_fragment_element emu_m16n8k16_a[8] = {
    {1, 0, 0, 0, 2, 0}, {1, 0, 0, 0, 2, 1}, {1, 0, 8, 0, 2, 0},
    {1, 0, 8, 0, 2, 1}, {1, 0, 0, 0, 2, 8}, {1, 0, 0, 0, 2, 9},
    {1, 0, 8, 0, 2, 8}, {1, 0, 8, 0, 2, 9}};
/* B is 16x8 (K x N, column-major), 4 elements in 2 registers. */
static const emu_fragment_element emu_m16n8k16_b[4] = {{0, 2, 0, 1, 0, 0},
                                                       {0, 2, 1, 1, 0, 0},
                                                       {0, 2, 8, 1, 0, 0},
                                                       {0, 2, 9, 1, 0, 0}};
/* C and D, 16x8 f32, for every shape here. */
static const emu_fragment_element emu_m16n8_c[4] = {{1, 0, 0, 0, 2, 0},
                                                    {1, 0, 0, 0, 2, 1},
                                                    {1, 0, 8, 0, 2, 0},
                                                    {1, 0, 8, 0, 2, 1}};
/* m16n8k8, .tf32: A is 16x8, one element per register. */
static const emu_fragment_element emu_m16n8k8_tf32_a[4] = {{1, 0, 0, 0, 1, 0},
                                                           {1, 0, 8, 0, 1, 0},
                                                           {1, 0, 0, 0, 1, 4},
                                                           {1, 0, 8, 0, 1, 4}};
/* B is 8x8 (K x N). */
static const emu_fragment_element emu_m16n8k8_tf32_b[2] = {{0, 1, 0, 1, 0, 0},
                                                           {0, 1, 4, 1, 0, 0}};

static inline int emu_fragment_row(const emu_fragment_element *e, int lane) {
  return e->row_g * (lane >> 2) + e->row_t * (lane & 3) + e->row_c;
}
static inline int emu_fragment_col(const emu_fragment_element *e, int lane) {
  return e->col_g * (lane >> 2) + e->col_t * (lane & 3) + e->col_c;
}

#endif
