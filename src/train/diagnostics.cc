#include "train/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace mtrec {

std::string FormatGateUsage(const std::vector<GateUsage>& usages) {
  if (usages.empty()) return {};
  size_t name_width = 4;
  for (const auto& usage : usages) name_width = std::max(name_width, usage.gate.size());
  std::string out = "expert utilisation (mean gate weight, %):\n";
  for (const auto& usage : usages) {
    out += fmt::format("  {:<{}}", usage.gate, name_width);
    for (size_t e = 0; e < usage.experts.size(); ++e) {
      out += fmt::format("  {}={:.1f}", usage.experts[e], 100.0 * usage.mean_weight[e]);
    }
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json GateUsageToJson(const std::vector<GateUsage>& usages) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& usage : usages) {
    nlohmann::ordered_json gate = nlohmann::ordered_json::object();
    for (size_t e = 0; e < usage.experts.size(); ++e) gate[usage.experts[e]] = usage.mean_weight[e];
    json[usage.gate] = gate;
  }
  return json;
}

}  // namespace mtrec
