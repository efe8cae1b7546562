#include "data/schema_inference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/gzip.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

// A column sample from values given row by row.
ColumnSample Column(const std::string& name, const std::vector<std::string>& rows) {
  ColumnSample column;
  column.name = name;
  for (const std::string& row : rows) {
    auto found =
        std::find_if(column.values.begin(), column.values.end(), [&](const auto& v) { return v.first == row; });
    if (found == column.values.end()) {
      column.values.emplace_back(row, 1);
    } else {
      ++found->second;
    }
    ++column.rows;
  }
  std::sort(column.values.begin(), column.values.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return column;
}

std::vector<std::string> Repeat(const std::vector<std::string>& values, int times) {
  std::vector<std::string> rows;
  for (int t = 0; t < times; ++t) rows.insert(rows.end(), values.begin(), values.end());
  return rows;
}

ColumnSchema Infer(const ColumnSample& column, int64_t file_rows = 0) {
  InferenceContext context;
  context.file_rows = file_rows > 0 ? file_rows : column.rows;
  return InferColumn(column, context);
}

TEST(SchemaInferenceTest, KindNamesAreUniqueAndLeftOutKindsMakeNoFeature) {
  std::set<std::string> names;
  for (int k = 0; k < kColumnKindCount; ++k) names.insert(ColumnKindName(static_cast<ColumnKind>(k)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kColumnKindCount));
  EXPECT_FALSE(IsLeftOut(ColumnKind::kNumeric));
  EXPECT_FALSE(IsLeftOut(ColumnKind::kMultiValued));
  EXPECT_TRUE(IsLeftOut(ColumnKind::kDate));
  EXPECT_TRUE(IsLeftOut(ColumnKind::kUnique));
}

TEST(SchemaInferenceTest, DecimalNumbersAreNumericWithBuckets) {
  ColumnSchema schema = Infer(Column("price", Repeat({"1.5", "2.25", "3", "4.75", "10"}, 4)));
  EXPECT_EQ(schema.kind, ColumnKind::kNumeric);
  EXPECT_FALSE(schema.integer);
  EXPECT_EQ(schema.min, 1.5);
  EXPECT_EQ(schema.max, 10.0);
  EXPECT_FALSE(schema.log1p);
  EXPECT_EQ(schema.buckets, 5);  // fewer values than kNumericBuckets: one bucket each at most
  EXPECT_EQ(schema.distinct, 5);
}

TEST(SchemaInferenceTest, FewIntegerValuesGetACategoricalCopyManyGetBuckets) {
  ColumnSchema few = Infer(Column("persons", Repeat({"0", "1", "2", "3", "6"}, 5)));
  EXPECT_EQ(few.kind, ColumnKind::kNumeric);
  EXPECT_TRUE(few.integer);
  EXPECT_EQ(few.buckets, 5);
  EXPECT_EQ(few.distinct, 5);
  std::vector<std::string> ages;
  for (int age = 0; age < 90; ++age) ages.push_back(std::to_string(age));
  ColumnSchema many = Infer(Column("age", Repeat(ages, 2)));
  EXPECT_EQ(many.kind, ColumnKind::kNumeric);
  EXPECT_EQ(many.distinct, 90);
  EXPECT_EQ(many.buckets, 20);
  ColumnSchema flag = Infer(Column("is_new", Repeat({"0", "1"}, 10)));
  EXPECT_EQ(flag.kind, ColumnKind::kNumeric);
  EXPECT_EQ(flag.buckets, 0);  // nothing a bucket adds to a 0/1 flag
}

TEST(SchemaInferenceTest, LongRightTailGetsLog1p) {
  std::vector<std::string> rows(95, "0");
  for (const char* v : {"1200", "5000", "99999", "300", "15000"}) rows.push_back(v);
  ColumnSchema schema = Infer(Column("capital gains", rows));
  EXPECT_EQ(schema.kind, ColumnKind::kNumeric);
  EXPECT_TRUE(schema.log1p);
  EXPECT_NE(schema.reason.find("log1p"), std::string::npos) << schema.reason;
  rows.push_back("-5");  // log1p needs x > -1
  EXPECT_FALSE(Infer(Column("balance", rows)).log1p);
}

TEST(SchemaInferenceTest, NaSpellingsAmongNumbersAreMissingNotText) {
  std::vector<std::string> rows = Repeat({"3", "4.5", "7", "?", "12"}, 6);
  rows.push_back("");
  ColumnSchema schema = Infer(Column("weight", rows));
  EXPECT_EQ(schema.kind, ColumnKind::kNumeric);
  EXPECT_EQ(schema.na_spellings, std::vector<std::string>{"?"});
  EXPECT_EQ(schema.na_spelling_rows, 6);
  EXPECT_EQ(schema.missing, 7);  // the six '?' and the empty field
  EXPECT_EQ(schema.distinct, 4);
  ColumnSchema dashes = Infer(Column("score", Repeat({"1", "2", "-", "N/A", "3"}, 4)));
  EXPECT_EQ(dashes.kind, ColumnKind::kNumeric);
  EXPECT_EQ(dashes.na_spellings, (std::vector<std::string>{"-", "N/A"}));
}

TEST(SchemaInferenceTest, NumbersMixedWithWordsAreCategoriesAndSaySo) {
  ColumnSchema schema = Infer(Column("price", Repeat({"3", "4", "cheap", "7"}, 5)));
  EXPECT_EQ(schema.kind, ColumnKind::kCategorical);
  EXPECT_TRUE(schema.na_spellings.empty());
  EXPECT_NE(schema.reason.find("'cheap'"), std::string::npos) << schema.reason;
}

TEST(SchemaInferenceTest, TextWithFewValuesIsCategorical) {
  ColumnSchema schema = Infer(Column("color", Repeat({"red", "green", "blue", "red"}, 10)));
  EXPECT_EQ(schema.kind, ColumnKind::kCategorical);
  EXPECT_EQ(schema.distinct, 3);
  EXPECT_EQ(schema.min_count, 1);
  EXPECT_EQ(schema.hash_buckets, 0);
  EXPECT_NE(schema.reason.find("'red'"), std::string::npos) << schema.reason;
}

TEST(SchemaInferenceTest, ManyValuesMakeAnIdWithAMinCountVocabulary) {
  std::vector<std::string> rows;
  for (int i = 0; i < 2000; ++i) rows.insert(rows.end(), 3, "u" + std::to_string(i));
  ColumnSchema schema = Infer(Column("visitor", rows));
  EXPECT_EQ(schema.kind, ColumnKind::kId);
  EXPECT_EQ(schema.distinct, 2000);
  EXPECT_EQ(schema.min_count, 2);
  EXPECT_EQ(schema.hash_buckets, 0);
}

TEST(SchemaInferenceTest, AnIdColumnThatKeepsGrowingIsHashed) {
  // 1500 ids seen twice and 1000 seen once in 4000 sampled rows of a million: about 2500 + 1000 * 249 ids.
  std::vector<std::string> rows;
  for (int i = 0; i < 1500; ++i) rows.insert(rows.end(), 2, "item" + std::to_string(i));
  for (int i = 1500; i < 2500; ++i) rows.push_back("item" + std::to_string(i));
  ColumnSchema schema = Infer(Column("item", rows), 1000000);
  EXPECT_EQ(schema.kind, ColumnKind::kId);
  EXPECT_EQ(schema.hash_buckets, 262144);  // the power of two above 251,500
  EXPECT_NE(schema.reason.find("about 251500"), std::string::npos) << schema.reason;
  // The same sample as the whole file: 2500 ids, a vocabulary.
  ColumnSchema whole = Infer(Column("item", rows));
  EXPECT_EQ(whole.hash_buckets, 0);
  EXPECT_EQ(whole.min_count, 2);
}

TEST(SchemaInferenceTest, IntegerIdsAndCodesNamedSoAreNotAmounts) {
  std::vector<std::string> users;
  for (int i = 0; i < 300; ++i) users.insert(users.end(), 3, std::to_string(1000 + i));
  EXPECT_EQ(Infer(Column("user_id", users)).kind, ColumnKind::kId);
  EXPECT_EQ(Infer(Column("userId", users)).kind, ColumnKind::kId);
  EXPECT_EQ(Infer(Column("users", users)).kind, ColumnKind::kNumeric);
  ColumnSchema code = Infer(Column("detailed industry recode", Repeat({"0", "4", "33", "12", "7"}, 4)));
  EXPECT_EQ(code.kind, ColumnKind::kCategorical);
  EXPECT_NE(code.reason.find("'recode'"), std::string::npos) << code.reason;
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) keys.push_back(std::to_string(i));
  EXPECT_EQ(Infer(Column("row_id", keys)).kind, ColumnKind::kUnique);
}

