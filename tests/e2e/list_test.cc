// `mtrec list` prints the name tables, one name a line, for scripts that loop over every architecture, strategy or
// metric (examples/compare_architectures.sh, examples/compare_weighting.sh).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/metric_info.h"
#include "common/names.h"

namespace mtrec::e2e {
namespace {

std::string Lines(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += name + "\n";
  return text;
}

TEST(ListTest, PrintsEachNameTable) {
  for (const auto& [what, names] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"archs", Names<Arch>()}, {"weightings", Names<WeightingKind>()}, {"metrics", MetricNames()}}) {
    const RunResult list = RunMtrec("list " + what);
    EXPECT_EQ(list.exit_code, 0) << what;
    EXPECT_EQ(list.output, Lines(names)) << what;
  }
}

TEST(ListTest, AnUnknownListNamesTheChoices) {
  const RunResult list = RunMtrec("list models");
  EXPECT_NE(list.exit_code, 0);
  EXPECT_NE(list.output.find("archs"), std::string::npos) << list.output;
}

}  // namespace
}  // namespace mtrec::e2e
