// Multi-task diagnostics in printable and JSON form. Expert utilisation: the mean weight each gate gave each
// expert over a file (a gate that puts all its weight on a few experts, or tasks that share none, shows here).
//
//   model.ResetGateUsage();
//   Predict(model, config, valid);
//   fmt::print("{}", FormatGateUsage(model.GateUsages()));
//   json["gates"] = GateUsageToJson(model.GateUsages());
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "models/model.h"

namespace mtrec {

// One line per gate: "gate  expert=weight ...", weights in percent. Empty without gates.
std::string FormatGateUsage(const std::vector<GateUsage>& usages);
// {"<gate>": {"<expert>": mean weight, ...}, ...}
nlohmann::ordered_json GateUsageToJson(const std::vector<GateUsage>& usages);

}  // namespace mtrec
