//===- EmulatorFragmentsTest.cpp - mma fragment tables vs. CuTe -----------===//
//
// The CUDA emulator's fragment tables (runtime/cuda-emulator/fragments.h)
// are transcribed from the PTX ISA. This checks them, lane by lane and
// element by element, against a second, independent statement of the same
// layouts: CUTLASS's CuTe MMA traits (cute/atom/mma_traits_sm80.hpp), whose
// (thread, value) -> index layouts are restated here as shapes and strides.
//
//===----------------------------------------------------------------------===//

#include "fragments.h"

#include <gtest/gtest.h>

#include <vector>

namespace {
/// A CuTe layout ((4, 8), (values...)) : ((s0, s1), (strides...)) mapping
/// (thread, value) to a column-major index of a rows x cols matrix.
struct CuteLayout {
  int threadStride0, threadStride1; // thread = t0 + 4 * t1
  std::vector<int> valueShape, valueStride;
  int rows;

  std::pair<int, int> at(int thread, int value) const {
    int index = (thread % 4) * threadStride0 + (thread / 4) * threadStride1;
    for (size_t d = 0; d < valueShape.size(); ++d) {
      index += (value % valueShape[d]) * valueStride[d];
      value /= valueShape[d];
    }
    return {index % rows, index / rows};
  }
};

/// Rows and columns of `table` for every lane against `cute`; for B, CuTe
/// indexes (n, k) where the table gives (k, n).
void expectSame(const emu_fragment_element *table, int elements,
                const CuteLayout &cute, bool transposed) {
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < elements; ++i) {
      auto [r, c] = cute.at(lane, i);
      if (transposed)
        std::swap(r, c);
      EXPECT_EQ(emu_fragment_row(&table[i], lane), r)
          << "lane " << lane << " element " << i;
      EXPECT_EQ(emu_fragment_col(&table[i], lane), c)
          << "lane " << lane << " element " << i;
    }
}

// SM80_16x8x16_F32F16F16F32_TN (and the bf16 one, which shares it).
TEST(EmulatorFragments, M16N8K16MatchesCute) {
  expectSame(emu_m16n8k16_a, 8, {32, 1, {2, 2, 2}, {16, 8, 128}, 16},
             /*transposed=*/false);
  expectSame(emu_m16n8k16_b, 4, {16, 1, {2, 2}, {8, 64}, 8},
             /*transposed=*/true);
  expectSame(emu_m16n8_c, 4, {32, 1, {2, 2}, {16, 8}, 16},
             /*transposed=*/false);
}

// SM80_16x8x8_F32TF32TF32F32_TN.
TEST(EmulatorFragments, TF32M16N8K8MatchesCute) {
  expectSame(emu_m16n8k8_tf32_a, 4, {16, 1, {2, 2}, {8, 64}, 16},
             /*transposed=*/false);
  expectSame(emu_m16n8k8_tf32_b, 2, {8, 1, {2}, {32}, 8},
             /*transposed=*/true);
}

// Every matrix element is held by exactly one (lane, element).
TEST(EmulatorFragments, TablesCoverEachElementOnce) {
  auto covers = [](const emu_fragment_element *table, int elements, int rows,
                   int cols) {
    std::vector<int> seen(rows * cols, 0);
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < elements; ++i)
        ++seen[emu_fragment_row(&table[i], lane) * cols +
               emu_fragment_col(&table[i], lane)];
    for (int s : seen)
      EXPECT_EQ(s, 1);
  };
  covers(emu_m16n8k16_a, 8, 16, 16);
  covers(emu_m16n8k16_b, 4, 16, 8);
  covers(emu_m16n8_c, 4, 16, 8);
  covers(emu_m16n8k8_tf32_a, 4, 16, 8);
  covers(emu_m16n8k8_tf32_b, 2, 8, 8);
}
} // namespace
