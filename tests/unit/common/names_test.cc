#include "common/names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/strings.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

// Each name maps to its own value and back, and a name outside the table maps to nothing.
template <typename E>
void ExpectRoundTrip() {
  const std::vector<std::string> names = Names<E>();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::optional<E> value = ParseName<E>(names[i]);
    ASSERT_TRUE(value.has_value()) << names[i];
    EXPECT_EQ(static_cast<size_t>(*value), i) << names[i];
    EXPECT_EQ(NameOf(*value), names[i]);
    EXPECT_EQ(fmt::format("{}", *value), names[i]);
  }
  EXPECT_FALSE(ParseName<E>("no_such_name").has_value());
}

TEST(Names, EveryTableRoundTrips) {
  ExpectRoundTrip<Arch>();
  ExpectRoundTrip<TaskKind>();
  ExpectRoundTrip<TaskMode>();
  ExpectRoundTrip<FeatureKind>();
  ExpectRoundTrip<WeightingKind>();
  ExpectRoundTrip<LrScheduleKind>();
  ExpectRoundTrip<SplitBy>();
  ExpectRoundTrip<TimeSeriesOp>();
}

const char* kConfig = "[data]\ntrain = \"train.csv\"\n[[features]]\nname = \"city\"\n[[tasks]]\nname = \"click\"\n";

// The config accepts every name of a table, writes it back as it was given, and lists the table when it refuses
// another name.
template <typename E>
void ExpectConfigChoices(const std::string& key) {
  for (const std::string& name : Names<E>()) {
    const Config config = ParseConfig(kConfig, "cfg.toml", {key + "=" + name});
    const std::string toml = ConfigToToml(config);
    const std::string line = key.substr(key.rfind('.') + 1) + " = \"" + name + "\"\n";
    EXPECT_NE(toml.find(line), std::string::npos) << key << " " << name;
  }
  const std::string error = ErrorOf([&] { ParseConfig(kConfig, "cfg.toml", {key + "=no_such_name"}); });
  EXPECT_NE(error.find("expected one of " + QuotedList(Names<E>())), std::string::npos) << error;
}

TEST(Names, ConfigChoicesAreTheTables) {
  ExpectConfigChoices<Arch>("model.arch");
  ExpectConfigChoices<WeightingKind>("train.weighting");
  ExpectConfigChoices<LrScheduleKind>("train.lr_schedule");
  // The task kinds and modes need a config where each value is valid; check the refusals.
  const std::string kind = ErrorOf([] { ParseConfig(kConfig, "cfg.toml", {"tasks.click.kind=ordinal"}); });
  EXPECT_NE(kind.find("expected one of " + QuotedList(Names<TaskKind>())), std::string::npos) << kind;
  const std::string mode = ErrorOf([] { ParseConfig(kConfig, "cfg.toml", {"tasks.click.mode=other"}); });
  EXPECT_NE(mode.find("expected one of " + QuotedList(Names<TaskMode>())), std::string::npos) << mode;
  const std::string feature = ErrorOf([] { ParseConfig(kConfig, "cfg.toml", {"features.city.kind=text"}); });
  EXPECT_NE(feature.find("expected one of " + QuotedList(Names<FeatureKind>())), std::string::npos) << feature;
}

}  // namespace
}  // namespace mtrec
