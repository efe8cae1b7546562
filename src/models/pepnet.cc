#include "models/pepnet.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/math.h"
#include "common/profiler.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// The columns of `features` in the input, each feature's in order; refuses a feature with none.
std::vector<ColumnRange> ColumnsOf(const InputLayer& input, const std::vector<std::string>& features,
                                   const char* key) {
  std::vector<ColumnRange> out;
  for (const std::string& feature : features) {
    const std::vector<ColumnRange> columns = input.FeatureColumns(feature);
    MTREC_CHECK(!columns.empty(),
                "model.{} names '{}', which has no columns of its own in the model's input (not a feature, or a "
                "numeric one under model.numeric_projection)",
                key, feature);
    out.insert(out.end(), columns.begin(), columns.end());
  }
  return out;
}

int64_t Width(const std::vector<ColumnRange>& ranges) {
  int64_t width = 0;
  for (const ColumnRange& r : ranges) width += r.end - r.begin;
  return width;
}

// The gate's factors γ·σ(logits) into `factors`.
void GateFactors(const Tensor& logits, float gamma, const Tensor& factors) {
  ParallelFor(static_cast<size_t>(logits.rows), [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      const float* z = logits.Row(static_cast<int64_t>(r));
      float* f = factors.Row(static_cast<int64_t>(r));
      for (int64_t j = 0; j < logits.cols; ++j) f[j] = gamma * Sigmoid(z[j]);
    }
  });
}

}  // namespace

Pepnet::Pepnet(const Config& config, const InputLayout& layout, int64_t max_batch)
    : Model(config, layout, max_batch), gamma_(static_cast<float>(config.model.gate_scale)) {
  const int64_t width = input_.OutputCols();
  // The first gates are as wide as the input: one unit would read as a task's output layer (Model::SetOutputBias).
  MTREC_CHECK(width >= 2, "pepnet: the model's input is {} column wide; its gates need at least 2", width);
  scenario_cols_ = ColumnsOf(input_, config.model.scenario_features, "scenario_features");
  prior_cols_ = ColumnsOf(input_, config.model.prior_features, "prior_features");
  scenario_width_ = Width(scenario_cols_);
  prior_width_ = Width(prior_cols_);
  epnet_ = AddMlp({.name = "epnet",
                   .input_cols = scenario_width_ + width,
                   .hidden = {width},
                   .outputs = width,
                   .plain = true});
  const std::vector<int64_t>& hidden = config.model.tower;
  for (size_t l = 0; l <= hidden.size(); ++l) {
    Layer layer;
    layer.in_cols = l == 0 ? width : hidden[l - 1];
    const bool output = l == hidden.size();
    layer.gate = AddMlp({.name = fmt::format("ppnet.{}", l),
                         .input_cols = prior_width_ + width,
                         .hidden = {layer.in_cols},
                         .outputs = layer.in_cols,
                         .groups = tasks_,
                         .per_column = true,
                         .plain = true});
    layer.tower = AddMlp({.name = fmt::format("towers.{}", l),
                          .input_cols = layer.in_cols,
                          .hidden = output ? std::vector<int64_t>{} : std::vector<int64_t>{hidden[l]},
                          .outputs = output ? 1 : 0,
                          .groups = tasks_,
                          .per_column = true,
                          .shared_input = false,
                          // Each layer is a grouped MLP of its own and needs a stream of its own: Tower(l).
                          .dropout_stream = DropoutStream::Tower(l)});
    for (Matrix* m : {&layer.factors, &layer.input, &layer.diff_input, &layer.diff_logits}) {
      m->Resize(max_batch, tasks_ * layer.in_cols);
    }
    layers_.push_back(std::move(layer));
  }
  ep_in_.Resize(max_batch, scenario_width_ + width);
  diff_ep_in_.Resize(max_batch, scenario_width_ + width);
  ep_factors_.Resize(max_batch, width);
  diff_ep_logits_.Resize(max_batch, width);
  embedded_.Resize(max_batch, width);
  diff_embedded_.Resize(max_batch, width);
  pp_in_.Resize(max_batch, prior_width_ + width);
  diff_pp_in_.Resize(max_batch, prior_width_ + width);
  diff_gate_in_.Resize(max_batch, prior_width_ + width);
}

void Pepnet::Gather(const Tensor& src, const std::vector<ColumnRange>& ranges, const Tensor& dst) {
  for (int64_t r = 0; r < src.rows; ++r) {
    float* out = dst.Row(r);
    for (const ColumnRange& range : ranges) {
      out = std::copy(src.Row(r) + range.begin, src.Row(r) + range.end, out);
    }
  }
}

// The first gate reads [x_scenario | x]: in a server's batch the context's columns of x are shared by a request's
// rows, and so are the scenario's when they are among them (the scenario of a request is its context's). Only this
// gate benefits: everything after it is scaled per row.
const SharedColumns* Pepnet::EpnetSharedInput() {
  const SharedColumns* shared = SharedInput();
  if (shared == nullptr) return nullptr;
  ep_shared_.group_starts = shared->group_starts;
  ep_shared_.columns.clear();
  const auto add = [&](int64_t begin, int64_t end) {
    if (!ep_shared_.columns.empty() && ep_shared_.columns.back().end == begin) {
      ep_shared_.columns.back().end = end;
    } else {
      ep_shared_.columns.push_back({begin, end});
    }
  };
  int64_t at = 0;
  for (const ColumnRange& range : scenario_cols_) {
    const bool inside = std::any_of(shared->columns.begin(), shared->columns.end(), [&](const ColumnRange& s) {
      return s.begin <= range.begin && range.end <= s.end;
    });
    if (inside) add(at, at + range.end - range.begin);
    at += range.end - range.begin;
  }
  for (const ColumnRange& range : shared->columns) add(scenario_width_ + range.begin, scenario_width_ + range.end);
  return &ep_shared_;
}

