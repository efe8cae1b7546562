// Pieces every simulator preset shares: independent random streams, draws and intercepts of the latent-factor
// models, the split sizes, text formatted in parallel blocks yet identical whatever the thread count, and the
// output folder written file by file.
//
//   Rng rng(SimulatorStreamSeed(seed, kMyStream, index));
//   SimulatorSplit split = SplitSimulatorRows(rows, 0.1, 0.1, "rows");
//   std::string csv = FormatInBlocks(header, blocks, [&](size_t block) { return FormatBlock(block); });
//   WriteSimulatorFiles(out_dir, {{"train.csv", csv}, {"config.toml", config}});
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/rng.h"

namespace mtrec {

// The seed of random stream `stream` (a preset's enum value), item `index`: adding draws to one stream leaves the
// others unchanged.
inline uint64_t SimulatorStreamSeed(uint64_t seed, uint64_t stream, uint64_t index = 0) {
  return Mix64(Mix64(seed ^ Mix64(stream)) + index);
}

// The fewest rows a preset sized by rows writes.
inline constexpr int64_t kMinSimulatorRows = 100;

inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// An index drawn with the given probabilities (summing to 1; the last takes what rounding leaves).
template <size_t N>
size_t DrawShares(Rng& rng, const std::array<double, N>& shares) {
  double u = rng.Uniform();
  for (size_t i = 0; i + 1 < N; ++i) {
    if (u < shares[i]) return i;
    u -= shares[i];
  }
  return N - 1;
}

// The intercept b with sum_i w_i clamp(sigmoid(b + logit_i), low, high) / sum_i w_i = target (w = 1 when weights
// is empty); the clamp bounds a probability that is assigned rather than predicted (a propensity). target must
// lie strictly between low and high.
double SolveIntercept(const std::vector<double>& logits, const std::vector<double>& weights, double target,
                      double low = 0, double high = 1);

// How many of `count` units (rows, days) each file gets: valid and test their rounded fractions, train the rest.
struct SimulatorSplit {
  int64_t train = 0;
  int64_t valid = 0;
  int64_t test = 0;
};

// Throws Error for fractions that are negative, sum to 1 or more, or leave train.csv nothing; `unit` names the
// units in the message.
SimulatorSplit SplitSimulatorRows(int64_t count, double valid_fraction, double test_fraction, const char* unit);

// 0, 1, ..., count - 1 in the random order of a Fisher-Yates shuffle drawn from Rng(seed): spreads rows over the
// three files.
std::vector<size_t> ShuffledOrder(size_t count, uint64_t seed);

// header, then format(0), format(1), ... format(blocks - 1) joined in order; the blocks are formatted in parallel.
std::string FormatInBlocks(const std::string& header, size_t blocks, const std::function<std::string(size_t)>& format);

// header, then rows [begin, end) as format(first, last) over fixed blocks of rows formatted in parallel.
std::string FormatRowsInBlocks(const std::string& header, size_t begin, size_t end,
                               const std::function<std::string(size_t first, size_t last)>& format);

// config.toml pieces every preset writes the same way: where the three files are, and the optimisers.
inline constexpr const char* kSimulatorConfigData =
    "# Where the data is (paths relative to this file) and how it is written.\n"
    "[data]\n"
    "train = \"train.csv\"\n"
    "valid = \"valid.csv\"\n"
    "test = \"test.csv\"\n"
    "delimiter = \",\"\n"
    "header = true\n";

// A [[features]] entry, after a comment saying what it is; a multi_categorical one's values are '|'-separated and
// mean-pooled.
struct SimulatorFeature {
  const char* name;
  const char* kind;
  bool log1p;  // numeric: read as log(1 + x)
  const char* what;
};
void AppendSimulatorFeature(std::string& out, const SimulatorFeature& feature);

// "[train]" with epochs, batch size, Adam for dense weights at lr and row-wise Adagrad for embeddings at
// embedding_lr; the caller appends any further keys.
std::string SimulatorConfigTrain(int epochs, int batch_size, double lr, double embedding_lr);

// Creates out_dir if needed and writes each (file name, text) into it atomically.
void WriteSimulatorFiles(const std::string& out_dir, const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace mtrec