TEST(SchemaInferenceTest, SeparatedValuesAreMultiValued) {
  ColumnSchema schema = Infer(Column("tags", Repeat({"sport|outdoor", "sport", "kids|toys|outdoor", "toys"}, 5)));
  EXPECT_EQ(schema.kind, ColumnKind::kMultiValued);
  EXPECT_EQ(schema.separator, "|");
  EXPECT_EQ(schema.distinct, 4);  // sport, outdoor, kids, toys
  ColumnSchema semicolons = Infer(Column("genres", Repeat({"a;b", "b;c", "a", "c;a"}, 5)));
  EXPECT_EQ(semicolons.kind, ColumnKind::kMultiValued);
  EXPECT_EQ(semicolons.separator, ";");
  // Text in which '|' is rare is not split.
  std::vector<std::string> rows = Repeat({"red", "green", "blue"}, 20);
  rows.push_back("red|green");
  EXPECT_EQ(Infer(Column("color", rows)).kind, ColumnKind::kCategorical);
}

TEST(SchemaInferenceTest, DatesAreLeftOutWithAReason) {
  ColumnSchema schema = Infer(Column("day", Repeat({"2024-03-01", "2024-03-02", "2024-03-02", "2024-04-11"}, 5)));
  EXPECT_EQ(schema.kind, ColumnKind::kDate);
  EXPECT_NE(schema.reason.find("left out"), std::string::npos) << schema.reason;
  EXPECT_EQ(Infer(Column("ts", Repeat({"01/03/2024 10:15", "02/03/2024 11:00"}, 10))).kind, ColumnKind::kDate);
}

