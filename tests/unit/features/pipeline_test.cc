#include "features/pipeline.h"

#include <gtest/gtest.h>

#include "support/test_files.h"
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/binary.h"
#include "common/error.h"
#include "features/numeric.h"
#include "features/vocabulary.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

fs::path TestDir() { return mtrec::TestDir("pipeline_test"); }

std::string WriteFile(const std::string& name, const std::string& text) { return mtrec::WriteFile(TestDir(), name, text); }

// Equal element by element, NaN equal to NaN.
void ExpectSameFloats(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))
        << what << "[" << i << "]: " << a[i] << " vs " << b[i];
  }
}

// ---- Vocabulary and hashing ----

TEST(VocabularyTest, FitKeepsFrequentValuesByCountThenValue) {
  Vocabulary v = Vocabulary::Fit({{"b", 3}, {"a", 3}, {"c", 5}, {"d", 1}, {"e", 2}}, /*min_count=*/2);
  EXPECT_EQ(v.size(), 5);  // c, a, b, e and the out-of-vocabulary row
  EXPECT_EQ(v.Lookup("c"), 1);
  EXPECT_EQ(v.Lookup("a"), 2);
  EXPECT_EQ(v.Lookup("b"), 3);
  EXPECT_EQ(v.Lookup("e"), 4);
  EXPECT_EQ(v.Lookup("d"), Vocabulary::kOutOfVocabulary);
  EXPECT_EQ(v.Lookup("never seen"), 0);
  EXPECT_EQ(v.Value(1), "c");
  EXPECT_EQ(v.Value(4), "e");
}

TEST(VocabularyTest, FitDoesNotDependOnTheInputOrder) {
  Vocabulary a = Vocabulary::Fit({{"x", 1}, {"y", 1}, {"z", 2}}, 1);
  Vocabulary b = Vocabulary::Fit({{"y", 1}, {"z", 2}, {"x", 1}}, 1);
  for (const char* value : {"x", "y", "z"}) EXPECT_EQ(a.Lookup(value), b.Lookup(value)) << value;
  EXPECT_EQ(a.Lookup("z"), 1);
  EXPECT_EQ(a.Lookup("x"), 2);
}

TEST(VocabularyTest, EmptyVocabularyHasOnlyTheOutOfVocabularyRow) {
  Vocabulary v = Vocabulary::Fit({{"a", 1}}, 5);
  EXPECT_EQ(v.size(), 1);
  EXPECT_EQ(v.Lookup("a"), 0);
}

TEST(VocabularyTest, SerializeDeserializeRoundTrip) {
  Vocabulary v = Vocabulary::Fit({{"paris", 4}, {"rome", 9}, {"", 2}, {"oslo", 4}}, 1);
  BinaryWriter w;
  v.Serialize(w);
  w.Pod<uint32_t>(0xfeedu);  // what follows must be left in place
  BinaryReader r(w.str().data(), w.size(), "vocab");
  Vocabulary back = Vocabulary::Deserialize(r);
  EXPECT_EQ(r.Pod<uint32_t>(), 0xfeedu);
  EXPECT_EQ(back.size(), v.size());
  for (const char* value : {"paris", "rome", "", "oslo", "berlin"}) EXPECT_EQ(back.Lookup(value), v.Lookup(value));
  EXPECT_EQ(back.Lookup("rome"), 1);
  EXPECT_EQ(back.Lookup("oslo"), 2);
  EXPECT_EQ(back.Lookup(""), 4);

  // A size larger than what follows is refused, not allocated.
  BinaryWriter bad;
  bad.Pod<uint64_t>(1ULL << 40);
  BinaryReader rb(bad.str().data(), bad.size(), "vocab");
  EXPECT_THROW(Vocabulary::Deserialize(rb), Error);
}

