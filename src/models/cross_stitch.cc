#include "models/cross_stitch.h"

namespace mtrec {

CrossStitchNetwork::CrossStitchNetwork(const Config& config, const InputLayout& layout, int64_t max_batch)
    : Model(config, layout, max_batch) {
  const float dropout = static_cast<float>(config.model.dropout);
  MlpOptions networks = Hidden(tasks_);
  networks.cross_stitch = true;
  networks_ = std::make_unique<Mlp>(arena_, "networks", input_.OutputCols(), config.model.bottom, 0, dropout,
                                    max_batch, 1, networks);
  MlpOptions towers = Hidden(tasks_);
  towers.shared_input = false;
  towers_ = std::make_unique<Mlp>(arena_, "towers", config.model.bottom.back(), config.model.tower, 1, dropout,
                                  max_batch, 100, towers);
  diff_hidden_.Resize(max_batch, networks_->OutputCols());
  arena_.Allocate();
}

void CrossStitchNetwork::SetStepSeed(uint64_t seed) {
  networks_->SetStepSeed(seed);
  towers_->SetStepSeed(seed);
}

void CrossStitchNetwork::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  hidden_ = networks_->Forward(src, mode);
  CopyInto(dst, towers_->Forward(hidden_, mode));
}

void CrossStitchNetwork::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  Tensor diff_hidden = diff_hidden_.View().TopRows(src.rows);
  towers_->Backward(hidden_, diff_dst, &diff_hidden);
  networks_->Backward(src, diff_hidden, &diff_src);
}

}  // namespace mtrec