TEST(SchemaInferenceTest, LooksLikeDate) {
  for (const char* text : {"2024-03-01", "2024/3/1", "01/03/2024", "1.3.2024", "2024-03-01T10:15:00Z",
                           "2024-03-01 10:15:00.123", "2024-03-01T10:15:00+02:00", "10:15", "10:15:00"}) {
    EXPECT_TRUE(LooksLikeDate(text)) << text;
  }
  for (const char* text :
       {"", "2024", "2024-03", "1.2.3", "3.14", "10.0.0.1", "12:5", "2024-03-01x", "a-b-c", "20240301", "2024-03/01"}) {
    EXPECT_FALSE(LooksLikeDate(text)) << text;
  }
}

TEST(SchemaInferenceTest, ConstantEmptyAndUniqueColumnsAreLeftOut) {
  EXPECT_EQ(Infer(Column("country", Repeat({"FR"}, 30))).kind, ColumnKind::kConstant);
  EXPECT_EQ(Infer(Column("version", Repeat({"2"}, 30))).kind, ColumnKind::kConstant);
  // One value or nothing: whether it is there is information.
  EXPECT_EQ(Infer(Column("coupon", Repeat({"yes", ""}, 30))).kind, ColumnKind::kCategorical);
  EXPECT_EQ(Infer(Column("notes", Repeat({"", "NA"}, 30))).kind, ColumnKind::kEmpty);
  std::vector<std::string> comments;
  for (int i = 0; i < 50; ++i) comments.push_back("comment number " + std::to_string(i));
  ColumnSchema unique = Infer(Column("comment", comments));
  EXPECT_EQ(unique.kind, ColumnKind::kUnique);
  EXPECT_NE(unique.reason.find("50 different values in 50 rows"), std::string::npos) << unique.reason;
  // Near-unique decimals are amounts, not keys.
  std::vector<std::string> amounts;
  for (int i = 0; i < 50; ++i) amounts.push_back(std::to_string(i) + ".25");
  EXPECT_EQ(Infer(Column("amount", amounts)).kind, ColumnKind::kNumeric);
}

