// The fitted transform of one numeric feature: raw value (missing -> fill) -> clip -> log1p -> standardise, and
// optionally equal-frequency buckets of the transformed value. Statistics come from the training file's
// non-missing values only.
//
//   NumericTransform price = NumericTransform::Fit(feature_config, values.data(), values.size(), where);
//   float x = price.Apply(raw);          // model input
//   bool flag = std::isnan(raw);         // the missing flag, when price.has_missing_flag()
//   int32_t bucket = price.Bucket(raw);  // when bucketised: 0..buckets-1, buckets = missing
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/binary.h"
#include "common/communicator.h"
#include "common/config.h"

namespace mtrec {

class NumericTransform {
 public:
  // `values` are raw (NaN = missing); `where` names the feature and file for messages. Under mpirun each rank
  // passes its own rows and all get the transform of all rows: the mean and spread from sums reduced over the
  // ranks, bucket cuts from every rank's prepared values (gathered only for a bucketized feature).
  static NumericTransform Fit(const FeatureConfig& config, const float* values, size_t n, const std::string& where,
                              Communicator& world = World());

  // The transformed value without standardisation; throws for log1p of a value below zero.
  double Prepare(float raw) const;
  float Apply(float raw) const;
  int32_t Bucket(float raw) const;

  bool has_missing_flag() const { return missing_flag_; }
  bool bucketized() const { return !bounds_.empty() || buckets_ > 0; }
  // Rows of the bucket embedding table: the buckets plus one for missing values.
  int64_t BucketRows() const { return static_cast<int64_t>(bounds_.size()) + 2; }
  double mean() const { return mean_; }
  double std() const { return std_; }
  // The fitted parameters, for exports (Apply and Bucket are their meaning).
  double fill() const { return fill_; }
  bool clips() const { return clip_; }
  double clip_lo() const { return clip_lo_; }
  double clip_hi() const { return clip_hi_; }
  bool log1p() const { return log1p_; }
  bool standardizes() const { return standardize_; }
  int64_t buckets() const { return buckets_; }  // as configured; bounds() may hold fewer cut points
  const std::vector<float>& bounds() const { return bounds_; }

  void Serialize(BinaryWriter& out) const;
  static NumericTransform Deserialize(BinaryReader& in);

 private:
  bool log1p_ = false;
  bool clip_ = false;
  double clip_lo_ = 0;
  double clip_hi_ = 0;
  double fill_ = 0;
  bool standardize_ = true;
  double mean_ = 0;
  double std_ = 1;
  bool missing_flag_ = false;
  int64_t buckets_ = 0;
  std::vector<float> bounds_;  // ascending cut points between buckets
};

// At most `buckets` - 1 ascending cut points splitting `sorted` (ascending) into buckets of about equal rows; a
// value x falls in the bucket of the cuts <= x. A bucket closes once it holds its share of the rows still
// unassigned (rows left / buckets left), and a run of equal values is never split: a value repeated across many
// rows (zero, for most rows' capital gains) takes one bucket and the other buckets split the rest by quantiles,
// where fixed quantile positions would all land on that value and leave the rest in one bucket.
std::vector<float> EqualFrequencyCuts(const std::vector<double>& sorted, int64_t buckets);

}  // namespace mtrec
