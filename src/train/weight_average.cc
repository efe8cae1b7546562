#include "train/weight_average.h"

#include <cmath>
#include <cstring>

#include "common/binary.h"
#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"

namespace mtrec {

namespace {

MTREC_HOT_LOOP void DecayTowards(float* __restrict s, const float* __restrict w, int64_t n, float d) {
  for (int64_t i = 0; i < n; ++i) s[i] = d * s[i] + (1.f - d) * w[i];
}

}  // namespace

WeightAverage::WeightAverage(Model& model, double decay) : model_(model), decay_(decay) {
  MTREC_CHECK(decay > 0 && decay < 1, "the weight average's decay must be in (0, 1), got {}", decay);
  dense_sum_.assign(model.arena().size(), 0.f);
  for (const EmbeddingTable& table : model.input().tables()) {
    table_sums_.emplace_back(static_cast<size_t>(table.rows() * table.dim()), 0.f);
    row_step_.emplace_back(static_cast<size_t>(table.rows()), 0);
  }
}

void WeightAverage::UpdateDense() {
  const float* w = model_.arena().values();
  float* s = dense_sum_.data();
  const auto d = static_cast<float>(decay_);
  const int64_t n = static_cast<int64_t>(dense_sum_.size());
  ParallelRows(n, n, [&](int64_t begin, int64_t end) {
    DecayTowards(s + begin, w + begin, end - begin, d);
  });
}

// Steps row_step_+1 .. to_step saw the row's current value.
void WeightAverage::CatchUpRow(size_t table, int32_t row, int64_t to_step) {
  int64_t& from = row_step_[table][static_cast<size_t>(row)];
  if (from >= to_step) return;
  const EmbeddingTable& t = model_.input().tables()[table];
  const auto keep = static_cast<float>(std::pow(decay_, static_cast<double>(to_step - from)));
  const float* w = t.Row(row);
  float* s = table_sums_[table].data() + static_cast<int64_t>(row) * t.dim();
  for (int64_t j = 0; j < t.dim(); ++j) s[j] = keep * s[j] + (1.f - keep) * w[j];
  from = to_step;
}

void WeightAverage::BeforeRowsChange(size_t table, const std::vector<int32_t>& rows) {
  for (int32_t row : rows) CatchUpRow(table, row, steps_ - 1);
}

void WeightAverage::AfterRowsChange(size_t table, const std::vector<int32_t>& rows) {
  // Each row's sum is now up to date with step steps_ - 1; this step's value joins it.
  for (int32_t row : rows) CatchUpRow(table, row, steps_);
}

void WeightAverage::CatchUpAll() {
  const auto& tables = model_.input().tables();
  ParallelForBlocks(tables.size(), [&](size_t t, int) {
    for (int64_t row = 0; row < tables[t].rows(); ++row) CatchUpRow(t, static_cast<int32_t>(row), steps_);
  });
}

void WeightAverage::Apply() {
  MTREC_CHECK(!applied_, "the weight average is already applied");
  if (steps_ == 0) return;
  CatchUpAll();
  const auto scale = static_cast<float>(1.0 / (1.0 - std::pow(decay_, static_cast<double>(steps_))));
  float* w = model_.arena().values();
  kept_dense_.assign(w, w + dense_sum_.size());
  for (size_t i = 0; i < dense_sum_.size(); ++i) w[i] = dense_sum_[i] * scale;
  auto& tables = model_.input().tables();
  kept_tables_.resize(tables.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    float* v = tables[t].data();
    const std::vector<float>& s = table_sums_[t];
    kept_tables_[t].assign(v, v + s.size());
    for (size_t i = 0; i < s.size(); ++i) v[i] = s[i] * scale;
  }
  applied_ = true;
}

void WeightAverage::Restore() {
  if (!applied_) return;
  std::memcpy(model_.arena().values(), kept_dense_.data(), kept_dense_.size() * sizeof(float));
  auto& tables = model_.input().tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    std::memcpy(tables[t].data(), kept_tables_[t].data(), kept_tables_[t].size() * sizeof(float));
  }
  applied_ = false;
}

void WeightAverage::Serialize(std::string* out) {
  MTREC_CHECK(!applied_, "the weight average is applied; restore the model's weights before saving it");
  CatchUpAll();  // every row's sum up to date, so no per-row steps need saving
  BinaryWriter w;
  w.Pod<double>(decay_);
  w.Pod<int64_t>(steps_);
  w.Vector(dense_sum_);
  w.Pod<uint32_t>(static_cast<uint32_t>(table_sums_.size()));
  for (const auto& sums : table_sums_) w.Vector(sums);
  out->append(w.str());
}

void WeightAverage::Deserialize(std::string_view blob) {
  BinaryReader r(blob.data(), blob.size(), "weight average");
  const auto decay = r.Pod<double>();
  MTREC_CHECK(decay == decay_, "the checkpoint averages the weights with decay {}, the config with {}", decay, decay_);
  const auto steps = r.Pod<int64_t>();
  MTREC_CHECK(steps >= 0, "the weight average has a negative step count {}", steps);
  auto read = [&r](std::vector<float>* into, const char* what) {
    size_t n = 0;
    const float* values = r.Array<float>(&n);
    MTREC_CHECK(n == into->size(), "the weight average holds {} values for {}, the model {}", n, what, into->size());
    std::memcpy(into->data(), values, n * sizeof(float));
  };
  read(&dense_sum_, "the dense parameters");
  const auto tables = r.Pod<uint32_t>();
  MTREC_CHECK(tables == table_sums_.size(), "the weight average holds {} embedding tables, the model {}", tables,
              table_sums_.size());
  for (auto& sums : table_sums_) read(&sums, "an embedding table");
  steps_ = steps;
  for (auto& rows : row_step_) rows.assign(rows.size(), steps);
}

}  // namespace mtrec
