#include "data/column_table.h"

#include <gtest/gtest.h>

#include "support/test_files.h"
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

fs::path TestDir() { return mtrec::TestDir("column_table_test"); }

std::string WriteFile(const std::string& name, const std::string& text) { return mtrec::WriteFile(TestDir(), name, text); }

DataConfig NoCache() {
  DataConfig data;
  data.cache = false;
  return data;
}

ColumnRequest Numeric(const std::string& name) {
  return {name, ColumnType::kNumeric, "", true, false, "feature '" + name + "'"};
}
ColumnRequest Categorical(const std::string& name) {
  return {name, ColumnType::kCategorical, "", true, false, "feature '" + name + "'"};
}
ColumnRequest Multi(const std::string& name, const std::string& separator) {
  return {name, ColumnType::kMultiCategorical, separator, true, false, "feature '" + name + "'"};
}

std::vector<float> Numbers(const Column& column) {
  return std::vector<float>(column.numbers.begin(), column.numbers.end());
}
std::vector<uint32_t> Codes(const Column& column) {
  return std::vector<uint32_t>(column.codes.begin(), column.codes.end());
}
std::vector<uint64_t> Offsets(const Column& column) {
  return std::vector<uint64_t>(column.offsets.begin(), column.offsets.end());
}
std::vector<uint32_t> Lines(const ColumnTable& table) {
  return std::vector<uint32_t>(table.lines().begin(), table.lines().end());
}
std::vector<std::string> Dictionary(const Column& column) {
  std::vector<std::string> values;
  for (size_t i = 0; i < column.DictionarySize(); ++i) values.emplace_back(column.Value(static_cast<uint32_t>(i)));
  return values;
}

// Numbers compared bit for bit, so that NaN equals NaN.
void ExpectSameNumbers(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))
        << "row " << i << ": " << a[i] << " vs " << b[i];
  }
}

void ExpectSameTables(const ColumnTable& a, const ColumnTable& b, const std::vector<ColumnRequest>& requests) {
  ASSERT_EQ(a.rows(), b.rows());
  EXPECT_EQ(Lines(a), Lines(b));
  for (const auto& request : requests) {
    SCOPED_TRACE(request.name);
    const Column& x = a.Get(request.name, request.type);
    const Column& y = b.Get(request.name, request.type);
    EXPECT_EQ(x.present, y.present);
    ExpectSameNumbers(Numbers(x), Numbers(y));
    EXPECT_EQ(Codes(x), Codes(y));
    EXPECT_EQ(Offsets(x), Offsets(y));
    EXPECT_EQ(Dictionary(x), Dictionary(y));
  }
}

// Removes the test's files afterwards.
class ColumnTableTest : public testing::Test {
 protected:
  void TearDown() override { fs::remove_all(TestDir()); }
};

TEST_F(ColumnTableTest, NumbersWithNaValuesReadAsNaN) {
  const std::string path = WriteFile("numbers.csv", "a,b,c\n1.5,x,+2\nNA,y,1e3\n,z, 7 \n-2,x,null\n");
  ColumnTable table = LoadTable(path, NoCache(), {Numeric("a"), Numeric("c")});
  EXPECT_EQ(table.rows(), 4);
  EXPECT_EQ(table.path(), path);
  EXPECT_FALSE(table.report().from_cache);
  std::vector<float> a = Numbers(table.Get("a", ColumnType::kNumeric));
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0], 1.5f);
  EXPECT_TRUE(std::isnan(a[1]));
  EXPECT_TRUE(std::isnan(a[2]));
  EXPECT_EQ(a[3], -2.f);
  std::vector<float> c = Numbers(table.Get("c", ColumnType::kNumeric));
  EXPECT_EQ(c[0], 2.f);
  EXPECT_EQ(c[1], 1000.f);
  EXPECT_EQ(c[2], 7.f);
  EXPECT_TRUE(std::isnan(c[3]));
  EXPECT_EQ(Lines(table), (std::vector<uint32_t>{2, 3, 4, 5}));
  // Only requested columns are kept, under the requested type.
  EXPECT_EQ(table.Find("b", ColumnType::kCategorical), nullptr);
  EXPECT_EQ(table.Find("a", ColumnType::kCategorical), nullptr);
  std::string error = ErrorOf([&] { table.Get("b", ColumnType::kCategorical); });
  EXPECT_NE(error.find("column 'b' was not read as categorical"), std::string::npos) << error;
}

