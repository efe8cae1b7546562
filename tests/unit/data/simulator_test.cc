#include "data/simulator.h"

#include <gtest/gtest.h>

namespace mtrec {
namespace {

TEST(SimulatorTest, Placeholder) { EXPECT_EQ(KnownSimulatorPresets().size(), 1u); }

}  // namespace
}  // namespace mtrec