TEST(SchemaInferenceTest, FeatureNameOf) {
  EXPECT_EQ(FeatureNameOf("marital stat"), "marital_stat");
  EXPECT_EQ(FeatureNameOf("fill inc questionnaire for veteran's admin"), "fill_inc_questionnaire_for_veteran_s_admin");
  EXPECT_EQ(FeatureNameOf("Price (EUR)"), "price_eur");
  EXPECT_EQ(FeatureNameOf("c41"), "c41");
  EXPECT_EQ(FeatureNameOf("--"), "column");
}

TEST(SchemaInferenceTest, SniffDelimiter) {
  EXPECT_EQ(SniffDelimiter("a,b,c\n1,2,3\n4,5,6\n"), ",");
  EXPECT_EQ(SniffDelimiter("a;b;c\n1,5;2;3\n4;5;6\n"), ";");
  EXPECT_EQ(SniffDelimiter("a\tb\n1,5\t2\nx,y,z\t3\n"), "\t");
  // '|' inside the values varies from line to line: the comma is the delimiter.
  EXPECT_EQ(SniffDelimiter("tags,n\na|b,1\nc,2\na|b|c,3\n"), ",");
  EXPECT_EQ(SniffDelimiter("73, Private, 0\n58, Self-employed, 4\n"), ",");
  EXPECT_EQ(SniffDelimiter("one column\nx\n"), ",");
}

TEST(SchemaInferenceTest, GuessHeaderFromWordsAboveNumbers) {
  std::vector<ColumnSample> below = {Column("c0", {"34", "51", "27", "34"}),
                                     Column("c1", {"paris", "lyon", "paris", "nice"})};
  HeaderGuess header = GuessHeader({"age", "city"}, below, {""});
  EXPECT_TRUE(header.header);
  EXPECT_NE(header.reason.find("'age' tops a column of numbers"), std::string::npos) << header.reason;
  HeaderGuess data = GuessHeader({"73", "paris"}, below, {""});
  EXPECT_FALSE(data.header);
  EXPECT_NE(data.reason.find("'73' tops a column of numbers"), std::string::npos) << data.reason;
  // All text: a first value that recurs below is data; one that never does above repeating values is a name.
  std::vector<ColumnSample> text = {Column("c0", {"red", "blue", "red", "blue"}), Column("c1", {"s", "m", "m", "s"})};
  EXPECT_TRUE(GuessHeader({"color", "size"}, text, {""}).header);
  EXPECT_FALSE(GuessHeader({"blue", "s"}, text, {""}).header);
  // A repeated value in the first row: data (column names are unique).
  EXPECT_FALSE(GuessHeader({"m", "m"}, {Column("c0", {"x", "y", "z"}), Column("c1", {"p", "q", "r"})}, {""}).header);
  // Nothing to go on: a header, and it says so.
  HeaderGuess unknown = GuessHeader({"a", "b"}, {Column("c0", {"x", "y"}), Column("c1", {"p", "q"})}, {""});
  EXPECT_TRUE(unknown.header);
  EXPECT_NE(unknown.reason.find("--header false"), std::string::npos) << unknown.reason;
}

class CsvSampleTest : public testing::Test {
 protected:
  std::filesystem::path dir_ = TestDir("schema_inference_test");
};