TEST_F(ColumnTableTest, CustomNaValuesReplaceTheDefaults) {
  const std::string path = WriteFile("custom_na.csv", "a\n?\n3\nNA\n");
  DataConfig data = NoCache();
  data.na_values = {"?"};
  std::string error = ErrorOf([&] { LoadTable(path, data, {Numeric("a")}); });
  EXPECT_NE(error.find(path + ":4: column 'a' (feature 'a'): expected a number, found 'NA'"), std::string::npos)
      << error;
  data.na_values = {"?", "NA"};
  ColumnTable table = LoadTable(path, data, {Numeric("a")});
  std::vector<float> a = Numbers(table.Get("a", ColumnType::kNumeric));
  EXPECT_TRUE(std::isnan(a[0]));
  EXPECT_EQ(a[1], 3.f);
  EXPECT_TRUE(std::isnan(a[2]));
}

TEST_F(ColumnTableTest, CategoricalCodesFollowFirstAppearance) {
  const std::string path = WriteFile("categorical.csv", "city,n\nrome,1\nparis,2\nrome,3\nNA,4\n\"oslo\",5\nparis,6\n");
  ColumnTable table = LoadTable(path, NoCache(), {Categorical("city")});
  const Column& city = table.Get("city", ColumnType::kCategorical);
  EXPECT_EQ(Codes(city), (std::vector<uint32_t>{0, 1, 0, 2, 3, 1}));
  // Missing markers are ordinary dictionary values here; the feature pipeline maps them.
  EXPECT_EQ(Dictionary(city), (std::vector<std::string>{"rome", "paris", "NA", "oslo"}));
}

// A file big enough to be cut into several chunks: codes, dictionaries and lines do not depend on the threads.
TEST_F(ColumnTableTest, ResultsDoNotDependOnTheThreadCount) {
  constexpr int kRows = 50000;
  Rng rng(3);
  std::string text = "user,tags,x\n";
  std::vector<std::string> users;
  for (int r = 0; r < kRows; ++r) {
    // Values seen first late in the file land in late chunks: the merge must keep file order.
    std::string user = "u" + std::to_string(rng.Below(static_cast<uint64_t>(r / 50 + 1)));
    users.push_back(user);
    text += user + ",t" + std::to_string(rng.Below(30)) + "|t" + std::to_string(rng.Below(300)) + "," +
            std::to_string(r) + "\n";
  }
  const std::string path = WriteFile("big.csv", text);
  const std::vector<ColumnRequest> requests = {Categorical("user"), Multi("tags", "|"), Numeric("x")};

  SetThreads(1);
  ColumnTable one = LoadTable(path, NoCache(), requests);
  SetThreads(2);
  ColumnTable two = LoadTable(path, NoCache(), requests);
  SetThreads(0);
  ExpectSameTables(one, two, requests);

  // First-appearance order, computed here on one pass.
  std::unordered_map<std::string, uint32_t> index;
  std::vector<std::string> dictionary;
  std::vector<uint32_t> codes;
  for (const auto& user : users) {
    auto [it, inserted] = index.emplace(user, static_cast<uint32_t>(dictionary.size()));
    if (inserted) dictionary.push_back(user);
    codes.push_back(it->second);
  }
  const Column& user = two.Get("user", ColumnType::kCategorical);
  EXPECT_EQ(Codes(user), codes);
  EXPECT_EQ(Dictionary(user), dictionary);
  ASSERT_EQ(two.rows(), kRows);
  EXPECT_EQ(two.lines()[0], 2u);
  EXPECT_EQ(two.lines()[kRows - 1], static_cast<uint32_t>(kRows + 1));
  EXPECT_EQ(two.Get("x", ColumnType::kNumeric).numbers[kRows - 1], static_cast<float>(kRows - 1));
  EXPECT_EQ(two.Get("tags", ColumnType::kMultiCategorical).offsets[kRows], 2u * kRows);
}

