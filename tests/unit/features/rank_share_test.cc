// Each rank of a distributed run reads only its own byte range of a file (LoadTableShare), deals its rows into
// blocks (DealBlocks) and counts the labels with the others (CountLabels over a world). Held against the one
// process that reads the whole file, for 1 to 5 ranks (threads with a shared-memory world), on random files with
// quoted fields that hold newlines, delimiters and doubled quotes, blank lines, CRLF endings, bad rows and gzip. (A bad
// row refused on a later rank, with its true line: tests/e2e/distributed_test.cc.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "common/rng.h"
#include "data/column_table.h"
#include "data/split.h"
#include "features/labels.h"
#include "support/gzip.h"
#include "support/test_files.h"
#include "support/thread_world.h"

namespace mtrec {
namespace {

std::vector<ColumnRequest> Requests() {
  return {{"id", ColumnType::kNumeric, "", true, false, "feature 'id'"},
          {"city", ColumnType::kCategorical, "", true, false, "feature 'city'"},
          {"tags", ColumnType::kMultiCategorical, "|", true, false, "feature 'tags'"},
          {"label", ColumnType::kCategorical, "", true, false, "label of task 'bought'"}};
}

// A file of `rows` records; about one in `bad_every` is bad (too few fields, or text where the id belongs).
std::string RandomCsv(uint64_t seed, int rows, int bad_every, bool crlf) {
  Rng rng(seed);
  const std::string end = crlf ? "\r\n" : "\n";
  std::string text = "id,city,tags,label" + end;
  const std::vector<std::string> cities = {"paris", "\"new\nyork\"", "\"a,b\"", "\"say \"\"hi\"\"\"", "oslo",
                                           "\"x\n\ny\n\"", "rome"};
  for (int i = 0; i < rows; ++i) {
    const uint64_t draw = rng.Next();
    if (bad_every > 0 && draw % bad_every == 0) {
      text += (draw / 7) % 2 ? "1,only two" + end : "not-a-number,paris,a,yes" + end;
      continue;
    }
    if (draw % 13 == 0) text += end;  // a blank line
    text += std::to_string(i) + "," + cities[(draw >> 8) % cities.size()] + "," +
            ((draw >> 16) % 3 == 0 ? "\"t1|t2\"" : "t" + std::to_string((draw >> 20) % 4)) + "," +
            ((draw >> 24) % 3 == 0 ? "yes" : (draw >> 24) % 3 == 1 ? "no" : "maybe") + end;
  }
  return text;
}

// Row `r` of a table as text: every column's value(s), and the row's line.
std::string RowText(const ColumnTable& table, int64_t r) {
  std::string out = std::to_string(table.lines()[r]) + ":";
  for (const ColumnRequest& request : Requests()) {
    const Column& column = table.Get(request.name, request.type);
    if (column.type == ColumnType::kNumeric) {
      out += std::to_string(column.numbers[r]);
    } else if (column.type == ColumnType::kCategorical) {
      out += std::string(column.Value(column.codes[r]));
    } else {
      for (uint64_t i = column.offsets[r]; i < column.offsets[r + 1]; ++i) {
        out += std::string(column.Value(column.codes[i])) + "|";
      }
    }
    out += ";";
  }
  return out;
}

std::vector<std::string> RowsText(const ColumnTable& table) {
  std::vector<std::string> rows;
  for (int64_t r = 0; r < table.rows(); ++r) rows.push_back(RowText(table, r));
  return rows;
}

Config LabelConfig() {
  Config config;
  TaskConfig task;
  task.name = "bought";
  task.column = "label";
  task.positive = {"yes"};
  config.tasks.push_back(task);
  return config;
}

TEST(RankShareTest, TheRanksRangesTogetherAreTheWholeFileInOrder) {
  const std::filesystem::path dir = TestDir("rank_share_test");
  DataConfig data;
  data.cache = false;
  data.on_error = OnError::kSkip;
  data.max_reported_errors = 1000;
  const Config config = LabelConfig();
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const bool crlf = seed % 3 == 0;
    const int rows = seed == 1 ? 3 : 400;  // 3 rows: some of 5 ranks have none
    // Seed 4's file is gzip-compressed: each rank decompresses it whole and parses its own range.
    const std::string csv = RandomCsv(seed, rows, 17, crlf);
    const std::string path = seed == 4 ? WriteFile(dir, "f4.csv.gz", Gzip(csv))
                                       : WriteFile(dir, "f" + std::to_string(seed) + ".csv", csv);
    const ColumnTable whole = LoadTable(path, data, Requests());
    const std::vector<std::string> expected = RowsText(whole);
    const std::vector<LabelCounts> expected_labels = CountLabels(config, whole);
    for (int ranks = 1; ranks <= 5; ++ranks) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(ranks) + " ranks");
      std::vector<std::vector<std::string>> shares(ranks), dealt(ranks);
      std::vector<std::vector<LabelCounts>> labels(ranks);
      std::vector<ReadReport> reports(ranks);
      const int64_t block = 7;
      RunRanks(ranks, [&](Communicator& world) {
        ColumnTable share = LoadTableShare(path, data, Requests(), world);
        shares[world.rank()] = RowsText(share);
        reports[world.rank()] = share.report();
        labels[world.rank()] = CountLabels(config, share, world);
        // Exchanged in rounds of a few hundred bytes, as a share larger than MPI's counts is.
        const ColumnTable dealt_share = DealBlocks(std::move(share), block, world, /*round_bytes=*/300);
        dealt[world.rank()] = RowsText(dealt_share);
        EXPECT_EQ(dealt_share.report().rows, whole.rows());
        EXPECT_EQ(dealt_share.report().skipped, whole.report().skipped);
      });
      std::vector<std::string> joined;
      for (const auto& share : shares) joined.insert(joined.end(), share.begin(), share.end());
      EXPECT_EQ(joined, expected);
      for (int r = 0; r < ranks; ++r) {
        // The report is the whole file's, with every rank's skipped rows.
        EXPECT_EQ(reports[r].rows, whole.rows());
        EXPECT_EQ(reports[r].skipped, whole.report().skipped);
        EXPECT_EQ(reports[r].skipped_examples.size(), whole.report().skipped_examples.size());
        std::vector<std::string> kept;
        for (int64_t row : ShardRows(whole.rows(), block, r, ranks)) kept.push_back(expected[row]);
        EXPECT_EQ(dealt[r], kept) << "rank " << r;
        ASSERT_EQ(labels[r].size(), 1u);
        EXPECT_EQ(labels[r][0].rows, expected_labels[0].rows);
        EXPECT_EQ(labels[r][0].positives, expected_labels[0].positives);
        EXPECT_EQ(labels[r][0].distinct, expected_labels[0].distinct);
        ASSERT_EQ(labels[r][0].values.size(), expected_labels[0].values.size());
        for (size_t v = 0; v < labels[r][0].values.size(); ++v) {
          EXPECT_EQ(labels[r][0].values[v].value, expected_labels[0].values[v].value);
          EXPECT_EQ(labels[r][0].values[v].rows, expected_labels[0].values[v].rows);
        }
      }
    }
    EXPECT_GT(whole.report().skipped, seed == 1 ? -1 : 5);
  }
}