TEST_F(CsvSampleTest, ReadsACompressedFileWithAHeader) {
  std::string text = "user,age,city\n";
  for (int i = 0; i < 200; ++i) {
    text += "u" + std::to_string(i % 40) + "," + std::to_string(20 + i % 50) + "," + (i % 3 ? "paris" : "lyon") + "\n";
  }
  const std::string path = WriteFile(dir_, "people.csv.gz", Gzip(text));
  CsvSample sample = ReadCsvSample(path, SampleOptions{});
  EXPECT_EQ(sample.delimiter, ",");
  EXPECT_TRUE(sample.delimiter_sniffed);
  EXPECT_TRUE(sample.header);
  EXPECT_FALSE(sample.names_generated);
  EXPECT_EQ(sample.file_rows, 200);
  EXPECT_EQ(sample.sampled_rows, 200);
  ASSERT_EQ(sample.columns.size(), 3u);
  EXPECT_EQ(sample.columns[1].name, "age");
  EXPECT_EQ(sample.columns[1].rows, 200);
  EXPECT_EQ(sample.columns[2].values, (ValueCounts{{"paris", 133}, {"lyon", 67}}));
}

TEST_F(CsvSampleTest, FileWithoutHeaderGetsNamesFromColumnsOrNumbers) {
  const std::string path = WriteFile(dir_, "census.data", "73, Private, 0\n58, Self-employed, 4\n18, Private, 0\n");
  CsvSample sample = ReadCsvSample(path, SampleOptions{});
  EXPECT_FALSE(sample.header);
  EXPECT_TRUE(sample.names_generated);
  EXPECT_EQ(sample.file_rows, 3);
  EXPECT_EQ(sample.sampled_rows, 3);
  ASSERT_EQ(sample.columns.size(), 3u);
  EXPECT_EQ(sample.columns[0].name, "c0");
  EXPECT_EQ(sample.columns[1].values, (ValueCounts{{"Private", 2}, {"Self-employed", 1}}));  // the first row counts

  SampleOptions named;
  named.columns = {"age", "worker", "code"};
  CsvSample with_names = ReadCsvSample(path, named);
  EXPECT_FALSE(with_names.names_generated);
  EXPECT_EQ(with_names.columns[2].name, "code");

  named.columns = {"age", "worker"};
  EXPECT_EQ(ErrorOf([&] { ReadCsvSample(path, named); }), "--columns gives 2 names, but '" + path + "' has 3 columns");
  SampleOptions forced;
  forced.header = HeaderMode::kYes;
  CsvSample as_header = ReadCsvSample(path, forced);
  EXPECT_TRUE(as_header.header);
  EXPECT_EQ(as_header.columns[0].name, "73");
  EXPECT_EQ(as_header.sampled_rows, 2);
}

TEST_F(CsvSampleTest, SampleIsSpreadOverTheFile) {
  // Sorted by the second column: a sample of the first rows would see only 'a'.
  std::string text = "n,group\n";
  for (int i = 0; i < 4000; ++i) text += std::to_string(i) + "," + (i < 2000 ? "a" : "b") + "\n";
  SampleOptions options;
  options.sample_rows = 320;
  CsvSample sample = ReadCsvSample(WriteFile(dir_, "sorted.csv", text), options);
  EXPECT_EQ(sample.sampled_rows, 320);
  EXPECT_EQ(sample.file_rows, 4000);
  ASSERT_EQ(sample.columns[1].values.size(), 2u);
  EXPECT_EQ(sample.columns[1].values[0].second, 160);
  EXPECT_EQ(sample.columns[1].values[1].second, 160);
}

TEST_F(CsvSampleTest, BadFilesSayWhatAndWhere) {
  EXPECT_NE(ErrorOf([&] { ReadCsvSample((dir_ / "none.csv").string(), SampleOptions{}); }).find("No such file"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ReadCsvSample(WriteFile(dir_, "empty.csv", ""), SampleOptions{}); }).find("empty"),
            std::string::npos);
  const std::string ragged = WriteFile(dir_, "ragged.csv", "a,b\n1,2\n3\n");
  EXPECT_EQ(ErrorOf([&] { ReadCsvSample(ragged, SampleOptions{}); }), ragged + ":3: expected 2 fields, found 1");
  const std::string names = WriteFile(dir_, "twice.csv", "a,b,a\n1,2,3\n4,5,6\n");
  EXPECT_EQ(ErrorOf([&] { ReadCsvSample(names, SampleOptions{}); }), names + ":1: the header names two columns 'a'");
}

}  // namespace
}  // namespace mtrec
