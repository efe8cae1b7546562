#include "nn/concat.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

TEST(ConcatTest, ForwardPlacesInputsSideBySideAndBackwardSplits) {
  Concat concat({2, 1, 3});
  EXPECT_EQ(concat.OutputCols(), 6);
  EXPECT_EQ(concat.ColumnOffset(2), 3);
  std::vector<float> a = {1, 2, 3, 4}, b = {5, 6}, c = {7, 8, 9, 10, 11, 12};
  const Tensor srcs[] = {{a.data(), 2, 2, 2}, {b.data(), 2, 1, 1}, {c.data(), 2, 3, 3}};
  std::vector<float> out(2 * 8, -1.f);  // ld 8 > 6 columns
  const Tensor dst{out.data(), 2, 6, 8};
  concat.Forward(srcs, dst);
  EXPECT_EQ(out, (std::vector<float>{1, 2, 5, 7, 8, 9, -1, -1, 3, 4, 6, 10, 11, 12, -1, -1}));

  std::vector<float> da(4, 0.f), dc(6, 0.f);
  const Tensor diff_srcs[] = {{da.data(), 2, 2, 2}, Tensor{}, {dc.data(), 2, 3, 3}};
  concat.Backward(dst, diff_srcs);
  EXPECT_EQ(da, a);
  EXPECT_EQ(dc, c);
}

TEST(ConcatTest, RefusesMismatchedInputs) {
  Concat concat({2, 2});
  std::vector<float> a(4), out(8);
  const Tensor one[] = {{a.data(), 2, 2, 2}};
  EXPECT_THROW(concat.Forward(one, Tensor{out.data(), 2, 4, 4}), Error);
  const Tensor wrong[] = {{a.data(), 2, 2, 2}, {a.data(), 2, 1, 1}};
  EXPECT_THROW(concat.Forward(wrong, Tensor{out.data(), 2, 4, 4}), Error);
  EXPECT_THROW(Concat({}), Error);
}

}  // namespace
}  // namespace mtrec
