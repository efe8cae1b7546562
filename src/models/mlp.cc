#include "models/mlp.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/profiler.h"
#include "common/rng.h"
#include "nn/cross_stitch.h"
#include "nn/grouped_dense.h"

namespace mtrec {

Mlp::Mlp(ParameterArena& arena, const MlpOptions& options, const MlpSettings& settings)
    : name_(options.name), groups_(options.groups) {
  const std::string& name = options.name;
  const std::vector<int64_t>& hidden = options.hidden;
  const int64_t g = options.groups;
  input_cols_ = options.shared_input ? options.input_cols : g * options.input_cols;
  // One linear layer of the stack: a plain Dense for one group or for the first layer of groups sharing their
  // input (one wide GEMM), a GroupedDense otherwise.
  int64_t cols = options.input_cols;  // per group
  bool shared = options.shared_input;
  auto linear = [&](size_t index, int64_t out, Init init) -> std::unique_ptr<Layer> {
    const std::string layer_name = fmt::format("{}.{}", name, index);
    if (g == 1) return std::make_unique<Dense>(arena, layer_name, cols, out, init);
    if (shared) return std::make_unique<Dense>(arena, layer_name, cols, g * out, init);
    return std::make_unique<GroupedDense>(arena, layer_name, g, cols, out, init);
  };
  for (size_t i = 0; i < hidden.size(); ++i) {
    layers_.push_back(linear(i, hidden[i], Init::kHeUniform));
    if (options.normalized || (settings.batch_norm && !options.plain)) {
      layers_.push_back(std::make_unique<BatchNorm>(arena, fmt::format("{}.{}.norm", name, i), g * hidden[i]));
    }
    if (options.activation == Activation::kSwish) {
      layers_.push_back(std::make_unique<Swish>(g * hidden[i]));
    } else {
      layers_.push_back(std::make_unique<Relu>(g * hidden[i]));
    }
    if (settings.dropout > 0 && !options.plain) {
      auto layer = std::make_unique<Dropout>(g * hidden[i], settings.dropout, Mix64(options.dropout_stream * 131 + i));
      dropouts_.push_back(layer.get());
      layers_.push_back(std::move(layer));
    }
    if (options.cross_stitch && g > 1) {
      layers_.push_back(std::make_unique<CrossStitch>(arena, fmt::format("{}.{}.stitch", name, i), g, hidden[i]));
    }
    cols = hidden[i];
    shared = false;
  }
  if (options.outputs > 0) {
    layers_.push_back(linear(hidden.size(), options.outputs, Init::kGlorotUniform));
    const Layer* out = layers_.back().get();
    const auto* dense = dynamic_cast<const Dense*>(out);
    output_bias_id_ = dense ? dense->bias_id() : dynamic_cast<const GroupedDense&>(*out).bias_id();
    cols = options.outputs;
  }
  output_cols_ = g * cols;
  // BatchNorm -> ReLU [-> Dropout] run as one pass (BatchNorm::ForwardRelu): a step reads and writes the hidden
  // activations once instead of three times, and keeps neither the intermediate values nor a dropout mask.
  const size_t count = layers_.size();
  group_first_.resize(count);
  group_last_.resize(count);
  norm_.assign(count, nullptr);
  group_dropout_.assign(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    group_first_[i] = group_last_[i] = i;
    auto* norm = dynamic_cast<BatchNorm*>(layers_[i].get());
    if (norm == nullptr || i + 1 == count || dynamic_cast<const Relu*>(layers_[i + 1].get()) == nullptr) continue;
    norm_[i] = norm;
    size_t last = i + 1;
    if (last + 1 < count) {
      if (auto* dropout = dynamic_cast<Dropout*>(layers_[last + 1].get())) {
        group_dropout_[i] = dropout;
        ++last;
      }
    }
    group_last_[i] = last;
    for (size_t j = i + 1; j <= last; ++j) group_first_[j] = i;
    i = last;
  }
  // Profile scope names, built once: the index of the linear layer each belongs to, and what it is.
  int64_t linear_index = -1;
  for (size_t i = 0; i < count; ++i) {
    const Layer* l = layers_[i].get();
    const char* kind = norm_[i] != nullptr && group_dropout_[i] != nullptr ? "batch norm, relu, dropout"
                       : norm_[i] != nullptr                               ? "batch norm, relu"
                       : dynamic_cast<const Relu*>(l)                      ? "relu"
                       : dynamic_cast<const Swish*>(l)                     ? "swish"
                       : dynamic_cast<const Dropout*>(l)                   ? "dropout"
                       : dynamic_cast<const BatchNorm*>(l)                 ? "batch norm"
                       : dynamic_cast<const CrossStitch*>(l)               ? "cross-stitch"
                                                                           : (++linear_index, "linear");
    const std::string base = fmt::format("{}.{} {}", name, linear_index, kind);
    profile_names_.push_back(base + " forward");
    profile_names_.push_back(base + " backward");
  }
  for (size_t i = 0; i < count; ++i) {
    Layer* layer = layers_[i].get();
    is_dropout_.push_back(dynamic_cast<const Dropout*>(layer) != nullptr);
    dense_.push_back(dynamic_cast<Dense*>(layer));
    grouped_.push_back(dynamic_cast<GroupedDense*>(layer));
    // Only a product takes the ReLU after it (with batch norm between them, the ReLU stays a layer of its own).
    const bool product = dense_.back() != nullptr || grouped_.back() != nullptr;
    relu_follows_.push_back(product && i + 1 < layers_.size() &&
                            dynamic_cast<const Relu*>(layers_[i + 1].get()) != nullptr);
    // Inside a fused group only the last layer's output (and the gradient w.r.t. it) exists.
    const bool kept = group_last_[group_first_[i]] == i;
    activations_.emplace_back(kept ? settings.max_batch : 0, layer->OutputCols());
    diffs_.emplace_back(kept ? settings.max_batch : 0, layer->OutputCols());
  }
}

void Mlp::SetStepSeed(uint64_t seed, int64_t first_row) {
  for (Dropout* dropout : dropouts_) dropout->SetStepSeed(seed, first_row);
  seeded_ = true;
}

Tensor Mlp::Forward(const Tensor& src, Mode mode, const SharedColumns* shared) {
  // An MLP no SetStepSeed reaches would draw the same masks at every step.
  MTREC_CHECK(seeded_ || dropouts_.empty() || mode != Mode::kTrain,
              "MLP '{}': a training Forward with dropout before any SetStepSeed; a model's MLPs are built with "
              "Model::AddMlp, whose SetStepSeed reaches each of them",
              name_);
  Tensor input = src;
  const bool infer = mode == Mode::kInfer;
  for (size_t i = 0; i < layers_.size(); ++i) {
    // Dropout is the identity at inference: skipped rather than copied (the next layer reads its input).
    if (infer && is_dropout_[i]) continue;
    const size_t last = group_last_[i];
    Tensor output = activations_[last].View().TopRows(src.rows);
    ProfileScope scope(profile_names_[2 * i].c_str());
    if (last != i) {
      norm_[i]->ForwardRelu(input, output, mode, group_dropout_[i]);
      i = last;
    } else if (infer && dense_[i] != nullptr) {
      dense_[i]->Infer(input, output, i == 0 ? shared : nullptr, relu_follows_[i]);
    } else if (infer && grouped_[i] != nullptr) {
      grouped_[i]->Infer(input, output, relu_follows_[i]);
    } else {
      layers_[i]->Forward(input, output, mode);
    }
    if (infer && relu_follows_[i]) ++i;  // done inside the product
    input = output;
  }
  return input;
}

void Mlp::Backward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src) {
  const int64_t n = src.rows;
  Tensor diff = diff_dst;
  // From the last layer (or fused group) to the first: [i, last] is one layer, or one fused group.
  for (size_t last = layers_.size(); last-- > 0;) {
    const size_t i = group_first_[last];
    Tensor input = i == 0 ? src : activations_[i - 1].View().TopRows(n);
    Tensor output = activations_[last].View().TopRows(n);
    ProfileScope scope(profile_names_[2 * i + 1].c_str());
    Tensor diff_input;
    if (i > 0) diff_input = diffs_[i - 1].View().TopRows(n);
    const Tensor* diff_in = i > 0 ? &diff_input : diff_src;
    if (i != last) {
      norm_[i]->BackwardRelu(input, output, diff, diff_in, group_dropout_[i]);
    } else {
      layers_[i]->Backward(input, output, diff, diff_in);
    }
    diff = diff_input;
    last = i;
  }
}

}  // namespace mtrec