TEST(HashBucketTest, StableKnownValuesWithinRange) {
  // FNV-1a then SplitMix64's finaliser, computed independently.
  EXPECT_EQ(HashBucket("u123", 1 << 20), 903518);
  EXPECT_EQ(HashBucket("", 1000), 8);
  EXPECT_EQ(HashBucket("click", 7), 4);
  EXPECT_EQ(HashBucket("c7", 100), 14);
  EXPECT_EQ(HashBucket("paris", 1 << 30), 238789848);
  for (int i = 0; i < 1000; ++i) {
    int32_t b = HashBucket("v" + std::to_string(i), 13);
    EXPECT_GE(b, 0);
    EXPECT_LT(b, 13);
  }
  EXPECT_EQ(HashBucket("anything", 1), 0);
}

// ---- Numeric transforms ----

FeatureConfig Numeric(const std::string& name = "x") {
  FeatureConfig f;
  f.name = name;
  f.column = name;
  f.kind = FeatureKind::kNumeric;
  return f;
}

NumericTransform Fit(const FeatureConfig& f, const std::vector<float>& values) {
  return NumericTransform::Fit(f, values.data(), values.size(), "train.csv");
}

TEST(NumericTransformTest, FillClipAndLog1pWithoutStandardising) {
  FeatureConfig f = Numeric();
  f.standardize = false;
  f.fill = 5;
  NumericTransform t = Fit(f, {1, 2});
  EXPECT_EQ(t.Apply(NAN), 5.f);
  EXPECT_EQ(t.Apply(2.5f), 2.5f);

  f.clip = {0, 10};
  t = Fit(f, {1, 2});
  EXPECT_EQ(t.Apply(15), 10.f);
  EXPECT_EQ(t.Apply(-3), 0.f);
  EXPECT_EQ(t.Apply(NAN), 5.f);

  f.log1p = true;
  t = Fit(f, {1, 2});
  EXPECT_FLOAT_EQ(t.Apply(static_cast<float>(M_E - 1)), 1.f);
  EXPECT_FLOAT_EQ(t.Apply(100), static_cast<float>(std::log1p(10.0)));  // clipped first
  EXPECT_FLOAT_EQ(t.Apply(NAN), static_cast<float>(std::log1p(5.0)));
  EXPECT_DOUBLE_EQ(t.Prepare(3), std::log1p(3.0));
}

TEST(NumericTransformTest, StandardisesWithStatisticsOfNonMissingValues) {
  FeatureConfig f = Numeric();
  NumericTransform t = Fit(f, {1, 2, NAN, 6});
  // mean (1 + 2 + 6) / 3 = 3; population variance (4 + 1 + 9) / 3 = 14 / 3.
  const double std = std::sqrt(14.0 / 3.0);
  EXPECT_DOUBLE_EQ(t.mean(), 3.0);
  EXPECT_DOUBLE_EQ(t.std(), std);
  EXPECT_FLOAT_EQ(t.Apply(2), static_cast<float>((2 - 3) / std));
  EXPECT_FLOAT_EQ(t.Apply(6), static_cast<float>(3 / std));
  EXPECT_FLOAT_EQ(t.Apply(NAN), static_cast<float>(-3 / std));  // fill 0, then standardised
  EXPECT_FALSE(t.bucketized());
}

TEST(NumericTransformTest, StatisticsAreOfTheTransformedValues) {
  FeatureConfig f = Numeric();
  f.clip = {0, 100};
  f.log1p = true;
  // Prepared: log1p(0) = 0 (clipped from -5), log1p(e^2 - 1) = 2, log1p(100) (clipped from 1000).
  NumericTransform t = Fit(f, {-5, static_cast<float>(std::exp(2.0) - 1), 1000});
  const double a = 0.0;
  const double b = std::log1p(static_cast<double>(static_cast<float>(std::exp(2.0) - 1)));
  const double c = std::log1p(100.0);
  const double mean = (a + b + c) / 3;
  EXPECT_NEAR(t.mean(), mean, 1e-12);
  EXPECT_NEAR(t.std(), std::sqrt(((a - mean) * (a - mean) + (b - mean) * (b - mean) + (c - mean) * (c - mean)) / 3),
              1e-12);
}