// Label values tied on their counts keep the order in which the file first shows them, wherever the cuts fall.
TEST(RankShareTest, TiedLabelValuesKeepTheFilesFirstAppearanceOrder) {
  const std::filesystem::path dir = TestDir("rank_share_test");
  DataConfig data;
  data.cache = false;
  const std::string path = WriteFile(dir, "ties.csv",
                                     "id,city,tags,label\n1,a,t,no\n2,a,t,zz\n3,a,t,yes\n4,a,t,maybe\n"
                                     "5,a,t,maybe\n6,a,t,yes\n7,a,t,zz\n8,a,t,no\n");
  const Config config = LabelConfig();
  for (int ranks = 1; ranks <= 4; ++ranks) {
    std::vector<std::vector<LabelCounts>> labels(ranks);
    RunRanks(ranks, [&](Communicator& world) {
      labels[world.rank()] = CountLabels(config, LoadTableShare(path, data, Requests(), world), world);
    });
    std::vector<std::string> order;
    for (const auto& value : labels[ranks - 1][0].values) order.push_back(value.value);
    EXPECT_EQ(order, (std::vector<std::string>{"no", "zz", "yes", "maybe"})) << ranks << " ranks";
    EXPECT_EQ(labels[ranks - 1][0].positives, 2);
    EXPECT_EQ(labels[ranks - 1][0].rows, 8);
  }
}

// A FIFO has no ranges to share out: every rank refuses it before reading (a rank would otherwise take some of the
// stream's bytes and leave the others waiting for the rest).
TEST(RankShareTest, AStreamIsRefusedOnEveryRank) {
  const std::filesystem::path dir = TestDir("rank_share_test");
  const std::string path = (dir / "stream.csv").string();
  std::filesystem::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  DataConfig data;
  data.cache = false;
  std::vector<std::string> errors(2);
  RunRanks(2, [&](Communicator& world) {
    errors[world.rank()] = ErrorOf([&] { LoadTableShare(path, data, Requests(), world); });
  });
  for (const std::string& error : errors) {
    EXPECT_NE(error.find("is a FIFO (named pipe): under mpirun every rank reads its own range"), std::string::npos)
        << error;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mtrec