void Pepnet::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t rows = src.rows, width = src.cols;
  Tensor ep_in = ep_in_.View().TopRows(rows);
  Tensor factors = ep_factors_.View().TopRows(rows);
  Tensor e = embedded_.View().TopRows(rows);
  Tensor pp_in = pp_in_.View().TopRows(rows);
  {
    ProfileScope scope("epnet forward");
    Gather(src, scenario_cols_, ep_in);
    CopyInto(ep_in.Columns(scenario_width_, width), src);
    GateFactors(epnet_->Forward(ep_in, mode, EpnetSharedInput()), gamma_, factors);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < width; ++j) e.At(r, j) = factors.At(r, j) * src.At(r, j);
    }
    Gather(src, prior_cols_, pp_in);
    CopyInto(pp_in.Columns(prior_width_, width), e);
  }
  ProfileScope scope("ppnet towers forward");
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& layer = layers_[l];
    const int64_t in = layer.in_cols;
    Tensor delta = layer.factors.View().TopRows(rows);
    Tensor input = layer.input.View().TopRows(rows);
    GateFactors(layer.gate->Forward(pp_in, mode), gamma_, delta);
    // Task t's block of the layer's input: its factors times its own h (every task's h⁰ is e).
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t t = 0; t < tasks_; ++t) {
        const float* h = l == 0 ? e.Row(r) : layers_[l - 1].output.Row(r) + t * in;
        const float* d = delta.Row(r) + t * in;
        float* u = input.Row(r) + t * in;
        for (int64_t j = 0; j < in; ++j) u[j] = d[j] * h[j];
      }
    }
    layer.output = layer.tower->Forward(input, mode);
  }
  CopyInto(dst, layers_.back().output);
}

void Pepnet::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t rows = src.rows, width = src.cols;
  const float gamma = gamma_;
  Tensor e = embedded_.View().TopRows(rows);
  Tensor diff_e = diff_embedded_.View().TopRows(rows);
  Tensor pp_in = pp_in_.View().TopRows(rows);
  Tensor diff_pp = diff_pp_in_.View().TopRows(rows);
  Tensor diff_gate_in = diff_gate_in_.View().TopRows(rows);
  ZeroFill(diff_pp);
  {
    ProfileScope scope("ppnet towers backward");
    Tensor diff_output = diff_dst;
    for (size_t l = layers_.size(); l-- > 0;) {
      Layer& layer = layers_[l];
      const int64_t in = layer.in_cols;
      Tensor delta = layer.factors.View().TopRows(rows);
      Tensor input = layer.input.View().TopRows(rows);
      Tensor diff_input = layer.diff_input.View().TopRows(rows);
      Tensor diff_logits = layer.diff_logits.View().TopRows(rows);
      layer.tower->Backward(input, diff_output, &diff_input);
      // u = δ ⊙ h: dδ = du ⊙ h, then through γσ: dz = dδ · δ(1 − δ/γ); dh = du ⊙ δ, left in
      // diff_input.
      if (l == 0) ZeroFill(diff_e);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t t = 0; t < tasks_; ++t) {
          const float* h = l == 0 ? e.Row(r) : layers_[l - 1].output.Row(r) + t * in;
          const float* d = delta.Row(r) + t * in;
          float* du = diff_input.Row(r) + t * in;
          float* dz = diff_logits.Row(r) + t * in;
          for (int64_t j = 0; j < in; ++j) {
            dz[j] = du[j] * h[j] * d[j] * (1.f - d[j] / gamma);
            du[j] *= d[j];
          }
          if (l == 0) {
            float* de = diff_e.Row(r);
            for (int64_t j = 0; j < in; ++j) de[j] += du[j];
          }
        }
      }
      layer.gate->Backward(pp_in, diff_logits, &diff_gate_in);
      AddInto(diff_pp, diff_gate_in);
      diff_output = diff_input;  // the gradient of the previous layer's output
    }
  }
  ProfileScope scope("epnet backward");
  if (!stop_gradient_) AddInto(diff_e, diff_pp.Columns(prior_width_, width));
  // e = δ ⊙ x: dx = de ⊙ δ, dz = de ⊙ x · δ(1 − δ/γ).
  Tensor factors = ep_factors_.View().TopRows(rows);
  Tensor diff_logits = diff_ep_logits_.View().TopRows(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < width; ++j) {
      const float d = factors.At(r, j), de = diff_e.At(r, j);
      diff_src.At(r, j) = de * d;
      diff_logits.At(r, j) = de * src.At(r, j) * d * (1.f - d / gamma);
    }
  }
  Tensor ep_in = ep_in_.View().TopRows(rows);
  Tensor diff_ep_in = diff_ep_in_.View().TopRows(rows);
  epnet_->Backward(ep_in, diff_logits, &diff_ep_in);
  if (!stop_gradient_) AddInto(diff_src, diff_ep_in.Columns(scenario_width_, width));
  // The scenario's and the priors' own columns take their gates' gradients, whatever the stop-gradient.
  const auto scatter = [&](const Tensor& from, const std::vector<ColumnRange>& ranges) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = from.Row(r);
      for (const ColumnRange& range : ranges) {
        for (int64_t c = range.begin; c < range.end; ++c) diff_src.At(r, c) += *in++;
      }
    }
  };
  scatter(diff_ep_in, scenario_cols_);
  scatter(diff_pp, prior_cols_);
}

}  // namespace mtrec
