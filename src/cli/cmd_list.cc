// `mtrec list archs|weightings|metrics`: the names a config may choose from, one a line, straight from the name
// tables, so scripts that loop over every architecture or strategy follow the binary instead of a copied list.
#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "common/metric_info.h"
#include "common/names.h"

namespace mtrec {
namespace {

// What each listable set is called on the command line, and where its names come from.
const std::map<std::string, std::function<std::vector<std::string>()>>& Lists() {
  static const std::map<std::string, std::function<std::vector<std::string>()>> lists = {
      {"archs", Names<Arch>},                // model.arch
      {"weightings", Names<WeightingKind>},  // train.weighting
      {"metrics", MetricNames},              // the metric table: train.early_stop_metric's, bias, coverage
  };
  return lists;
}

}  // namespace

RunCommand AddListCommand(CLI::App& app) {
  auto what = std::make_shared<std::string>();
  std::vector<std::string> choices;
  for (const auto& [name, names] : Lists()) choices.push_back(name);
  CLI::App* command = app.add_subcommand(
      "list",
      "Print the names of the architectures (model.arch), task weighting strategies (train.weighting) or metrics "
      "of the metric table, one a line, in the config reference's order: those train.early_stop_metric takes, then "
      "bias and coverage (reported by eval, without a better direction to watch).\n\n"
      "Example:\n  for arch in $(mtrec list archs); do mtrec train --config c.toml model.arch=$arch; done");
  command->add_option("what", *what, "Which names")->required()->check(CLI::IsMember(choices));
  return [what] {
    for (const std::string& name : Lists().at(*what)()) fmt::print("{}\n", name);
    return 0;
  };
}

}  // namespace mtrec
