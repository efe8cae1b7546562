#include "models/gate_usage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

// Gates in the order added, each mean its sums over every row counted, whichever Record call the columns came in.
TEST(GateUsageLogTest, MeansEachGatesWeightsOverTheRowsCounted) {
  GateUsageLog log;
  EXPECT_EQ(log.AddGate("click", {"e0", "e1"}), 0);
  EXPECT_EQ(log.AddGate("cart", {"e0", "e1", "e2"}), 1);
  // Both gates' columns side by side in one batch (mmoe's layout), then gate 1 alone in a second batch.
  Matrix both(2, 5);
  const float rows[2][5] = {{0.25f, 0.75f, 0.5f, 0.5f, 0.f}, {0.75f, 0.25f, 0.f, 0.5f, 0.5f}};
  for (int r = 0; r < 2; ++r) std::copy_n(rows[r], 5, both.View().Row(r));
  log.Record(0, both.View(), 2);
  log.AddRows(2);
  Matrix cart(2, 3);
  const float cart_rows[2][3] = {{1.f, 0.f, 0.f}, {1.f, 0.f, 0.f}};
  for (int r = 0; r < 2; ++r) std::copy_n(cart_rows[r], 3, cart.View().Row(r));
  log.Record(1, cart.View());
  log.AddRows(2);
  const std::vector<GateUsage> usages = log.Usages();
  ASSERT_EQ(usages.size(), 2u);
  EXPECT_EQ(usages[0].gate, "click");
  EXPECT_EQ(usages[1].experts, (std::vector<std::string>{"e0", "e1", "e2"}));
  // click: (0.25 + 0.75) / 4 rows each; cart: (0.5 + 0 + 1 + 1) / 4, (0.5 + 0.5) / 4, 0.5 / 4.
  EXPECT_EQ(usages[0].mean_weight, (std::vector<double>{0.25, 0.25}));
  EXPECT_EQ(usages[1].mean_weight, (std::vector<double>{0.625, 0.25, 0.125}));
  log.Reset();
  EXPECT_EQ(log.Usages()[1].mean_weight, (std::vector<double>{0.0, 0.0, 0.0}));  // no rows: 0, not a division by 0
}

TEST(GateUsageLogTest, ColumnsThatDoNotMatchTheGatesAreRefused) {
  GateUsageLog log;
  log.AddGate("click", {"e0", "e1"});
  log.AddGate("cart", {"e0", "e1"});
  Matrix three(1, 3), five(1, 5);
  Matrix two(1, 2), four(1, 4);
  EXPECT_THROW(log.Record(0, three.View()), Error);     // more columns than gate 0's experts
  EXPECT_THROW(log.Record(0, three.View(), 2), Error);  // fewer than gates 0 and 1 have together
  EXPECT_THROW(log.Record(1, two.View(), 2), Error);    // past the last gate
  EXPECT_THROW(log.Record(-1, two.View()), Error);
  log.Record(0, four.View(), 2);                        // exactly both: accepted
  log.Record(1, two.View());
}

}  // namespace
}  // namespace mtrec
