#include "train/dense_optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/binary.h"
#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"

namespace mtrec {
namespace {

constexpr char kMagic[4] = {'M', 'D', 'O', 'S'};
constexpr uint32_t kStateVersion = 1;

// Everything one update of a range of one parameter needs.
struct Update {
  DenseOptimizerKind kind;
  float* w;
  const float* g;
  float* m;
  float* v;
  float lr;
  float beta1;
  float beta2;
  float eps;
  float l2;            // added to the gradient as l2 · w (Adam, SGD)
  float decoupled;     // AdamW: w -= lr · decoupled · w
  float momentum;
  float step_size;     // lr / (1 - beta1^t)
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^t)
};

// Adam (Kingma & Ba, Algorithm 1) with the bias corrections folded into the step size:
//   m ← β1·m + (1-β1)·g,  v ← β2·v + (1-β2)·g²,  w ← w - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε).
// AdamW (Loshchilov & Hutter) first shrinks w ← w - lr·λ·w. SGD: b ← μ·b + g, w ← w - lr·b.
MTREC_HOT_LOOP void AdamRange(const Update& u, float* __restrict w, const float* __restrict g, float* __restrict m,
                              float* __restrict v, size_t n) {
  const float beta1 = u.beta1, beta2 = u.beta2, l2 = u.l2, shrink = u.lr * u.decoupled;
  const float step_size = u.step_size, inv_sqrt_bc2 = u.inv_sqrt_bc2, eps = u.eps;
  for (size_t i = 0; i < n; ++i) {
    const float grad = g[i] + l2 * w[i];
    m[i] = beta1 * m[i] + (1.f - beta1) * grad;
    v[i] = beta2 * v[i] + (1.f - beta2) * grad * grad;
    const float shrunk = w[i] - shrink * w[i];
    w[i] = shrunk - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
}

void Apply(const Update& u, size_t begin, size_t end) {
  switch (u.kind) {
    case DenseOptimizerKind::kAdam:
    case DenseOptimizerKind::kAdamW:
      AdamRange(u, u.w + begin, u.g + begin, u.m + begin, u.v + begin, end - begin);
      break;
    case DenseOptimizerKind::kSgd:
      if (u.m) {
        for (size_t i = begin; i < end; ++i) {
          u.m[i] = u.momentum * u.m[i] + u.g[i] + u.l2 * u.w[i];
          u.w[i] -= u.lr * u.m[i];
        }
      } else {
        for (size_t i = begin; i < end; ++i) u.w[i] -= u.lr * (u.g[i] + u.l2 * u.w[i]);
      }
      break;
  }
}

}  // namespace

DenseOptimizer::DenseOptimizer(ParameterArena& arena, const DenseOptimizerOptions& options)
    : arena_(&arena), options_(options) {
  MTREC_CHECK(arena.allocated(), "dense optimizer built before the parameter arena was allocated");
  MTREC_CHECK(options.lr >= 0.f, "dense optimizer: learning rate {} is negative", options.lr);
  MTREC_CHECK(options.weight_decay >= 0.f, "dense optimizer: weight decay {} is negative", options.weight_decay);
  MTREC_CHECK(options.beta1 >= 0.f && options.beta1 < 1.f && options.beta2 >= 0.f && options.beta2 < 1.f,
              "dense optimizer: beta1 {} and beta2 {} must lie in [0, 1)", options.beta1, options.beta2);
  MTREC_CHECK(options.momentum >= 0.f && options.momentum < 1.f, "dense optimizer: momentum {} is outside [0, 1)",
              options.momentum);
  switch (options.kind) {
    case DenseOptimizerKind::kAdam:
    case DenseOptimizerKind::kAdamW:
      m_.Resize(arena.size());
      v_.Resize(arena.size());
      break;
    case DenseOptimizerKind::kSgd:
      if (options.momentum > 0.f) m_.Resize(arena.size());
      break;
  }
}

void DenseOptimizer::Step() {
  ++t_;
  const bool adam = options_.kind != DenseOptimizerKind::kSgd;
  const double t = static_cast<double>(t_);
  Update u{};
  u.kind = options_.kind;
  u.lr = options_.lr;
  u.beta1 = options_.beta1;
  u.beta2 = options_.beta2;
  u.eps = options_.eps;
  u.momentum = options_.momentum;
  u.step_size = adam ? static_cast<float>(options_.lr / (1.0 - std::pow(options_.beta1, t))) : 0.f;
  u.inv_sqrt_bc2 = adam ? static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(options_.beta2, t))) : 0.f;
  for (size_t id = 0; id < arena_->Infos().size(); ++id) {
    const ParameterInfo& info = arena_->Info(id);
    if (!info.trainable) continue;  // running statistics: set by their layer, never stepped
    const float decay = info.decay ? options_.weight_decay : 0.f;
    u.l2 = options_.kind == DenseOptimizerKind::kAdamW ? 0.f : decay;
    u.decoupled = options_.kind == DenseOptimizerKind::kAdamW ? decay : 0.f;
    u.w = arena_->Value(id);
    u.g = arena_->Grad(id);
    u.m = m_.size() ? m_.data() + info.offset : nullptr;
    u.v = v_.size() ? v_.data() + info.offset : nullptr;
    const int64_t n = static_cast<int64_t>(info.size());
    ParallelRows(n, n, [&u](int64_t begin, int64_t end) {
      Apply(u, static_cast<size_t>(begin), static_cast<size_t>(end));
    });
  }
}

