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
  MlpOptions options = Hidden(tasks_);
  options.shared_input = !own_embeddings;  // with own embeddings, network k reads embedding set k
  networks_ = std::make_unique<Mlp>(arena_, "towers", input_.CopyCols(), Concatenated(config.model.bottom, config.model.tower),
                                    1, static_cast<float>(config.model.dropout), max_batch, 1, options);
  arena_.Allocate();
}

void TaskTowers::SetStepSeed(uint64_t seed) { networks_->SetStepSeed(seed); }

void TaskTowers::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  CopyInto(dst, networks_->Forward(src, mode));
}

void TaskTowers::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  networks_->Backward(src, diff_dst, &diff_src);
}

}  // namespace mtrec