TEST(NumericTransformTest, ConstantColumnIsCentredNotScaled) {
  NumericTransform t = Fit(Numeric(), {4, 4, 4});
  EXPECT_EQ(t.mean(), 4.0);
  EXPECT_EQ(t.std(), 1.0);
  EXPECT_EQ(t.Apply(6), 2.f);
  NumericTransform empty = Fit(Numeric(), {NAN, NAN});
  EXPECT_EQ(empty.mean(), 0.0);
  EXPECT_EQ(empty.std(), 1.0);
}

TEST(NumericTransformTest, MissingFlag) {
  FeatureConfig f = Numeric();
  EXPECT_TRUE(Fit(f, {1, NAN}).has_missing_flag());  // auto, with missing values
  EXPECT_FALSE(Fit(f, {1, 2}).has_missing_flag());   // auto, without
  f.missing_flag = MissingFlag::kAlways;
  EXPECT_TRUE(Fit(f, {1, 2}).has_missing_flag());
  f.missing_flag = MissingFlag::kNever;
  EXPECT_FALSE(Fit(f, {1, NAN}).has_missing_flag());
}

TEST(NumericTransformTest, QuantileBuckets) {
  FeatureConfig f = Numeric();
  f.buckets = 4;
  NumericTransform t = Fit(f, {8, 1, 7, 2, NAN, 6, 3, 5, 4});
  // Sorted 1..8; cuts at positions 8·b/4 = 2, 4, 6: values 3, 5, 7.
  EXPECT_TRUE(t.bucketized());
  EXPECT_EQ(t.BucketRows(), 5);  // 4 buckets and the missing one
  EXPECT_EQ(t.Bucket(1), 0);
  EXPECT_EQ(t.Bucket(2.9f), 0);
  EXPECT_EQ(t.Bucket(3), 1);
  EXPECT_EQ(t.Bucket(4.5f), 1);
  EXPECT_EQ(t.Bucket(5), 2);
  EXPECT_EQ(t.Bucket(7), 3);
  EXPECT_EQ(t.Bucket(1e6f), 3);
  EXPECT_EQ(t.Bucket(-1e6f), 0);
  EXPECT_EQ(t.Bucket(NAN), 4);  // missing: the last id
}

TEST(NumericTransformTest, AHeavyValueTakesOneBucketAndTheOthersSplitTheRest) {
  FeatureConfig f = Numeric();
  f.buckets = 4;
  NumericTransform t = Fit(f, {1, 1, 1, 1, 1, 9});
  // The run of 1s fills the first bucket; 9 starts the next. (Cuts at fixed quantile positions were all 1.)
  EXPECT_EQ(t.BucketRows(), 3);
  EXPECT_EQ(t.Bucket(0), 0);
  EXPECT_EQ(t.Bucket(1), 0);
  EXPECT_EQ(t.Bucket(8.9f), 0);
  EXPECT_EQ(t.Bucket(9), 1);
  EXPECT_EQ(t.Bucket(NAN), 2);
}

TEST(EqualFrequencyCutsTest, SpreadsTheBucketsOverWhatAHeavyValueLeaves) {
  // 60 zeros and 1..40, 5 buckets: the zeros take one (target 20); the 40 other rows split 4 ways by 10.
  std::vector<double> values(60, 0.0);
  for (int v = 1; v <= 40; ++v) values.push_back(v);
  EXPECT_EQ(EqualFrequencyCuts(values, 5), (std::vector<float>{1, 11, 21, 31}));
}

TEST(EqualFrequencyCutsTest, ClosesABucketBeforeARunThatWouldOvershootMore) {
  // Target 10: after 1,1,1,2,2,2 (6 rows) the run of 30 fives would overshoot by 26, stopping short misses by 4.
  std::vector<double> values = {1, 1, 1, 2, 2, 2};
  values.insert(values.end(), 30, 5.0);
  for (double v : {6, 7, 8, 9}) values.push_back(v);
  // Then the fives alone (target 34/3), then 6,7 (target 2), then 8,9.
  EXPECT_EQ(EqualFrequencyCuts(values, 4), (std::vector<float>{5, 6, 8}));
}