void DenseOptimizer::Serialize(std::string* out) const {
  BinaryWriter writer;
  writer.Bytes(std::string_view(kMagic, sizeof(kMagic)));
  writer.Pod<uint32_t>(kStateVersion);
  writer.Pod<uint32_t>(static_cast<uint32_t>(options_.kind));
  writer.Pod<int64_t>(t_);
  writer.Array(m_.data(), m_.size());
  writer.Array(v_.data(), v_.size());
  out->append(writer.str());
}

void DenseOptimizer::Deserialize(std::string_view data) {
  BinaryReader reader(data.data(), data.size(), "dense optimizer state");
  MTREC_CHECK(reader.Bytes(sizeof(kMagic)) == std::string_view(kMagic, sizeof(kMagic)),
              "dense optimizer state: bad magic; this is not a dense optimizer state");
  const uint32_t version = reader.Pod<uint32_t>();
  MTREC_CHECK(version == kStateVersion, "dense optimizer state: version {}, this build reads version {}", version,
              kStateVersion);
  const uint32_t kind = reader.Pod<uint32_t>();
  MTREC_CHECK(kind == static_cast<uint32_t>(options_.kind),
              "dense optimizer state: written by optimizer kind {}, this optimizer is kind {}", kind,
              static_cast<uint32_t>(options_.kind));
  const int64_t t = reader.Pod<int64_t>();
  MTREC_CHECK(t >= 0, "dense optimizer state: negative step {}", t);
  AlignedBuffer<float>* buffers[2] = {&m_, &v_};
  const char* names[2] = {"m", "v"};
  const float* sources[2] = {nullptr, nullptr};
  for (int b = 0; b < 2; ++b) {
    size_t count = 0;
    sources[b] = reader.Array<float>(&count);
    MTREC_CHECK(count == buffers[b]->size(),
                "dense optimizer state: '{}' holds {} floats, the model's parameters need {} (a different model?)",
                names[b], count, buffers[b]->size());
  }
  MTREC_CHECK(reader.AtEnd(), "dense optimizer state: {} unexpected bytes after the end", reader.remaining());
  // Only now that everything checked out is the state replaced, so a refused blob leaves the optimizer as it was.
  for (int b = 0; b < 2; ++b) {
    if (buffers[b]->size()) std::memcpy(buffers[b]->data(), sources[b], buffers[b]->size() * sizeof(float));
  }
  t_ = t;
}

}  // namespace mtrec
