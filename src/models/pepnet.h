// PEPNet, parameter and embedding personalised networks (Chang et al., KDD 2023), for data from several scenarios
// (sites, pages, countries). A gate unit is g(z) = γ·σ(W₂·ReLU(W₁z + b₁) + b₂), γ = model.gate_scale (the
// paper's 2), so each factor lies in (0, γ) and starts near 1:
//   EPNet   e = x ⊙ g_ep(x_scenario ⊕ sg(x))              x: the input layer's output, every feature
//   PPNet   h⁰_t = e,  hˡ⁺¹_t = f(Wˡ_t (δˡ_t ⊙ hˡ_t) + bˡ_t),  δˡ_t = gˡ_t(x_prior ⊕ sg(e))
// for task t's tower, l = 0 .. |model.tower|: f is a hidden layer's ReLU (with the model's batch norm and dropout),
// the identity at the one-unit output layer. sg is a stop-gradient: a gate learns through its own weights and
// the scenario's and the priors' embeddings, never by moving the embeddings it scales. x_scenario and x_prior
// are the columns of model.scenario_features and model.prior_features (features like any other, in x too).
// Parameters: epnet.0, epnet.1 (EPNet's gate); ppnet.<l>.0, ppnet.<l>.1 (the gates of layer l, a group per task);
// towers.<l>.0 (layer l of the task towers, a group per task).
#pragma once

#include <vector>

#include "models/mlp.h"
#include "models/model.h"
#include "nn/shared_columns.h"

namespace mtrec {

class Pepnet : public Model {
 public:
  Pepnet(const Config& config, const InputLayout& layout, int64_t max_batch);
  // Off: the full gradient, the gates' inputs included (what a finite-difference check can verify). On by default.
  void set_stop_gradient(bool on) { stop_gradient_ = on; }

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  // One layer of the task towers with its PPNet gates: in_cols per task in, out_cols per task out.
  struct Layer {
    int64_t in_cols = 0;
    Mlp* gate = nullptr;   // owned by the base: T groups over pp_in, in_cols each
    Mlp* tower = nullptr;  // owned by the base: T groups, task t reading block t of `input`
    Matrix factors;        // δ: γ·σ(gate output), batch × T·in_cols
    Matrix input;          // δ ⊙ h, what the tower layer reads
    Tensor output;         // of the tower layer's last Forward
    Matrix diff_input, diff_logits;
  };

  const SharedColumns* EpnetSharedInput();
  // src's columns `ranges`, side by side from dst's first column.
  static void Gather(const Tensor& src, const std::vector<ColumnRange>& ranges, const Tensor& dst);

  std::vector<ColumnRange> scenario_cols_, prior_cols_;
  int64_t scenario_width_ = 0, prior_width_ = 0;
  float gamma_;
  bool stop_gradient_ = true;
  Mlp* epnet_ = nullptr;  // owned by the base
  SharedColumns ep_shared_;  // a server's groups: the columns of ep_in every row of a group shares
  Matrix ep_in_, ep_factors_, embedded_, pp_in_;
  Matrix diff_embedded_, diff_pp_in_, diff_gate_in_, diff_ep_logits_, diff_ep_in_;
  std::vector<Layer> layers_;
};

}  // namespace mtrec
