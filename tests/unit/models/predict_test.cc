#include "models/predict.h"

#include <gtest/gtest.h>

#include "common/config.h"

namespace mtrec {
namespace {

TEST(PredictTest, InferenceBatchIsTheTrainingBatchAtLeastTheMinimum) {
  Config config;
  config.train.batch_size = 512;
  EXPECT_EQ(InferenceBatch(config), 4096);
  config.train.batch_size = 4096;
  EXPECT_EQ(InferenceBatch(config), 4096);
  config.train.batch_size = 10000;  // the model trains in it, so it must hold it
  EXPECT_EQ(InferenceBatch(config), 10000);
}

}  // namespace
}  // namespace mtrec
