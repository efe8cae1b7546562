// Pieces every simulator preset shares: independent random streams, text formatted in parallel blocks yet
// identical whatever the thread count, and the output folder written file by file.
//
//   Rng rng(SimulatorStreamSeed(seed, kMyStream, index));
//   std::string csv = FormatInBlocks(header, blocks, [&](size_t block) { return FormatBlock(block); });
//   WriteSimulatorFiles(out_dir, {{"train.csv", csv}, {"config.toml", config}});
#pragma once

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

// header, then format(0), format(1), ... format(blocks - 1) joined in order; the blocks are formatted in parallel.
std::string FormatInBlocks(const std::string& header, size_t blocks, const std::function<std::string(size_t)>& format);

// config.toml pieces every preset writes the same way: where the three files are, and the optimisers.
inline constexpr const char* kSimulatorConfigData =
    "# Where the data is (paths relative to this file) and how it is written.\n"
    "[data]\n"
    "train = \"train.csv\"\n"
    "valid = \"valid.csv\"\n"
    "test = \"test.csv\"\n"
    "delimiter = \",\"\n"
    "header = true\n";

// "[train]" with epochs, batch size, Adam for dense weights at lr and row-wise Adagrad for embeddings at
// embedding_lr; the caller appends any further keys.
std::string SimulatorConfigTrain(int epochs, int batch_size, double lr, double embedding_lr);

// Creates out_dir if needed and writes each (file name, text) into it atomically.
void WriteSimulatorFiles(const std::string& out_dir, const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace mtrec