TEST(EqualFrequencyCutsTest, NeverMoreBucketsThanAskedOrDistinctValues) {
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back(std::floor(std::pow(i / 10.0, 2)));  // runs of every length
  std::sort(values.begin(), values.end());
  for (int64_t buckets : {1, 2, 3, 7, 20, 100, 5000}) {
    const std::vector<float> cuts = EqualFrequencyCuts(values, buckets);
    EXPECT_LE(static_cast<int64_t>(cuts.size()), buckets - 1) << buckets;
    EXPECT_TRUE(std::is_sorted(cuts.begin(), cuts.end()));
    EXPECT_EQ(std::adjacent_find(cuts.begin(), cuts.end()), cuts.end()) << "repeated cut, buckets " << buckets;
    // Every cut is a value of the data past the smallest one (an empty bucket would waste an embedding row).
    for (float cut : cuts) {
      EXPECT_GT(cut, values.front());
      EXPECT_TRUE(std::binary_search(values.begin(), values.end(), static_cast<double>(cut))) << cut;
    }
  }
  EXPECT_TRUE(EqualFrequencyCuts({3, 3, 3}, 10).empty());
  EXPECT_TRUE(EqualFrequencyCuts({}, 10).empty());
  EXPECT_EQ(EqualFrequencyCuts({1, 2, 3, 4}, 1000), (std::vector<float>{2, 3, 4}));
}

TEST(NumericTransformTest, Log1pOfANegativeValueThrows) {
  FeatureConfig f = Numeric("price");
  f.log1p = true;
  std::string error = ErrorOf([&] { Fit(f, {1, -2}); });
  EXPECT_NE(error.find("train.csv: feature 'price': log1p of -2 is undefined"), std::string::npos) << error;
  NumericTransform t = Fit(f, {1, 2});
  EXPECT_THROW(t.Apply(-5), Error);
  EXPECT_THROW(t.Apply(-1), Error);
  EXPECT_NO_THROW(t.Apply(-0.5f));
  // Missing values are filled before the check; a fill of -3 is refused too.
  f.fill = -3;
  NumericTransform filled = Fit(f, {1, 2});
  EXPECT_THROW(filled.Apply(NAN), Error);
}

TEST(NumericTransformTest, SerializeDeserializeRoundTrip) {
  FeatureConfig f = Numeric();
  f.clip = {-1, 50};
  f.log1p = true;
  f.fill = 2;
  f.buckets = 3;
  f.missing_flag = MissingFlag::kAlways;
  NumericTransform t = Fit(f, {0, 3, 10, NAN, 40, 7});
  BinaryWriter w;
  t.Serialize(w);
  BinaryReader r(w.str().data(), w.size(), "numeric");
  NumericTransform back = NumericTransform::Deserialize(r);
  EXPECT_TRUE(r.AtEnd());
  EXPECT_EQ(back.mean(), t.mean());
  EXPECT_EQ(back.std(), t.std());
  EXPECT_EQ(back.has_missing_flag(), t.has_missing_flag());
  EXPECT_EQ(back.BucketRows(), t.BucketRows());
  for (float x : {-0.5f, 0.f, 2.f, 9.f, 60.f, NAN}) {
    EXPECT_EQ(back.Apply(x), t.Apply(x)) << x;
    EXPECT_EQ(back.Bucket(x), t.Bucket(x)) << x;
  }
}

// ---- The pipeline ----

// Removes the test's files afterwards.
class PipelineFilesTest : public testing::Test {
 protected:
  void TearDown() override { fs::remove_all(TestDir()); }
};
using PipelineShareTest = PipelineFilesTest;
using PipelineHashTest = PipelineFilesTest;
using PipelineNumericTest = PipelineFilesTest;

const char* kConfig = R"(
[data]
cache = false

[[features]]
name = "city"

[[features]]
name = "tags"
kind = "multi_categorical"

