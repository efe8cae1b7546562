#include "data/simulator_support.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "common/error.h"
#include "common/files.h"
#include "common/threads.h"

namespace mtrec {

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