TEST_F(ColumnTableTest, MultiCategoricalSplitsTrimsAndDropsEmptyValues) {
  const std::string path = WriteFile("multi.csv", "id,tags\n1,a|b\n2,\n3,b||c\n4, c | a \n5,NA\n6,d\n");
  ColumnTable table = LoadTable(path, NoCache(), {Multi("tags", "|")});
  const Column& tags = table.Get("tags", ColumnType::kMultiCategorical);
  EXPECT_EQ(Offsets(tags), (std::vector<uint64_t>{0, 2, 2, 4, 6, 6, 7}));
  EXPECT_EQ(Codes(tags), (std::vector<uint32_t>{0, 1, 1, 2, 2, 0, 3}));
  EXPECT_EQ(Dictionary(tags), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(ColumnTableTest, HeaderlessFileUsesTheConfiguredColumns) {
  const std::string path = WriteFile("headerless.csv", "1,a\n2,b\n\n3,a\n");
  DataConfig data = NoCache();
  data.header = false;
  data.columns = {"x", "y"};
  ColumnTable table = LoadTable(path, data, {Numeric("x"), Categorical("y")});
  EXPECT_EQ(Numbers(table.Get("x", ColumnType::kNumeric)), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(Codes(table.Get("y", ColumnType::kCategorical)), (std::vector<uint32_t>{0, 1, 0}));
  EXPECT_EQ(Lines(table), (std::vector<uint32_t>{1, 2, 4}));  // physical lines, the blank one skipped
}

TEST_F(ColumnTableTest, MultiCharacterDelimiter) {
  const std::string path = WriteFile("census.csv", "age, workclass\n39, State-gov\n50, a,b\n");
  DataConfig data = NoCache();
  data.delimiter = ", ";
  ColumnTable table = LoadTable(path, data, {Numeric("age"), Categorical("workclass")});
  EXPECT_EQ(Numbers(table.Get("age", ColumnType::kNumeric)), (std::vector<float>{39, 50}));
  // A comma without the space is part of the value.
  EXPECT_EQ(Dictionary(table.Get("workclass", ColumnType::kCategorical)),
            (std::vector<std::string>{"State-gov", "a,b"}));
}

TEST_F(ColumnTableTest, TabDelimiterWrittenAsBackslashT) {
  const std::string path = WriteFile("tabs.tsv", "a\tb\n1\tx y\n");
  DataConfig data = NoCache();
  data.delimiter = "\\t";
  ColumnTable table = LoadTable(path, data, {Numeric("a"), Categorical("b")});
  EXPECT_EQ(Dictionary(table.Get("b", ColumnType::kCategorical)), (std::vector<std::string>{"x y"}));
}

TEST_F(ColumnTableTest, QuotedNewlinesKeepPhysicalLineNumbers) {
  const std::string path = WriteFile("quoted.csv", "a,b\n1,\"x\ny\"\n2,z\n");
  ColumnTable table = LoadTable(path, NoCache(), {Numeric("a"), Categorical("b")});
  EXPECT_EQ(Lines(table), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(Dictionary(table.Get("b", ColumnType::kCategorical)), (std::vector<std::string>{"x\ny", "z"}));
}

TEST_F(ColumnTableTest, OptionalAbsentColumnReadsAsMissing) {
  const std::string path = WriteFile("optional.csv", "a\n1\n2\n");
  std::vector<ColumnRequest> requests = {Numeric("a"), Numeric("label"), Categorical("kind"), Multi("tags", "|")};
  for (size_t i = 1; i < requests.size(); ++i) requests[i].required = false;
  ColumnTable table = LoadTable(path, NoCache(), requests);
  const Column& label = table.Get("label", ColumnType::kNumeric);
  EXPECT_FALSE(label.present);
  ASSERT_EQ(label.numbers.size(), 2u);
  EXPECT_TRUE(std::isnan(label.numbers[0]) && std::isnan(label.numbers[1]));
  const Column& kind = table.Get("kind", ColumnType::kCategorical);
  EXPECT_FALSE(kind.present);
  EXPECT_EQ(Codes(kind), (std::vector<uint32_t>{0, 0}));
  EXPECT_EQ(Dictionary(kind), (std::vector<std::string>{""}));
  const Column& tags = table.Get("tags", ColumnType::kMultiCategorical);
  EXPECT_EQ(Offsets(tags), (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_TRUE(table.Get("a", ColumnType::kNumeric).present);
}

TEST_F(ColumnTableTest, RequiredAbsentColumnIsAnErrorWithASuggestion) {
  const std::string path = WriteFile("required.csv", "label,a\n1,2\n");
  ColumnRequest request = Numeric("lable");
  request.role = "label of task 'click'";
  std::string error = ErrorOf([&] { LoadTable(path, NoCache(), {request}); });
  EXPECT_NE(error.find("has no column 'lable' (needed as label of task 'click') (did you mean 'label'?); its "
                       "columns are: 'label', 'a'"),
            std::string::npos)
      << error;
}

TEST_F(ColumnTableTest, CountLabelRejectsNegativeValuesWithFileAndLine) {
  const std::string path = WriteFile("counts.csv", "units\n3\n0\nNA\n2.5\n-1\n");
  ColumnRequest request = Numeric("units");
  request.count_label = true;
  request.role = "label of task 'sales'";
  std::string error = ErrorOf([&] { LoadTable(path, NoCache(), {request}); });
  EXPECT_NE(error.find(path + ":6: column 'units' (label of task 'sales'): its loss needs values >= 0, found '-1'"),
            std::string::npos)
      << error;
  const std::string good = WriteFile("counts_good.csv", "units\n3\n0\nNA\n2.5\n");
  EXPECT_EQ(LoadTable(good, NoCache(), {request}).Get("units", ColumnType::kNumeric).numbers[3], 2.5f);
}

TEST_F(ColumnTableTest, BinaryLabelRejectsOtherValuesWithFileAndLine) {
  const std::string path = WriteFile("binary.csv", "y\n1\n0\nNA\n2\n");
  ColumnRequest request = Numeric("y");
  request.binary_label = true;
  request.role = "label of task 'click'";
  std::string error = ErrorOf([&] { LoadTable(path, NoCache(), {request}); });
  EXPECT_NE(error.find(path + ":5: column 'y' (label of task 'click'): a binary label must be 0 or 1, found '2'"),
            std::string::npos)
      << error;
  // The same column read as a plain number is fine.
  ColumnTable table = LoadTable(path, NoCache(), {Numeric("y")});
  EXPECT_EQ(table.Get("y", ColumnType::kNumeric).numbers[3], 2.f);
  // 0, 1 and missing pass.
  const std::string good = WriteFile("binary_good.csv", "y\n1\n0.0\nNA\n");
  ColumnTable labels = LoadTable(good, NoCache(), {request});
  std::vector<float> y = Numbers(labels.Get("y", ColumnType::kNumeric));
  EXPECT_EQ(y[0], 1.f);
  EXPECT_EQ(y[1], 0.f);
  EXPECT_TRUE(std::isnan(y[2]));
}

TEST_F(ColumnTableTest, MissingValueSpellingsSuggestNaValues) {
  // "?" (the UCI files) and "N/A" mean missing; "cheap" does not, and gets no hint.
  const std::string path = WriteFile("unknown.csv", "a\n1\n?\n");
  std::string error = ErrorOf([&] { LoadTable(path, NoCache(), {Numeric("a")}); });
  EXPECT_EQ(error, path + ":3: column 'a' (feature 'a'): expected a number, found '?'; if it marks a missing value, "
                          "add \"?\" to data.na_values (now [\"\", \"NA\", \"NaN\", \"nan\", \"null\", \"NULL\"])");
  DataConfig data = NoCache();
  data.na_values = {"?"};
  const std::string slash = WriteFile("slash.csv", "a\n1\nN/A\n");
  error = ErrorOf([&] { LoadTable(slash, data, {Numeric("a")}); });
  EXPECT_NE(error.find("found 'N/A'; if it marks a missing value, add \"N/A\" to data.na_values (now [\"?\"])"),
            std::string::npos)
      << error;
  const std::string cheap = WriteFile("cheap.csv", "a\n1\ncheap\n");
  error = ErrorOf([&] { LoadTable(cheap, NoCache(), {Numeric("a")}); });
  EXPECT_EQ(error, cheap + ":3: column 'a' (feature 'a'): expected a number, found 'cheap'");
}

TEST_F(ColumnTableTest, TextBinaryLabelSuggestsARuleWithTheColumnsValues) {
  // A quoted value with doubled quotes is counted too (the reader keeps its text only until the next record).
  const std::string path = WriteFile(
      "text_label.csv", "x,y\n1,no\n2,no\n3,yes\n4,no\n5,\"a \"\"b\"\"\"\n6,yes\n7,maybe\n8,\"a \"\"b\"\"\"\n");
  ColumnRequest request = Numeric("y");
  request.binary_label = true;
  request.role = "label of task 'click'";
  std::string error = ErrorOf([&] { LoadTable(path, NoCache(), {Numeric("x"), request}); });
  EXPECT_EQ(error, path +
                       ":2: column 'y' (label of task 'click'): expected a number, found 'no'; a binary label is "
                       "0 or 1: to read text, give the task a rule, positive = [\"yes\"] or equals = \"yes\" (the "
                       "values that mean 1); the column's most frequent values: \"no\" (3), \"yes\" (2), "
                       "\"a \"b\"\" (2), \"maybe\" (1)");
  // A missing-value spelling in a label gets the na_values hint instead.
  const std::string unknown = WriteFile("unknown_label.csv", "y\n1\n?\n");
  error = ErrorOf([&] { LoadTable(unknown, NoCache(), {request}); });
  EXPECT_NE(error.find("add \"?\" to data.na_values"), std::string::npos) << error;
  EXPECT_EQ(error.find("rule"), std::string::npos) << error;
}

TEST_F(ColumnTableTest, HeaderOfDataSuggestsHeaderFalse) {
  // The first data row taken for the header: no configured column in it, and numbers where names should be.
  const std::string path = WriteFile("no_header.csv", "39, State-gov, 77516, Male\n50, Private, 83311, Female\n");
  DataConfig data = NoCache();
  data.delimiter = ", ";
  std::string error = ErrorOf([&] { LoadTable(path, data, {Numeric("age"), Categorical("sex")}); });
  EXPECT_EQ(error, "'" + path + "' has no column 'age' (needed as feature 'age'), nor any other configured column: its "
                   "first line looks like data, not column names (2 of its 4 fields are numbers: '39', 'State-gov', "
                   "'77516', 'Male'); if the file has no header, set data.header = false and name its 4 columns in "
                   "data.columns");
  // A header of names keeps the suggestion of the closest name.
  const std::string named = WriteFile("named.csv", "age, sex\n39, Male\n");
  error = ErrorOf([&] { LoadTable(named, data, {Numeric("age"), Categorical("gender")}); });
  EXPECT_NE(error.find("has no column 'gender'"), std::string::npos) << error;
  EXPECT_EQ(error.find("data.header"), std::string::npos) << error;
}

TEST(ValueCountsTest, MostRowsFirstAndAShortList) {
  const std::string path = WriteFile("values.csv", "v\nb\na\nb\nc\na\nb\nd\ne\nf\ng\n");
  ColumnTable table = LoadTable(path, NoCache(), {Categorical("v")});
  const std::vector<ValueCount> counts = ValueCountsOf(table.Get("v", ColumnType::kCategorical));
  ASSERT_EQ(counts.size(), 7u);
  EXPECT_EQ(counts[0].value, "b");
  EXPECT_EQ(counts[0].rows, 3);
  EXPECT_EQ(counts[1].value, "a");
  EXPECT_EQ(counts[1].rows, 2);
  EXPECT_EQ(counts[2].value, "c");  // ties keep the order of first appearance
  EXPECT_EQ(FormatValueCounts(counts, 3), "\"b\" (3), \"a\" (2), \"c\" (1), ... (7 values in all)");
  EXPECT_EQ(FormatValueCounts({}), "none");
}

TEST_F(ColumnTableTest, BadRowsFailWithFileAndLine) {
  const std::string path = WriteFile("bad_fail.csv", "a,b\n1,x\n2\nfoo,y\n");
  std::string error = ErrorOf([&] { LoadTable(path, NoCache(), {Numeric("a"), Categorical("b")}); });
  EXPECT_NE(error.find(path + ":3: expected 2 fields, found 1"), std::string::npos) << error;
}

TEST_F(ColumnTableTest, SkippedBadRowsAreCountedAndGoodRowsKeepTheirLines) {
  const std::string path = WriteFile("bad_skip.csv", "a,b,c\n1,x,p|q\n2\nfoo,y,r\n4,z,s\n\n5,w,p\n1,2,3,4\n");
  DataConfig data = NoCache();
  data.on_error = OnError::kSkip;
  const std::vector<ColumnRequest> requests = {Numeric("a"), Categorical("b"), Multi("c", "|")};
  ColumnTable table = LoadTable(path, data, requests);
  EXPECT_EQ(table.rows(), 3);
  EXPECT_EQ(Lines(table), (std::vector<uint32_t>{2, 5, 7}));
  EXPECT_EQ(Numbers(table.Get("a", ColumnType::kNumeric)), (std::vector<float>{1, 4, 5}));
  // Nothing of a bad row reaches the columns: 'y' and 'r' are not in the dictionaries.
  EXPECT_EQ(Dictionary(table.Get("b", ColumnType::kCategorical)), (std::vector<std::string>{"x", "z", "w"}));
  EXPECT_EQ(Dictionary(table.Get("c", ColumnType::kMultiCategorical)), (std::vector<std::string>{"p", "q", "s"}));
  EXPECT_EQ(Offsets(table.Get("c", ColumnType::kMultiCategorical)), (std::vector<uint64_t>{0, 2, 3, 4}));
  const ReadReport& report = table.report();
  EXPECT_EQ(report.rows, 3);
  EXPECT_EQ(report.skipped, 3);
  ASSERT_EQ(report.skipped_examples.size(), 3u);
  EXPECT_EQ(report.skipped_examples[0], path + ":3: expected 3 fields, found 1");
  EXPECT_EQ(report.skipped_examples[1], path + ":4: column 'a' (feature 'a'): expected a number, found 'foo'");
  EXPECT_EQ(report.skipped_examples[2], path + ":8: expected 3 fields, found 4");

  data.max_reported_errors = 1;
  ColumnTable fewer = LoadTable(path, data, requests);
  EXPECT_EQ(fewer.report().skipped, 3);
  ASSERT_EQ(fewer.report().skipped_examples.size(), 1u);
  EXPECT_EQ(fewer.report().skipped_examples[0], path + ":3: expected 3 fields, found 1");
}

TEST_F(ColumnTableTest, AFileOfOnlyBadRowsIsAnError) {
  const std::string path = WriteFile("all_bad.csv", "a\nx\ny\n");
  DataConfig data = NoCache();
  data.on_error = OnError::kSkip;
  std::string error = ErrorOf([&] { LoadTable(path, data, {Numeric("a")}); });
  EXPECT_NE(error.find("has no data rows (2 bad rows skipped)"), std::string::npos) << error;
}

class ColumnTableCacheTest : public ColumnTableTest {
 protected:
  void SetUp() override {
    cache_dir_ = TestDir() / ("cache_" + std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(cache_dir_);
    data_.cache = true;
    data_.cache_dir = cache_dir_.string();
  }
  std::vector<fs::path> CacheFiles() const {
    std::vector<fs::path> files;
    if (!fs::exists(cache_dir_)) return files;
    for (const auto& entry : fs::directory_iterator(cache_dir_)) {
      if (entry.path().extension() == ".mtcol") files.push_back(entry.path());
    }
    return files;
  }

  fs::path cache_dir_;
  DataConfig data_;
  const std::vector<ColumnRequest> requests_ = {Numeric("a"), Categorical("b"), Multi("c", "|")};
};

TEST_F(ColumnTableCacheTest, SecondLoadComesFromTheCacheWithIdenticalColumns) {
  const std::string path = WriteFile("cached.csv", "a,b,c\n1,x,p|q\nNA,y,\n3,x,q\n");
  ColumnTable first = LoadTable(path, data_, requests_);
  EXPECT_FALSE(first.report().from_cache);
  ASSERT_EQ(CacheFiles().size(), 1u);
  ColumnTable second = LoadTable(path, data_, requests_);
  EXPECT_TRUE(second.report().from_cache);
  EXPECT_EQ(second.path(), path);
  EXPECT_EQ(second.report().path, path);
  ExpectSameTables(first, second, requests_);
  EXPECT_EQ(Dictionary(second.Get("b", ColumnType::kCategorical)), (std::vector<std::string>{"x", "y"}));

  // Another schema is another cache entry, not a wrong hit.
  ColumnTable numeric_only = LoadTable(path, data_, {Numeric("a")});
  EXPECT_FALSE(numeric_only.report().from_cache);
  EXPECT_EQ(CacheFiles().size(), 2u);
}

TEST_F(ColumnTableCacheTest, SkipReportSurvivesTheCache) {
  const std::string path = WriteFile("cached_skip.csv", "a,b,c\n1,x,p\nbad,y,q\n3,x,q\n");
  data_.on_error = OnError::kSkip;
  ColumnTable first = LoadTable(path, data_, requests_);
  ColumnTable second = LoadTable(path, data_, requests_);
  EXPECT_TRUE(second.report().from_cache);
  EXPECT_EQ(second.report().skipped, 1);
  EXPECT_EQ(second.report().skipped_examples, first.report().skipped_examples);
  EXPECT_EQ(Lines(second), (std::vector<uint32_t>{2, 4}));
}

TEST_F(ColumnTableCacheTest, ChangedFileInvalidatesTheCache) {
  const std::string path = WriteFile("changing.csv", "a,b,c\n1,x,p\n");
  EXPECT_FALSE(LoadTable(path, data_, requests_).report().from_cache);
  EXPECT_TRUE(LoadTable(path, data_, requests_).report().from_cache);

  // Another size.
  WriteFile("changing.csv", "a,b,c\n1,x,p\n2,y,q\n");
  ColumnTable grown = LoadTable(path, data_, requests_);
  EXPECT_FALSE(grown.report().from_cache);
  EXPECT_EQ(grown.rows(), 2);

  // The same size, another mtime.
  const auto mtime = fs::last_write_time(path);
  WriteFile("changing.csv", "a,b,c\n7,x,p\n8,y,q\n");
  fs::last_write_time(path, mtime + std::chrono::seconds(5));
  ColumnTable edited = LoadTable(path, data_, requests_);
  EXPECT_FALSE(edited.report().from_cache);
  EXPECT_EQ(Numbers(edited.Get("a", ColumnType::kNumeric)), (std::vector<float>{7, 8}));
  EXPECT_TRUE(LoadTable(path, data_, requests_).report().from_cache);
}

TEST_F(ColumnTableCacheTest, DamagedCacheIsIgnoredAndTheFileReparsed) {
  const std::string path = WriteFile("damaged.csv", "a,b,c\n1,x,p|q\n2,y,r\n");
  ColumnTable original = LoadTable(path, data_, requests_);
  std::vector<fs::path> files = CacheFiles();
  ASSERT_EQ(files.size(), 1u);
  for (size_t at : {size_t{40}, size_t{0}}) {  // inside the data, then in the magic
    {
      std::fstream cache(files[0], std::ios::in | std::ios::out | std::ios::binary);
      cache.seekg(static_cast<std::streamoff>(at));
      char byte = 0;
      cache.get(byte);
      cache.seekp(static_cast<std::streamoff>(at));
      cache.put(static_cast<char>(byte ^ 0x5a));
    }
    ColumnTable reparsed = LoadTable(path, data_, requests_);
    EXPECT_FALSE(reparsed.report().from_cache) << "byte " << at;
    ExpectSameTables(original, reparsed, requests_);
    // The re-parse rewrote a good cache.
    EXPECT_TRUE(LoadTable(path, data_, requests_).report().from_cache) << "byte " << at;
  }
  // An empty cache file too.
  { std::ofstream truncate(files[0], std::ios::binary | std::ios::trunc); }
  EXPECT_FALSE(LoadTable(path, data_, requests_).report().from_cache);
}

TEST_F(ColumnTableTest, SerializeDeserializeRoundTrip) {
  const std::string path = WriteFile("serialize.csv", "a,b,c\n1.5,x,p|q\nNA,y,\n-3,x,q|r|p\n");
  std::vector<ColumnRequest> requests = {Numeric("a"), Categorical("b"), Multi("c", "|"), Numeric("absent")};
  requests.back().required = false;
  ColumnTable table = LoadTable(path, NoCache(), requests);
  auto bytes = std::make_shared<std::string>(SerializeTable(table));
  EXPECT_EQ(bytes->size() % 8, 4u);  // an 8-aligned body, then its CRC
  ColumnTable back = DeserializeTable(bytes, bytes->data(), bytes->size(), "copy.mtcol");
  ExpectSameTables(table, back, requests);
  EXPECT_FALSE(back.Get("absent", ColumnType::kNumeric).present);
  EXPECT_EQ(back.report().rows, 3);
  EXPECT_EQ(back.report().path, "copy.mtcol");
  // Serialising the copy gives the same bytes.
  EXPECT_EQ(SerializeTable(back), *bytes);

  std::string damaged = *bytes;
  damaged[damaged.size() / 2] ^= 1;
  std::string error = ErrorOf([&] { DeserializeTable(nullptr, damaged.data(), damaged.size(), "copy.mtcol"); });
  EXPECT_NE(error.find("'copy.mtcol' is damaged (checksum mismatch)"), std::string::npos) << error;
  std::string other = *bytes;
  other[0] = 'X';
  error = ErrorOf([&] { DeserializeTable(nullptr, other.data(), other.size(), "copy.mtcol"); });
  EXPECT_NE(error.find("'copy.mtcol' is not an mtrec dataset cache"), std::string::npos) << error;
}

TEST_F(ColumnTableTest, SelectKeepsTheListedRowsInOrder) {
  const std::string path = WriteFile("select.csv", "a,b,c\n1,x,p|q\n2,y,\n3,z,r\n");
  const std::vector<ColumnRequest> requests = {Numeric("a"), Categorical("b"), Multi("c", "|")};
  ColumnTable table = LoadTable(path, NoCache(), requests);
  ColumnTable picked = table.Select({2, 0, 2});
  EXPECT_EQ(picked.rows(), 3);
  EXPECT_EQ(picked.report().rows, 3);
  EXPECT_EQ(picked.path(), path);
  EXPECT_EQ(Lines(picked), (std::vector<uint32_t>{4, 2, 4}));
  EXPECT_EQ(Numbers(picked.Get("a", ColumnType::kNumeric)), (std::vector<float>{3, 1, 3}));
  const Column& b = picked.Get("b", ColumnType::kCategorical);
  EXPECT_EQ(Codes(b), (std::vector<uint32_t>{2, 0, 2}));
  EXPECT_EQ(Dictionary(b), (std::vector<std::string>{"x", "y", "z"}));
  const Column& c = picked.Get("c", ColumnType::kMultiCategorical);
  EXPECT_EQ(Offsets(c), (std::vector<uint64_t>{0, 1, 3, 4}));
  EXPECT_EQ(Codes(c), (std::vector<uint32_t>{2, 0, 1, 2}));
  EXPECT_EQ(Dictionary(c), (std::vector<std::string>{"p", "q", "r"}));
  EXPECT_EQ(table.Select({}).rows(), 0);
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// A dataset in a read-only folder (a shared copy) is read, but no cache is written beside it, even by root.
TEST(ColumnTableReadOnlyTest, NoCacheBesideDataInAReadOnlyFolder) {
  namespace fs = std::filesystem;
  const fs::path folder = mtrec::TestDir("column_table_read_only") / "data";
  fs::remove_all(folder);
  fs::create_directories(folder);
  const std::string path = mtrec::WriteFile(folder, "shared.csv", "a\n1\n2\n");
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  DataConfig data;
  data.cache = true;
  ColumnRequest request;
  request.name = "a";
  ColumnTable table = LoadTable(path, data, {request});
  EXPECT_EQ(table.rows(), 2);
  EXPECT_FALSE(fs::exists(folder / ".mtrec-cache"));
  fs::permissions(folder, fs::perms::owner_all, fs::perm_options::add);
}

TEST(LargeCacheTest, OnlyACacheManyTimesItsFileAndLargeIsAnnounced) {
  constexpr uint64_t kMb = uint64_t{1} << 20;
  // A 5 MB gzip that inflates to a 179 MB cache: announced.
  EXPECT_TRUE(IsLargeCache(5 * kMb, 179 * kMb));
  // Large but no larger than the file (plain CSV): not.
  EXPECT_FALSE(IsLargeCache(200 * kMb, 179 * kMb));
  // Many times the file but small: not.
  EXPECT_FALSE(IsLargeCache(1 * kMb, 60 * kMb));
  // The bounds: more than 4x and more than 64 MB.
  EXPECT_FALSE(IsLargeCache(20 * kMb, 80 * kMb));
  EXPECT_TRUE(IsLargeCache(20 * kMb - 1, 80 * kMb));
  EXPECT_FALSE(IsLargeCache(1, kLargeCacheBytes));
  EXPECT_TRUE(IsLargeCache(1, kLargeCacheBytes + 1));
}

}  // namespace
}  // namespace mtrec