[[features]]
name = "price"
kind = "numeric"

[[features]]
name = "age"
kind = "numeric"
buckets = 2
embedding_dim = 3

[[tasks]]
name = "click"
column = "clicked"

[[tasks]]
name = "buy"
column = "status"
positive = ["paid"]

[[tasks]]
name = "gmv"
kind = "regression"
oracle = "p_gmv"

[model]
embedding_dim = 4
)";

const char* kTrain =
    "city,tags,price,age,clicked,status,gmv,p_gmv\n"
    "rome,a|b,10,20,1,paid,5.5,0.3\n"
    "paris,b,,30,0,NA,0,0.1\n"
    "rome,,30,40,NA,open,1.5,0.2\n"
    "oslo,c|a|a,20,50,0,paid,NA,0.4\n";

class PipelineTest : public PipelineFilesTest {
 protected:
  void SetUp() override {
    config_ = ParseConfig(kConfig, "pipeline.toml");
    train_ = LoadTable(WriteFile("train.csv", kTrain), config_.data, FeaturePipeline::Requests(config_, true));
  }
  Config config_;
  ColumnTable train_;
};

TEST_F(PipelineTest, RequestsNameEveryColumnWithItsRole) {
  std::vector<ColumnRequest> requests = FeaturePipeline::Requests(config_, true);
  ASSERT_EQ(requests.size(), 8u);
  EXPECT_EQ(requests[0].name, "city");
  EXPECT_EQ(requests[0].type, ColumnType::kCategorical);
  EXPECT_EQ(requests[1].type, ColumnType::kMultiCategorical);
  EXPECT_EQ(requests[1].separator, "|");
  EXPECT_EQ(requests[2].type, ColumnType::kNumeric);
  EXPECT_EQ(requests[4].name, "clicked");
  EXPECT_EQ(requests[4].type, ColumnType::kNumeric);
  EXPECT_TRUE(requests[4].binary_label);
  EXPECT_TRUE(requests[4].required);
  EXPECT_EQ(requests[4].role, "label of task 'click'");
  EXPECT_EQ(requests[5].name, "status");
  EXPECT_EQ(requests[5].type, ColumnType::kCategorical);  // a label rule reads text
  EXPECT_FALSE(requests[5].binary_label);
  EXPECT_EQ(requests[6].name, "gmv");
  EXPECT_FALSE(requests[6].binary_label);
  EXPECT_EQ(requests[7].name, "p_gmv");
  EXPECT_FALSE(requests[7].required);  // oracles are always optional
  for (const auto& r : FeaturePipeline::Requests(config_, false)) {
    if (r.role.rfind("feature", 0) == 0) {
      EXPECT_TRUE(r.required) << r.name;
    } else {
      EXPECT_FALSE(r.required) << r.name;
    }
  }
}

TEST_F(PipelineTest, Layout) {
  FeaturePipeline pipeline = FeaturePipeline::Fit(config_, train_);
  const InputLayout& layout = pipeline.layout();
  ASSERT_EQ(layout.tables.size(), 3u);
  EXPECT_EQ(layout.tables[0].name, "city");
  EXPECT_EQ(layout.tables[0].rows, 4);  // rome, oslo, paris + OOV
  EXPECT_EQ(layout.tables[0].dim, 4);
  EXPECT_EQ(layout.tables[1].name, "tags");
  EXPECT_EQ(layout.tables[1].rows, 4);  // a, b, c + OOV
  EXPECT_EQ(layout.tables[2].name, "age");
  EXPECT_EQ(layout.tables[2].rows, 3);  // 2 buckets + missing
  EXPECT_EQ(layout.tables[2].dim, 3);
  ASSERT_EQ(layout.single_slots.size(), 2u);
  EXPECT_EQ(layout.single_slots[0].feature, "city");
  EXPECT_EQ(layout.single_slots[0].table, 0);
  EXPECT_EQ(layout.single_slots[1].feature, "age");
  EXPECT_EQ(layout.single_slots[1].table, 2);
  ASSERT_EQ(layout.multi_slots.size(), 1u);
  EXPECT_EQ(layout.multi_slots[0].feature, "tags");
  EXPECT_EQ(layout.multi_slots[0].table, 1);
  EXPECT_EQ(layout.multi_slots[0].pooling, Pooling::kMean);
  EXPECT_EQ(layout.numeric_names, (std::vector<std::string>{"price", "price.missing"}));
  EXPECT_EQ(layout.NumericWidth(), 2);
  EXPECT_EQ(layout.InputWidth(), 4 + 3 + 4 + 2);
}

