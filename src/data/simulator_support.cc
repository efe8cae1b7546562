#include "data/simulator_support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <string_view>
#include <system_error>

#include "common/error.h"
#include "common/files.h"
#include "common/threads.h"

namespace mtrec {

// Newton's method kept inside a shrinking bracket, since the left side increases with b; where the clamp is flat
// (every row clamped) the slope is 0 and the bracket's midpoint is taken instead.
double SolveIntercept(const std::vector<double>& logits, const std::vector<double>& weights, double target, double low,
                      double high) {
  MTREC_CHECK(target > low && target < high, "simulate: a mean probability of {} cannot be reached within [{}, {}]",
              target, low, high);
  double bracket_low = -30;
  double bracket_high = 30;
  double b = std::log(target / (1 - target));
  double weight_total = 0;
  for (size_t i = 0; i < logits.size(); ++i) weight_total += weights.empty() ? 1.0 : weights[i];
  for (int iteration = 0; iteration < 100; ++iteration) {
    double mean = 0;
    double slope = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      const double w = weights.empty() ? 1.0 : weights[i];
      const double p = Sigmoid(b + logits[i]);
      mean += w * std::clamp(p, low, high);
      if (p > low && p < high) slope += w * p * (1 - p);
    }
    mean /= weight_total;
    slope /= weight_total;
    const double gap = mean - target;
    if (std::abs(gap) < 1e-12) break;
    (gap > 0 ? bracket_high : bracket_low) = b;
    double next = slope > 0 ? b - gap / slope : 0.5 * (bracket_low + bracket_high);
    if (!(next > bracket_low && next < bracket_high)) next = 0.5 * (bracket_low + bracket_high);
    if (bracket_high - bracket_low < 1e-12) break;
    b = next;
  }
  return b;
}

SimulatorSplit SplitSimulatorRows(int64_t count, double valid_fraction, double test_fraction, const char* unit) {
  MTREC_CHECK(valid_fraction >= 0 && test_fraction >= 0 && valid_fraction + test_fraction < 1,
              "simulate: valid_fraction and test_fraction must be non-negative with a sum below 1, found {} and {}",
              valid_fraction, test_fraction);
  SimulatorSplit split;
  split.valid = std::llround(static_cast<double>(count) * valid_fraction);
  split.test = std::llround(static_cast<double>(count) * test_fraction);
  split.train = count - split.valid - split.test;
  MTREC_CHECK(split.train > 0, "simulate: no {} left for train.csv with {} {}, valid_fraction {} and test_fraction {}",
              unit, count, unit, valid_fraction, test_fraction);
  return split;
}

std::string FormatInBlocks(const std::string& header, size_t blocks, const std::function<std::string(size_t)>& format) {
  std::vector<std::string> parts(blocks);
  ParallelForBlocks(blocks, [&](size_t block, int) { parts[block] = format(block); });
  std::string text = header;
  size_t size = text.size();
  for (const auto& part : parts) size += part.size();
  text.reserve(size);
  for (const auto& part : parts) text += part;
  return text;
}

std::vector<size_t> ShuffledOrder(size_t count, uint64_t seed) {
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  Rng rng(seed);
  for (size_t i = count; i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  return order;
}

std::string FormatRowsInBlocks(const std::string& header, size_t begin, size_t end,
                               const std::function<std::string(size_t first, size_t last)>& format) {
  // Fixed blocks joined in order: the text does not depend on the thread count.
  constexpr size_t kBlockRows = 8192;
  return FormatInBlocks(header, (end - begin + kBlockRows - 1) / kBlockRows, [&](size_t block) {
    const size_t first = begin + block * kBlockRows;
    return format(first, std::min(end, first + kBlockRows));
  });
}

void AppendSimulatorFeature(std::string& out, const SimulatorFeature& feature) {
  auto dst = std::back_inserter(out);
  fmt::format_to(dst, "\n# {}\n[[features]]\nname = \"{}\"\nkind = \"{}\"\n", feature.what, feature.name, feature.kind);
  if (feature.log1p) fmt::format_to(dst, "log1p = true\n");
  if (std::string_view(feature.kind) == "multi_categorical") {
    fmt::format_to(dst, "separator = \"|\"\npooling = \"mean\"\n");
  }
}

std::string SimulatorConfigTrain(int epochs, int batch_size, double lr, double embedding_lr) {
  return fmt::format(
      "[train]\n"
      "epochs = {}\n"
      "batch_size = {}\n"
      "optimizer = \"adam\"\n"
      "lr = {}\n"
      "embedding_optimizer = \"adagrad\"\n"
      "embedding_lr = {}\n",
      epochs, batch_size, lr, embedding_lr);
}

void WriteSimulatorFiles(const std::string& out_dir, const std::vector<std::pair<std::string, std::string>>& files) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(out_dir, error);
  MTREC_CHECK(!error, "simulate: cannot create the output folder '{}': {}", out_dir, error.message());
  const fs::path dir(out_dir);
  for (const auto& [name, text] : files) WriteFileAtomic((dir / name).string(), text);
}

}  // namespace mtrec
