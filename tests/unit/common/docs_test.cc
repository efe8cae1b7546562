// The docs name everything the name tables register: every architecture, weighting strategy and early-stop metric
// is described where a reader looks for it, so a new one is documented by the time it is registered.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/files.h"
#include "common/metric_info.h"
#include "common/names.h"

namespace mtrec {
namespace {

std::string ReadDoc(const std::string& doc) { return ReadFileBytes(std::string(MTREC_SOURCE_DIR) + "/" + doc); }

// A doc mentions a name as code (`mmoe`) or, in docs/config.md's generated choices, quoted ('mmoe').
void ExpectMentions(const std::string& doc, const std::string& what, const std::vector<std::string>& names) {
  const std::string text = ReadDoc(doc);
  for (const std::string& name : names) {
    const bool mentioned =
        text.find("`" + name + "`") != std::string::npos || text.find("'" + name + "'") != std::string::npos;
    EXPECT_TRUE(mentioned) << doc << " does not mention the " << what << " '" << name << "'";
  }
}

TEST(DocsTest, ModelsDescribeEveryArchitecture) { ExpectMentions("docs/models.md", "architecture", Names<Arch>()); }

TEST(DocsTest, WeightingDescribesEveryStrategy) {
  ExpectMentions("docs/weighting.md", "weighting strategy", Names<WeightingKind>());
}

TEST(DocsTest, EvaluationDescribesEveryEarlyStopMetric) {
  ExpectMentions("docs/evaluation.md", "early-stop metric", MetricNames());
}

TEST(DocsTest, ConfigReferenceListsEveryName) {
  ExpectMentions("docs/config.md", "architecture", Names<Arch>());
  ExpectMentions("docs/config.md", "weighting strategy", Names<WeightingKind>());
  ExpectMentions("docs/config.md", "early-stop metric", EarlyStopMetricChoices());
}

TEST(DocsTest, ReadmeListsEveryArchitectureAndStrategy) {
  ExpectMentions("README.md", "architecture", Names<Arch>());
  ExpectMentions("README.md", "weighting strategy", Names<WeightingKind>());
}

}  // namespace
}  // namespace mtrec
