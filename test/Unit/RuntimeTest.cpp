//===- RuntimeTest.cpp - libmoe_runtime's memrefCopy ----------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

extern "C" {
struct UnrankedDescriptor {
  int64_t rank;
  void *descriptor;
};
void memrefCopy(int64_t elemSize, UnrankedDescriptor *src,
                UnrankedDescriptor *dst);
}

namespace {
/// A ranked memref descriptor as generated code lays it out.
template <int Rank> struct Descriptor {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

TEST(MemrefCopy, CopiesAStridedSliceIntoAContiguousBuffer) {
  // Source: the 3x2 block at rows 1..3, columns 2..3 of a 4x5 buffer.
  std::vector<float> big(20);
  std::iota(big.begin(), big.end(), 0.0f);
  Descriptor<2> src{big.data(), big.data(), 1 * 5 + 2, {3, 2}, {5, 1}};
  std::vector<float> out(6, -1.0f);
  Descriptor<2> dst{out.data(), out.data(), 0, {3, 2}, {2, 1}};
  UnrankedDescriptor s{2, &src}, d{2, &dst};
  memrefCopy(sizeof(float), &s, &d);
  EXPECT_EQ(out, (std::vector<float>{7, 8, 12, 13, 17, 18}));
}

TEST(MemrefCopy, HandlesNonUnitInnerStridesAndEmptyShapes) {
  std::vector<float> src(8);
  std::iota(src.begin(), src.end(), 1.0f);
  // Every other element of src into a transposed-like column layout.
  Descriptor<1> s1{src.data(), src.data(), 0, {4}, {2}};
  std::vector<float> out(8, 0.0f);
  Descriptor<1> d1{out.data(), out.data(), 1, {4}, {2}};
  UnrankedDescriptor s{1, &s1}, d{1, &d1};
  memrefCopy(sizeof(float), &s, &d);
  EXPECT_EQ(out, (std::vector<float>{0, 1, 0, 3, 0, 5, 0, 7}));

  std::vector<float> untouched(4, 9.0f);
  Descriptor<2> empty{src.data(), src.data(), 0, {0, 4}, {4, 1}};
  Descriptor<2> target{untouched.data(), untouched.data(), 0, {0, 4}, {4, 1}};
  UnrankedDescriptor es{2, &empty}, ed{2, &target};
  memrefCopy(sizeof(float), &es, &ed);
  EXPECT_EQ(untouched, std::vector<float>(4, 9.0f));
}

TEST(MemrefCopy, CopiesScalars) {
  float a = 3.5f, b = 0.0f;
  Descriptor<1> sa{&a, &a, 0, {1}, {1}};
  Descriptor<1> sb{&b, &b, 0, {1}, {1}};
  // Rank 0: the descriptor holds only pointers and the offset.
  UnrankedDescriptor s{0, &sa}, d{0, &sb};
  memrefCopy(sizeof(float), &s, &d);
  EXPECT_EQ(b, 3.5f);
}
} // namespace
