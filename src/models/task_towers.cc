#include "models/task_towers.h"

namespace mtrec {
namespace {

std::vector<std::string> EmbeddingSets(const Config& config, bool own_embeddings) {
  if (!own_embeddings) return {"embeddings"};
  std::vector<std::string> sets;
  for (const auto& task : config.tasks) sets.push_back("embeddings." + task.name);
  return sets;
}

std::vector<int64_t> Concatenated(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TaskTowers::TaskTowers(const Config& config, const InputLayout& layout, int64_t max_batch, bool own_embeddings)
    : Model(config, layout, max_batch, EmbeddingSets(config, own_embeddings)) {
  networks_ = AddMlp({.name = "towers",
                      .input_cols = input_.CopyCols(),
                      .hidden = Concatenated(config.model.bottom, config.model.tower),
                      .outputs = 1,
                      .groups = tasks_,
                      .per_column = true,
                      .shared_input = !own_embeddings,  // with own embeddings, network k reads embedding set k
                      .dropout_stream = DropoutStream::kInput});
}

void TaskTowers::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  CopyInto(dst, networks_->Forward(src, mode, SharedInput()));
}

void TaskTowers::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  networks_->Backward(src, diff_dst, &diff_src);
}

}  // namespace mtrec
