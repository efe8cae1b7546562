#include "features/numeric.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace mtrec {

double NumericTransform::Prepare(float raw) const {
  double x = std::isnan(raw) ? fill_ : raw;
  if (clip_) x = std::clamp(x, clip_lo_, clip_hi_);
  if (log1p_) {
    MTREC_CHECK(x > -1.0, "log1p of {} is undefined (set clip = [0, ...] or remove log1p)", x);
    x = std::log1p(x);
  }
  return x;
}

float NumericTransform::Apply(float raw) const {
  double x = Prepare(raw);
  if (standardize_) x = (x - mean_) / std_;
  return static_cast<float>(x);
}

int32_t NumericTransform::Bucket(float raw) const {
  if (std::isnan(raw)) return static_cast<int32_t>(bounds_.size()) + 1;
  float x = static_cast<float>(Prepare(raw));
  return static_cast<int32_t>(std::upper_bound(bounds_.begin(), bounds_.end(), x) - bounds_.begin());
}

NumericTransform NumericTransform::Fit(const FeatureConfig& config, const float* values, size_t n,
                                       const std::string& where, Communicator& world) {
  NumericTransform t;
  t.log1p_ = config.log1p;
  t.clip_ = config.clip.size() == 2;
  if (t.clip_) {
    t.clip_lo_ = config.clip[0];
    t.clip_hi_ = config.clip[1];
  }
  t.fill_ = config.fill;
  t.standardize_ = config.standardize;
  t.buckets_ = config.buckets;

  std::vector<double> prepared;
  prepared.reserve(n);
  size_t missing = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(values[i])) {
      ++missing;
      continue;
    }
    try {
      prepared.push_back(t.Prepare(values[i]));
    } catch (const Error& error) {
      Fail("{}: feature '{}': {}", where, config.name, error.what());
    }
  }
  // Over all ranks: missing values, present values and their sum, then the squared deviations from the mean.
  double totals[3] = {static_cast<double>(missing), static_cast<double>(prepared.size()), 0.0};
  for (double x : prepared) totals[2] += x;
  world.AllReduceSum(totals, 3);
  switch (config.missing_flag) {
    case MissingFlag::kAuto:
      t.missing_flag_ = totals[0] > 0;
      break;
    case MissingFlag::kAlways:
      t.missing_flag_ = true;
      break;
    case MissingFlag::kNever:
      t.missing_flag_ = false;
      break;
  }
  if (totals[1] > 0) {
    t.mean_ = totals[2] / totals[1];
    double squares = 0;
    for (double x : prepared) squares += (x - t.mean_) * (x - t.mean_);
    world.AllReduceSum(&squares, 1);
    t.std_ = std::sqrt(squares / totals[1]);
  }
  if (!(t.std_ > 1e-12)) t.std_ = 1.0;  // a constant column stays centred instead of exploding
  if (t.buckets_ > 0 && totals[1] > 0) {
    if (world.distributed()) {
      std::vector<double> all;
      for (const std::string& part : world.AllGather(std::string(reinterpret_cast<const char*>(prepared.data()),
                                                                 prepared.size() * sizeof(double)))) {
        const auto* begin = reinterpret_cast<const double*>(part.data());
        all.insert(all.end(), begin, begin + part.size() / sizeof(double));
      }
      prepared = std::move(all);
    }
    std::sort(prepared.begin(), prepared.end());
    t.bounds_ = EqualFrequencyCuts(prepared, t.buckets_);
  }
  return t;
}

std::vector<float> EqualFrequencyCuts(const std::vector<double>& sorted, int64_t buckets) {
  std::vector<float> cuts;
  const auto cut_at = [&](double value) {
    const auto cut = static_cast<float>(value);
    if (cuts.empty() || cut > cuts.back()) cuts.push_back(cut);
  };
  const size_t n = sorted.size();
  size_t start = 0;  // first row of the open bucket
  size_t i = 0;      // first row of the next run of equal values
  int64_t buckets_left = buckets;
  while (i < n && buckets_left > 1) {
    size_t run_end = i;
    while (run_end < n && sorted[run_end] == sorted[i]) ++run_end;
    const double target = static_cast<double>(n - start) / static_cast<double>(buckets_left);
    const auto held = static_cast<double>(i - start);
    const auto run = static_cast<double>(run_end - i);
    if (held > 0 && held + run > target && held + run - target > target - held) {
      // Taking the run would overshoot the target by more than stopping short of it: close the bucket before it
      // and look at the run again, against the target of what is left.
      cut_at(sorted[i]);
      start = i;
      --buckets_left;
      continue;
    }
    i = run_end;
    if (static_cast<double>(i - start) >= target && i < n) {
      cut_at(sorted[i]);
      start = i;
      --buckets_left;
    }
  }
  return cuts;
}

void NumericTransform::Serialize(BinaryWriter& out) const {
  out.Pod<uint8_t>(log1p_);
  out.Pod<uint8_t>(clip_);
  out.Pod(clip_lo_);
  out.Pod(clip_hi_);
  out.Pod(fill_);
  out.Pod<uint8_t>(standardize_);
  out.Pod(mean_);
  out.Pod(std_);
  out.Pod<uint8_t>(missing_flag_);
  out.Pod(buckets_);
  out.Vector(bounds_);
}

NumericTransform NumericTransform::Deserialize(BinaryReader& in) {
  NumericTransform t;
  t.log1p_ = in.Pod<uint8_t>() != 0;
  t.clip_ = in.Pod<uint8_t>() != 0;
  t.clip_lo_ = in.Pod<double>();
  t.clip_hi_ = in.Pod<double>();
  t.fill_ = in.Pod<double>();
  t.standardize_ = in.Pod<uint8_t>() != 0;
  t.mean_ = in.Pod<double>();
  t.std_ = in.Pod<double>();
  t.missing_flag_ = in.Pod<uint8_t>() != 0;
  t.buckets_ = in.Pod<int64_t>();
  t.bounds_ = in.Vector<float>();
  return t;
}

}  // namespace mtrec
