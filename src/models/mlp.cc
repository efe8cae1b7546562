#include "models/mlp.h"

#include <fmt/format.h>

#include "common/rng.h"

namespace mtrec {

Mlp::Mlp(ParameterArena& arena, const std::string& name, int64_t input_cols, const std::vector<int64_t>& hidden,
         int64_t outputs, float dropout, int64_t max_batch, uint64_t stream)
    : input_cols_(input_cols) {
  int64_t cols = input_cols;
  for (size_t i = 0; i < hidden.size(); ++i) {
    layers_.push_back(std::make_unique<Dense>(arena, fmt::format("{}.{}", name, i), cols, hidden[i], Init::kHeUniform));
    layers_.push_back(std::make_unique<Relu>(hidden[i]));
    if (dropout > 0) {
      auto layer = std::make_unique<Dropout>(hidden[i], dropout, Mix64(stream * 131 + i));
      dropouts_.push_back(layer.get());
      layers_.push_back(std::move(layer));
    }
    cols = hidden[i];
  }
  if (outputs > 0) {
    layers_.push_back(std::make_unique<Dense>(arena, fmt::format("{}.{}", name, hidden.size()), cols, outputs,
                                              Init::kGlorotUniform));
    cols = outputs;
  }
  output_cols_ = cols;
  for (const auto& layer : layers_) {
    activations_.emplace_back(max_batch, layer->OutputCols());
    diffs_.emplace_back(max_batch, layer->OutputCols());
  }
}

void Mlp::SetStepSeed(uint64_t seed) {
  for (Dropout* dropout : dropouts_) dropout->SetStepSeed(seed);
}

Tensor Mlp::Forward(const Tensor& src, Mode mode) {
  Tensor input = src;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Tensor output = activations_[i].View().TopRows(src.rows);
    layers_[i]->Forward(input, output, mode);
    input = output;
  }
  return input;
}

void Mlp::Backward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src) {
  const int64_t n = src.rows;
  Tensor diff = diff_dst;
  for (size_t i = layers_.size(); i-- > 0;) {
    Tensor input = i == 0 ? src : activations_[i - 1].View().TopRows(n);
    Tensor output = activations_[i].View().TopRows(n);
    if (i == 0) {
      layers_[i]->Backward(input, output, diff, diff_src);
    } else {
      Tensor diff_input = diffs_[i - 1].View().TopRows(n);
      layers_[i]->Backward(input, output, diff, &diff_input);
      diff = diff_input;
    }
  }
}

}  // namespace mtrec