TEST_F(PipelineTest, EncodeTheTrainingFile) {
  FeaturePipeline pipeline = FeaturePipeline::Fit(config_, train_);
  EncodedData data = pipeline.Encode(train_);
  EXPECT_EQ(data.rows, 4);
  ASSERT_EQ(data.single_ids.size(), 2u);
  // rome 2×, oslo and paris once each: rome = 1, then oslo = 2 before paris = 3.
  EXPECT_EQ(data.single_ids[0], (std::vector<int32_t>{1, 3, 1, 2}));
  // age: cut at 40.
  EXPECT_EQ(data.single_ids[1], (std::vector<int32_t>{0, 0, 1, 1}));
  ASSERT_EQ(data.multi_ids.size(), 1u);
  // a 3× (twice in the last row), b 2×, c once.
  EXPECT_EQ(data.multi_ids[0].offsets, (std::vector<int64_t>{0, 2, 3, 3, 6}));
  EXPECT_EQ(data.multi_ids[0].ids, (std::vector<int32_t>{1, 2, 2, 3, 1, 1}));
  // price: mean 20, std sqrt(200 / 3); the missing row is filled with 0 and flagged.
  const float s = static_cast<float>(std::sqrt(200.0 / 3.0));
  ASSERT_EQ(data.numeric.size(), 8u);
  EXPECT_FLOAT_EQ(data.numeric[0], -10 / s);
  EXPECT_EQ(data.numeric[1], 0.f);
  EXPECT_FLOAT_EQ(data.numeric[2], -20 / s);
  EXPECT_EQ(data.numeric[3], 1.f);
  EXPECT_FLOAT_EQ(data.numeric[4], 10 / s);
  EXPECT_EQ(data.numeric[5], 0.f);
  EXPECT_FLOAT_EQ(data.numeric[6], 0.f);
  EXPECT_EQ(data.numeric[7], 0.f);
  ASSERT_EQ(data.labels.size(), 3u);
  ExpectSameFloats(data.labels[0], {1, 0, NAN, 0}, "click");
  ExpectSameFloats(data.labels[1], {1, NAN, 0, 1}, "buy");  // rule 'paid'; NA is missing
  ExpectSameFloats(data.labels[2], {5.5f, 0, 1.5f, NAN}, "gmv");
  ASSERT_EQ(data.oracle.size(), 3u);
  EXPECT_TRUE(data.oracle[0].empty());
  EXPECT_TRUE(data.oracle[1].empty());
  ExpectSameFloats(data.oracle[2], {0.3f, 0.1f, 0.2f, 0.4f}, "p_gmv");
  EXPECT_EQ(data.oov_rate, (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(data.path, train_.path());
}

TEST_F(PipelineTest, UnseenValuesAreOutOfVocabularyAndAbsentLabelsMissing) {
  FeaturePipeline pipeline = FeaturePipeline::Fit(config_, train_);
  const std::string path = WriteFile("predict.csv",
                                     "age,price,tags,city\n"
                                     "10,5,z|a,berlin\n"
                                     "60,NA,b,rome\n");
  ColumnTable table = LoadTable(path, config_.data, FeaturePipeline::Requests(config_, false));
  EncodedData data = pipeline.Encode(table);
  EXPECT_EQ(data.single_ids[0], (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(data.oov_rate[0], 0.5);
  EXPECT_EQ(data.single_ids[1], (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(data.multi_ids[0].ids, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(data.numeric[3], 1.f);  // flagged missing
  for (size_t k = 0; k < 3; ++k) ExpectSameFloats(data.labels[k], {NAN, NAN}, config_.tasks[k].name);
  EXPECT_TRUE(data.oracle[2].empty());  // the oracle column is absent
}

TEST_F(PipelineTest, NumericLabelsOutsideZeroOneAreRefusedForBinaryTasks) {
  const std::string path = WriteFile("bad_label.csv",
                                     "city,tags,price,age,clicked,status,gmv\n"
                                     "rome,a,1,2,3,paid,1\n");
  std::string error = ErrorOf([&] { LoadTable(path, config_.data, FeaturePipeline::Requests(config_, true)); });
  EXPECT_NE(error.find(":2: column 'clicked' (label of task 'click'): a binary label must be 0 or 1, found '3'"),
            std::string::npos)
      << error;
}

TEST_F(PipelineTest, SerializeDeserializeGivesTheSameEncoding) {
  FeaturePipeline pipeline = FeaturePipeline::Fit(config_, train_);
  BinaryWriter w;
  pipeline.Serialize(w);
  BinaryReader r(w.str().data(), w.size(), "features");
  FeaturePipeline back = FeaturePipeline::Deserialize(config_, r);
  EXPECT_TRUE(r.AtEnd());
  const std::string path = WriteFile("other.csv",
                                     "city,tags,price,age,clicked,status,gmv\n"
                                     "oslo,c|zz,-4,45,1,open,2\n"
                                     "nowhere,,NA,NA,0,paid,3\n");
  ColumnTable table = LoadTable(path, config_.data, FeaturePipeline::Requests(config_, true));
  for (const ColumnTable* t : {&train_, &table}) {
    EncodedData a = pipeline.Encode(*t);
    EncodedData b = back.Encode(*t);
    EXPECT_EQ(a.rows, b.rows);
    EXPECT_EQ(a.single_ids, b.single_ids);
    ASSERT_EQ(a.multi_ids.size(), b.multi_ids.size());
    EXPECT_EQ(a.multi_ids[0].offsets, b.multi_ids[0].offsets);
    EXPECT_EQ(a.multi_ids[0].ids, b.multi_ids[0].ids);
    ExpectSameFloats(a.numeric, b.numeric, "numeric");
    for (size_t k = 0; k < a.labels.size(); ++k) ExpectSameFloats(a.labels[k], b.labels[k], "labels");
    EXPECT_EQ(a.oov_rate, b.oov_rate);
  }
  EncodedData other = back.Encode(table);
  EXPECT_EQ(other.single_ids[1], (std::vector<int32_t>{1, 2}));  // 45 >= 40; missing age is bucket 2

  // A config with other features does not accept the state.
  Config renamed = config_;
  renamed.features[0].name = "town";
  BinaryReader again(w.str().data(), w.size(), "features");
  std::string error = ErrorOf([&] { FeaturePipeline::Deserialize(renamed, again); });
  EXPECT_NE(error.find("names 'city' where its config has 'town'"), std::string::npos) << error;
}

TEST_F(PipelineShareTest, SharedTableCountsBothColumns) {
  Config config = ParseConfig(R"(
[data]
cache = false
[[features]]
name = "item"
[[features]]
name = "hist"
kind = "multi_categorical"
pooling = "sum"
share_with = "item"
[[tasks]]
name = "y"
equals = "yes"
)",
                              "share.toml");
  ColumnTable train = LoadTable(WriteFile("share.csv",
                                          "item,hist,y\n"
                                          "x,y|z,yes\n"
                                          "y,x|x,no\n"
                                          "z,,yes\n"
                                          "x,w,null\n"),
                                config.data, FeaturePipeline::Requests(config, true));
  FeaturePipeline pipeline = FeaturePipeline::Fit(config, train);
  const InputLayout& layout = pipeline.layout();
  ASSERT_EQ(layout.tables.size(), 1u);
  EXPECT_EQ(layout.tables[0].name, "item");
  // x 4×, y 2×, z 2×, w once over both columns.
  EXPECT_EQ(layout.tables[0].rows, 5);
  ASSERT_EQ(layout.single_slots.size(), 1u);
  ASSERT_EQ(layout.multi_slots.size(), 1u);
  EXPECT_EQ(layout.multi_slots[0].table, 0);
  EXPECT_EQ(layout.multi_slots[0].pooling, Pooling::kSum);
  EXPECT_TRUE(layout.numeric_names.empty());
  EncodedData data = pipeline.Encode(train);
  EXPECT_EQ(data.single_ids[0], (std::vector<int32_t>{1, 2, 3, 1}));
  EXPECT_EQ(data.multi_ids[0].offsets, (std::vector<int64_t>{0, 2, 4, 4, 5}));
  EXPECT_EQ(data.multi_ids[0].ids, (std::vector<int32_t>{2, 3, 1, 1, 4}));
  ExpectSameFloats(data.labels[0], {1, 0, 1, NAN}, "y");  // equals 'yes'; null is missing

  // With min_count 2 on the owner, w (once) falls out of the shared vocabulary.
  Config rare = ParseConfig(ConfigToToml(config), "share.toml", {"features.item.min_count=2"});
  FeaturePipeline pruned = FeaturePipeline::Fit(rare, train);
  EXPECT_EQ(pruned.layout().tables[0].rows, 4);
  EXPECT_EQ(pruned.Encode(train).multi_ids[0].ids, (std::vector<int32_t>{2, 3, 1, 1, 0}));
}

TEST_F(PipelineHashTest, HashedFeatureUsesBucketsAsIds) {
  Config config = ParseConfig(R"(
[data]
cache = false
[[features]]
name = "user"
hash_buckets = 100
[[tasks]]
name = "y"
)",
                              "hash.toml");
  ColumnTable train =
      LoadTable(WriteFile("hash.csv", "user,y\nc7,1\nu123,0\n"), config.data, FeaturePipeline::Requests(config, true));
  FeaturePipeline pipeline = FeaturePipeline::Fit(config, train);
  EXPECT_EQ(pipeline.layout().tables[0].rows, 100);
  EncodedData data = pipeline.Encode(train);
  EXPECT_EQ(data.single_ids[0], (std::vector<int32_t>{HashBucket("c7", 100), HashBucket("u123", 100)}));
  EXPECT_EQ(data.single_ids[0][0], 14);
  EXPECT_EQ(data.oov_rate[0], 0.0);  // hashing has no out-of-vocabulary id
}

TEST_F(PipelineNumericTest, Log1pOfANegativeValueInAnotherFileNamesFileAndLine) {
  Config config = ParseConfig(R"(
[data]
cache = false
[[features]]
name = "price"
kind = "numeric"
log1p = true
[[tasks]]
name = "y"
kind = "regression"
)",
                              "log.toml");
  ColumnTable train = LoadTable(WriteFile("log_train.csv", "price,y\n1,1\n3,2\n"), config.data,
                                FeaturePipeline::Requests(config, true));
  FeaturePipeline pipeline = FeaturePipeline::Fit(config, train);
  EncodedData data = pipeline.Encode(train);
  // log1p(1), log1p(3): mean (ln 2 + ln 4) / 2 = 1.5 ln 2, std 0.5 ln 2, so the values are -1 and 1.
  EXPECT_FLOAT_EQ(data.numeric[0], -1.f);
  EXPECT_FLOAT_EQ(data.numeric[1], 1.f);
  ExpectSameFloats(data.labels[0], {1, 2}, "y");
  const std::string path = WriteFile("log_bad.csv", "price,y\n1,1\n\n-5,2\n");
  ColumnTable bad = LoadTable(path, config.data, FeaturePipeline::Requests(config, false));
  std::string error = ErrorOf([&] { pipeline.Encode(bad); });
  EXPECT_NE(error.find(path + ":4: feature 'price': log1p of -5 is undefined"), std::string::npos) << error;
}

}  // namespace
}  // namespace mtrec
