#include "train/history.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace mtrec {

std::string HistoryToJson(const std::vector<EpochRecord>& history) {
  nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
  for (const auto& record : history) {
    nlohmann::ordered_json e;
    e["epoch"] = record.epoch;
    e["train_loss"] = nlohmann::ordered_json::array();
    for (double loss : record.train_loss) e["train_loss"].push_back(JsonNumber(loss));
    e["valid"] = ReportsToJson(record.valid, 0)["tasks"];
    e["monitor"] = JsonNumber(record.monitor);
    e["task_weights"] = nlohmann::ordered_json::array();
    for (double w : record.task_weights) e["task_weights"].push_back(JsonNumber(w));
    e["conflict"] = nlohmann::ordered_json::array();
    for (const auto& row : record.conflict) {
      nlohmann::ordered_json r = nlohmann::ordered_json::array();
      for (double v : row) r.push_back(JsonNumber(v));
      e["conflict"].push_back(r);
    }
    e["conflict_steps"] = record.conflict_steps;
    e["delta_m"] = JsonNumber(record.delta_m);
    if (!record.partition.empty()) e["partition"] = record.partition;
    epochs.push_back(e);
  }
  return epochs.dump();
}

std::vector<EpochRecord> HistoryFromJson(const std::string& text) {
  std::vector<EpochRecord> history;
  nlohmann::ordered_json epochs = nlohmann::ordered_json::parse(text, nullptr, false);
  MTREC_CHECK(epochs.is_array(), "the training history is not a JSON array");
  for (size_t i = 0; i < epochs.size(); ++i) {
    const auto& e = epochs[i];
    MTREC_CHECK(e.is_object(), "training history: epoch entry {} is not a JSON object", i);
    EpochRecord record;
    // at() and value() throw on a missing key or a wrong type (operator[] of a const object would not check).
    try {
      record.epoch = e.value("epoch", 0);
      for (const auto& loss : e.at("train_loss")) record.train_loss.push_back(NumberFromJson(loss));
      record.valid = ReportsFromJson(e.at("valid"), "training history");
      record.monitor = NumberFromJson(e.at("monitor"));
      if (e.contains("task_weights")) {
        for (const auto& w : e.at("task_weights")) record.task_weights.push_back(NumberFromJson(w));
      }
      if (e.contains("conflict")) {
        for (const auto& row : e.at("conflict")) {
          record.conflict.emplace_back();
          for (const auto& v : row) record.conflict.back().push_back(NumberFromJson(v));
        }
      }
      record.conflict_steps = e.value("conflict_steps", int64_t{0});
      record.delta_m = e.contains("delta_m") ? NumberFromJson(e.at("delta_m")) : NAN;
      record.partition = e.value("partition", std::string());
    } catch (const nlohmann::json::exception& error) {
      Fail("training history: epoch entry {}: {}", i, error.what());
    }
    history.push_back(std::move(record));
  }
  return history;
}

}  // namespace mtrec
